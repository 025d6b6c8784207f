"""The worker's pass: each occurrence ordered once, lead time ahead, at that day's prices,
flagged where a price changed or a product is no longer sold; late or missed when no worker ran."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import (
    Address,
    DeliverySchedule,
    FlagKind,
    Frequency,
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
from portal.services.recurring import occurrence_note, run_pass
from portal.services.schedules import ScheduleError, ScheduleForm
from tests.factories import make_company, make_product, make_schedule, make_user

D = date.fromisoformat


async def arrange(session: AsyncSession, **schedule):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(session, account_manager_id=manager.id)
    buyer = await make_user(session, company_id=company.id)
    towels, soap = await make_product(session, list_price=Decimal("10.0000")), await make_product(session)
    plan = await make_schedule(
        session, company, [(towels, 5), (soap, 2)], created_by=buyer, **{"first": D("2026-12-04"), **schedule}
    )
    await session.commit()
    return manager, company, buyer, plan, towels, soap


async def orders(session: AsyncSession) -> list[Order]:
    return list(
        await session.scalars(
            select(Order).order_by(Order.requested_delivery_date).execution_options(populate_existing=True)
        )
    )


async def test_the_order_is_made_lead_time_before_delivery_and_waits_for_approval(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    manager, company, buyer, plan, towels, soap = await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    assert (await run_pass(maker, D("2026-12-01"))).generated == 0
    assert (await run_pass(maker, D("2026-12-02"))).generated == 1
    (order,) = await orders(session)
    assert (order.source, order.status, order.requested_delivery_date) == (
        OrderSource.RECURRING,
        OrderStatus.PENDING_APPROVAL,
        D("2026-12-04"),
    )
    assert order.net_total == Decimal("70.00")
    assert await schedules.schedule_of_order(session, company.id, order.id) is not None
    told = {
        m.recipient: m.link
        for m in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == NotificationKind.RECURRING_GENERATED)
        )
    }
    assert told == {
        buyer.email: f"/orders/{order.id}",  # a path: the worker's base URL goes in front when it sends
        manager.email: f"/queue/orders/{order.id}",
    }


async def test_running_the_same_day_again_makes_nothing_more(session: AsyncSession, engine: AsyncEngine) -> None:
    await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    for _ in range(3):
        await run_pass(maker, D("2026-12-02"))
    assert len(await orders(session)) == 1


async def test_a_price_change_is_flagged_and_a_product_no_longer_sold_is_left_out(
    session: AsyncSession, engine: AsyncEngine
) -> None:
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


async def test_occurrences_passed_while_no_worker_ran_are_ordered_late_or_missed(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    await arrange(session)
    # No worker from 1 to 12 December: 4 Dec passed (missed), 11 Dec still ahead (ordered late).
    report = await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-10"))
    assert (report.generated, report.missed) == (1, 1)
    statuses = dict((o.delivery_date, o.status) for o in await session.scalars(select(ScheduleOccurrence)))
    assert statuses == {D("2026-12-04"): OccurrenceStatus.MISSED, D("2026-12-11"): OccurrenceStatus.GENERATED}
    assert (
        await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == NotificationKind.RECURRING_MISSED)
        )
        == 2
    )


async def test_a_skipped_occurrence_and_a_paused_schedule_make_no_order(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    _, _, buyer, plan, _, _ = await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    await schedules.skip(session, buyer, plan.id, D("2026-12-04"))
    await session.commit()
    await run_pass(maker, D("2026-12-02"))
    assert await orders(session) == []
    skipped = await session.scalar(select(ScheduleOccurrence.note).where(ScheduleOccurrence.schedule_id == plan.id))
    assert skipped is not None and occurrence_note(skipped) == f"skipped by {buyer.full_name}"
    await run_pass(maker, D("2026-12-09"))
    assert [o.requested_delivery_date for o in await orders(session)] == [D("2026-12-11")]

    await schedules.pause(session, buyer, plan.id)
    await session.commit()
    await run_pass(maker, D("2026-12-16"))  # the 18 Dec ordering day passes while paused
    await schedules.resume(session, buyer, plan.id, D("2026-12-17"))
    await session.commit()
    await run_pass(maker, D("2026-12-17"))
    await run_pass(maker, D("2026-12-26"))  # Christmas Day is delivered on Monday 28 December, ordered on the 26th
    assert [o.requested_delivery_date for o in await orders(session)] == [D("2026-12-11"), D("2026-12-28")]


async def test_changed_lines_apply_from_the_next_occurrence_not_yet_ordered(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    _, _, buyer, plan, towels, _ = await arrange(session)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    await run_pass(maker, D("2026-12-02"))
    line = next(
        kept
        for kept in (await schedules.company_schedule(session, plan.company_id, plan.id)).lines
        if kept.product_id == towels.id
    )
    await schedules.change_line(session, buyer, plan.id, line.id, 10, D("2026-12-03"))
    await session.commit()
    await run_pass(maker, D("2026-12-09"))
    first, second = await orders(session)
    assert (first.net_total, second.net_total) == (Decimal("70.00"), Decimal("120.00"))


async def test_the_dashboard_shows_the_next_deliveries_of_the_company(session: AsyncSession) -> None:
    _, company, _, plan, _, _ = await arrange(session, first=D("2027-01-31"), frequency="monthly", month_day=31)
    upcoming = await schedules.next_deliveries(session, company.id, 3)
    assert [(delivery.planned, delivery.day) for delivery, _ in upcoming] == [
        (D("2027-01-31"), D("2027-02-01")),  # Sundays are delivered on Monday
        (D("2027-02-28"), D("2027-03-01")),
        (D("2027-03-31"), D("2027-03-31")),
    ]


async def reloaded(session: AsyncSession, plan):  # type: ignore[no-untyped-def]
    """The schedule as the database has it now; the lock that reads it so is let go for the worker."""
    schedule = await schedules.company_schedule(session, plan.company_id, plan.id, lock=True)
    await session.commit()
    return schedule


async def test_an_edit_applies_from_the_next_occurrence_not_yet_ordered(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    _, company, buyer, plan, _, _ = await arrange(session)
    store = Address(company_id=company.id, label="Store", street="Portowa 2", postal_code="80-001", city="Gdańsk")
    session.add(store)
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)
    assert (await run_pass(maker, D("2026-12-02"))).generated == 1  # Friday 4 December is ordered

    # Monthly on the 4th from 4 December: that date is ordered already, so January's is the next.
    form = ScheduleForm("Monthly linen", store.id, Frequency.MONTHLY, D("2026-12-04"), 1, month_day=4)
    await schedules.edit(session, buyer, plan.id, form, D("2026-12-03"))
    await session.commit()
    plan = await reloaded(session, plan)
    assert (plan.next_delivery, plan.next_generation_on, plan.paused) == (D("2027-01-04"), D("2027-01-03"), False)
    assert await schedules.upcoming(session, plan, 3) == [D("2027-01-04"), D("2027-02-04"), D("2027-03-04")]

    assert (await run_pass(maker, D("2026-12-09"))).generated == 0  # Friday 11 December is no longer delivered
    assert (await run_pass(maker, D("2027-01-03"))).generated == 1
    first, second = await orders(session)
    assert [first.requested_delivery_date, second.requested_delivery_date] == [D("2026-12-04"), D("2027-01-04")]
    assert "Gdańsk" not in first.delivery_address and "Gdańsk" in second.delivery_address
    assert "Monthly linen" in second.note


async def test_an_edit_keeps_the_skips_the_new_rhythm_still_delivers_on_and_a_paused_schedule_paused(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    _, _, buyer, plan, _, _ = await arrange(session, today=D("2026-11-27"))
    for friday in ("2026-12-11", "2026-12-18"):
        await schedules.skip(session, buyer, plan.id, D(friday))
    await schedules.pause(session, buyer, plan.id)
    # Every other Friday from 4 December: 11 December is no longer a delivery, 18 December stays skipped.
    form = ScheduleForm("Weekly linen", plan.address_id, Frequency.WEEKLY, D("2026-12-04"), 2, interval_weeks=2)
    await schedules.edit(session, buyer, plan.id, form, D("2026-11-28"))
    await session.commit()
    plan = await reloaded(session, plan)
    assert (plan.paused, plan.next_delivery, plan.interval_weeks) == (True, D("2026-12-04"), 2)
    assert await schedules.pending_skips(session, plan) == [D("2026-12-18")]

    await schedules.resume(session, buyer, plan.id, D("2026-11-28"))
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)
    for day in ("2026-12-02", "2026-12-09", "2026-12-16", "2027-01-02"):  # New Year's Day moves to Monday 4 January
        await run_pass(maker, D(day))
    assert [o.requested_delivery_date for o in await orders(session)] == [D("2026-12-04"), D("2027-01-04")]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "  "}, "name", "Give the schedule a name of at most 100 characters."),
        ({"first_delivery": D("2026-12-01")}, "first_delivery", "The first delivery must be after today."),
        ({"address_id": "elsewhere"}, "address_id", "Choose one of your company's delivery addresses."),
        ({"address_id": None}, "address_id", "Choose one of your company's delivery addresses."),
        ({"interval_weeks": 0}, "interval_weeks", "Enter a whole number from 1 to 52."),
        ({"lead_days": 61}, "lead_days", "Enter a whole number from 0 to 60."),
    ],
)
async def test_a_refused_edit_changes_nothing(session: AsyncSession, fields: dict, field: str, message: str) -> None:
    _, _, buyer, plan, _, _ = await arrange(session)
    foreign = await make_schedule(
        session, await make_company(session), [(await make_product(session), 1)], first=D("2026-12-04")
    )
    await session.commit()
    before = {
        c: getattr(plan, c)
        for c in (
            "name",
            "address_id",
            "frequency",
            "interval_weeks",
            "month_day",
            "first_delivery",
            "lead_days",
            "next_delivery",
            "confirmed_at",
        )
    }
    data = {
        "name": "Renamed",
        "address_id": plan.address_id,
        "frequency": Frequency.WEEKLY,
        "interval_weeks": 1,
        "first_delivery": D("2026-12-08"),
        "lead_days": 1,
        **fields,
    }
    if data["address_id"] == "elsewhere":
        data["address_id"] = foreign.address_id
    company_id, plan_id = plan.company_id, plan.id
    with pytest.raises(ScheduleError) as refused:
        await schedules.edit(session, buyer, plan_id, ScheduleForm(**data), D("2026-12-01"))
    await session.rollback()
    assert (refused.value.field, refused.value.message) == (field, message)
    plan = await schedules.company_schedule(session, company_id, plan_id)
    assert {c: getattr(plan, c) for c in before} == before


async def test_another_companys_schedule_cannot_be_edited(session: AsyncSession) -> None:
    _, _, _, plan, _, _ = await arrange(session)
    stranger = await make_user(session)
    form = ScheduleForm("Mine now", plan.address_id, Frequency.WEEKLY, D("2026-12-08"), 2)
    with pytest.raises(LookupError):
        await schedules.edit(session, stranger, plan.id, form, D("2026-12-01"))


async def test_an_added_product_and_a_raised_quantity_are_in_the_next_order(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    _, _, buyer, plan, towels, soap = await arrange(session)
    gloves = await make_product(session, sku="GLV-12", pack_size=12, list_price=Decimal("2.0000"))
    await session.commit()
    line, joined = await schedules.add_line(session, buyer, plan.id, "glv-12", 24, D("2026-12-01"))
    assert (line.product_id, line.quantity, line.confirmed_price, joined) == (gloves.id, 24, Decimal("2.0000"), False)
    line, joined = await schedules.add_line(session, buyer, plan.id, soap.sku, 3, D("2026-12-01"))
    assert (line.product_id, line.quantity, joined) == (soap.id, 5, True)
    await session.commit()
    await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-02"))
    (order,) = await orders(session)
    await session.refresh(order, ["lines"])
    assert sorted((line.sku, line.quantity) for line in order.lines) == sorted(
        [(towels.sku, 5), (soap.sku, 5), ("GLV-12", 24)]
    )
    assert (
        await session.scalar(
            select(func.count()).select_from(OrderFlag).where(OrderFlag.kind == FlagKind.PRICE_CHANGED)
        )
        == 0
    )


@pytest.mark.parametrize(
    ("sku", "quantity", "message"),
    [
        ("NOPE-1", 12, "No product with SKU NOPE-1."),
        ("OLD-1", 12, "This product is not sold any more."),
        ("GLV-12", 10, "Sold in packs of 12: 12?"),
    ],
)
async def test_a_product_is_added_only_when_sold_and_in_whole_packs(
    session: AsyncSession, sku: str, quantity: int, message: str
) -> None:
    _, _, buyer, plan, _, _ = await arrange(session)
    await make_product(session, sku="GLV-12", pack_size=12)
    await make_product(session, sku="OLD-1", is_active=False)
    await session.commit()
    company_id, plan_id = plan.company_id, plan.id
    with pytest.raises(ScheduleError) as refused:
        await schedules.add_line(session, buyer, plan_id, sku, quantity, D("2026-12-01"))
    assert refused.value.message == message
    await session.rollback()
    assert len((await schedules.company_schedule(session, company_id, plan_id)).lines) == 2


async def test_an_undone_skip_is_ordered_again(session: AsyncSession, engine: AsyncEngine) -> None:
    _, _, buyer, plan, _, _ = await arrange(session)
    await schedules.skip(session, buyer, plan.id, D("2026-12-04"))
    await session.commit()
    assert await schedules.pending_skips(session, await reloaded(session, plan)) == [D("2026-12-04")]
    await schedules.unskip(session, buyer, plan.id, D("2026-12-04"))
    await session.commit()
    await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-02"))
    assert [o.requested_delivery_date for o in await orders(session)] == [D("2026-12-04")]


async def test_only_a_skip_still_ahead_can_be_undone(session: AsyncSession, engine: AsyncEngine) -> None:
    _, _, buyer, plan, _, _ = await arrange(session)
    await schedules.skip(session, buyer, plan.id, D("2026-12-04"))
    await session.commit()
    await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-02"))  # passes the skipped 4 December
    plan_id = plan.id
    for day in ("2026-12-04", "2026-12-11"):
        with pytest.raises(ScheduleError, match="That delivery is not skipped."):
            await schedules.unskip(session, buyer, plan_id, D(day))
    assert await schedules.skipped_dates(session, plan_id) == {D("2026-12-04")}


async def test_the_worker_orders_the_calendars_last_day_and_then_stops(
    session: AsyncSession, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """A stored row whose next delivery is 31 December 9999: no next date exists, so the schedule has none."""
    _, _, _, plan, _, _ = await arrange(session)
    await session.execute(
        update(DeliverySchedule)
        .where(DeliverySchedule.id == plan.id)
        .values(first_delivery=date.max, next_delivery=date.max, next_generation_on=D("2026-12-01"))
    )
    broken = await make_schedule(
        session, await make_company(session), [(await make_product(session), 1)], first=D("2026-12-04")
    )
    await session.execute(
        update(DeliverySchedule)
        .where(DeliverySchedule.id == broken.id)
        .values(next_delivery=None, next_generation_on=D("2026-12-01"))
    )
    await session.commit()
    report = await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-02"))
    assert (report.generated, report.missed) == (1, 0)
    assert [o.requested_delivery_date for o in await orders(session)] == [date.max]
    for schedule_id in (plan.id, broken.id):
        stored = await session.scalar(
            select(DeliverySchedule).where(DeliverySchedule.id == schedule_id).execution_options(populate_existing=True)
        )
        assert stored is not None and (stored.next_delivery, stored.next_generation_on) == (None, None)
    assert not [record for record in caplog.records if record.exc_info]
    assert (await run_pass(async_sessionmaker(engine, expire_on_commit=False), D("2026-12-03"))).generated == 0


async def test_views_of_a_schedule_at_the_calendars_end(session: AsyncSession) -> None:
    _, company, buyer, plan, _, _ = await arrange(session, first=D("9999-12-20"))
    assert (plan.next_delivery, plan.next_generation_on) == (D("9999-12-20"), D("9999-12-18"))
    view = await schedules.schedule_view(session, buyer, plan.id)
    assert [delivery.day for delivery in view.upcoming] == [D("9999-12-20"), D("9999-12-27")]
    assert [delivery for delivery, _ in await schedules.next_deliveries(session, company.id)] == view.upcoming
    revision = await schedules.revision(session, buyer, plan.id, today=D("2026-12-01"))
    assert revision.form is not None and revision.form.first_delivery == D("9999-12-20")
    assert [delivery.day for delivery in revision.preview] == [D("9999-12-20"), D("9999-12-27")]
    await schedules.skip(session, buyer, plan.id, D("9999-12-27"))
    await schedules.pause(session, buyer, plan.id)
    await schedules.resume(session, buyer, plan.id, D("2026-12-01"))
    assert await schedules.upcoming(session, plan) == [D("9999-12-20")]
