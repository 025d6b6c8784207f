"""Approving and rejecting: who may decide, the flags computed again at the moment of approval
under a row lock (the same function, the same figures as at submission), deputies deciding on a
manager's behalf, bulk approval and the queue with its flags as they are now."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.errors import Conflict, NotAllowed, NotFound, Refused
from portal.models import Deputy, FlagKind, Order, OrderEvent, OrderLine, OrderStatus, ProductCategory, Role
from portal.services import approvals, covers, credit_control, scoping
from portal.services.approvals import QueueFilter
from portal.services.credit import OrderCredit
from portal.services.flags import Flag, FlagSubject, Policy, order_flags
from tests.conftest import backend
from tests.factories import make_company, make_invoice, make_order, make_product, make_user

TODAY = date(2026, 11, 27)
POLICY = Policy(TODAY, 7, Decimal("10"))


async def setup_company(session: AsyncSession, *, new: bool = False, **fields):  # type: ignore[no-untyped-def]
    """A company with its account manager and a buyer; unless `new`, with one earlier order,
    invoiced and paid, so its next order is not its first."""
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    company = await make_company(
        session, account_manager_id=manager.id, **{"credit_limit": Decimal("1000.00"), **fields}
    )
    buyer = await make_user(session, company_id=company.id)
    if not new:
        await make_order(
            session,
            company,
            gross="10.00",
            buyer=buyer,
            status=OrderStatus.INVOICED,
            submitted_at=datetime(2026, 1, 5, tzinfo=UTC),
        )
    return manager, company, buyer


async def approve(session: AsyncSession, user, order, **kwargs):  # type: ignore[no-untyped-def]
    return await approvals.approve_order(session, user, order.id, POLICY, **kwargs)


async def test_the_assigned_manager_approves_with_a_note(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    approved = await approve(session, manager, order, note="Delivery on Tuesday")
    assert approved.status is OrderStatus.APPROVED
    event = await session.scalar(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc())
    )
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
    assert issubclass(approvals.NotAllowed, NotAllowed)  # the app answers 403


async def test_an_admin_decides_any_order(session: AsyncSession) -> None:
    _, company, buyer = await setup_company(session)
    admin = await make_user(session, Role.ADMIN)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    assert (await approve(session, admin, order)).status is OrderStatus.APPROVED


async def test_a_deputy_decides_on_the_managers_behalf_during_the_absence_only(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    deputy = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak")
    await covers.name_deputy(session, manager, deputy.id, TODAY - timedelta(days=1), TODAY + timedelta(days=3), TODAY)
    order = await make_order(session, company, gross="300.00", buyer=buyer)

    queue = await approvals.approval_queue(session, deputy, QueueFilter(), POLICY)
    assert [entry.order.id for entry in queue.entries] == [order.id]
    await approve(session, deputy, order)
    event = await session.scalar(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc())
    )
    assert (event.actor_id, event.on_behalf_of_id) == (deputy.id, manager.id)

    later = await make_order(session, company, gross="100.00", buyer=buyer)
    with pytest.raises(approvals.NotAllowed):
        await approvals.approve_order(session, deputy, later.id, Policy(TODAY + timedelta(days=4), 7, Decimal("10")))


async def test_one_rule_says_which_customers_each_role_sees_and_who_decides(session: AsyncSession) -> None:
    manager, mine, buyer = await setup_company(session)
    deputy = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak")
    bystander = await make_user(session, Role.ACCOUNT_MANAGER)
    finance, admin = await make_user(session, Role.FINANCE), await make_user(session, Role.ADMIN)
    theirs = await make_company(session, account_manager_id=bystander.id)
    session.add(Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=TODAY, ends_on=TODAY + timedelta(days=2)))
    order = await make_order(session, mine, gross="300.00", buyer=buyer)
    await session.flush()

    async def sees(user, company, day=TODAY) -> bool:  # type: ignore[no-untyped-def]
        return await scoping.can_view_customer(session, user, company.id, day)

    assert (await sees(manager, mine), await sees(manager, theirs)) == (True, False)
    assert (await sees(deputy, mine), await sees(deputy, theirs)) == (True, False)
    assert not await sees(deputy, mine, TODAY + timedelta(days=3))  # the cover is over
    assert (await sees(bystander, mine), await sees(bystander, theirs)) == (False, True)
    assert all([await sees(finance, mine), await sees(finance, theirs), await sees(admin, theirs)])
    assert (await sees(buyer, mine), await sees(buyer, theirs)) == (True, False)
    assert not await scoping.can_view_customer(session, admin, 987654, TODAY)  # no such customer

    assert await scoping.managers_in_charge(session, deputy, TODAY) == {deputy.id, manager.id}
    assert await scoping.managers_in_charge(session, finance, TODAY) is scoping.EVERY_COMPANY
    assert [c.id for c in await scoping.visible_companies(session, deputy, TODAY)] == [mine.id]

    decides = {
        who: await scoping.can_decide_order(session, user, order, TODAY)
        for who, user in {
            "manager": manager,
            "deputy": deputy,
            "bystander": bystander,
            "finance": finance,
            "admin": admin,
            "buyer": buyer,
        }.items()
    }
    assert decides == {
        "manager": True,
        "deputy": True,
        "bystander": False,
        "finance": False,
        "admin": True,
        "buyer": False,
    }
    assert await scoping.decider(session, deputy, mine, TODAY) == (True, manager.id)
    assert await scoping.company_of(session, "order", order.id) == mine.id
    assert await scoping.company_of(session, "order", 987654) is None


async def test_a_deputy_s_queue_and_count_include_the_covered_customers(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    deputy = await make_user(session, Role.ACCOUNT_MANAGER)
    own = await make_company(session, account_manager_id=deputy.id)
    session.add(Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=TODAY, ends_on=TODAY))
    covered = await make_order(session, company, gross="300.00", buyer=buyer)
    mine = await make_order(session, own, gross="100.00")
    zeta = await make_company(session, account_manager_id=manager.id, name="Zeta")
    also_covered = await make_order(session, zeta, gross="5.00")
    await make_order(
        session,
        await make_company(session, account_manager_id=(await make_user(session, Role.ACCOUNT_MANAGER)).id),
        gross="7.00",
    )  # a bystander's

    queue = await approvals.approval_queue(session, deputy, QueueFilter(), POLICY)
    assert {entry.order.id for entry in queue.entries} == {covered.id, mine.id, also_covered.id}
    assert {c.id for c in queue.companies} == {company.id, own.id, zeta.id}
    assert await approvals.pending_count(session, deputy, TODAY) == 3
    assert await approvals.pending_count(session, deputy, TODAY + timedelta(days=1)) == 1
    with pytest.raises(NotFound):  # once the cover is over, the review page is not there for them
        await approvals.review(session, deputy, covered.id, Policy(TODAY + timedelta(days=1), 7, Decimal("10")))


async def test_bulk_approval_passes_over_orders_of_customers_the_user_does_not_see(session: AsyncSession) -> None:
    _, company, buyer = await setup_company(session)
    bystander = await make_user(session, Role.ACCOUNT_MANAGER)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    result = await approvals.bulk_approve(session, bystander, [order.id], POLICY)
    assert (result.approved, result.skipped) == ([], [])  # not even its number is told
    await session.refresh(order)
    assert order.status is OrderStatus.PENDING_APPROVAL


async def test_rejection_needs_a_reason(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    with pytest.raises(approvals.DecisionRefused, match="reason") as refused:
        await approvals.reject_order(session, manager, order.id, reason="  ", today=TODAY)
    assert refused.value.errors == {"reason": "Give the buyer a reason for the rejection."}
    assert isinstance(refused.value, Refused) and refused.value.status_code == 400
    rejected = await approvals.reject_order(session, manager, order.id, reason="Discontinued item", today=TODAY)
    assert rejected.status is OrderStatus.REJECTED


async def test_deciding_twice_changes_nothing_and_says_who_decided(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    admin = await make_user(session, Role.ADMIN, full_name="Ada Admin")
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    await approvals.reject_order(session, admin, order.id, reason="Duplicate", today=TODAY)
    with pytest.raises(approvals.DecidedMeanwhile) as refused:
        await approve(session, manager, order)
    assert "Nothing was changed: this order was already set to “Rejected” by Ada Admin at" in refused.value.message
    assert isinstance(refused.value, Conflict) and refused.value.status_code == 409
    with pytest.raises(approvals.DecidedMeanwhile):
        await approvals.reject_order(session, manager, order.id, reason="Again", today=TODAY)
    assert (await session.get(Order, order.id)).status is OrderStatus.REJECTED  # type: ignore[union-attr]


async def test_credit_is_checked_at_the_moment_of_approval(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    finance = await make_user(session, Role.FINANCE)
    await make_invoice(session, company, gross="500.00", due=TODAY + timedelta(days=10))
    fits = await make_order(session, company, gross="300.00", buyer=buyer)
    await approve(session, manager, fits)  # 500 invoiced + 300 ≤ 1000
    too_big = await make_order(session, company, gross="300.00", buyer=buyer)

    with pytest.raises(approvals.ApprovalBlocked) as blocked:
        await approve(session, manager, too_big)  # 500 + 300 approved + 300 > 1000
    assert [(f.kind, f.data) for f in blocked.value.blockers] == [
        (FlagKind.EXCEEDS_CREDIT, {"available": "200.00", "gross": "300.00", "shortfall": "100.00"})
    ]
    assert blocked.value.status_code == 409

    await credit_control.change_limit(
        session, finance, company.id, Decimal("1000.00"), Decimal("1100.00"), "Paid early"
    )
    assert (await approve(session, manager, too_big)).status is OrderStatus.APPROVED


async def test_other_pending_orders_of_the_company_count_against_this_one(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    first = await make_order(session, company, gross="400.00", buyer=buyer)
    second = await make_order(session, company, gross="700.00", buyer=buyer)
    for order, available in ((first, "300.00"), (second, "600.00")):  # 1000 less the other waiting order
        with pytest.raises(approvals.ApprovalBlocked) as blocked:
            await approve(session, manager, order)
        assert blocked.value.blockers[0].data["available"] == available
    await approvals.reject_order(session, manager, second.id, reason="Split it, please", today=TODAY)
    assert (await approve(session, manager, first)).status is OrderStatus.APPROVED


async def test_past_due_and_on_hold_block_approval(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session, on_hold=True, hold_reason="Cheque returned")
    await make_invoice(session, company, gross="50.00", due=TODAY - timedelta(days=30))
    order = await make_order(session, company, gross="10.00", buyer=buyer)
    with pytest.raises(approvals.ApprovalBlocked) as blocked:
        await approve(session, manager, order)
    assert [(f.kind, f.data) for f in blocked.value.blockers] == [
        (FlagKind.ON_HOLD, {"reason": "Cheque returned"}),
        (FlagKind.PAST_DUE, {"overdue": "50.00", "days": "30"}),
    ]


async def test_warnings_need_an_explicit_confirmation(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session, new=True)
    order = await make_order(session, company, gross="10.00", buyer=buyer)  # the company's first order
    with pytest.raises(approvals.WarningsNotConfirmed) as refused:
        await approve(session, manager, order)
    assert refused.value.errors == {"confirm_warnings": "Confirm that you have reviewed the warnings."}
    assert (await approve(session, manager, order, warnings_confirmed=True)).status is OrderStatus.APPROVED


async def test_flags_stored_at_submission_are_history_not_the_current_truth(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    was_over = await make_order(
        session,
        company,
        gross="100.00",
        buyer=buyer,
        flags=[
            (FlagKind.EXCEEDS_CREDIT, {"available": "50.00", "gross": "100.00", "shortfall": "50.00"}),
            (FlagKind.FIRST_ORDER, {}),
        ],
    )
    repriced = await make_order(
        session,
        company,
        gross="100.00",
        buyer=buyer,
        flags=[(FlagKind.PRICE_CHANGED, {"sku": "TWL-1", "old": "10.0000", "new": "12.0000"})],
    )

    shown = await approvals.review(session, manager, was_over.id, POLICY)
    assert (shown.blockers, shown.warnings) == ([], [])
    assert [flag.kind for flag in shown.submitted_flags] == [FlagKind.EXCEEDS_CREDIT, FlagKind.FIRST_ORDER]
    assert (await approve(session, manager, was_over)).status is OrderStatus.APPROVED

    # what only the moment of submission knew stays a warning
    assert [(f.kind, f.data) for f in (await approvals.review(session, manager, repriced.id, POLICY)).warnings] == [
        (FlagKind.PRICE_CHANGED, {"sku": "TWL-1", "old": "10.0000", "new": "12.0000"})
    ]
    with pytest.raises(approvals.WarningsNotConfirmed):
        await approve(session, manager, repriced)


async def test_bulk_approval_takes_only_orders_without_flags_now(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    plain = [await make_order(session, company, gross="10.00", buyer=buyer) for _ in range(2)]
    warned = await make_order(
        session,
        company,
        gross="10.00",
        buyer=buyer,
        flags=[(FlagKind.PRICE_CHANGED, {"sku": "TWL-1", "old": "10.0000", "new": "12.0000"})],
    )
    stale = await make_order(session, company, gross="10.00", buyer=buyer, flags=[(FlagKind.FIRST_ORDER, {})])
    # every waiting order of a company counts in its exposure: the one too big is another company's
    stretched = await make_company(session, account_manager_id=manager.id, credit_limit=Decimal("1500.00"))
    await make_order(session, stretched, gross="10.00", status=OrderStatus.INVOICED)
    big = await make_order(session, stretched, gross="2000.00")
    chosen = [o.id for o in plain] + [warned.id, stale.id, big.id, 987654]

    result = await approvals.bulk_approve(session, manager, chosen, POLICY)

    # the stored first-order flag is history: the company has ordered before, so it goes through
    assert sorted(o.id for o in result.approved) == sorted([*(o.id for o in plain), stale.id])
    skipped = {s.order.id: s for s in result.skipped}
    assert set(skipped) == {warned.id, big.id}
    assert skipped[warned.id].reason == "it has warnings; review it on its own."
    assert [(f.kind, f.data) for f in skipped[big.id].blockers] == [
        (FlagKind.EXCEEDS_CREDIT, {"available": "1500.00", "gross": "2000.00", "shortfall": "500.00"})
    ]
    assert (await session.get(Order, warned.id)).status is OrderStatus.PENDING_APPROVAL  # type: ignore[union-attr]
    with pytest.raises(Refused) as nothing:
        await approvals.bulk_approve(session, manager, [], POLICY)
    assert nothing.value.errors == {"order_ids": "Choose the orders to approve."}


async def test_queue_shows_my_companies_oldest_first_with_live_flags(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session)
    other_manager, other_company, other_buyer = await setup_company(session, new=True)

    newer = await make_order(
        session, company, gross="10.00", buyer=buyer, submitted_at=datetime(2026, 11, 26, tzinfo=UTC)
    )
    older = await make_order(
        session,
        company,
        gross="10.00",
        buyer=buyer,
        submitted_at=datetime(2026, 11, 20, tzinfo=UTC),
        flags=[(FlagKind.PRICE_CHANGED, {"sku": "X-1", "old": "1.0000", "new": "2.0000"})],
    )
    theirs = await make_order(session, other_company, gross="10.00", buyer=other_buyer)

    mine = await approvals.approval_queue(session, manager, QueueFilter(), POLICY)
    assert [e.order.id for e in mine.entries] == [older.id, newer.id]
    assert [[f.kind for f in e.flags] for e in mine.entries] == [[FlagKind.PRICE_CHANGED], []]
    assert [e.bulk_approvable for e in mine.entries] == [False, True]
    repriced = await approvals.approval_queue(session, manager, QueueFilter(flag=FlagKind.PRICE_CHANGED), POLICY)
    assert [e.order.id for e in repriced.entries] == [older.id]
    assert await approvals.pending_count(session, manager, TODAY) == 2

    admin = await make_user(session, Role.ADMIN)
    everything = await approvals.approval_queue(session, admin, QueueFilter(), POLICY)
    assert {e.order.id for e in everything.entries} == {older.id, newer.id, theirs.id}
    by_manager = await approvals.approval_queue(session, admin, QueueFilter(manager_id=other_manager.id), POLICY)
    assert [e.order.id for e in by_manager.entries] == [theirs.id]
    first = await approvals.approval_queue(session, admin, QueueFilter(flag=FlagKind.FIRST_ORDER), POLICY)
    assert [e.order.id for e in first.entries] == [theirs.id]
    by_company = await approvals.approval_queue(session, admin, QueueFilter(company_id=company.id), POLICY)
    assert [e.order.id for e in by_company.entries] == [older.id, newer.id]


async def test_the_queue_costs_the_same_queries_however_long(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    manager, company, buyer = await setup_company(session)
    await make_order(session, company, gross="10.00", buyer=buyer)

    async def statements() -> int:
        counted: list[str] = []
        sync_engine = session.bind.sync_engine  # type: ignore[union-attr]
        listener = lambda *args: counted.append(args[2])  # noqa: E731
        event.listen(sync_engine, "before_cursor_execute", listener)
        try:
            queue = await approvals.approval_queue(session, admin, QueueFilter(), POLICY)
            assert all(entry.flags is not None for entry in queue.entries)
        finally:
            event.remove(sync_engine, "before_cursor_execute", listener)
        return len(counted)

    short = await statements()
    for _ in range(3):
        _, other, other_buyer = await setup_company(session, new=True, credit_limit=Decimal("5.00"))
        await make_invoice(session, other, gross="50.00", due=TODAY - timedelta(days=30))
        for _ in range(2):
            await make_order(session, other, gross="10.00", buyer=other_buyer)
    assert await statements() == short


async def test_naming_a_deputy_checks_the_dates_and_the_person(session: AsyncSession) -> None:
    manager, _, buyer = await setup_company(session)
    with pytest.raises(covers.CoverInvalid) as invalid:
        await covers.name_deputy(session, manager, buyer.id, TODAY, TODAY - timedelta(days=1), TODAY)
    assert invalid.value.errors == {
        "deputy_id": "Choose another account manager.",
        "ends_on": "The last day cannot be before the first.",
    }
    with pytest.raises(covers.CoverInvalid) as invalid:
        await covers.name_deputy(session, manager, None, None, None, TODAY)
    assert set(invalid.value.errors) == {"deputy_id", "starts_on", "ends_on"}
    assert (await session.scalars(select(Deputy))).all() == []


async def test_a_manager_ends_only_their_own_cover(session: AsyncSession) -> None:
    manager, _, _ = await setup_company(session)
    deputy = await make_user(session, Role.ACCOUNT_MANAGER)
    cover = await covers.name_deputy(session, manager, deputy.id, TODAY, TODAY + timedelta(days=2), TODAY)
    page = await covers.covers_of(session, deputy, TODAY)
    assert (page.mine, [c.id for c in page.covering]) == ([], [cover.id])
    with pytest.raises(NotFound):
        await covers.end_cover(session, deputy, cover.id)
    await covers.end_cover(session, manager, cover.id)
    assert (await session.scalars(select(Deputy))).all() == []


async def test_an_approval_waits_for_a_limit_cut_made_at_the_same_time(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    """The approval locks the company's row before it reads credit: a cut finance is making at that
    moment is waited for and counted, so the order is never approved against a limit already gone."""
    if backend() != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite has one writer at a time")
    manager, company, buyer = await setup_company(session)
    finance = await make_user(session, Role.FINANCE)
    order = await make_order(session, company, gross="600.00", buyer=buyer)
    await session.commit()
    makers = async_sessionmaker(engine, expire_on_commit=False)

    async def cut() -> None:
        async with makers() as own:
            await credit_control.change_limit(own, finance, company.id, Decimal("1000.00"), Decimal("500.00"), "Risk")
            await asyncio.sleep(0.4)  # a slow request still holds the company's row
            await own.commit()

    async def decide() -> str:
        await asyncio.sleep(0.1)  # the cut is under way, not yet committed
        async with makers() as own:
            try:
                await approvals.approve_order(own, manager, order.id, POLICY)
                await own.commit()
                return "approved"
            except approvals.ApprovalBlocked as blocked:
                await own.rollback()
                return blocked.blockers[0].data["available"]

    _, outcome = await asyncio.gather(cut(), decide())

    assert outcome == "500.00"
    assert await session.scalar(select(Order.status).where(Order.id == order.id)) is OrderStatus.PENDING_APPROVAL


async def test_two_approvals_at_once_are_checked_one_after_the_other(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    if backend() != "postgresql":
        pytest.skip("row locks are a PostgreSQL matter; SQLite has one writer at a time")
    manager, company, buyer = await setup_company(session, credit_limit=Decimal("1200.00"))
    deputy = await make_user(session, Role.ACCOUNT_MANAGER)
    session.add(Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=TODAY, ends_on=TODAY))
    first = await make_order(session, company, gross="600.00", buyer=buyer)
    second = await make_order(session, company, gross="600.00", buyer=buyer)
    await session.commit()
    makers = async_sessionmaker(engine, expire_on_commit=False)

    async def decide(user, order) -> str:  # type: ignore[no-untyped-def]
        async with makers() as own:
            await approvals.approve_order(own, user, order.id, POLICY)
            await asyncio.sleep(0.2)  # hold the lock a moment, as a slow request would
            await own.commit()
            return "approved"

    assert await asyncio.gather(decide(manager, first), decide(deputy, second)) == ["approved", "approved"]
    statuses = (await session.execute(select(Order.status).where(Order.company_id == company.id))).scalars().all()
    assert sorted(s.value for s in statuses) == ["approved", "approved", "invoiced"]


async def test_the_flags_are_the_same_at_submission_and_at_approval(session: AsyncSession) -> None:
    """One function flags an order: about to be submitted (not yet in exposure) and waiting for
    approval (in exposure, taken out again) it sees the same figures; finance's limit changes
    show at once."""
    manager, company, buyer = await setup_company(session)
    finance = await make_user(session, Role.FINANCE)
    await make_invoice(session, company, gross="300.00", due=TODAY + timedelta(days=5))
    await make_order(session, company, gross="200.00", buyer=buyer)  # another order waiting
    product = await make_product(session, sku="CUP-1")
    lines = [
        OrderLine(
            company_id=company.id,
            product_id=product.id,
            sku="CUP-1",
            name="Cups",
            unit="pcs",
            quantity=3,
            unit_price=Decimal("200.0000"),
            price_source="list_less_discount",
            unit_cost=Decimal("140.0000"),
            vat_rate=Decimal("0.00"),
            line_net=Decimal("600.00"),
        )
    ]

    (at_submission,) = await order_flags(session, [FlagSubject(company.id, Decimal("600.00"), lines)], POLICY)
    order = await make_order(session, company, gross="600.00", buyer=buyer, product=product, quantity=3)
    (at_approval,) = await order_flags(session, [FlagSubject.of(order)], POLICY)

    expected = OrderCredit(
        credit_limit=Decimal("1000.00"),
        exposure_without=Decimal("500.00"),
        gross=Decimal("600.00"),
        available_before=Decimal("500.00"),
    )
    assert at_submission.credit == at_approval.credit == expected
    assert expected.available_after == Decimal("-100.00")
    assert (
        at_submission.flags
        == at_approval.flags
        == [Flag(FlagKind.EXCEEDS_CREDIT, {"available": "500.00", "gross": "600.00", "shortfall": "100.00"})]
    )
    with pytest.raises(approvals.ApprovalBlocked) as blocked:
        await approve(session, manager, order)
    assert blocked.value.blockers == at_approval.blockers

    await credit_control.change_limit(session, finance, company.id, Decimal("1000.00"), Decimal("1200.00"), "Raised")
    (raised,) = await order_flags(session, [FlagSubject.of(order)], POLICY)
    assert (raised.credit.available_before, raised.credit.available_after, raised.flags) == (
        Decimal("700.00"),
        Decimal("100.00"),
        [],
    )

    await credit_control.change_limit(session, finance, company.id, Decimal("1200.00"), Decimal("900.00"), "Cut")
    (cut,) = await order_flags(session, [FlagSubject.of(order)], POLICY)
    assert cut.flags == [
        Flag(FlagKind.EXCEEDS_CREDIT, {"available": "400.00", "gross": "600.00", "shortfall": "200.00"})
    ]
    assert (await approvals.review(session, manager, order.id, POLICY)).credit == cut.credit


async def test_warnings_are_computed_the_same_at_both_moments(session: AsyncSession) -> None:
    manager, company, buyer = await setup_company(session, new=True, credit_limit=Decimal("100000.00"))
    thin = ProductCategory(name="Thin margins", margin_floor_pct=Decimal("25.00"))
    cheap = await make_product(session, sku="THIN-9", category=thin)
    for quantity in (10, 12):  # the company's usual quantity of THIN-9: 11
        await make_order(
            session, company, gross="100.00", buyer=buyer, product=cheap, quantity=quantity, status=OrderStatus.APPROVED
        )
    # a line at 20 % margin (floor 25 %), 40 pieces where 11 are usual
    lines = [
        OrderLine(
            company_id=company.id,
            product_id=cheap.id,
            sku="THIN-9",
            name="Thin",
            unit="pcs",
            quantity=40,
            unit_price=Decimal("10.0000"),
            price_source="list_less_discount",
            unit_cost=Decimal("8.0000"),
            vat_rate=Decimal("0.00"),
            line_net=Decimal("400.00"),
        )
    ]
    (at_submission,) = await order_flags(session, [FlagSubject(company.id, Decimal("400.00"), lines)], POLICY)
    order = Order(
        company_id=company.id,
        number="ORD-T-THIN",
        status=OrderStatus.PENDING_APPROVAL,
        buyer_id=buyer.id,
        idempotency_key="thin-key",
        requested_delivery_date=TODAY,
        delivery_address="HQ",
        currency="PLN",
        net_total=Decimal("400.00"),
        vat_total=Decimal("0.00"),
        gross_total=Decimal("400.00"),
        cost_total=Decimal("320.00"),
        payment_terms_days=30,
        lines=lines,
        flags=[],
    )
    session.add(order)
    await session.flush()
    (at_approval,) = await order_flags(session, [FlagSubject.of(order)], POLICY)

    assert (
        at_submission.flags
        == at_approval.flags
        == [
            Flag(FlagKind.BELOW_MARGIN_FLOOR, {"sku": "THIN-9", "margin_pct": "20.0", "floor_pct": "25.00"}),
            Flag(FlagKind.UNUSUAL_QUANTITY, {"sku": "THIN-9", "quantity": "40", "usual": "11.0"}),
        ]
    )
    assert at_submission.usual == at_approval.usual == {cheap.id: Decimal("11.0")}
