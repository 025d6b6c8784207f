"""The worker's pass: each occurrence ordered once, lead time ahead, at that day's prices,
flagged where a price changed or a product is no longer sold; late or missed when no worker ran."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import (
    FlagKind,
    NotificationKind,
    OccurrenceStatus,
    Order,
    OrderFlag,
    OrderSource,
    OrderStatus,
    OutboxMessage,
    Role,
    ScheduleOccurrence,
)
from portal.services import schedules
from portal.services.schedules import run_pass
from tests.factories import make_company, make_product, make_schedule, make_user

D = date.fromisoformat


async def arrange(session: AsyncSession, **schedule):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(session, account_manager_id=manager.id)
    buyer = await make_user(session, company_id=company.id)
    towels, soap = await make_product(session, list_price=Decimal("10.0000")), await make_product(session)
    plan = await make_schedule(session, company, [(towels, 5), (soap, 2)], created_by=buyer,
                               **{"first": D("2026-12-04"), **schedule})
    await session.commit()
    return manager, company, buyer, plan, towels, soap


async def orders(session: AsyncSession) -> list[Order]:
    return list(await session.scalars(select(Order).order_by(Order.requested_delivery_date)
                                      .execution_options(populate_existing=True)))


async def test_the_order_is_made_lead_time_before_delivery_and_waits_for_approval(session: AsyncSession, engine: AsyncEngine) -> None:
    manager, company, buyer, plan, towels, soap = await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    assert (await run_pass(maker, D("2026-12-01"))).generated == 0
    assert (await run_pass(maker, D("2026-12-02"))).generated == 1
    (order,) = await orders(session)
    assert (order.source, order.status, order.requested_delivery_date) == (
        OrderSource.RECURRING, OrderStatus.PENDING_APPROVAL, D("2026-12-04"))
    assert order.net_total == Decimal("70.00")
    assert await schedules.schedule_of_order(session, company.id, order.id) is not None
    told = {m.recipient: m.link for m in await session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == NotificationKind.RECURRING_GENERATED))}
    assert told == {buyer.email: f"http://localhost:8000/orders/{order.id}",
                    manager.email: f"http://localhost:8000/queue/orders/{order.id}"}


async def test_running_the_same_day_again_makes_nothing_more(session: AsyncSession, engine: AsyncEngine) -> None:
    await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    for _ in range(3):
        await run_pass(maker, D("2026-12-02"))
    assert len(await orders(session)) == 1


async def test_a_price_change_is_flagged_and_a_product_no_longer_sold_is_left_out(session: AsyncSession, engine: AsyncEngine) -> None:
    _, _, _, plan, towels, soap = await arrange(session)
    towels.list_price = Decimal("12.0000")
    soap.is_active = False
    await session.commit()
    await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-02"))
    (order,) = await orders(session)
    flags = {f.kind: f.data for f in await session.scalars(select(OrderFlag).where(OrderFlag.order_id == order.id))}
    assert flags[FlagKind.PRICE_CHANGED] == {"sku": towels.sku, "old": "10.0000", "new": "12.0000"}
    assert flags[FlagKind.NOT_SOLD]["sku"] == soap.sku
    assert order.net_total == Decimal("60.00")


async def test_occurrences_passed_while_no_worker_ran_are_ordered_late_or_missed(session: AsyncSession, engine: AsyncEngine) -> None:
    await arrange(session)
    # No worker from 1 to 12 December: 4 Dec passed (missed), 11 Dec still ahead (ordered late).
    report = await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-10"))
    assert (report.generated, report.missed) == (1, 1)
    statuses = dict((o.delivery_date, o.status) for o in await session.scalars(select(ScheduleOccurrence)))
    assert statuses == {D("2026-12-04"): OccurrenceStatus.MISSED, D("2026-12-11"): OccurrenceStatus.GENERATED}
    assert await session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == NotificationKind.RECURRING_MISSED)) == 2


async def test_a_skipped_occurrence_and_a_paused_schedule_make_no_order(session: AsyncSession, engine: AsyncEngine) -> None:
    _, _, buyer, plan, _, _ = await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    await schedules.skip(session, buyer, plan.id, D("2026-12-04"))
    await session.commit()
    await run_pass(maker, D("2026-12-02"))
    assert await orders(session) == []
    await run_pass(maker, D("2026-12-09"))
    assert [o.requested_delivery_date for o in await orders(session)] == [D("2026-12-11")]

    await schedules.pause(session, buyer, plan.id)
    await session.commit()
    await run_pass(maker, D("2026-12-16"))  # the 18 Dec ordering day passes while paused
    await schedules.resume(session, buyer, plan.id, D("2026-12-17"))
    await session.commit()
    await run_pass(maker, D("2026-12-17"))
    await run_pass(maker, D("2026-12-23"))
    assert [o.requested_delivery_date for o in await orders(session)] == [D("2026-12-11"), D("2026-12-25")]


async def test_changed_lines_apply_from_the_next_occurrence_not_yet_ordered(session: AsyncSession, engine: AsyncEngine) -> None:
    _, _, buyer, plan, towels, _ = await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    await run_pass(maker, D("2026-12-02"))
    line = next(l for l in (await schedules.company_schedule(session, plan.company_id, plan.id)).lines if l.product_id == towels.id)
    await schedules.change_line(session, buyer, plan.id, line.id, 10, D("2026-12-03"))
    await session.commit()
    await run_pass(maker, D("2026-12-09"))
    first, second = await orders(session)
    assert (first.net_total, second.net_total) == (Decimal("70.00"), Decimal("120.00"))


async def test_the_dashboard_shows_the_next_deliveries_of_the_company(session: AsyncSession) -> None:
    _, company, _, plan, _, _ = await arrange(session, first=D("2027-01-31"), frequency="monthly", month_day=31)
    upcoming = await schedules.next_deliveries(session, company.id, 3)
    assert [day for day, _ in upcoming] == [D("2027-01-31"), D("2027-02-28"), D("2027-03-31")]
