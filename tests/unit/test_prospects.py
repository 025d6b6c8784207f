"""Prospects: who owns a new one, what its NIP may be, who sees it, and how a won prospect becomes
a customer with its whole history and a task for finance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotAllowed, NotFound, Refused
from portal.models import (
    Activity,
    ActivityKind,
    AuditEntry,
    Company,
    Contact,
    Deputy,
    Opportunity,
    OpportunityMove,
    Prospect,
    Role,
    Stage,
    Task,
    TaskReason,
    User,
)
from portal.services import prospects, tasks
from portal.services.listing import ListQuery
from portal.services.prospects import FirstContact, ProspectRecord
from tests.factories import make_company, make_user

TODAY = date(2026, 11, 27)
NIP = "526-000-12-46"
"""A valid NIP as a person types it; stored as "PL5260001246"."""
OTHER_NIP = "1234567802"


@pytest.fixture
async def people(session: AsyncSession) -> dict[str, User]:
    return {
        "anna": await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska"),
        "piotr": await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak"),
        "finance": await make_user(session, Role.FINANCE),
        "admin": await make_user(session, Role.ADMIN),
    }


async def refused(call: Any) -> dict[str, str]:
    with pytest.raises(Refused) as caught:
        await call
    return caught.value.errors


async def won_prospect(
    session: AsyncSession, owner: User, *, tax_id: str = NIP, name: str = "Baltic Paper"
) -> Prospect:
    """A prospect with a contact, an activity, a task and an opportunity won after two moves."""
    prospect = await prospects.create(
        session, owner, ProspectRecord(name, tax_id), FirstContact("Ewa Lis", "Buyer", "+48 600 100 200", ""), TODAY
    )
    contact = await session.scalar(select(Contact).where(Contact.prospect_id == prospect.id))
    assert contact is not None
    session.add(
        Activity(
            prospect_id=prospect.id,
            kind=ActivityKind.VISIT,
            happened_at=datetime(2026, 11, 20, 10, tzinfo=UTC),
            contact_id=contact.id,
            summary="Showed the towel range",
            author_id=owner.id,
        )
    )
    session.add(Task(title="Send the price list", due_on=TODAY, owner_id=owner.id, prospect_id=prospect.id))
    opportunity = Opportunity(
        prospect_id=prospect.id,
        title="Towels for 3 hotels",
        expected_value=Decimal("40000.00"),
        expected_close_on=TODAY,
        stage=Stage.WON,
        owner_id=owner.id,
    )
    session.add(opportunity)
    await session.flush()
    session.add_all(
        [
            OpportunityMove(opportunity_id=opportunity.id, from_stage=None, to_stage=Stage.LEAD, actor_id=owner.id),
            OpportunityMove(
                opportunity_id=opportunity.id, from_stage=Stage.LEAD, to_stage=Stage.WON, actor_id=owner.id
            ),
        ]
    )
    await session.flush()
    return prospect


# Creating.
async def test_an_account_manager_owns_the_prospect_they_add_with_its_first_contact(
    session: AsyncSession, people: dict[str, User]
) -> None:
    record = ProspectRecord("  Baltic Paper  ", NIP, owner_id=people["piotr"].id)
    prospect = await prospects.create(
        session, people["anna"], record, FirstContact("Ewa Lis", email="ewa@baltic.pl"), TODAY
    )
    assert (prospect.name, prospect.tax_id, prospect.owner_id) == ("Baltic Paper", "PL5260001246", people["anna"].id)
    contact = await session.scalar(select(Contact).where(Contact.prospect_id == prospect.id))
    assert contact is not None and (contact.full_name, contact.email, contact.company_id) == (
        "Ewa Lis",
        "ewa@baltic.pl",
        None,
    )
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "prospect"))
    assert entry is not None and entry.action == "create" and entry.changes["name"] == [None, "Baltic Paper"]


async def test_a_prospect_needs_no_nip_nor_contact(session: AsyncSession, people: dict[str, User]) -> None:
    prospect = await prospects.create(session, people["anna"], ProspectRecord("Hotel Mewa"), FirstContact(), TODAY)
    assert prospect.tax_id == ""
    assert await session.scalar(select(func.count()).select_from(Contact)) == 0


@pytest.mark.parametrize("role", ["finance", "admin"])
async def test_finance_and_admins_choose_an_active_account_manager(
    session: AsyncSession, people: dict[str, User], role: str
) -> None:
    actor = people[role]
    assert (await refused(prospects.create(session, actor, ProspectRecord("Mewa"), None, TODAY))) == {
        "owner_id": "Choose one of the account managers."
    }
    not_a_manager = ProspectRecord("Mewa", owner_id=people["finance"].id)
    assert "owner_id" in await refused(prospects.create(session, actor, not_a_manager, None, TODAY))
    people["piotr"].is_active = False
    gone = ProspectRecord("Mewa", owner_id=people["piotr"].id)
    assert (await refused(prospects.create(session, actor, gone, None, TODAY)))["owner_id"] == (
        "Piotr Nowak is no longer active: choose another account manager."
    )
    made = await prospects.create(session, actor, ProspectRecord("Mewa", owner_id=people["anna"].id), None, TODAY)
    assert made.owner_id == people["anna"].id


async def test_a_name_and_the_contact_fields_are_checked(session: AsyncSession, people: dict[str, User]) -> None:
    errors = await refused(
        prospects.create(
            session,
            people["anna"],
            ProspectRecord("   "),
            FirstContact(position="Buyer", email="not-an-address"),
            TODAY,
        )
    )
    assert errors == {
        "name": "Enter the company's name.",
        "contact_name": "Enter the contact's name, or leave the contact's fields empty.",
        "contact_email": "Enter an e-mail address such as anna.nowak@example.com.",
    }
    long_name = await refused(prospects.create(session, people["anna"], ProspectRecord("x" * 201), None, TODAY))
    assert long_name == {"name": "Use at most 200 characters."}


async def test_a_nip_must_be_valid(session: AsyncSession, people: dict[str, User]) -> None:
    for typed in ("526-000-12-47", "12345", "PL ABC"):
        errors = await refused(prospects.create(session, people["anna"], ProspectRecord("Mewa", typed), None, TODAY))
        assert errors == {"tax_id": "This is not a valid NIP: enter its 10 digits, e.g. 526-000-12-46."}


async def test_a_customers_nip_is_refused_naming_the_customer_only_to_who_sees_it(
    session: AsyncSession, people: dict[str, User]
) -> None:
    await make_company(session, name="Hotel Bryza", tax_id="5260001246", account_manager_id=people["piotr"].id)
    record = ProspectRecord("Bryza", "PL 526 000 12 46")
    as_piotr = await refused(prospects.create(session, people["piotr"], record, None, TODAY))
    assert as_piotr == {"tax_id": "This NIP is already a customer's: Hotel Bryza."}
    as_anna = await refused(prospects.create(session, people["anna"], record, None, TODAY))
    assert as_anna == {"tax_id": "This NIP is already a customer's, looked after by another account manager."}
    assert "Bryza" not in as_anna["tax_id"]


async def test_another_open_prospects_nip_is_refused_but_a_converted_ones_is_the_customers(
    session: AsyncSession, people: dict[str, User]
) -> None:
    await prospects.create(session, people["piotr"], ProspectRecord("Mewa", NIP), None, TODAY)
    as_anna = await refused(prospects.create(session, people["anna"], ProspectRecord("Mewa 2", NIP), None, TODAY))
    assert as_anna == {"tax_id": "Another account manager is already working with this NIP as a prospect."}
    as_admin = ProspectRecord("Mewa 2", NIP, owner_id=people["anna"].id)
    assert (await refused(prospects.create(session, people["admin"], as_admin, None, TODAY))) == {
        "tax_id": "This NIP is already the prospect Mewa's."
    }


async def test_editing_keeps_its_own_nip_and_checks_a_new_one(session: AsyncSession, people: dict[str, User]) -> None:
    mine = await prospects.create(session, people["anna"], ProspectRecord("Mewa", NIP), None, TODAY)
    await prospects.create(session, people["anna"], ProspectRecord("Bryza", OTHER_NIP), None, TODAY)
    changed = await prospects.edit(
        session, people["anna"], mine.id, ProspectRecord("Hotel Mewa", "PL5260001246", "Met at a fair"), TODAY
    )
    assert (changed.name, changed.tax_id, changed.notes) == ("Hotel Mewa", "PL5260001246", "Met at a fair")
    errors = await refused(
        prospects.edit(session, people["anna"], mine.id, ProspectRecord("Hotel Mewa", OTHER_NIP), TODAY)
    )
    assert errors == {"tax_id": "This NIP is already the prospect Bryza's."}


async def test_only_finance_and_admins_hand_a_prospect_to_another_manager(
    session: AsyncSession, people: dict[str, User]
) -> None:
    prospect = await prospects.create(session, people["anna"], ProspectRecord("Mewa"), None, TODAY)
    await prospects.edit(
        session, people["anna"], prospect.id, ProspectRecord("Mewa", owner_id=people["piotr"].id), TODAY
    )
    assert prospect.owner_id == people["anna"].id
    await prospects.edit(
        session, people["admin"], prospect.id, ProspectRecord("Mewa", owner_id=people["piotr"].id), TODAY
    )
    assert prospect.owner_id == people["piotr"].id


# Who sees them.
async def test_a_manager_sees_their_own_and_their_covered_colleagues_prospects(
    session: AsyncSession, people: dict[str, User]
) -> None:
    absent = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska")
    session.add(
        Deputy(manager_id=absent.id, deputy_id=people["anna"].id, starts_on=TODAY, ends_on=TODAY + timedelta(days=3))
    )
    for name, owner in (("Anna's", people["anna"]), ("Piotr's", people["piotr"]), ("Ola's", absent)):
        await prospects.create(session, owner, ProspectRecord(name), None, TODAY)

    async def names(user: User, search: str = "") -> list[str]:
        found = await prospects.prospect_list(session, user, ListQuery(search=search), TODAY)
        return [item.name for item in found.rows]

    assert await names(people["anna"]) == ["Anna's", "Ola's"]
    assert await names(people["finance"]) == ["Anna's", "Ola's", "Piotr's"]
    assert await names(people["anna"], "ola") == ["Ola's"]
    piotrs = await session.scalar(select(Prospect.id).where(Prospect.name == "Piotr's"))
    assert piotrs is not None
    with pytest.raises(NotFound):
        await prospects.prospect_page(session, people["anna"], piotrs, TODAY)
    with pytest.raises(NotFound):
        await prospects.convert(session, people["anna"], piotrs, TODAY)


async def test_the_list_finds_a_nip_however_it_is_typed(session: AsyncSession, people: dict[str, User]) -> None:
    await prospects.create(session, people["anna"], ProspectRecord("Mewa", NIP), None, TODAY)
    await prospects.create(session, people["anna"], ProspectRecord("Bryza", OTHER_NIP), None, TODAY)
    found = await prospects.prospect_list(session, people["anna"], ListQuery(search="526 000 12 46"), TODAY)
    assert [item.name for item in found.rows] == ["Mewa"]


# Converting.
async def test_converting_makes_the_customer_with_the_owner_as_its_manager_and_hands_over_its_history(
    session: AsyncSession, people: dict[str, User]
) -> None:
    prospect = await won_prospect(session, people["anna"])
    company = await prospects.convert(session, people["anna"], prospect.id, TODAY)
    assert (company.name, company.tax_id, company.account_manager_id) == (
        "Baltic Paper",
        "PL5260001246",
        people["anna"].id,
    )
    assert (company.credit_limit, company.payment_terms_days, company.is_active) == (Decimal("0.00"), 30, True)
    assert (prospect.company_id, prospect.converted_at is not None) == (company.id, True)
    for model in (Contact, Activity, Opportunity, Task):
        rows = (
            await session.execute(select(model.company_id, model.prospect_id).where(model.prospect_id == prospect.id))
        ).all()
        assert rows and all(row == (company.id, prospect.id) for row in rows), model
    moves = list(await session.scalars(select(OpportunityMove.company_id)))
    assert moves == [company.id, company.id]
    actions = {(entry.object_type, entry.action) for entry in await session.scalars(select(AuditEntry))}
    assert {("company", "create"), ("prospect", "convert")} <= actions


async def test_converting_gives_finance_one_task_to_set_terms_and_credit(
    session: AsyncSession, people: dict[str, User]
) -> None:
    prospect = await won_prospect(session, people["anna"])
    company = await prospects.convert(session, people["admin"], prospect.id, TODAY)
    task = await session.scalar(select(Task).where(Task.reason == TaskReason.PROSPECT_WON))
    assert task is not None
    assert (task.team, task.owner_id, task.company_id, task.prospect_id, task.due_on) == (
        Role.FINANCE,
        None,
        company.id,
        prospect.id,
        TODAY,
    )
    await session.refresh(task, ["company", "prospect", "quote", "order"])
    assert tasks.title_of(task) == "Set terms and credit for Baltic Paper"
    with pytest.raises(Refused) as again:
        await prospects.convert(session, people["admin"], prospect.id, TODAY)
    assert again.value.errors == {"convert": "This prospect is already a customer: Baltic Paper."}
    assert (
        await session.scalar(select(func.count()).select_from(Task).where(Task.reason == TaskReason.PROSPECT_WON)) == 1
    )
    assert await session.scalar(select(func.count()).select_from(Company)) == 1


async def test_a_colleague_covering_for_the_owner_may_convert(session: AsyncSession, people: dict[str, User]) -> None:
    prospect = await won_prospect(session, people["piotr"])
    session.add(Deputy(manager_id=people["piotr"].id, deputy_id=people["anna"].id, starts_on=TODAY, ends_on=TODAY))
    company = await prospects.convert(session, people["anna"], prospect.id, TODAY)
    assert company.account_manager_id == people["piotr"].id


async def test_without_a_won_opportunity_it_cannot_become_a_customer(
    session: AsyncSession, people: dict[str, User]
) -> None:
    prospect = await won_prospect(session, people["anna"])
    opportunity = await session.scalar(select(Opportunity).where(Opportunity.prospect_id == prospect.id))
    assert opportunity is not None
    opportunity.stage = Stage.NEGOTIATION
    errors = await refused(prospects.convert(session, people["anna"], prospect.id, TODAY))
    assert errors == {"convert": "It can become a customer once one of its opportunities is won."}
    page = await prospects.prospect_page(session, people["anna"], prospect.id, TODAY)
    assert page.why_not_convert == errors["convert"] and [item.title for item in page.opportunities] == [
        "Towels for 3 hotels"
    ]
    assert await session.scalar(select(func.count()).select_from(Company)) == 0


async def test_without_a_nip_it_cannot_become_a_customer(session: AsyncSession, people: dict[str, User]) -> None:
    prospect = await won_prospect(session, people["anna"], tax_id="")
    errors = await refused(prospects.convert(session, people["anna"], prospect.id, TODAY))
    assert errors == {"convert": "Enter its NIP first: a customer needs a valid one."}


async def test_a_nip_a_company_took_meanwhile_refuses_the_conversion(
    session: AsyncSession, people: dict[str, User]
) -> None:
    prospect = await won_prospect(session, people["anna"])
    await make_company(session, name="Baltic Paper S.A.", tax_id="PL5260001246", account_manager_id=people["piotr"].id)
    errors = await refused(prospects.convert(session, people["anna"], prospect.id, TODAY))
    assert errors == {"convert": "This NIP is already a customer's, looked after by another account manager."}
    assert prospect.company_id is None


async def test_finance_sees_a_prospect_but_does_not_convert_it(session: AsyncSession, people: dict[str, User]) -> None:
    prospect = await won_prospect(session, people["anna"])
    page = await prospects.prospect_page(session, people["finance"], prospect.id, TODAY)
    assert not page.may_convert and [contact.full_name for contact in page.contacts] == ["Ewa Lis"]
    with pytest.raises(NotAllowed):
        await prospects.convert(session, people["finance"], prospect.id, TODAY)
