"""Contacts on the customer page: added, changed, marked primary, retired, reactivated and deleted
by staff who see the customer; a refused form comes back with the message next to its field and
saves nothing; another manager's customer is 404, a buyer 403."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Activity,
    ActivityKind,
    AuditEntry,
    Contact,
    Deputy,
    Prospect,
    Role,
    Task,
)
from portal.services import contacts
from tests.factories import csrf_from, make_company, make_user, sign_in, text_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Zieliński", email="piotr@seller.example")
    other = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska", email="ola@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    company = await make_company(session, name="Northwind Trading", account_manager_id=manager.id)
    elsewhere = await make_company(session, name="Contoso", account_manager_id=other.id)
    buyer = await make_user(session, company_id=company.id, full_name="Anna Nowak", email="anna@northwind.example")
    stranger = await make_user(session, company_id=elsewhere.id, full_name="Jan Obcy", email="jan@contoso.example")
    await session.commit()
    return {
        "manager": manager,
        "other": other,
        "finance": finance,
        "company": company,
        "elsewhere": elsewhere,
        "buyer": buyer,
        "stranger": stranger,
    }


def error_of(html: str, element_id: str) -> str:
    return text_of(html.split(f'id="{element_id}-error"')[1].split("</p>")[0])


async def contact_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Contact)) or 0


async def fresh(session: AsyncSession, contact_id: int) -> Contact:
    found = await session.scalar(
        select(Contact).where(Contact.id == contact_id).execution_options(populate_existing=True)
    )
    assert found is not None
    return found


async def add(session: AsyncSession, world: dict[str, Any], name: str, **fields: Any) -> Contact:
    contact = await contacts.add_contact(
        session, world["manager"], contacts.ContactDetails(full_name=name, **fields), company_id=world["company"].id
    )
    await session.commit()
    return contact


async def signed_in_on_the_customer(client: AsyncTestClient, world: dict[str, Any], who: str = "manager") -> str:
    await sign_in(client, world[who].email)
    page = await client.get(f"/customers/{world['company'].id}")
    assert page.status_code == 200
    return csrf_from(page.text)


def contacts_section(html: str) -> str:
    return html.split('id="contacts"')[1].split("</section>")[0]


async def test_a_contact_added_shows_on_the_customer_page_with_call_and_mail_links_and_badges(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    csrf = await signed_in_on_the_customer(client, world)
    company_id = world["company"].id
    added = await client.post(
        f"/customers/{company_id}/contacts",
        data={
            "full_name": "  Anna Nowak ",
            "position": "Purchasing manager",
            "phone": "+48 601 234 567",
            "email": "anna@northwind.example",
            "notes": "Prefers calls before 10.",
            "user_id": str(world["buyer"].id),
            "primary_purchasing": "1",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert (added.status_code, added.headers["location"]) == (303, f"/customers/{company_id}#contacts")
    page = await client.get(f"/customers/{company_id}")
    assert "Anna Nowak added to the contacts." in text_of(page.text)
    section = contacts_section(page.text)
    assert 'href="tel:+48601234567"' in section and 'href="mailto:anna@northwind.example"' in section
    row = text_of(section.split('data-contact="')[1].split("</tr>")[0])
    assert "Anna Nowak Primary for purchasing Portal user" in row
    assert "Primary for accounts payable" not in row
    assert "Purchasing manager" in row and "Prefers calls before 10." in row
    contact = (await session.scalars(select(Contact))).one()
    assert (contact.full_name, contact.user_id, contact.company_id) == ("Anna Nowak", world["buyer"].id, company_id)
    entry = (await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "contact"))).one()
    assert (entry.action, entry.actor, entry.company_id) == ("create", "piotr@seller.example", company_id)
    assert entry.changes["full_name"] == [None, "Anna Nowak"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("full_name", "", "Enter the person's name."),
        ("full_name", "   ", "Enter the person's name."),
        ("full_name", "x" * 201, "Use at most 200 characters."),
        ("position", "x" * 101, "Use at most 100 characters."),
        ("phone", "1" * 41, "Use at most 40 characters."),
        ("email", "anna.northwind.example", "Enter an e-mail address such as anna.nowak@example.com."),
        ("email", "anna@northwind", "Enter an e-mail address such as anna.nowak@example.com."),
        ("email", "a" * 250 + "@x.pl", "Use at most 254 characters."),
        ("notes", "x" * 2001, "Use at most 2,000 characters."),
        ("user_id", "stranger", "Choose one of this customer's portal users."),
        ("user_id", "manager", "Choose one of this customer's portal users."),
        ("user_id", "987654", "Choose one of this customer's portal users."),
        ("user_id", "abc", "Choose one of this customer's portal users."),
        ("full_name", "Anna\x00", "This text contains a character that cannot be saved."),
    ],
)
async def test_a_refused_contact_is_shown_next_to_its_field_with_what_was_typed_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any], field: str, value: str, message: str
) -> None:
    csrf = await signed_in_on_the_customer(client, world)
    if value in ("stranger", "manager"):
        value = str(world[value].id)
    data = {"full_name": "Anna Nowak", "position": "Purchasing manager", "_csrf_token": csrf, field: value}
    refused = await client.post(f"/customers/{world['company'].id}/contacts", data=data)
    assert refused.status_code == 400
    assert message in error_of(refused.text, f"contact-{field}")
    assert f'aria-describedby="contact-{field}-error"' in refused.text
    assert 'id="activity-summary-error"' not in refused.text  # the activity form is not the one refused
    if field != "position":
        assert 'value="Purchasing manager"' in refused.text  # what was typed is kept
    assert await contact_count(session) == 0


async def test_marking_a_new_primary_contact_unmarks_the_previous_one_in_the_same_save(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = await add(session, world, "Anna Nowak", primary_purchasing=True, primary_payables=True)
    csrf = await signed_in_on_the_customer(client, world)
    await client.post(
        f"/customers/{world['company'].id}/contacts",
        data={"full_name": "Marek Wójcik", "primary_purchasing": "on", "_csrf_token": csrf},
    )
    marek = (await session.scalars(select(Contact).where(Contact.full_name == "Marek Wójcik"))).one()
    anna = await fresh(session, anna.id)
    assert (marek.primary_purchasing, anna.primary_purchasing) == (True, False)
    assert anna.primary_payables is True  # payables stay hers: only purchasing moved
    unmarked = await session.scalar(
        select(AuditEntry).where(AuditEntry.object_id == anna.id, AuditEntry.action == "update")
    )
    assert unmarked is not None and unmarked.changes == {"primary_purchasing": ["yes", "no"]}
    page = await client.get(f"/customers/{world['company'].id}")
    rows = [text_of(row.split("</tr>")[0]) for row in contacts_section(page.text).split("<tr data-contact=")[1:]]
    assert "Marek Wójcik Primary for purchasing" in rows[0]
    assert "Anna Nowak Primary for accounts payable" in rows[1] and "Primary for purchasing" not in rows[1]


async def test_a_contact_is_changed_on_its_own_page_and_a_refused_change_keeps_what_was_typed(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = await add(session, world, "Anna Nowak", position="Buyer", email="anna@northwind.example")
    csrf = await signed_in_on_the_customer(client, world)
    page = await client.get(f"/contacts/{anna.id}/edit")
    assert page.status_code == 200
    assert 'value="anna@northwind.example"' in page.text and "Northwind Trading" in text_of(page.text)
    refused = await client.post(
        f"/contacts/{anna.id}/edit", data={"full_name": "Anna Nowak", "email": "not an address", "_csrf_token": csrf}
    )
    assert refused.status_code == 400
    assert "Enter an e-mail address" in error_of(refused.text, "contact-email")
    assert 'value="not an address"' in refused.text
    assert (await fresh(session, anna.id)).email == "anna@northwind.example"

    changed = await client.post(
        f"/contacts/{anna.id}/edit",
        data={
            "full_name": "Anna Nowak-Kowal",
            "position": "Head of purchasing",
            "primary_payables": "1",
            "user_id": str(world["buyer"].id),
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert (changed.status_code, changed.headers["location"]) == (303, f"/customers/{world['company'].id}#contacts")
    anna = await fresh(session, anna.id)
    assert (anna.full_name, anna.position, anna.email, anna.primary_payables, anna.user_id) == (
        "Anna Nowak-Kowal",
        "Head of purchasing",
        "",
        True,
        world["buyer"].id,
    )
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "update"))
    assert entry is not None and entry.changes["position"] == ["Buyer", "Head of purchasing"]


async def test_an_unused_contact_may_be_deleted_and_a_used_one_only_retired_then_reactivated(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    typo = await add(session, world, "Anna Nowk")
    anna = await add(session, world, "Anna Nowak", primary_purchasing=True)
    session.add(
        Activity(
            company_id=world["company"].id,
            kind=ActivityKind.CALL,
            happened_at=datetime(2026, 11, 26, 9, tzinfo=UTC),
            contact_id=anna.id,
            summary="Asked about the winter range.",
            author_id=world["manager"].id,
        )
    )
    await session.commit()
    csrf = await signed_in_on_the_customer(client, world)

    unused = await client.get(f"/contacts/{typo.id}/edit")
    assert 'id="delete-contact-form"' in unused.text
    deleted = await client.post(f"/contacts/{typo.id}/delete", data={"_csrf_token": csrf}, follow_redirects=False)
    assert deleted.status_code == 303
    assert await session.get(Contact, typo.id, populate_existing=True) is None

    used = await client.get(f"/contacts/{anna.id}/edit")
    assert 'id="delete-contact-form"' not in used.text
    assert "so it cannot be deleted; retire it instead" in text_of(used.text)
    refused = await client.post(f"/contacts/{anna.id}/delete", data={"_csrf_token": csrf})
    assert refused.status_code == 400
    assert "retire it instead" in text_of(refused.text.split('id="form-error"')[1].split("</p>")[0])
    assert await session.get(Contact, anna.id, populate_existing=True) is not None

    retired = await client.post(f"/contacts/{anna.id}/retire", data={"_csrf_token": csrf}, follow_redirects=False)
    assert (retired.status_code, retired.headers["location"]) == (303, f"/customers/{world['company'].id}#contacts")
    anna = await fresh(session, anna.id)
    assert (anna.retired, anna.primary_purchasing) == (True, False)  # a retired contact is primary for nothing
    page = await client.get(f"/customers/{world['company'].id}")
    section = contacts_section(page.text)
    assert 'id="contact-list"' not in section and "No contacts yet." in text_of(section)
    hidden = text_of(section.split('<details id="retired-contacts">')[1].split("</details>")[0])
    assert "1 retired contact" in hidden and "Anna Nowak" in hidden and "Reactivate" in hidden
    assert f'<option value="{anna.id}"' not in page.text.split('id="activity-form"')[1]  # offered for nothing new

    await client.post(f"/contacts/{anna.id}/reactivate", data={"_csrf_token": csrf})
    assert (await fresh(session, anna.id)).retired is False
    actions = list(
        await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == anna.id).order_by(AuditEntry.id))
    )
    assert actions == ["create", "retire", "reactivate"]


async def test_a_contact_named_by_a_task_is_not_deleted_either(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = await add(session, world, "Anna Nowak")
    session.add(
        Task(
            title="Call Anna",
            due_on=TODAY,
            owner_id=world["manager"].id,
            company_id=world["company"].id,
            contact_id=anna.id,
        )
    )
    await session.commit()
    csrf = await signed_in_on_the_customer(client, world)
    assert (await client.post(f"/contacts/{anna.id}/delete", data={"_csrf_token": csrf})).status_code == 400
    assert await contact_count(session) == 1


async def test_another_manager_s_customer_and_its_contacts_are_404_and_a_buyer_gets_403(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    theirs = await contacts.add_contact(
        session, world["other"], contacts.ContactDetails(full_name="Jan Obcy"), company_id=world["elsewhere"].id
    )
    await session.commit()
    await sign_in(client, world["manager"].email)
    csrf = csrf_from((await client.get("/manager")).text)
    data = {"full_name": "Peeked", "_csrf_token": csrf}
    assert (await client.post(f"/customers/{world['elsewhere'].id}/contacts", data=data)).status_code == 404
    assert (await client.get(f"/contacts/{theirs.id}/edit")).status_code == 404
    for action in ("edit", "retire", "reactivate", "delete"):
        assert (await client.post(f"/contacts/{theirs.id}/{action}", data=data)).status_code == 404, action
    assert (await client.get("/contacts/987654/edit")).status_code == 404
    assert (await fresh(session, theirs.id)).full_name == "Jan Obcy"
    assert await contact_count(session) == 1

    client.cookies.clear()
    await sign_in(client, world["buyer"].email)
    csrf = csrf_from((await client.get("/dashboard")).text)
    response = await client.post(
        f"/customers/{world['company'].id}/contacts", data={"full_name": "Me", "_csrf_token": csrf}
    )
    assert response.status_code == 403
    assert (await client.get(f"/contacts/{theirs.id}/edit")).status_code == 403


async def test_a_covering_colleague_and_finance_keep_the_customer_s_contacts(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    session.add(Deputy(manager_id=world["manager"].id, deputy_id=world["other"].id, starts_on=TODAY, ends_on=TODAY))
    await session.commit()
    csrf = await signed_in_on_the_customer(client, world, "other")
    data = {"full_name": "Ewa Lis", "position": "Accounts payable", "primary_payables": "1", "_csrf_token": csrf}
    added = await client.post(f"/customers/{world['company'].id}/contacts", data=data, follow_redirects=False)
    assert added.status_code == 303

    client.cookies.clear()
    csrf = await signed_in_on_the_customer(client, world, "finance")
    data = {"full_name": "Tomasz Lis", "_csrf_token": csrf}
    added = await client.post(f"/customers/{world['company'].id}/contacts", data=data, follow_redirects=False)
    assert added.status_code == 303
    assert sorted(await session.scalars(select(Contact.full_name))) == ["Ewa Lis", "Tomasz Lis"]


async def test_a_prospect_s_contact_is_added_and_another_manager_s_prospect_is_404(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    mine = Prospect(name="Fabrikam", owner_id=world["manager"].id)
    theirs = Prospect(name="Tailspin", owner_id=world["other"].id)
    session.add_all([mine, theirs])
    await session.commit()
    csrf = await signed_in_on_the_customer(client, world)
    added = await client.post(
        f"/prospects/{mine.id}/contacts",
        data={"full_name": "Karol Duda", "primary_purchasing": "1", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"].startswith(f"/prospects/{mine.id}")
    contact = (await session.scalars(select(Contact))).one()
    assert (contact.prospect_id, contact.company_id, contact.primary_purchasing) == (mine.id, None, True)
    refused = await client.post(
        f"/prospects/{mine.id}/contacts", data={"full_name": "", "_csrf_token": csrf}, follow_redirects=True
    )
    assert "Enter the person's name." in text_of(refused.text)
    response = await client.post(f"/prospects/{theirs.id}/contacts", data={"full_name": "Peeked", "_csrf_token": csrf})
    assert response.status_code == 404
    assert await contact_count(session) == 1


async def test_the_customer_page_costs_the_same_queries_for_one_contact_and_many(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await add(session, world, "Anna Nowak", user_id=world["buyer"].id)
    await signed_in_on_the_customer(client, world)
    path = f"/customers/{world['company'].id}"
    with counted_statements(client.app) as one:
        assert (await client.get(path)).status_code == 200
    for number in range(6):
        await add(session, world, f"Person {number}", user_id=world["buyer"].id, primary_payables=number == 3)
    await add(session, world, "Gone Person")
    gone = (await session.scalars(select(Contact).where(Contact.full_name == "Gone Person"))).one()
    await contacts.retire_contact(session, world["manager"], gone.id)
    await session.commit()
    with counted_statements(client.app) as many:
        page = await client.get(path)
    assert contacts_section(page.text).count("<tr data-contact=") == 7
    assert len(many) == len(one), many


async def test_an_unknown_company_s_contacts_are_404(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    csrf = await signed_in_on_the_customer(client, world)
    for path in ["/customers/987654/contacts", "/customers/99999999999/contacts", "/customers/0/contacts"]:
        response = await client.post(path, data={"full_name": "X", "_csrf_token": csrf})
        assert response.status_code == 404, path
    assert await contact_count(session) == 0
