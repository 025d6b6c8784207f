"""Recurring deliveries: the dates a schedule delivers on and what a buyer may change. The worker's
pass that orders each occurrence is in `recurring`.

Each occurrence has two dates. Its rhythm's date (`planned`) is its key: what the worker records
once per schedule, what a skip names. The date it is delivered on (`Delivery.day`) is that date
moved off a day the company cannot be delivered on (a weekend, a public holiday, not one of its
delivery weekdays) to the next delivery day or, where the schedule says so, the previous one;
never as far as a neighbouring occurrence's date, so the delivered dates stay unique and in order.
The lead time counts back from the delivered date, and an occurrence whose delivered date is
already within the lead time (a date moved back towards today) is not the first one due.

Dates are computed up to the calendar's end (31 December 9999) and no further: a schedule whose
dates run past it simply has no more deliveries, so a stored row with an absurd date still shows."""

from __future__ import annotations

import calendar
import enum
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import MAXYEAR, date, timedelta

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from portal import clock
from portal.errors import NotFound, Refused
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
from portal.services import delivery as terms
from portal.services.cart import buyer_cart, products_by_sku, quantity_problem
from portal.services.delivery import Move
from portal.services.ordering import company_addresses
from portal.services.pricing import load_company_prices

PREVIEW = 5
NAME_MAX = 100
"""`DeliverySchedule.name` is String(100)."""
INTERVAL_WEEKS = (1, 52)
MONTH_DAYS = (1, 31)
LEAD_DAYS = (0, 60)
"""The ranges the table's CHECK constraints allow."""
SKIPPED_BY = "skipped_by:"
"""A skipped occurrence's note: this code, then the name of who skipped it (worded by `recurring.occurrence_note`)."""


class ScheduleError(Refused):
    """A change to a schedule that is refused; `field` names the form field the message belongs to."""


class Source(enum.StrEnum):
    """Where a new schedule takes its lines from."""

    CART = "cart"
    LIST = "list"
    ORDER = "order"


@dataclass(frozen=True)
class Rhythm:
    frequency: Frequency
    first_delivery: date
    interval_weeks: int = 1
    month_day: int = 1
    move: Move = Move.NEXT
    """Where a date the company cannot be delivered on goes: the next delivery day or the previous one."""


def _rhythm(schedule: DeliverySchedule | Rhythm) -> Rhythm:
    if isinstance(schedule, Rhythm):
        return schedule
    return Rhythm(
        schedule.frequency,
        schedule.first_delivery,
        schedule.interval_weeks,
        schedule.month_day,
        Move.of(schedule.non_working_day),
    )


@dataclass(frozen=True)
class Delivery:
    """One occurrence: the rhythm's date (`planned`, its key and what a skip names) and the date it
    is delivered on (`day`)."""

    planned: date
    day: date

    @property
    def moved(self) -> bool:
        return self.day != self.planned


def shifted(day: date, days: int) -> date | None:
    """`day` moved by `days`, or None where that leaves the calendar (before year 1, after year 9999)."""
    ordinal = day.toordinal() + days
    return date.fromordinal(ordinal) if 1 <= ordinal <= date.max.toordinal() else None


