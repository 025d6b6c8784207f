"""The worker's pass over recurring deliveries: each occurrence is ordered exactly once, lead time
before its delivery date, or recorded as missed; buyers and the account manager are told either way.

The company's delivery terms apply (`services/delivery.py`): a date it cannot be delivered on (a
weekend, a public holiday, not one of its delivery weekdays) is delivered on the next delivery day
or the previous one, as the schedule says (`schedules.delivered_on`; the occurrence keeps the
schedule's own date as its key, and the lead time counts back from the delivered date), the
order carries the delivery fee, and one under the minimum order value is made all the same, flagged
for the approver. An order without any flag of a company that allows it is approved at once. The
schedules of a deactivated company are passed over while it is inactive: no order, no missed
record, no e-mail."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from portal.i18n import N_, format_date, gettext
from portal.models import (
    Address,
    Company,
    DeliverySchedule,
    FlagKind,
    NotificationKind,
    OccurrenceStatus,
    Order,
    OrderFlag,
    OrderSource,
    ScheduleLine,
    ScheduleOccurrence,
    User,
)
from portal.services import notifications
from portal.services.approvals import approve_automatically
from portal.services.flags import Flag, Policy
from portal.services.ordering import place_order
from portal.services.schedules import SKIPPED_BY, delivered_on, missed, next_delivery_after, set_next

log = logging.getLogger("portal.recurring")

NO_ORDER_IN_TIME = "no_order_in_time"
NOTHING_SOLD = "nothing_sold"
OCCURRENCE_NOTES = {
    NO_ORDER_IN_TIME: N_("no order was made before the delivery date."),
    NOTHING_SOLD: N_("none of the products is sold any more."),
}
"""Why an occurrence was missed: the code stored in its note, and its words."""


def occurrence_note(note: str) -> str:
    """An occurrence's note in the reader's language (a note without a known code as written)."""
    if note.startswith(SKIPPED_BY):
        return gettext("skipped by %(name)s") % {"name": note.removeprefix(SKIPPED_BY)}
    known = OCCURRENCE_NOTES.get(note)
    return gettext(known) if known else note


@dataclass
class PassReport:
    generated: int = 0
    missed: int = 0
    skipped: int = 0


async def _claim(session: AsyncSession, today: date, passed: set[int]) -> DeliverySchedule | None:
    query = (
        select(DeliverySchedule)
        .where(
            DeliverySchedule.paused.is_(False),
            DeliverySchedule.next_generation_on <= today,
            DeliverySchedule.company_id.in_(select(Company.id).where(Company.is_active.is_(True))),
        )
        .order_by(DeliverySchedule.next_generation_on, DeliverySchedule.id)
        .limit(1)
    )
    if passed:
        query = query.where(DeliverySchedule.id.not_in(passed))
    if session.get_bind().dialect.name == "postgresql":
        # NO KEY UPDATE: workers and buyers' edits exclude each other, but a row merely referring to the
        # schedule (an occurrence, a line) does not hide the schedule from the pass.
        query = query.with_for_update(skip_locked=True, key_share=True)
    return await session.scalar(query.execution_options(populate_existing=True))


async def run_pass(
    session_maker: async_sessionmaker[AsyncSession],
    today: date,
    *,
    grace_days: int = 7,
    margin_floor: Decimal = Decimal("10"),
) -> PassReport:
    """Orders every occurrence whose ordering day has come, one transaction per occurrence.
    A worker that dies mid-pass loses only its open transaction; the next pass does it again."""
    report = PassReport()
    failed: set[int] = set()
    while True:
        async with session_maker() as session:
            try:
                async with session.begin():
                    schedule = await _claim(session, today, failed)
                    if schedule is None:
                        return report
                    try:
                        await _occurrence(session, schedule, today, report, grace_days, margin_floor)
                    except IntegrityError:
                        raise
                    except Exception:
                        log.exception("Schedule %s could not be processed", schedule.id)
                        failed.add(schedule.id)
                        raise
            except IntegrityError:
                continue  # another worker recorded this occurrence first
            except Exception:  # one broken schedule does not stop the others; it was logged above
                continue


async def _occurrence(
    session: AsyncSession,
    schedule: DeliverySchedule,
    today: date,
    report: PassReport,
    grace_days: int,
    margin_floor: Decimal,
) -> None:
    delivery = schedule.next_delivery
    company = await session.get(Company, schedule.company_id)
    assert company is not None
    if delivery is None:  # a stored row with an ordering day but no delivery: nothing left to order
        set_next(schedule, None, company)
        await session.flush()
        return
    existing = await session.scalar(
        select(ScheduleOccurrence).where(
            ScheduleOccurrence.schedule_id == schedule.id, ScheduleOccurrence.delivery_date == delivery
        )
    )
    if existing is not None:
        report.skipped += 1
    elif missed(delivered_on(schedule, company, delivery), schedule.lead_days, today):
        await _record_missed(session, schedule, company, delivery, NO_ORDER_IN_TIME)
        report.missed += 1
    else:
        occurrence = ScheduleOccurrence(
            schedule_id=schedule.id, company_id=company.id, delivery_date=delivery, status=OccurrenceStatus.GENERATED
        )
        session.add(occurrence)
        await session.flush()  # the unique key speaks before any order is made
        order = await _order(session, schedule, company, delivery, today, grace_days, margin_floor)
        if order is None:
            occurrence.status = OccurrenceStatus.MISSED
            occurrence.note = NOTHING_SOLD
            await _tell_missed(session, schedule, company, delivery, NOTHING_SOLD)
            report.missed += 1
        else:
            occurrence.order_id = order.id
            report.generated += 1
    set_next(schedule, next_delivery_after(schedule, delivery), company)
    await session.flush()


async def _record_missed(
    session: AsyncSession, schedule: DeliverySchedule, company: Company, delivery: date, reason: str
) -> None:
    session.add(
        ScheduleOccurrence(
            schedule_id=schedule.id,
            company_id=company.id,
            delivery_date=delivery,
            status=OccurrenceStatus.MISSED,
            note=reason,
        )
    )
    await session.flush()
    await _tell_missed(session, schedule, company, delivery, reason)


async def _people(session: AsyncSession, company: Company) -> list[User]:
    manager = await notifications.account_manager(session, company)
    return [*await notifications.company_buyers(session, company.id), *([manager] if manager else [])]


async def _tell_missed(
    session: AsyncSession, schedule: DeliverySchedule, company: Company, delivery: date, reason: str
) -> None:
    await notifications.notify(
        session,
        NotificationKind.RECURRING_MISSED,
        await _people(session, company),
        lambda: (
            gettext("Recurring delivery “%(schedule)s” of %(date)s was missed")
            % {"schedule": schedule.name, "date": format_date(delivery)}
        ),
        "recurring_missed",
        {
            "schedule": schedule,
            "company": company,
            "delivery_date": delivery,
            "reason": lambda: occurrence_note(reason),
        },
        f"/schedules/{schedule.id}",
    )


async def _order(
    session: AsyncSession,
    schedule: DeliverySchedule,
    company: Company,
    delivery: date,
    today: date,
    grace_days: int,
    margin_floor: Decimal,
) -> Order | None:
    lines = list(
        await session.scalars(
            select(ScheduleLine)
            .options(selectinload(ScheduleLine.product))
            .where(ScheduleLine.schedule_id == schedule.id)
            .order_by(ScheduleLine.id)
        )
    )
    sold = [line for line in lines if line.product.is_active]
    gone = [line.product for line in lines if not line.product.is_active]
    left_out = [f"{product.sku} {product.name}" for product in gone]
    if not sold:
        return None
    address = await session.get(Address, schedule.address_id)
    assert address is not None
    delivered = delivered_on(schedule, company, delivery)
    extra = [Flag(FlagKind.NOT_SOLD, {"sku": product.sku, "name": product.name}) for product in gone]
    order = await place_order(
        session,
        company,
        [(line.product, line.quantity) for line in sold],
        today=today,
        grace_days=grace_days,
        margin_floor=margin_floor,
        buyer=await session.get(User, schedule.created_by_id) if schedule.created_by_id else None,
        key=f"schedule-{schedule.id}-{delivery.isoformat()}",
        source=OrderSource.RECURRING,
        delivery=delivered,
        address=address,
        note=schedule.name,
    )
    confirmed = {line.product_id: line.confirmed_price for line in sold}
    changed: list[tuple[str, Decimal, Decimal]] = []
    for order_line in order.lines:
        before = confirmed.get(order_line.product_id)
        if before is not None and before != order_line.unit_price:
            changed.append((order_line.sku, before, order_line.unit_price))
            extra.append(
                Flag(
                    FlagKind.PRICE_CHANGED,
                    {"sku": order_line.sku, "old": str(before), "new": str(order_line.unit_price)},
                )
            )
    order.flags += [OrderFlag(company_id=company.id, kind=f.kind, blocking=f.blocking, data=f.data) for f in extra]
    await session.flush()
    approved = await approve_automatically(session, order, company, Policy(today, grace_days, margin_floor))

    def subject() -> str:
        return gettext("Recurring delivery “%(schedule)s”: order %(number)s for %(date)s") % {
            "schedule": schedule.name,
            "number": order.number,
            "date": format_date(delivered),
        }

    context = {
        "schedule": schedule,
        "company": company,
        "order": order,
        "approved": approved,
        "delivery_date": delivered,
        "moved_from": delivery if delivered != delivery else None,
        "left_out": left_out,
        "changed": changed,
    }
    await notifications.notify(
        session,
        NotificationKind.RECURRING_GENERATED,
        await notifications.company_buyers(session, company.id),
        subject,
        "recurring_generated",
        {**context, **await notifications.order_facts(session, order, company)},  # total and approver, as at checkout
        f"/orders/{order.id}",
    )
    await notifications.notify(
        session,
        NotificationKind.RECURRING_GENERATED,
        await notifications.managers_on_duty(session, company, today),
        subject,
        "recurring_generated",
        context,
        f"/queue/orders/{order.id}",
    )
    return order
