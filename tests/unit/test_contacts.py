"""The rules of contacts and of the activity log, called as services: one primary contact per
customer for purchasing and one for payables, retire rather than delete a used contact, an
activity's moment and its bounds, and a contact of another customer refused as not found."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound, Refused
from portal.models import ActivityKind, Contact, Prospect, Role, Task
from portal.services import activities, contacts
from portal.services.contacts import ContactDetails
from tests.factories import make_company, make_user

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
async def world(session: AsyncSession) -> dict[str, Any]:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Zieliński")
    company = await make_company(session, name="Northwind Trading", account_manager_id=manager.id)
    other = await make_company(session, name="Contoso")
    prospect = Prospect(name="Fabrikam", owner_id=manager.id)
    session.add(prospect)
    await session.flush()
    return {"manager": manager, "company": company, "other": other, "prospect": prospect}


async def add(
    session: AsyncSession, world: dict[str, Any], name: str, company: str = "company", **fields: Any
) -> Contact:
    return await contacts.add_contact(
        session, world["manager"], ContactDetails(full_name=name, **fields), company_id=world[company].id
    )


async def test_one_primary_for_purchasing_and_one_for_payables_per_customer(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = await add(session, world, "Anna Nowak", primary_purchasing=True, primary_payables=True)
    elsewhere = await add(session, world, "Jan Obcy", company="other", primary_purchasing=True)
    ewa = await add(session, world, "Ewa Lis", primary_payables=True)
    assert (anna.primary_purchasing, anna.primary_payables, ewa.primary_payables) == (True, False, True)
    marek = await add(session, world, "Marek Wójcik")
    await contacts.edit_contact(
        session, world["manager"], marek.id, ContactDetails(full_name="Marek Wójcik", primary_purchasing=True)
    )
    assert (anna.primary_purchasing, marek.primary_purchasing) == (False, True)
    assert elsewhere.primary_purchasing is True  # another customer's primary is its own


async def test_contacts_of_lists_primary_ones_first_and_retired_ones_last(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    await add(session, world, "Zofia Adamska")
    gone = await add(session, world, "Adam Abacki")
    await add(session, world, "Ewa Lis", primary_payables=True)
    await add(session, world, "Marek Wójcik", primary_purchasing=True)
    await contacts.retire_contact(session, world["manager"], gone.id)
    listed = await contacts.contacts_of(session, company_id=world["company"].id)
    assert [c.full_name for c in listed] == ["Marek Wójcik", "Ewa Lis", "Zofia Adamska", "Adam Abacki"]
    assert await contacts.contacts_of(session, prospect_id=world["prospect"].id) == []


async def test_a_contact_belongs_to_a_customer_or_a_prospect_exactly(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await contacts.contacts_of(session)
    with pytest.raises(ValueError):
        await contacts.contacts_of(session, company_id=world["company"].id, prospect_id=world["prospect"].id)
    with pytest.raises(NotFound):
        await contacts.add_contact(session, world["manager"], ContactDetails(full_name="X"), company_id=987654)
    karol = await contacts.add_contact(
        session, world["manager"], ContactDetails(full_name="Karol Duda"), prospect_id=world["prospect"].id
    )
    assert (karol.prospect_id, karol.company_id) == (world["prospect"].id, None)


async def test_a_prospect_s_contact_is_no_portal_user(session: AsyncSession, world: dict[str, Any]) -> None:
    buyer = await make_user(session, company_id=world["company"].id)
    with pytest.raises(Refused) as refused:
        await contacts.add_contact(
            session,
            world["manager"],
            ContactDetails(full_name="Karol Duda", user_id=buyer.id),
            prospect_id=world["prospect"].id,
        )
    assert "user_id" in refused.value.errors


async def test_every_field_s_problem_is_told_at_once(session: AsyncSession, world: dict[str, Any]) -> None:
    with pytest.raises(Refused) as refused:
        await add(session, world, " ", email="nowhere", phone="1" * 41)
    assert set(refused.value.errors) == {"full_name", "email", "phone"}


async def test_a_used_contact_is_retired_never_deleted(session: AsyncSession, world: dict[str, Any]) -> None:
    anna = await add(session, world, "Anna Nowak")
    bob = await add(session, world, "Bob Nowak")
    session.add(Task(title="Call", due_on=date(2026, 12, 1), owner_id=world["manager"].id, contact_id=bob.id))
    await activities.log_activity(
        session,
        world["manager"],
        activities.NewActivity(ActivityKind.CALL, "Talked.", contact_id=anna.id),
        now=NOW,
        zone=WARSAW,
        company_id=world["company"].id,
    )
    for used in (anna, bob):
        assert await contacts.is_used(session, used.id)
        with pytest.raises(Refused):
            await contacts.delete_contact(session, world["manager"], used.id)
    spare = await add(session, world, "Spare")
    owner = await contacts.delete_contact(session, world["manager"], spare.id)
    assert owner.company_id == world["company"].id
    assert await session.get(Contact, spare.id) is None


async def test_a_retired_contact_is_chosen_for_nothing_new_and_made_primary_for_nothing(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = await add(session, world, "Anna Nowak", primary_purchasing=True)
    await contacts.retire_contact(session, world["manager"], anna.id)
    assert anna.primary_purchasing is False
    entry = activities.NewActivity(ActivityKind.VISIT, "Visited.", contact_id=anna.id)
    with pytest.raises(Refused, match="Anna Nowak is retired") as refused:
        await activities.log_activity(
            session, world["manager"], entry, now=NOW, zone=WARSAW, company_id=world["company"].id
        )
    assert refused.value.field == "contact_id"
    with pytest.raises(Refused):
        await contacts.edit_contact(
            session, world["manager"], anna.id, ContactDetails(full_name="Anna Nowak", primary_purchasing=True)
        )
    await contacts.reactivate_contact(session, world["manager"], anna.id)
    logged = await activities.log_activity(
        session, world["manager"], entry, now=NOW, zone=WARSAW, company_id=world["company"].id
    )
    assert logged.contact_id == anna.id


async def test_another_customer_s_contact_is_refused_as_one_that_does_not_exist(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    theirs = await add(session, world, "Jan Obcy", company="other")
    messages = []
    for contact_id in (theirs.id, 987654):
        with pytest.raises(Refused) as refused:
            await activities.log_activity(
                session,
                world["manager"],
                activities.NewActivity(ActivityKind.CALL, "Hello.", contact_id=contact_id),
                now=NOW,
                zone=WARSAW,
                company_id=world["company"].id,
            )
        messages.append(refused.value.errors)
    assert messages[0] == messages[1] == {"contact_id": "Choose one of the listed contacts."}


@pytest.mark.parametrize(
    ("day", "at", "stored"),
    [
        (None, None, NOW),  # now
        (date(2026, 11, 27), None, NOW),
        (date(2026, 11, 27), time(14, 30), datetime(2026, 11, 27, 13, 30, tzinfo=UTC)),
        (date(2026, 7, 1), time(8, 0), datetime(2026, 7, 1, 6, 0, tzinfo=UTC)),  # summer time
        (date(2026, 11, 20), None, datetime(2026, 11, 20, 11, 0, tzinfo=UTC)),  # midday in Warsaw
        (date(2026, 11, 28), time(9, 0), datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),  # tomorrow's meeting
        (date(2024, 11, 27), None, datetime(2024, 11, 27, 11, 0, tzinfo=UTC)),  # two years back, to the day
    ],
)
async def test_an_activity_happens_on_a_day_at_a_time_in_the_seller_s_zone_stored_in_utc(
    session: AsyncSession, world: dict[str, Any], day: date | None, at: time | None, stored: datetime
) -> None:
    logged = await activities.log_activity(
        session,
        world["manager"],
        activities.NewActivity(ActivityKind.MEETING, "Met.", day=day, at=at),
        now=NOW,
        zone=WARSAW,
        company_id=world["company"].id,
    )
    assert logged.happened_at == stored


@pytest.mark.parametrize(
    ("day", "at", "field", "message"),
    [
        (date(2026, 11, 29), None, "happened_on", "An activity is logged at most a day ahead."),
        (date(2026, 11, 28), time(11, 0), "happened_on", "An activity is logged at most a day ahead."),
        (date(2024, 11, 26), None, "happened_on", "An activity is logged at most two years back."),
        (date(2000, 1, 1), time(8, 0), "happened_on", "An activity is logged at most two years back."),
    ],
)
async def test_an_activity_far_ahead_or_far_back_is_refused(
    session: AsyncSession, world: dict[str, Any], day: date, at: time | None, field: str, message: str
) -> None:
    with pytest.raises(Refused) as refused:
        await activities.log_activity(
            session,
            world["manager"],
            activities.NewActivity(ActivityKind.CALL, "Hello.", day=day, at=at),
            now=NOW,
            zone=WARSAW,
            company_id=world["company"].id,
        )
    assert refused.value.errors == {field: message}


def test_two_years_back_from_a_leap_day_is_the_28th_of_february() -> None:
    assert activities._years_back(date(2028, 2, 29), 2) == date(2026, 2, 28)


async def test_recent_activities_read_as_the_timeline_words_them_newest_first(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = await add(session, world, "Anna Nowak", position="Purchasing manager")
    for day, kind, contact_id in [
        (date(2026, 11, 20), ActivityKind.CALL, anna.id),
        (date(2026, 11, 25), ActivityKind.EMAIL, None),
    ]:
        await activities.log_activity(
            session,
            world["manager"],
            activities.NewActivity(kind, "Talked.", day=day, contact_id=contact_id, outcome="Order next week"),
            now=NOW,
            zone=WARSAW,
            company_id=world["company"].id,
        )
    lines = await activities.recent(session, company_id=world["company"].id)
    assert [line.headline for line in lines] == [
        "E-mail by Piotr Zieliński",
        "Call with Anna Nowak (Purchasing manager) by Piotr Zieliński",
    ]
    assert lines[0].outcome == "Order next week"
    assert await activities.recent(session, prospect_id=world["prospect"].id) == []
    assert (await session.scalars(select(Contact.full_name))).all() == ["Anna Nowak"]
