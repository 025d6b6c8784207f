"""Approving and rejecting: who may decide, credit re-checked at the moment of
approval under a row lock, deputies deciding on a manager's behalf."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import Deputy, FlagKind, Order, OrderEvent, OrderStatus, Role
from portal.services import approvals
from portal.services.approvals import QueueFilter
from portal.services.ordering import MoveRefused
from tests.conftest import backend
from tests.factories import make_company, make_invoice, make_order, make_user

TODAY = date(2026, 11, 27)


async def setup_company(session: AsyncSession, **fields):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    company = await make_company(session, account_manager_id=manager.id, **{"credit_limit": Decimal("1000.00"), **fields})
    buyer = await make_user(session, company_id=company.id)
    return manager, company, buyer


async def approve(session: AsyncSession, user, order, **kwargs):  # type: ignore[no-untyped-def]
    return await approvals.approve_order(session, user, order.id, today=TODAY, grace_days=7, **kwargs)


async def test_the_assigned_manager_approves_with_a_note(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    approved = await approve(session, manager, order, note="Delivery on Tuesday")
    assert approved.status is OrderStatus.APPROVED
    event = await session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()))
    assert (event.actor_id, event.reason, event.on_behalf_of_id) == (manager.id, "Delivery on Tuesday", None)


@pytest.mark.parametrize("role", [Role.FINANCE, Role.ACCOUNT_MANAGER, Role.BUYER])
async def test_other_people_cannot_decide(session: AsyncSession, role: Role) -> None:
    _, company, buyer = await setup_company(session)
    someone = buyer if role is Role.BUYER else await make_user(session, role)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    with pytest.raises(approvals.NotAllowed):
        await approve(session, someone, order)
    with pytest.raises(approvals.NotAllowed):
        await approvals.reject_order(session, someone, order.id, reason="no", today=TODAY)


async def test_an_admin_decides_any_order(session: AsyncSession) -> None:
    _, company, buyer = await setup_company(session)
    admin = await make_user(session, Role.ADMIN)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    assert (await approve(session, admin, order)).status is OrderStatus.APPROVED


async def test_a_deputy_decides_on_the_managers_behalf_during_the_absence_only(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    deputy = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak")
    await approvals.name_deputy(session, manager, deputy.id, TODAY - timedelta(days=1), TODAY + timedelta(days=3), TODAY)
    order = await make_order(session, company, gross="300.00", buyer=buyer)

    queue = await approvals.approval_queue(session, deputy, QueueFilter(), TODAY)
    assert [entry.order.id for entry in queue.entries] == [order.id]
    await approve(session, deputy, order)
    event = await session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()))
    assert (event.actor_id, event.on_behalf_of_id) == (deputy.id, manager.id)

    later = await make_order(session, company, gross="100.00", buyer=buyer)
    with pytest.raises(approvals.NotAllowed):
        await approvals.approve_order(session, deputy, later.id, today=TODAY + timedelta(days=4), grace_days=7)


async def test_rejection_needs_a_reason(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    with pytest.raises(approvals.DecisionRefused, match="reason"):
        await approvals.reject_order(session, manager, order.id, reason="  ", today=TODAY)
    rejected = await approvals.reject_order(session, manager, order.id, reason="Discontinued item", today=TODAY)
    assert rejected.status is OrderStatus.REJECTED


async def test_deciding_twice_changes_nothing_and_says_who_decided(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    admin = await make_user(session, Role.ADMIN, full_name="Ada Admin")
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    await approvals.reject_order(session, admin, order.id, reason="Duplicate", today=TODAY)
    with pytest.raises(MoveRefused) as refused:
        await approve(session, manager, order)
    assert "Nothing was changed: this order was already rejected by Ada Admin at" in refused.value.message
    assert (await session.get(Order, order.id)).status is OrderStatus.REJECTED  # type: ignore[union-attr]


async def test_credit_is_checked_at_the_moment_of_approval(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    await make_invoice(session, company, gross="500.00", due=TODAY + timedelta(days=10))
    fits = await make_order(session, company, gross="400.00", buyer=buyer)
    too_big = await make_order(session, company, gross="200.00", buyer=buyer)

    await approve(session, manager, fits)  # 500 invoiced + 400 ≤ 1000; the other pending order does not hold it back
    with pytest.raises(approvals.ApprovalBlocked) as blocked:
        await approve(session, manager, too_big)  # 500 + 400 approved + 200 > 1000
    assert [(f.kind, f.data) for f in blocked.value.blockers] == [
        (FlagKind.EXCEEDS_CREDIT, {"available": "100.00", "gross": "200.00", "shortfall": "100.00"})]

    company.credit_limit = Decimal("1100.00")  # finance raises the limit
    await session.flush()
    assert (await approve(session, manager, too_big)).status is OrderStatus.APPROVED


async def test_past_due_and_on_hold_block_approval(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session, on_hold=True, hold_reason="Cheque returned")
    await make_invoice(session, company, gross="50.00", due=TODAY - timedelta(days=30))
    order = await make_order(session, company, gross="10.00", buyer=buyer)
    with pytest.raises(approvals.ApprovalBlocked) as blocked:
        await approve(session, manager, order)
    assert [f.kind for f in blocked.value.blockers] == [FlagKind.ON_HOLD, FlagKind.PAST_DUE]


async def test_warnings_need_an_explicit_confirmation(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    order = await make_order(session, company, gross="10.00", buyer=buyer, flags=[(FlagKind.FIRST_ORDER, {})])
    with pytest.raises(approvals.WarningsNotConfirmed):
        await approve(session, manager, order)
    assert (await approve(session, manager, order, warnings_confirmed=True)).status is OrderStatus.APPROVED


async def test_bulk_approval_takes_only_orders_without_flags(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    plain = [await make_order(session, company, gross="10.00", buyer=buyer) for _ in range(2)]
    flagged = await make_order(session, company, gross="10.00", buyer=buyer, flags=[(FlagKind.FIRST_ORDER, {})])
    result = await approvals.bulk_approve(session, manager, [o.id for o in plain] + [flagged.id], today=TODAY, grace_days=7)
    assert sorted(o.id for o in result.approved) == sorted(o.id for o in plain)
    assert [order_id for order_id, _ in result.skipped] == [flagged.id]
    assert (await session.get(Order, flagged.id)).status is OrderStatus.PENDING_APPROVAL  # type: ignore[union-attr]


async def test_queue_shows_my_companies_oldest_first_with_filters(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    other_manager, other_company, other_buyer = await setup_company(session)
    from datetime import UTC, datetime

    newer = await make_order(session, company, gross="10.00", buyer=buyer, submitted_at=datetime(2026, 11, 26, tzinfo=UTC))
    older = await make_order(session, company, gross="10.00", buyer=buyer, submitted_at=datetime(2026, 11, 20, tzinfo=UTC),
                             flags=[(FlagKind.FIRST_ORDER, {})])
    theirs = await make_order(session, other_company, gross="10.00", buyer=other_buyer)

    mine = await approvals.approval_queue(session, manager, QueueFilter(), TODAY)
    assert [e.order.id for e in mine.entries] == [older.id, newer.id]
    flagged = await approvals.approval_queue(session, manager, QueueFilter(flag=FlagKind.FIRST_ORDER), TODAY)
    assert [e.order.id for e in flagged.entries] == [older.id]
    assert await approvals.pending_count(session, manager, TODAY) == 2

    admin = await make_user(session, Role.ADMIN)
    everything = await approvals.approval_queue(session, admin, QueueFilter(), TODAY)
    assert {e.order.id for e in everything.entries} == {older.id, newer.id, theirs.id}
    by_manager = await approvals.approval_queue(session, admin, QueueFilter(manager_id=other_manager.id), TODAY)
    assert [e.order.id for e in by_manager.entries] == [theirs.id]


async def test_naming_a_deputy_checks_the_dates_and_the_person(session: AsyncSession) -> None:
    manager, _, buyer = await setup_company(session)
    with pytest.raises(approvals.CoverInvalid) as invalid:
        await approvals.name_deputy(session, manager, buyer.id, TODAY, TODAY - timedelta(days=1), TODAY)
    assert set(invalid.value.errors) == {"deputy", "ends_on"}
    assert (await session.scalars(select(Deputy))).all() == []


async def test_two_approvals_at_once_never_overdraw_the_limit(engine: AsyncEngine, session: AsyncSession) -> None:
    if backend() != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite has one writer at a time")
    manager, company, buyer = await setup_company(session)
    deputy = await make_user(session, Role.ACCOUNT_MANAGER)
    session.add(Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=TODAY, ends_on=TODAY))
    first = await make_order(session, company, gross="600.00", buyer=buyer)
    second = await make_order(session, company, gross="600.00", buyer=buyer)
    await session.commit()
    makers = async_sessionmaker(engine, expire_on_commit=False)

    async def decide(user, order) -> str:  # type: ignore[no-untyped-def]
        async with makers() as own:
            try:
                await approvals.approve_order(own, user, order.id, today=TODAY, grace_days=7)
                await asyncio.sleep(0.2)  # hold the lock a moment, as a slow request would
                await own.commit()
                return "approved"
            except approvals.ApprovalBlocked:
                await own.rollback()
                return "blocked"

    outcomes = await asyncio.gather(decide(manager, first), decide(deputy, second))

    assert sorted(outcomes) == ["approved", "blocked"]
    statuses = (await session.execute(select(Order.status).where(Order.company_id == company.id))).scalars().all()
    assert sorted(s.value for s in statuses) == ["approved", "pending_approval"]