def month_date(year: int, month: int, day: int) -> date:
    """The day of the month, or the month's last day where the month is shorter."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _dates_from(rhythm: Rhythm, start: date) -> Iterator[date]:
    """Every delivery date on or after `start`, up to the calendar's end."""
    if rhythm.frequency is Frequency.WEEKLY:
        step = 7 * rhythm.interval_weeks
        periods = max(0, -(-(start - rhythm.first_delivery).days // step))
        ordinal, last = rhythm.first_delivery.toordinal() + periods * step, date.max.toordinal()
        while ordinal <= last:
            yield date.fromordinal(ordinal)
            ordinal += step
        return
    year, month = start.year, start.month
    while year <= MAXYEAR:
        day = month_date(year, month, rhythm.month_day)
        if day >= start:
            yield day
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def delivery_dates(
    schedule: DeliverySchedule | Rhythm, start: date, count: int, skips: frozenset[date] = frozenset()
) -> list[date]:
    """The first `count` delivery dates on or after `start`, leaving out skipped ones; fewer where the
    calendar ends first."""
    rhythm = _rhythm(schedule)
    coming = (day for day in _dates_from(rhythm, max(start, rhythm.first_delivery)) if day not in skips)
    return list(itertools.islice(coming, count))


def _first(days: list[date]) -> date | None:
    return days[0] if days else None


def next_delivery_after(schedule: DeliverySchedule | Rhythm, day: date) -> date | None:
    """The delivery after `day`; None when the calendar ends first."""
    after = shifted(day, 1)
    return _first(delivery_dates(schedule, after, 1)) if after is not None else None


def previous_date(schedule: DeliverySchedule | Rhythm, day: date) -> date | None:
    """The rhythm's date before `day`, its first delivery or not: as far back as `day` may move."""
    rhythm = _rhythm(schedule)
    if rhythm.frequency is Frequency.WEEKLY:
        step = 7 * rhythm.interval_weeks
        back = (day.toordinal() - rhythm.first_delivery.toordinal() - 1) % step + 1
        return shifted(day, -back)
    year, month = (day.year - 1, 12) if day.month == 1 else (day.year, day.month - 1)
    if day > month_date(day.year, day.month, rhythm.month_day):
        year, month = day.year, day.month
    return month_date(year, month, rhythm.month_day) if year >= 1 else None


def delivered_on(schedule: DeliverySchedule | Rhythm, company: Company, planned: date) -> date:
    """The date the occurrence planned for `planned` is delivered on under the company's calendar."""
    rhythm = _rhythm(schedule)
    window = (previous_date(rhythm, planned), next_delivery_after(rhythm, planned))
    return terms.delivery_day_from(company, planned, rhythm.move, window)


def deliveries(
    schedule: DeliverySchedule | Rhythm,
    company: Company,
    start: date,
    count: int,
    skips: frozenset[date] = frozenset(),
) -> list[Delivery]:
    """`delivery_dates`, each with the date it is delivered on."""
    rhythm = _rhythm(schedule)
    return _delivered(rhythm, company, delivery_dates(rhythm, start, count, skips))


def _delivered(schedule: DeliverySchedule | Rhythm, company: Company, days: list[date]) -> list[Delivery]:
    return [Delivery(day, delivered_on(schedule, company, day)) for day in days]


def first_due_from(
    schedule: DeliverySchedule | Rhythm, lead_days: int, today: date, company: Company | None = None
) -> date | None:
    """The first delivery whose ordering day is today or later: where a new or resumed schedule starts.
    With the company, the ordering day counts back from the delivered date: a date before the lead
    time moved forward past it is still due, one after it moved back into it is not. Without, the
    rhythm's own dates."""
    floor = shifted(today, lead_days)
    if floor is None:
        return None
    if company is None:
        return _first(delivery_dates(schedule, floor, 1))
    rhythm = _rhythm(schedule)
    start = max(shifted(floor, -terms.MOVE_LIMIT) or date.min, rhythm.first_delivery)
    return next((day for day in _dates_from(rhythm, start) if delivered_on(rhythm, company, day) >= floor), None)


def missed(delivery: date, lead_days: int, today: date) -> bool:
    """An occurrence reached after its ordering day is still ordered late while its delivery date is
    ahead; once the delivery date has come, it is missed."""
    return (shifted(delivery, -lead_days) or date.min) < today and delivery <= today


def _delivers_on(schedule: DeliverySchedule | Rhythm, day: date) -> bool:
    return _first(delivery_dates(schedule, day, 1)) == day


def set_next(schedule: DeliverySchedule, delivery: date | None, company: Company) -> None:
    """The next delivery to order (its planned date), and its ordering day, lead time before the date
    it is delivered on; None when the schedule has no more dates."""
    schedule.next_delivery = delivery
    if delivery is None:
        schedule.next_generation_on = None
        return
    day = delivered_on(schedule, company, delivery)
    schedule.next_generation_on = shifted(day, -schedule.lead_days) or date.min


# --- what buyers do -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleForm:
    """A schedule's name, address and rhythm as a buyer gives them; the web layer has decoded and
    bounded each value, the rules that need the database are checked here."""

    name: str
    address_id: int | None
    frequency: Frequency
    first_delivery: date
    lead_days: int
    interval_weeks: int = 1
    month_day: int | None = None
    non_working_day: Move = Move.NEXT

    def rhythm(self) -> Rhythm:
        weeks = self.interval_weeks if self.frequency is Frequency.WEEKLY else 1
        month_day = self.month_day or self.first_delivery.day
        return Rhythm(self.frequency, self.first_delivery, weeks, month_day, self.non_working_day)

    @staticmethod
    def values_of(schedule: DeliverySchedule, today: date) -> ScheduleForm:
        """The form as an edit starts: the schedule as it is, its first delivery being the next one still ahead."""
        start = max(schedule.next_delivery or schedule.first_delivery, today + timedelta(days=1))
        anchor = _first(delivery_dates(schedule, start, 1)) or schedule.next_delivery or schedule.first_delivery
        monthly = schedule.frequency is Frequency.MONTHLY
        return ScheduleForm(
            schedule.name,
            schedule.address_id,
            schedule.frequency,
            anchor,
            schedule.lead_days,
            schedule.interval_weeks,
            schedule.month_day if monthly else None,
            Move.of(schedule.non_working_day),
        )


def _in(value: int, bounds: tuple[int, int], field: str) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ScheduleError(
            gettext("Enter a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}, field
        )


def _checked_rhythm(form: ScheduleForm) -> None:
    if not form.name.strip() or len(form.name.strip()) > NAME_MAX:
        raise ScheduleError(gettext("Give the schedule a name of at most 100 characters."), "name")
    _in(form.interval_weeks, INTERVAL_WEEKS, "interval_weeks")
    _in(form.lead_days, LEAD_DAYS, "lead_days")
    if form.month_day is not None:
        _in(form.month_day, MONTH_DAYS, "month_day")


def preview_dates(form: ScheduleForm, company: Company, today: date, count: int = PREVIEW) -> list[Delivery]:
    """The first deliveries a new schedule would have, before it is saved: from the first one still
    ordered in time."""
    _checked_rhythm(form)
    rhythm = form.rhythm()
    start = first_due_from(rhythm, form.lead_days, today, company)
    return deliveries(rhythm, company, start, count) if start is not None else []


async def _company(session: AsyncSession, company_id: int) -> Company:
    """The schedule's company (the signed-in buyer's, or the worker's: already loaded, no query)."""
    company = await session.get(Company, company_id)
    if company is None:
        raise NotFound()
    return company


@dataclass(frozen=True)
class Draft:
    """The new-schedule page: the lines it starts from, the company's addresses, the dates the form gives."""

    lines: list[tuple[Product, int]]
    addresses: list[Address]
    preview: list[Delivery]


async def draft(
    session: AsyncSession,
    user: User,
    source: Source,
    source_id: int | None,
    form: ScheduleForm | None = None,
    today: date | None = None,
) -> Draft:
    """What a new schedule from `source` looks like; with a form (and today), its next deliveries."""
    lines = await source_lines(session, user, source, source_id)
    preview = []
    if form is not None and today is not None:
        preview = preview_dates(form, await _company(session, user.company_id or 0), today)
    return Draft(lines, await company_addresses(session, user.company_id or 0), preview)


@dataclass(frozen=True)
class Revision:
    """The edit page: the schedule, the values shown, the company's addresses, the dates they give."""

    schedule: DeliverySchedule
    form: ScheduleForm | None
    addresses: list[Address]
    preview: list[Delivery]


async def revision(
    session: AsyncSession, user: User, schedule_id: int, form: ScheduleForm | None = None, today: date | None = None
) -> Revision:
    """The schedule to change: with a form, the dates it would give (refused like a save would be);
    with only today, its own values with the next delivery still ahead as the first; else as it is."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id)
    addresses = await company_addresses(session, schedule.company_id, keep=schedule.address_id)
    if today is None:
        return Revision(schedule, form, addresses, [])
    if form is not None:
        return Revision(schedule, form, addresses, await planned_dates(session, schedule, form, today))
    shown = ScheduleForm.values_of(schedule, today)
    return Revision(schedule, shown, addresses, await _planned(session, schedule, shown, today))


@dataclass(frozen=True)
class ScheduleView:
    """The schedule page: coming deliveries (each with the date it is delivered on), skips still
    ahead, and the last occurrences as history."""

    schedule: DeliverySchedule
    upcoming: list[Delivery]
    skipped: list[date]
    occurrences: list[ScheduleOccurrence]


async def schedule_view(session: AsyncSession, user: User, schedule_id: int) -> ScheduleView:
    schedule = await company_schedule(session, user.company_id or 0, schedule_id)
    company = await _company(session, schedule.company_id)
    coming, skipped = await outlook(session, schedule, company)
    past = [o for o in await occurrences(session, schedule.id) if o.delivery_date not in skipped]
    return ScheduleView(schedule, coming, skipped, past)


@dataclass(frozen=True)
class Overview:
    """The company's schedules, each with the next delivery it will order (None while paused or over),
    and the next deliveries across them all."""

    schedules: list[tuple[DeliverySchedule, Delivery | None]]
    upcoming: list[tuple[Delivery, DeliverySchedule]]


async def overview(session: AsyncSession, user: User, count: int = 10) -> Overview:
    company = await _company(session, user.company_id or 0)
    plans = await company_schedules(session, company.id)
    rows = [(plan, _next_of(plan, company)) for plan in plans]
    return Overview(rows, await _next_deliveries(session, company, plans, count))


def _next_of(schedule: DeliverySchedule, company: Company) -> Delivery | None:
    """The next delivery the schedule will order; None while paused or over."""
    if schedule.paused or schedule.next_delivery is None:
        return None
    return Delivery(schedule.next_delivery, delivered_on(schedule, company, schedule.next_delivery))


async def source_lines(
    session: AsyncSession, user: User, source: Source, source_id: int | None
) -> list[tuple[Product, int]]:
    """The lines a new schedule starts from: a list, the cart, or a past order of the company."""
    company_id = user.company_id
    if source is Source.CART:
        cart = await buyer_cart(session, user)
        return [(line.product, line.quantity) for line in cart.lines]
    if source is Source.LIST:
        found = await session.scalar(
            select(ShoppingList)
            .options(selectinload(ShoppingList.lines))
            .where(ShoppingList.id == source_id, ShoppingList.company_id == company_id)
        )
        if found is None:
            raise NotFound()
        products = {
            p.id: p
            for p in await session.scalars(
                select(Product).where(Product.id.in_([line.product_id for line in found.lines]))
            )
        }
        return [(products[line.product_id], line.quantity) for line in found.lines]
    if source is Source.ORDER:
        order = await session.scalar(
            select(Order)
            .options(selectinload(Order.lines))
            .where(Order.id == source_id, Order.company_id == company_id)
        )
        if order is None:
            raise NotFound()
        products = {
            p.id: p
            for p in await session.scalars(
                select(Product).where(Product.id.in_([line.product_id for line in order.lines]))
            )
        }
        return [(products[line.product_id], line.quantity) for line in order.lines]
    raise NotFound()


async def _confirmed_prices(session: AsyncSession, company: Company, today: date, lines: list[ScheduleLine]) -> None:
    prices = await load_company_prices(session, company, today, [line.product_id for line in lines])
    for line in lines:
        product = await session.get(Product, line.product_id)
        if product is not None and product.is_active:
            line.confirmed_price = prices.price(product, line.quantity).unit_price


async def _confirm(session: AsyncSession, schedule: DeliverySchedule, today: date, lines: list[ScheduleLine]) -> None:
    """The buyer has seen the schedule as it is now: a generated order is flagged where a price differs from these."""
    if lines:
        await _confirmed_prices(session, await _company(session, schedule.company_id), today, lines)
    schedule.confirmed_at = clock.now()


async def _checked(
    session: AsyncSession, company_id: int, form: ScheduleForm, today: date, keep: int | None = None
) -> Address:
    """A name, a rhythm within the table's ranges, one of the company's addresses not retired (or
    `keep`, the one the schedule names already), a first delivery still ahead."""
    _checked_rhythm(form)
    offered = Address.retired.is_(False) if keep is None else or_(Address.retired.is_(False), Address.id == keep)
    address = await session.scalar(
        select(Address).where(Address.id == form.address_id, Address.company_id == company_id, offered)
    )
    if address is None:
        raise ScheduleError(gettext("Choose one of your company's delivery addresses."), "address_id")
    if form.first_delivery <= today:
        raise ScheduleError(gettext("The first delivery must be after today."), "first_delivery")
    return address


def _apply(schedule: DeliverySchedule, form: ScheduleForm, address: Address) -> None:
    rhythm = form.rhythm()
    schedule.name, schedule.address_id, schedule.address = form.name.strip(), address.id, address
    schedule.frequency, schedule.first_delivery = rhythm.frequency, rhythm.first_delivery
    schedule.interval_weeks, schedule.month_day, schedule.lead_days = (
        rhythm.interval_weeks,
        rhythm.month_day,
        form.lead_days,
    )
    schedule.non_working_day = rhythm.move.value


async def create_schedule(
    session: AsyncSession, user: User, form: ScheduleForm, lines: list[tuple[Product, int]], today: date
) -> DeliverySchedule:
    company_id = user.company_id or 0
    address = await _checked(session, company_id, form, today)
    wanted = [(p, q) for p, q in lines if p.is_active]
    if not wanted:
        raise ScheduleError(gettext("A schedule needs at least one product that is sold."), "lines")
    schedule = DeliverySchedule(
        company_id=company_id,
        paused=False,
        created_by_id=user.id,
        lines=[ScheduleLine(company_id=company_id, product_id=p.id, quantity=q) for p, q in wanted],
    )
    _apply(schedule, form, address)
    company = await _company(session, company_id)
    set_next(schedule, first_due_from(schedule, schedule.lead_days, today, company), company)
    await _confirm(session, schedule, today, schedule.lines)
    session.add(schedule)
    await session.flush()
    return schedule


async def start_schedule(
    session: AsyncSession, user: User, form: ScheduleForm, source: Source, source_id: int | None, today: date
) -> DeliverySchedule:
    """A new schedule with the lines of its source (the cart, a list or a past order of the company)."""
    return await create_schedule(session, user, form, await source_lines(session, user, source, source_id), today)


async def company_schedule(
    session: AsyncSession, company_id: int, schedule_id: int, *, lock: bool = False
) -> DeliverySchedule:
    """One schedule of this company; another company's does not exist."""
    query = (
        select(DeliverySchedule)
        .options(
            selectinload(DeliverySchedule.lines).joinedload(ScheduleLine.product),
            selectinload(DeliverySchedule.address),
        )
        .where(DeliverySchedule.id == schedule_id, DeliverySchedule.company_id == company_id)
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    schedule = await session.scalar(query)
    if schedule is None:
        raise NotFound()
    return schedule


async def company_schedules(session: AsyncSession, company_id: int) -> list[DeliverySchedule]:
    return list(
        await session.scalars(
            select(DeliverySchedule)
            .options(selectinload(DeliverySchedule.lines))
            .where(DeliverySchedule.company_id == company_id)
            .order_by(DeliverySchedule.name, DeliverySchedule.id)
        )
    )


async def skipped_dates(session: AsyncSession, schedule_id: int) -> frozenset[date]:
    return frozenset(
        await session.scalars(
            select(ScheduleOccurrence.delivery_date).where(
                ScheduleOccurrence.schedule_id == schedule_id, ScheduleOccurrence.status == OccurrenceStatus.SKIPPED
            )
        )
    )


def _pending(schedule: DeliverySchedule, skips: frozenset[date]) -> list[date]:
    start = schedule.next_delivery
    return sorted(day for day in skips if start is not None and day >= start)


async def pending_skips(session: AsyncSession, schedule: DeliverySchedule) -> list[date]:
    """Skipped dates the worker has not reached yet: these can still be undone; the others are history."""
    return _pending(schedule, await skipped_dates(session, schedule.id))


async def _drop_skips(session: AsyncSession, schedule_id: int, days: list[date]) -> None:
    if days:
        await session.execute(
            delete_rows(ScheduleOccurrence).where(
                ScheduleOccurrence.schedule_id == schedule_id,
                ScheduleOccurrence.status == OccurrenceStatus.SKIPPED,
                ScheduleOccurrence.delivery_date.in_(days),
            )
        )


def _coming(schedule: DeliverySchedule, count: int, skips: frozenset[date]) -> list[date]:
    if schedule.next_delivery is None or schedule.paused:
        return []
    return delivery_dates(schedule, schedule.next_delivery, count, skips)


async def upcoming(session: AsyncSession, schedule: DeliverySchedule, count: int = PREVIEW) -> list[date]:
    """The planned dates of the next deliveries still to be ordered."""
    if schedule.next_delivery is None or schedule.paused:
        return []
    return _coming(schedule, count, await skipped_dates(session, schedule.id))


async def outlook(
    session: AsyncSession, schedule: DeliverySchedule, company: Company, count: int = PREVIEW
) -> tuple[list[Delivery], list[date]]:
    """The schedule page's coming deliveries and the skips still ahead, from one read of the skipped dates."""
    skips = await skipped_dates(session, schedule.id)
    return _delivered(schedule, company, _coming(schedule, count, skips)), _pending(schedule, skips)


async def next_deliveries(
    session: AsyncSession, company_id: int, count: int = PREVIEW
) -> list[tuple[Delivery, DeliverySchedule]]:
    """The company's next deliveries across its active schedules, soonest delivered first: the
    dashboard panel. Two queries however many schedules: the schedules, and all their skipped dates
    (none without a schedule)."""
    company = await _company(session, company_id)
    return await _next_deliveries(session, company, await company_schedules(session, company_id), count)


async def _next_deliveries(
    session: AsyncSession, company: Company, plans: list[DeliverySchedule], count: int
) -> list[tuple[Delivery, DeliverySchedule]]:
    if not plans:
        return []
    skips: dict[int, set[date]] = {}
    for schedule_id, day in await session.execute(
        select(ScheduleOccurrence.schedule_id, ScheduleOccurrence.delivery_date).where(
            ScheduleOccurrence.company_id == company.id, ScheduleOccurrence.status == OccurrenceStatus.SKIPPED
        )
    ):
        skips.setdefault(schedule_id, set()).add(day)
    found = [
        (delivery, schedule)
        for schedule in plans
        for delivery in _delivered(schedule, company, _coming(schedule, count, frozenset(skips.get(schedule.id, ()))))
    ]
    return sorted(found, key=lambda item: (item[0].day, item[1].id))[:count]


async def occurrences(session: AsyncSession, schedule_id: int) -> list[ScheduleOccurrence]:
    return list(
        await session.scalars(
            select(ScheduleOccurrence)
            .where(ScheduleOccurrence.schedule_id == schedule_id)
            .order_by(ScheduleOccurrence.delivery_date.desc())
            .limit(20)
        )
    )


async def schedule_of_order(session: AsyncSession, company_id: int, order_id: int) -> DeliverySchedule | None:
    return await session.scalar(
        select(DeliverySchedule)
        .join(ScheduleOccurrence, ScheduleOccurrence.schedule_id == DeliverySchedule.id)
        .where(ScheduleOccurrence.order_id == order_id, DeliverySchedule.company_id == company_id)
    )


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
        _restart(schedule, await _company(session, schedule.company_id), today)
    await session.flush()
    return schedule


def _restart(schedule: DeliverySchedule, company: Company, today: date) -> None:
    """The schedule goes on from its next delivery still ordered in time; those whose ordering day passed are let go."""
    due = first_due_from(schedule, schedule.lead_days, today, company)
    start = max(schedule.next_delivery or schedule.first_delivery, due) if due is not None else None
    set_next(schedule, _first(delivery_dates(schedule, start, 1)) if start is not None else None, company)


async def restart_company(session: AsyncSession, company_id: int, today: date) -> None:
    """A reactivated company's running schedules start again from their next delivery still ordered in
    time: what fell due while the company was inactive is neither ordered late nor reported missed."""
    company = await _company(session, company_id)
    for schedule in await session.scalars(
        select(DeliverySchedule).where(DeliverySchedule.company_id == company_id, DeliverySchedule.paused.is_(False))
    ):
        _restart(schedule, company, today)
    await session.flush()


async def skip(session: AsyncSession, user: User, schedule_id: int, delivery: date) -> None:
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    if delivery not in await upcoming(session, schedule, 52):
        raise ScheduleError(gettext("That date is not one of the schedule's coming deliveries."), "delivery_date")
    session.add(
        ScheduleOccurrence(
            schedule_id=schedule.id,
            company_id=schedule.company_id,
            delivery_date=delivery,
            status=OccurrenceStatus.SKIPPED,
            note=SKIPPED_BY + user.full_name,
        )
    )
    await session.flush()


async def unskip(session: AsyncSession, user: User, schedule_id: int, delivery: date) -> None:
    """A skipped date still ahead is delivered after all."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    if delivery not in await pending_skips(session, schedule):
        raise ScheduleError(gettext("That delivery is not skipped."), "delivery_date")
    await _drop_skips(session, schedule.id, [delivery])
    await session.flush()


async def _first_open(
    session: AsyncSession, schedule_id: int, rhythm: Rhythm, lead_days: int, today: date, company: Company
) -> date | None:
    """Where a changed rhythm starts: its first date still ordered in time, after every date already ordered or
    missed, so that no delivery is ordered twice. None when the calendar ends first."""
    start = first_due_from(rhythm, lead_days, today, company)
    if start is None:
        return None
    handled = await session.scalar(
        select(func.max(ScheduleOccurrence.delivery_date)).where(
            ScheduleOccurrence.schedule_id == schedule_id,
            ScheduleOccurrence.status.in_((OccurrenceStatus.GENERATED, OccurrenceStatus.MISSED)),
        )
    )
    return start if handled is None or start > handled else next_delivery_after(rhythm, handled)


async def planned_dates(
    session: AsyncSession, schedule: DeliverySchedule, form: ScheduleForm, today: date, count: int = PREVIEW
) -> list[Delivery]:
    """The next deliveries the schedule would have under the form, before the change is saved."""
    await _checked(session, schedule.company_id, form, today, keep=schedule.address_id)
    return await _planned(session, schedule, form, today, count)


async def _planned(
    session: AsyncSession, schedule: DeliverySchedule, form: ScheduleForm, today: date, count: int = PREVIEW
) -> list[Delivery]:
    rhythm = form.rhythm()
    company = await _company(session, schedule.company_id)
    start = await _first_open(session, schedule.id, rhythm, form.lead_days, today, company)
    if start is None:
        return []
    return deliveries(rhythm, company, start, count, await skipped_dates(session, schedule.id))


async def edit(
    session: AsyncSession, user: User, schedule_id: int, form: ScheduleForm, today: date
) -> DeliverySchedule:
    """A new name, address or rhythm, from the next occurrence not yet ordered: what was ordered or missed stays
    as history. Skips on dates the new rhythm still delivers on are kept; a paused schedule stays paused."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    address = await _checked(session, schedule.company_id, form, today, keep=schedule.address_id)
    skipped = await pending_skips(session, schedule)
    _apply(schedule, form, address)
    company = await _company(session, schedule.company_id)
    set_next(schedule, await _first_open(session, schedule.id, form.rhythm(), form.lead_days, today, company), company)
    start = schedule.next_delivery or today
    await _drop_skips(session, schedule.id, [day for day in skipped if day < start or not _delivers_on(schedule, day)])
    await _confirm(session, schedule, today, [])
    await session.flush()
    return schedule


async def add_line(
    session: AsyncSession, user: User, schedule_id: int, sku: str, quantity: int, today: date
) -> tuple[ScheduleLine, bool]:
    """A product by its SKU, from the next occurrence not yet ordered; a product already on the schedule gets
    the quantity added to its line (the second value says so). The line's price is confirmed anew."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    sku = sku.strip()
    if not sku:
        raise ScheduleError(gettext("Enter the SKU of the product to add."), "sku")
    product = (await products_by_sku(session, {sku})).get(sku.upper())
    if product is None:
        raise ScheduleError(gettext("No product with SKU %(sku)s.") % {"sku": sku}, "sku")
    if not product.is_active:
        raise ScheduleError(gettext("This product is not sold any more."), "sku")
    line = next((kept for kept in schedule.lines if kept.product_id == product.id), None)
    joined = line is not None
    if problem := quantity_problem(product, quantity) or (
        line is not None and quantity_problem(product, line.quantity + quantity)
    ):
        raise ScheduleError(problem, "quantity")
    if line is None:
        line = ScheduleLine(company_id=schedule.company_id, product_id=product.id, quantity=quantity, product=product)
        schedule.lines.append(line)
    else:
        line.quantity += quantity
    await _confirm(session, schedule, today, [line])
    await session.flush()
    return line, joined


async def change_line(
    session: AsyncSession, user: User, schedule_id: int, line_id: int, quantity: int | None, today: date
) -> None:
    """A new quantity (0 removes the line), from the next occurrence not yet ordered; the line's price is confirmed anew."""
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    line = next((kept for kept in schedule.lines if kept.id == line_id), None)
    if line is None:
        raise NotFound()
    if quantity is None:
        raise ScheduleError(gettext("Enter the quantity as a whole number."), "quantity")
    if quantity == 0:
        if len(schedule.lines) == 1:
            raise ScheduleError(gettext("A schedule keeps at least one line; delete the schedule instead."), "lines")
        schedule.lines.remove(line)
    else:
        if problem := quantity_problem(line.product, quantity):
            raise ScheduleError(problem, "quantity")
        line.quantity = quantity
    await _confirm(session, schedule, today, [line] if quantity else [])
    await session.flush()


async def delete(session: AsyncSession, user: User, schedule_id: int) -> str:
    schedule = await company_schedule(session, user.company_id or 0, schedule_id, lock=True)
    await session.delete(schedule)
    await session.flush()
    return schedule.name
