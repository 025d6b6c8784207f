"""Recurring deliveries: the dates a schedule delivers on and what a buyer may change. The worker's
pass that orders each occurrence is in `recurring`."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from portal import clock
from portal.i18n import gettext
from portal.models import (
    Address,
    Company,
    DeliverySchedule,
    Frequency,
    OccurrenceStatus,
    Order,
    Product,
    ScheduleLine,
    ScheduleOccurrence,
    ShoppingList,
    User,
)
from portal.services.cart import buyer_cart, products_by_sku, quantity_problem
from portal.services.pricing import load_company_prices

PREVIEW = 5


class ScheduleError(Exception):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Rhythm:
    frequency: Frequency
    first_delivery: date
    interval_weeks: int = 1
    month_day: int = 1


def _rhythm(schedule: DeliverySchedule | Rhythm) -> Rhythm:
    if isinstance(schedule, Rhythm):
        return schedule
    return Rhythm(schedule.frequency, schedule.first_delivery, schedule.interval_weeks, schedule.month_day)


def month_date(year: int, month: int, day: int) -> date:
    """The day of the month, or the month's last day where the month is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def delivery_dates(schedule: DeliverySchedule | Rhythm, start: date, count: int,
                   skips: frozenset[date] = frozenset()) -> list[date]:
    """The first `count` delivery dates on or after `start`, leaving out skipped ones."""
    rhythm = _rhythm(schedule)
    start = max(start, rhythm.first_delivery)
    found: list[date] = []
    if rhythm.frequency is Frequency.WEEKLY:
        step = 7 * rhythm.interval_weeks
        periods = max(0, -(-(start - rhythm.first_delivery).days // step))
        day = rhythm.first_delivery + timedelta(days=periods * step)
        while len(found) < count:
            if day not in skips:
                found.append(day)
            day += timedelta(days=step)
        return found
    year, month = start.year, start.month
    while len(found) < count:
        day = month_date(year, month, rhythm.month_day)
        if day >= start and day not in skips:
            found.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def next_delivery_after(schedule: DeliverySchedule | Rhythm, day: date) -> date:
    return delivery_dates(schedule, day + timedelta(days=1), 1)[0]


def first_due_from(schedule: DeliverySchedule | Rhythm, lead_days: int, today: date) -> date:
    """The first delivery whose ordering day is today or later: where a new or resumed schedule starts."""
    return delivery_dates(schedule, today + timedelta(days=lead_days), 1)[0]


def missed(delivery: date, lead_days: int, today: date) -> bool:
    """An occurrence reached after its ordering day is still ordered late while its delivery date is
    ahead; once the delivery date has come, it is missed."""
    return delivery - timedelta(days=lead_days) < today and delivery <= today


def _delivers_on(schedule: DeliverySchedule | Rhythm, day: date) -> bool:
    return delivery_dates(schedule, day, 1)[0] == day


def set_next(schedule: DeliverySchedule, delivery: date) -> None:
    schedule.next_delivery = delivery
    schedule.next_generation_on = delivery - timedelta(days=schedule.lead_days)


# --- what buyers do -------------------------------------------------------------------------

@dataclass(frozen=True)
class ScheduleForm:
    name: str
    address_id: int
    frequency: Frequency
    first_delivery: date
    lead_days: int
    interval_weeks: int = 1
    month_day: int | None = None

    @classmethod
    def parse(cls, data: dict[str, object]) -> ScheduleForm:
        def text(name: str) -> str:
            return str(data.get(name, "") or "").strip()

        def number(name: str, low: int, high: int, default: int) -> int:
            raw = text(name) or str(default)
            if not raw.isdigit() or not low <= int(raw) <= high:
                raise ScheduleError(gettext("Enter a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}, name)
            return int(raw)

        name = text("name")
        if not name or len(name) > 100:
            raise ScheduleError(gettext("Give the schedule a name of at most 100 characters."), "name")
        try:
            frequency = Frequency(text("frequency") or "weekly")
        except ValueError:
            raise ScheduleError(gettext("Choose weekly or monthly."), "frequency") from None
        try:
            first = date.fromisoformat(text("first_delivery"))
        except ValueError:
            raise ScheduleError(gettext("Enter the first delivery date as YYYY-MM-DD."), "first_delivery") from None
        address = text("address_id")
        return cls(name, int(address) if address.isdigit() and len(address) < 10 else 0, frequency, first,
                   number("lead_days", 0, 60, 2), number("interval_weeks", 1, 52, 1),
                   number("month_day", 1, 31, first.day) if frequency is Frequency.MONTHLY else None)

    def rhythm(self) -> Rhythm:
        weeks = self.interval_weeks if self.frequency is Frequency.WEEKLY else 1
        return Rhythm(self.frequency, self.first_delivery, weeks, self.month_day or self.first_delivery.day)

    @staticmethod
    def values_of(schedule: DeliverySchedule, today: date) -> dict[str, str]:
        """The form as an edit starts: the schedule as it is, its first delivery being the next one still ahead."""
        anchor = delivery_dates(schedule, max(schedule.next_delivery or schedule.first_delivery, today + timedelta(days=1)), 1)[0]
        return {"name": schedule.name, "address_id": str(schedule.address_id), "frequency": schedule.frequency.value,
                "interval_weeks": str(schedule.interval_weeks),
                "month_day": str(schedule.month_day) if schedule.frequency is Frequency.MONTHLY else "",
                "first_delivery": anchor.isoformat(), "lead_days": str(schedule.lead_days)}


async def source_lines(session: AsyncSession, user: User, source: str, source_id: int | None) -> list[tuple[Product, int]]:
    """The lines a new schedule starts from: a list, the cart, or a past order of the company."""
    company_id = user.company_id
    if source == "cart":
        cart = await buyer_cart(session, user)
        return [(line.product, line.quantity) for line in cart.lines]
    if source == "list":
        found = await session.scalar(select(ShoppingList).options(selectinload(ShoppingList.lines))
                                     .where(ShoppingList.id == source_id, ShoppingList.company_id == company_id))
        if found is None:
            raise LookupError(source_id)
        products = {p.id: p for p in await session.scalars(select(Product).where(Product.id.in_([l.product_id for l in found.lines])))}
        return [(products[l.product_id], l.quantity) for l in found.lines]
    if source == "order":
        order = await session.scalar(select(Order).options(selectinload(Order.lines))
                                     .where(Order.id == source_id, Order.company_id == company_id))
        if order is None:
            raise LookupError(source_id)
        products = {p.id: p for p in await session.scalars(select(Product).where(Product.id.in_([l.product_id for l in order.lines])))}
        return [(products[l.product_id], l.quantity) for l in order.lines]
    raise LookupError(source)


async def _confirmed_prices(session: AsyncSession, company: Company, today: date, lines: list[ScheduleLine]) -> None:
    prices = await load_company_prices(session, company, today, [line.product_id for line in lines])
    for line in lines:
        product = await session.get(Product, line.product_id)
        if product is not None and product.is_active:
            line.confirmed_price = prices.price(product, line.quantity).unit_price


async def _confirm(session: AsyncSession, schedule: DeliverySchedule, today: date, lines: list[ScheduleLine]) -> None:
    """The buyer has seen the schedule as it is now: a generated order is flagged where a price differs from these."""
    if lines:
        company = await session.get(Company, schedule.company_id)
        assert company is not None
        await _confirmed_prices(session, company, today, lines)
    schedule.confirmed_at = clock.now()


async def _checked_address(session: AsyncSession, company_id: int, form: ScheduleForm, today: date) -> Address:
    """What a rhythm needs besides a well-formed form: one of the company's addresses, a first delivery still ahead."""
    address = await session.scalar(select(Address).where(Address.id == form.address_id, Address.company_id == company_id))
    if address is None:
        raise ScheduleError(gettext("Choose one of your company's delivery addresses."), "address_id")
    if form.first_delivery <= today:
        raise ScheduleError(gettext("The first delivery must be after today."), "first_delivery")
    return address


def _apply(schedule: DeliverySchedule, form: ScheduleForm, address: Address) -> None:
    rhythm = form.rhythm()
    schedule.name, schedule.address_id, schedule.address = form.name, address.id, address
    schedule.frequency, schedule.first_delivery = rhythm.frequency, rhythm.first_delivery
    schedule.interval_weeks, schedule.month_day, schedule.lead_days = rhythm.interval_weeks, rhythm.month_day, form.lead_days


async def create_schedule(session: AsyncSession, user: User, form: ScheduleForm,
                          lines: list[tuple[Product, int]], today: date) -> DeliverySchedule:
    company_id = user.company_id or 0
    address = await _checked_address(session, company_id, form, today)
    wanted = [(p, q) for p, q in lines if p.is_active]
    if not wanted:
        raise ScheduleError(gettext("A schedule needs at least one product that is sold."), "lines")
    schedule = DeliverySchedule(
        company_id=company_id, paused=False, created_by_id=user.id,
        lines=[ScheduleLine(company_id=company_id, product_id=p.id, quantity=q) for p, q in wanted],
    )
    _apply(schedule, form, address)
    set_next(schedule, first_due_from(schedule, schedule.lead_days, today))
    await _confirm(session, schedule, today, schedule.lines)
    session.add(schedule)
    await session.flush()
    return schedule


async def company_schedule(session: AsyncSession, company_id: int, schedule_id: int, *, lock: bool = False) -> DeliverySchedule:
    """One schedule of this company; another company's does not exist."""
    query = (select(DeliverySchedule)
             .options(selectinload(DeliverySchedule.lines).joinedload(ScheduleLine.product),
                      selectinload(DeliverySchedule.address))
             .where(DeliverySchedule.id == schedule_id, DeliverySchedule.company_id == company_id))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    schedule = await session.scalar(query)
    if schedule is None:
        raise LookupError(schedule_id)
    return schedule


async def company_schedules(session: AsyncSession, company_id: int) -> list[DeliverySchedule]:
    return list(await session.scalars(
        select(DeliverySchedule).options(selectinload(DeliverySchedule.lines))
        .where(DeliverySchedule.company_id == company_id).order_by(DeliverySchedule.name, DeliverySchedule.id)))


async def skipped_dates(session: AsyncSession, schedule_id: int) -> frozenset[date]:
    return frozenset(await session.scalars(select(ScheduleOccurrence.delivery_date).where(
        ScheduleOccurrence.schedule_id == schedule_id, ScheduleOccurrence.status == OccurrenceStatus.SKIPPED)))


def _pending(schedule: DeliverySchedule, skips: frozenset[date]) -> list[date]:
    start = schedule.next_delivery
    return sorted(day for day in skips if start is not None and day >= start)


async def pending_skips(session: AsyncSession, schedule: DeliverySchedule) -> list[date]:
    """Skipped dates the worker has not reached yet: these can still be undone; the others are history."""
    return _pending(schedule, await skipped_dates(session, schedule.id))


async def _drop_skips(session: AsyncSession, schedule_id: int, days: list[date]) -> None:
    if days:
        await session.execute(delete_rows(ScheduleOccurrence).where(
            ScheduleOccurrence.schedule_id == schedule_id, ScheduleOccurrence.status == OccurrenceStatus.SKIPPED,
            ScheduleOccurrence.delivery_date.in_(days)))


def _coming(schedule: DeliverySchedule, count: int, skips: frozenset[date]) -> list[date]:
    if schedule.next_delivery is None or schedule.paused:
        return []
    return delivery_dates(schedule, schedule.next_delivery, count, skips)


async def upcoming(session: AsyncSession, schedule: DeliverySchedule, count: int = PREVIEW) -> list[date]:
    """The next delivery dates still to be ordered."""
    if schedule.next_delivery is None or schedule.paused:
        return []
    return _coming(schedule, count, await skipped_dates(session, schedule.id))


async def outlook(session: AsyncSession, schedule: DeliverySchedule, count: int = PREVIEW) -> tuple[list[date], list[date]]:
    """The schedule page's coming deliveries and the skips still ahead, from one read of the skipped dates."""
    skips = await skipped_dates(session, schedule.id)
    return _coming(schedule, count, skips), _pending(schedule, skips)


async def next_deliveries(session: AsyncSession, company_id: int, count: int = PREVIEW) -> list[tuple[date, DeliverySchedule]]:
    """The company's next deliveries across its active schedules, soonest first: the dashboard panel.
    Two queries however many schedules: the schedules, and all their skipped dates."""
    skips: dict[int, set[date]] = {}
    for schedule_id, day in await session.execute(
            select(ScheduleOccurrence.schedule_id, ScheduleOccurrence.delivery_date).where(
                ScheduleOccurrence.company_id == company_id, ScheduleOccurrence.status == OccurrenceStatus.SKIPPED)):
        skips.setdefault(schedule_id, set()).add(day)
    found = [(day, schedule) for schedule in await company_schedules(session, company_id)
             for day in _coming(schedule, count, frozenset(skips.get(schedule.id, ())))]
    return sorted(found, key=lambda item: (item[0], item[1].id))[:count]


async def occurrences(session: AsyncSession, schedule_id: int) -> list[ScheduleOccurrence]:
    return list(await session.scalars(select(ScheduleOccurrence).where(ScheduleOccurrence.schedule_id == schedule_id)
                                      .order_by(ScheduleOccurrence.delivery_date.desc()).limit(20)))


async def schedule_of_order(session: AsyncSession, company_id: int, order_id: int) -> DeliverySchedule | None:
    return await session.scalar(select(DeliverySchedule).join(
        ScheduleOccurrence, ScheduleOccurrence.schedule_id == DeliverySchedule.id).where(
        ScheduleOccurrence.order_id == order_id, DeliverySchedule.company_id == company_id))


async def pause(session: AsyncSession, user: User, schedule_id: int) -> DeliverySchedule:
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    schedule.paused = True
    await session.flush()
    return schedule


async def resume(session: AsyncSession, user: User, schedule_id: int, today: date) -> DeliverySchedule:
    """Occurrences whose ordering day passed while paused are not ordered: it starts again from the next one."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    if schedule.paused:
        schedule.paused = False
        start = max(schedule.next_delivery or schedule.first_delivery, first_due_from(schedule, schedule.lead_days, today))
        set_next(schedule, delivery_dates(schedule, start, 1)[0])
    await session.flush()
    return schedule


async def skip(session: AsyncSession, user: User, schedule_id: int, delivery: date) -> None:
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    if delivery not in await upcoming(session, schedule, 52):
        raise ScheduleError(gettext("That date is not one of the schedule's coming deliveries."), "delivery_date")
    session.add(ScheduleOccurrence(schedule_id=schedule.id, company_id=schedule.company_id, delivery_date=delivery,
                                   status=OccurrenceStatus.SKIPPED, note=f"skipped by {user.full_name}"))
    await session.flush()


async def unskip(session: AsyncSession, user: User, schedule_id: int, delivery: date) -> None:
    """A skipped date still ahead is delivered after all."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    if delivery not in await pending_skips(session, schedule):
        raise ScheduleError(gettext("That delivery is not skipped."), "delivery_date")
    await _drop_skips(session, schedule.id, [delivery])
    await session.flush()


async def _first_open(session: AsyncSession, schedule_id: int, rhythm: Rhythm, lead_days: int, today: date) -> date:
    """Where a changed rhythm starts: its first date still ordered in time, after every date already ordered or
    missed, so that no delivery is ordered twice."""
    start = first_due_from(rhythm, lead_days, today)
    handled = await session.scalar(select(func.max(ScheduleOccurrence.delivery_date)).where(
        ScheduleOccurrence.schedule_id == schedule_id,
        ScheduleOccurrence.status.in_((OccurrenceStatus.GENERATED, OccurrenceStatus.MISSED))))
    return start if handled is None or start > handled else next_delivery_after(rhythm, handled)


async def planned_dates(session: AsyncSession, schedule: DeliverySchedule, form: ScheduleForm, today: date,
                        count: int = PREVIEW) -> list[date]:
    """The next deliveries the schedule would have under the form, before the change is saved."""
    await _checked_address(session, schedule.company_id, form, today)
    rhythm = form.rhythm()
    start = await _first_open(session, schedule.id, rhythm, form.lead_days, today)
    return delivery_dates(rhythm, start, count, await skipped_dates(session, schedule.id))


async def edit(session: AsyncSession, user: User, schedule_id: int, form: ScheduleForm, today: date) -> DeliverySchedule:
    """A new name, address or rhythm, from the next occurrence not yet ordered: what was ordered or missed stays
    as history. Skips on dates the new rhythm still delivers on are kept; a paused schedule stays paused."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    address = await _checked_address(session, schedule.company_id, form, today)
    skipped = await pending_skips(session, schedule)
    _apply(schedule, form, address)
    set_next(schedule, await _first_open(session, schedule.id, form.rhythm(), form.lead_days, today))
    start = schedule.next_delivery or today
    await _drop_skips(session, schedule.id, [day for day in skipped if day < start or not _delivers_on(schedule, day)])
    await _confirm(session, schedule, today, [])
    await session.flush()
    return schedule


async def add_line(session: AsyncSession, user: User, schedule_id: int, sku: str, quantity: int,
                   today: date) -> tuple[ScheduleLine, bool]:
    """A product by its SKU, from the next occurrence not yet ordered; a product already on the schedule gets
    the quantity added to its line (the second value says so). The line's price is confirmed anew."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    if not sku:
        raise ScheduleError(gettext("Enter the SKU of the product to add."), "sku")
    product = (await products_by_sku(session, {sku})).get(sku.upper())
    if product is None:
        raise ScheduleError(gettext("No product with SKU %(sku)s.") % {"sku": sku}, "sku")
    if not product.is_active:
        raise ScheduleError(gettext("This product is not sold any more."), "sku")
    line = next((l for l in schedule.lines if l.product_id == product.id), None)
    joined = line is not None
    if problem := quantity_problem(product, quantity) or (line is not None and quantity_problem(product, line.quantity + quantity)):
        raise ScheduleError(problem, "quantity")
    if line is None:
        line = ScheduleLine(company_id=schedule.company_id, product_id=product.id, quantity=quantity, product=product)
        schedule.lines.append(line)
    else:
        line.quantity += quantity
    await _confirm(session, schedule, today, [line])
    await session.flush()
    return line, joined


async def change_line(session: AsyncSession, user: User, schedule_id: int, line_id: int, quantity: int, today: date) -> None:
    """A new quantity (0 removes the line), from the next occurrence not yet ordered; the line's price is confirmed anew."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    line = next((l for l in schedule.lines if l.id == line_id), None)
    if line is None:
        raise LookupError(line_id)
    if quantity == 0:
        if len(schedule.lines) == 1:
            raise ScheduleError(gettext("A schedule keeps at least one line; delete the schedule instead."), "lines")
        schedule.lines.remove(line)
    else:
        if problem := quantity_problem(line.product, quantity):
            raise ScheduleError(problem, "lines")
        line.quantity = quantity
    await _confirm(session, schedule, today, [line] if quantity else [])
    await session.flush()


async def delete(session: AsyncSession, user: User, schedule_id: int) -> str:
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    await session.delete(schedule)
    await session.flush()
    return schedule.name
