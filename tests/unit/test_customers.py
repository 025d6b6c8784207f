"""The customer's memory: reorder rhythm, notes that stay with the customer, reassignment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotAllowed, NotFound, Refused
from portal.models import Company, Order, OrderStatus, Role
from portal.services import audit, customers
from tests.factories import make_company, make_order, make_user

TODAY = date(2026, 11, 27)
ZONE = ZoneInfo("Europe/Warsaw")


def at(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time(), UTC).replace(hour=10)


async def counted(session: AsyncSession, company: Company, net: str, *, submitted: datetime, approved: int) -> Order:
    """An invoiced order submitted at `submitted` and approved `approved` days before today."""
    order = await make_order(session, company, gross=net, status=OrderStatus.INVOICED, submitted_at=submitted)
    order.counted_on = TODAY - timedelta(days=approved)
    await session.flush()
    return order


async def test_rhythm_counts_months_and_flags_a_customer_later_than_usual(session: AsyncSession) -> None:
    company = await make_company(session)
    for days_ago in (100, 80, 60, 40):  # every 20 days, the last 40 days ago
        await counted(session, company, "100.00", submitted=at(days_ago + 1), approved=days_ago)
    await make_order(session, company, gross="999.00", status=OrderStatus.REJECTED, submitted_at=at(5))

    rhythm = (await customers.rhythms(session, [company.id], TODAY))[company.id]

    assert (rhythm.median_gap_days, rhythm.days_since_last, rhythm.late) == (20.0, 40, True)
    assert len(rhythm.months) == 12 and rhythm.months[-1].month == date(2026, 11, 1)
    assert sum(m.orders for m in rhythm.months) == 4
    assert rhythm.revenue == Decimal("400.00") and rhythm.margin == Decimal("120.00")


async def test_a_regular_customer_is_not_late(session: AsyncSession) -> None:
    company = await make_company(session)
    for days_ago in (60, 40, 20, 5):
        await counted(session, company, "10.00", submitted=at(days_ago), approved=days_ago)
    rhythm = (await customers.rhythms(session, [company.id], TODAY))[company.id]
    assert (rhythm.days_since_last, rhythm.late) == (5, False)


async def test_an_order_counts_in_the_month_it_was_approved_not_submitted(session: AsyncSession) -> None:
    company = await make_company(session)
    # Submitted on 31 Oct, approved on 2 Nov: November's. One approved 400 days ago is before the 12
    # months, and a pending one does not count.
    await counted(session, company, "200.00", submitted=at(27), approved=25)
    await counted(session, company, "50.00", submitted=at(400), approved=400)
    await make_order(session, company, gross="70.00", status=OrderStatus.PENDING_APPROVAL, submitted_at=at(3))

    rhythm = (await customers.rhythms(session, [company.id], TODAY))[company.id]

    by_month = {m.month: (m.orders, m.revenue, m.margin) for m in rhythm.months if m.orders}
    assert by_month == {date(2026, 11, 1): (1, Decimal("200.00"), Decimal("60.00"))}
    assert (rhythm.revenue, rhythm.days_since_last) == (Decimal("200.00"), 25)


async def test_a_customer_without_orders_has_no_rhythm(session: AsyncSession) -> None:
    company = await make_company(session)
    rhythm = (await customers.rhythms(session, [company.id], TODAY))[company.id]
    assert (rhythm.median_gap_days, rhythm.days_since_last, rhythm.late) == (None, None, False)


async def test_notes_are_edited_by_their_author_only(session: AsyncSession) -> None:
    company = await make_company(session)
    author = await make_user(session, Role.ACCOUNT_MANAGER)
    colleague = await make_user(session, Role.FINANCE)
    note = await customers.add_note(session, author, company.id, "  Promised payment by Friday. ")
    assert note.body == "Promised payment by Friday."
    with pytest.raises(NotAllowed, match="Only the author"):
        await customers.edit_note(session, colleague, company.id, note.id, "changed")
    with pytest.raises(customers.NoteRefused, match="Write something"):
        await customers.add_note(session, author, company.id, "   ")
    edited = await customers.edit_note(session, author, company.id, note.id, "Paid on Friday.")
    assert edited.body == "Paid on Friday."
    with pytest.raises(NotFound):
        await customers.edit_note(session, author, company.id + 1, note.id, "elsewhere")
    with pytest.raises(NotFound):
        await customers.add_note(session, author, 987654, "nowhere")


async def test_a_refused_note_says_so_next_to_its_text(session: AsyncSession) -> None:
    company = await make_company(session)
    author = await make_user(session, Role.ACCOUNT_MANAGER)
    with pytest.raises(Refused) as refused:
        await customers.add_note(session, author, company.id, "x" * (customers.NOTE_MAX + 1))
    assert refused.value.errors == {"body": "A note holds at most 5000 characters."}


async def test_profile_timeline_mixes_order_moves_and_notes_newest_first(session: AsyncSession) -> None:
    company = await make_company(session)
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    await make_order(session, company, gross="10.00", submitted_at=at(3))
    await customers.add_note(session, manager, company.id, "Called about the delivery.")
    profile = await customers.customer_profile(session, company.id, page=1, today=TODAY, grace_days=7, zone=ZONE)
    assert profile is not None
    assert [entry.kind for entry in profile.timeline] == ["note", "order"]
    with pytest.raises(NotFound):
        await customers.customer_profile(session, 987654, page=1, today=TODAY, grace_days=7, zone=ZONE)


async def test_reassigning_needs_an_active_account_manager_and_is_audited(session: AsyncSession) -> None:
    company = await make_company(session)
    finance = await make_user(session, Role.FINANCE)
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example")
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    with pytest.raises(customers.NotAManager) as refused:
        await customers.reassign(session, admin, company.id, finance.id)
    assert refused.value.errors == {"manager_id": "Choose an active account manager."}
    with pytest.raises(NotFound):
        await customers.reassign(session, admin, 987654, manager.id)
    assert (await customers.reassign(session, admin, company.id, manager.id)).account_manager_id == manager.id
    [entry] = await audit.company_history(session, company.id)
    assert (entry.actor, entry.action, entry.changes) == (
        "admin@seller.example",
        "reassign",
        {"account_manager": [None, "anna@seller.example"]},
    )


async def test_note_edits_are_audited(session: AsyncSession) -> None:
    company = await make_company(session)
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example")
    note = await customers.add_note(session, manager, company.id, "Called about Q1.")
    await customers.edit_note(session, manager, company.id, note.id, "Called about Q1 and Q2.")
    entries = await audit.history(session, "note", note.id)
    assert [(entry.action, entry.changes["body"]) for entry in entries] == [
        ("update", ["Called about Q1.", "Called about Q1 and Q2."]),
        ("create", [None, "Called about Q1."]),
    ]
    assert all(entry.company_id == company.id and entry.actor == "anna@seller.example" for entry in entries)


async def test_staff_see_a_customer_s_catalog_only_when_it_is_theirs(session: AsyncSession) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    mine = await make_company(session, account_manager_id=manager.id)
    theirs = await make_company(session)
    buyer = await make_user(session, company_id=theirs.id)
    await session.refresh(buyer, ["company"])
    assert await customers.company_in_view(session, manager, mine.id, TODAY) is mine
    assert await customers.company_in_view(session, manager, None, TODAY) is None  # not chosen yet
    with pytest.raises(NotFound):
        await customers.company_in_view(session, manager, theirs.id, TODAY)
    with pytest.raises(NotFound):
        await customers.company_in_view(session, manager, 987654, TODAY)
    assert (await customers.company_in_view(session, buyer, mine.id, TODAY)).id == theirs.id  # a buyer sees their own
