"""The admin's people: deactivating (sessions end at once, never oneself, never a manager who still
has companies), staff roles (a buyer stays a buyer, an admin keeps their own role), bulk
reassignment (one transaction, each change audited), covers (one rule for admins and managers:
no overlap, at most 90 days ahead), and the users CSV (new rows are invitations)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound, Refused
from portal.models import AccessToken, AuditEntry, Company, Deputy, NotificationKind, OutboxMessage, Role
from portal.services import covers, people
from portal.services.covers import CoverInvalid
from portal.services.listing import ListQuery
from portal.services.master_data import Outcome, kinds
from tests.factories import make_company, make_user

TODAY = date(2026, 11, 27)


async def entries(session: AsyncSession, object_type: str) -> list[AuditEntry]:
    return list(
        await session.scalars(select(AuditEntry).where(AuditEntry.object_type == object_type).order_by(AuditEntry.id))
    )


async def test_deactivating_a_user_ends_their_sessions_and_is_audited(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    buyer = await make_user(session)
    version = buyer.session_version
    await people.deactivate(session, admin, buyer.id)
    assert not buyer.is_active and buyer.session_version == version + 1
    await people.reactivate(session, admin, buyer.id)
    assert buyer.is_active
    assert [(e.action, e.changes) for e in await entries(session, "user")] == [
        ("deactivate", {"is_active": ["yes", "no"]}),
        ("reactivate", {"is_active": ["no", "yes"]}),
    ]


async def test_an_admin_cannot_deactivate_or_demote_themselves(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    with pytest.raises(Refused, match="your own account"):
        await people.deactivate(session, admin, admin.id)
    with pytest.raises(Refused, match="your own role"):
        await people.change_role(session, admin, admin.id, Role.FINANCE)
    assert admin.is_active and admin.role is Role.ADMIN
    with pytest.raises(NotFound):
        await people.deactivate(session, admin, 2**31 - 1)


async def test_a_manager_with_companies_stays_until_they_are_reassigned(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    other = await make_user(session, Role.ACCOUNT_MANAGER, email="other@seller.example")
    first = await make_company(session, account_manager_id=manager.id)
    second = await make_company(session, account_manager_id=manager.id)
    with pytest.raises(Refused, match="2 companies still have this account manager"):
        await people.deactivate(session, admin, manager.id)
    with pytest.raises(Refused, match="2 companies"):
        await people.change_role(session, admin, manager.id, Role.FINANCE)
    assert await people.reassign(session, admin, [first.id, second.id], other.id) == 2
    await people.change_role(session, admin, manager.id, Role.FINANCE)
    await people.deactivate(session, admin, manager.id)
    assert (manager.role, manager.is_active) == (Role.FINANCE, False)


async def test_a_buyer_stays_a_buyer_and_nobody_becomes_one(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    buyer = await make_user(session)
    finance = await make_user(session, Role.FINANCE)
    with pytest.raises(Refused, match="stays a buyer"):
        await people.change_role(session, admin, buyer.id, Role.FINANCE)
    with pytest.raises(Refused):
        await people.change_role(session, admin, finance.id, Role.BUYER)
    await people.change_role(session, admin, finance.id, Role.ADMIN)
    (entry,) = await entries(session, "user")
    assert entry.changes == {"role": ["finance", "admin"]}


async def test_bulk_reassignment_moves_every_chosen_company_and_audits_each(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    old = await make_user(session, Role.ACCOUNT_MANAGER, email="old@seller.example")
    new = await make_user(session, Role.ACCOUNT_MANAGER, email="new@seller.example")
    kept = await make_company(session, name="Kept", account_manager_id=new.id)
    moved = await make_company(session, name="Moved", account_manager_id=old.id)
    orphan = await make_company(session, name="Orphan")
    assert [c.name for c in await people.companies_for_assignment(session, people.NO_MANAGER)] == ["Orphan"]
    assert await people.reassign(session, admin, [kept.id, moved.id, orphan.id], new.id) == 2
    assert {c.account_manager_id for c in (kept, moved, orphan)} == {new.id}
    assert sorted((e.object_label, e.changes["account_manager"]) for e in await entries(session, "company")) == [
        ("Moved", ["old@seller.example", "new@seller.example"]),
        ("Orphan", [None, "new@seller.example"]),
    ]


async def test_bulk_reassignment_refuses_a_bad_manager_or_an_empty_choice(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    company = await make_company(session)
    gone = await make_user(session, Role.ACCOUNT_MANAGER, is_active=False)
    with pytest.raises(Refused) as refused:
        await people.reassign(session, admin, [], gone.id)
    assert set(refused.value.errors) == {"company_ids", "manager_id"}
    with pytest.raises(Refused) as unknown:
        await people.reassign(session, admin, [company.id, 2**31 - 1], admin.id)
    assert set(unknown.value.errors) == {"company_ids", "manager_id"}
    assert company.account_manager_id is None


async def test_covers_never_overlap_for_one_manager_and_end_within_90_days(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    deputy = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak")
    third = await make_user(session, Role.ACCOUNT_MANAGER)
    cover = await covers.set_cover(session, admin, manager.id, deputy.id, TODAY, TODAY + timedelta(days=5), TODAY)
    with pytest.raises(CoverInvalid) as overlap:
        await covers.set_cover(
            session, admin, manager.id, third.id, TODAY + timedelta(days=5), TODAY + timedelta(days=9), TODAY
        )
    assert "already covered by Piotr Nowak" in overlap.value.errors["starts_on"]
    with pytest.raises(CoverInvalid):  # the manager's own form keeps the same rule
        await covers.name_deputy(
            session, manager, third.id, TODAY + timedelta(days=1), TODAY + timedelta(days=2), TODAY
        )
    await covers.set_cover(
        session, admin, manager.id, third.id, TODAY + timedelta(days=6), TODAY + timedelta(days=90), TODAY
    )
    with pytest.raises(CoverInvalid) as far:
        await covers.set_cover(session, admin, deputy.id, third.id, TODAY, TODAY + timedelta(days=91), TODAY)
    assert "90 days" in far.value.errors["ends_on"]
    with pytest.raises(CoverInvalid) as same:
        await covers.set_cover(session, admin, manager.id, manager.id, None, None, TODAY)
    assert set(same.value.errors) == {"deputy_id", "starts_on", "ends_on"}
    with pytest.raises(CoverInvalid) as nobody:
        await covers.set_cover(session, admin, admin.id, deputy.id, TODAY, TODAY, TODAY)
    assert set(nobody.value.errors) == {"manager_id"}
    await covers.remove_cover(session, admin, cover.id)
    assert [e.action for e in await entries(session, "cover")] == ["create", "create", "remove"]
    assert len((await session.scalars(select(Deputy))).all()) == 1


async def test_the_users_list_searches_filters_and_sorts(session: AsyncSession) -> None:
    company = await make_company(session, name="Northwind")
    await make_user(session, full_name="Zofia Buyer", email="zofia@northwind.example", company_id=company.id)
    await make_user(session, full_name="Adam Buyer", email="adam@northwind.example", company_id=company.id)
    await make_user(session, Role.FINANCE, full_name="Filip Finance", is_active=False)
    page = await people.users(session, ListQuery(search="NORTHWIND", sort="name"), people.UserFilter())
    assert [u.full_name for u in page.rows] == ["Adam Buyer", "Zofia Buyer"] and page.total == 2
    page = await people.users(
        session, ListQuery(sort="name", descending=True), people.UserFilter(company_id=company.id)
    )
    assert [u.full_name for u in page.rows] == ["Zofia Buyer", "Adam Buyer"]
    page = await people.users(session, ListQuery(), people.UserFilter(role=Role.FINANCE, active=False))
    assert [u.full_name for u in page.rows] == ["Filip Finance"]


async def test_the_users_csv_invites_new_people_and_leaves_the_others(session: AsyncSession, frozen_clock: Any) -> None:
    admin = await make_user(session, Role.ADMIN)
    company = await make_company(session, tax_id="5260001246")
    await make_company(session, tax_id="7740001454")
    await make_user(session, email="known@example.test", company_id=company.id)
    kind = kinds()["users"]
    rows = [
        {"email": "known@example.test", "full_name": "Known", "role": "kupujacy", "company_tax_id": "526-000-12-46"},
        {"email": "new@example.test", "full_name": "Nowy", "role": "buyer", "company_tax_id": "PL 526 000 12 46"},
        {"email": "boss@example.test", "full_name": "Szef", "role": "Administrator"},
    ]
    plan = await kind.plan(session, rows, today=TODAY)
    assert plan.ok and [(c.row, c.key, c.outcome) for c in plan.changes] == [
        (1, "known@example.test", Outcome.UNCHANGED),
        (2, "new@example.test", Outcome.NEW),
        (3, "boss@example.test", Outcome.NEW),
    ]
    await kind.apply(session, admin, rows, today=TODAY)
    assert len((await session.scalars(select(AccessToken))).all()) == 2
    assert (
        len(
            (
                await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == NotificationKind.INVITATION))
            ).all()
        )
        == 2
    )
    again = await kind.plan(session, rows, today=TODAY)  # the same file twice changes nothing
    assert [c.outcome for c in again.changes] == [Outcome.UNCHANGED] * 3

    bad = [
        {"email": "known@example.test", "full_name": "Known", "role": "buyer", "company_tax_id": "7740001454"},
        {"email": "x@example.test", "full_name": "X", "role": "chief"},
        {"email": "y@example.test", "full_name": "Y", "role": "buyer"},
        {"email": "z@example.test", "full_name": "Z", "role": "finance", "company_tax_id": "7740001454"},
        {"email": "w@example.test", "full_name": "W", "role": "buyer", "company_tax_id": "1111111111"},
        {"email": "v@example.test", "full_name": "V", "role": "opiekun"},
        {"email": "V@example.test", "full_name": "V", "role": "opiekun"},
        {"email": "not an address", "full_name": "Q", "role": "finanse"},
    ]
    plan = await kind.plan(session, bad, today=TODAY)
    assert [(e.row, e.field) for e in plan.errors] == [
        (1, "email"),
        (2, "role"),
        (3, "company_tax_id"),
        (4, "company_tax_id"),
        (5, "company_tax_id"),
        (7, "email"),
        (8, "email"),
    ]
    assert "re-inviting" in plan.errors[0].message and "row 6" in plan.errors[5].message
    with pytest.raises(Refused, match="nothing was imported"):
        await kind.apply(session, admin, bad, today=TODAY)


async def test_the_users_csv_exports_users_and_waiting_invitations(session: AsyncSession) -> None:
    company = await make_company(session, tax_id="5260001246")
    await make_user(session, email="a@example.test", full_name="A", company_id=company.id)
    admin = await make_user(session, Role.ADMIN, email="b@example.test", full_name="B")
    from portal.services import invitations

    await invitations.invite(session, admin, invitations.Invitee("c@example.test", "C", Role.FINANCE))
    rows = await kinds()["users"].export(session)
    assert rows == [
        {"email": "a@example.test", "full_name": "A", "role": "buyer", "company_tax_id": "5260001246"},
        {"email": "b@example.test", "full_name": "B", "role": "admin", "company_tax_id": ""},
        {"email": "c@example.test", "full_name": "C", "role": "finance", "company_tax_id": ""},
    ]
    assert isinstance(company, Company)
