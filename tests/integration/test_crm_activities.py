"""The activity log on the customer page: a call, meeting, visit or e-mail logged by staff joins the
timeline beside orders, quote moves, credit events and notes; the timeline filters by kind; a
refused activity comes back with the message next to its field and saves nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Activity, AuditEntry, Contact, CustomerNote, Prospect, Role
from portal.services import contacts, customers
from tests.factories import csrf_from, make_company, make_order, make_user, sign_in, text_of
from tests.queries import counted_statements


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    """Under the frozen clock it is 27 November 2026, 10:00 in Warsaw."""
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Zieliński", email="piotr@seller.example")
    other = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska", email="ola@seller.example")
    company = await make_company(session, name="Northwind Trading", account_manager_id=manager.id)
    elsewhere = await make_company(session, name="Contoso", account_manager_id=other.id)
    anna = await contacts.add_contact(
        session,
        manager,
        contacts.ContactDetails(full_name="Anna Nowak", position="Purchasing manager"),
        company_id=company.id,
    )
    theirs = await contacts.add_contact(
        session, other, contacts.ContactDetails(full_name="Jan Obcy"), company_id=elsewhere.id
    )
    gone = await contacts.add_contact(
        session, manager, contacts.ContactDetails(full_name="Ewa Lis"), company_id=company.id
    )
    await contacts.retire_contact(session, manager, gone.id)
    await session.commit()
    return {
        "manager": manager,
        "other": other,
        "company": company,
        "elsewhere": elsewhere,
        "anna": anna,
        "theirs": theirs,
        "gone": gone,
    }


def error_of(html: str, element_id: str) -> str:
    return text_of(html.split(f'id="{element_id}-error"')[1].split("</p>")[0])


def timeline_of(html: str) -> str:
    return text_of(html.split('id="customer-timeline"')[1].split("</ol>")[0])


async def activity_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Activity)) or 0


async def signed_in(client: AsyncTestClient, world: dict[str, Any]) -> str:
    await sign_in(client, world["manager"].email)
    return csrf_from((await client.get(f"/customers/{world['company'].id}")).text)


async def test_a_logged_call_joins_the_timeline_with_its_contact_summary_and_outcome(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    csrf = await signed_in(client, world)
    company_id = world["company"].id
    logged = await client.post(
        f"/customers/{company_id}/activities",
        data={
            "kind": "call",
            "happened_on": "2026-11-26",
            "happened_time": "14:30",
            "contact_id": str(world["anna"].id),
            "summary": "Asked for the winter range prices.",
            "outcome": "Quote by Friday",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert (logged.status_code, logged.headers["location"]) == (303, f"/customers/{company_id}#customer-timeline")
    page = await client.get(f"/customers/{company_id}")
    assert "Activity logged." in text_of(page.text)
    assert (
        "26 Nov 2026, 14:30 · Call with Anna Nowak (Purchasing manager) by Piotr Zieliński: "
        "Asked for the winter range prices. — Outcome: Quote by Friday"
    ) in timeline_of(page.text)
    activity = (await session.scalars(select(Activity))).one()
    assert activity.happened_at == datetime(2026, 11, 26, 13, 30, tzinfo=UTC)
    assert (activity.author_id, activity.company_id) == (world["manager"].id, company_id)
    entry = (await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "activity"))).one()
    assert (entry.action, entry.object_label) == ("create", "Call: Asked for the winter range prices.")


async def test_the_activity_form_offers_today_the_kinds_and_the_active_contacts_only(
    client: AsyncTestClient, world: dict[str, Any]
) -> None:
    await sign_in(client, world["manager"].email)
    html = (await client.get(f"/customers/{world['company'].id}")).text
    form = html.split('id="activity-form"')[1].split("</form>")[0]
    assert 'name="happened_on" value="2026-11-27"' in form
    kinds = form.split('id="activity-kind"')[1].split("</select>")[0]
    assert text_of(kinds.split(">", 1)[1]) == "Call Meeting Visit E-mail"
    assert f'value="{world["anna"].id}"' in form and f'value="{world["gone"].id}"' not in form


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("summary", "", "Write what was said."),
        ("summary", "   ", "Write what was said."),
        ("summary", "x" * 5001, "Use at most 5,000 characters."),
        ("outcome", "x" * 2001, "Use at most 2,000 characters."),
        ("happened_on", "2026-11-29", "An activity is logged at most a day ahead."),
        ("happened_on", "2024-11-26", "An activity is logged at most two years back."),
        ("happened_on", "2026-02-30", "This day does not exist."),
        ("happened_on", "27.11.2026", "Enter the date as YYYY-MM-DD."),
        ("happened_time", "25:00", "Enter the time as HH:MM, such as 14:30."),
        ("happened_time", "noon", "Enter the time as HH:MM, such as 14:30."),
        ("kind", "fax", "Choose a call, a meeting, a visit or an e-mail."),
        ("contact_id", "theirs", "Choose one of the listed contacts."),
        ("contact_id", "987654", "Choose one of the listed contacts."),
        ("contact_id", "²", "Choose one of the listed contacts."),
        ("contact_id", "gone", "Ewa Lis is retired: reactivate them first or choose another contact."),
    ],
)
async def test_a_refused_activity_is_shown_next_to_its_field_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any], field: str, value: str, message: str
) -> None:
    csrf = await signed_in(client, world)
    if value in ("theirs", "gone"):
        value = str(world[value].id)
    data = {"kind": "meeting", "summary": "Agreed the Q1 volumes.", "_csrf_token": csrf, field: value}
    refused = await client.post(f"/customers/{world['company'].id}/activities", data=data)
    assert refused.status_code == 400
    assert message in error_of(refused.text, f"activity-{field}")
    assert f'aria-describedby="activity-{field}-error"' in refused.text
    assert 'id="contact-full_name-error"' not in refused.text  # the contact form is not the one refused
    if field != "summary":
        assert ">Agreed the Q1 volumes.</textarea>" in refused.text  # what was typed is kept
    assert await activity_count(session) == 0


async def test_a_visit_set_for_tomorrow_morning_is_within_a_day_ahead(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    csrf = await signed_in(client, world)
    ok = await client.post(
        f"/customers/{world['company'].id}/activities",
        data={
            "kind": "visit",
            "happened_on": "2026-11-28",
            "happened_time": "09:30",
            "summary": "Set up",
            "_csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303  # tomorrow morning, within a day
    assert await activity_count(session) == 1


async def test_the_timeline_filters_by_kind_and_keeps_the_filter_across_pages(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    company = world["company"]
    buyer = await make_user(session, company_id=company.id)
    await make_order(session, company, gross="100.00", buyer=buyer)
    await customers.add_note(session, world["manager"], company.id, "Pays late in December.")
    for number in range(customers.TIMELINE_PAGE + 1):
        session.add(
            Activity(
                company_id=company.id,
                kind="email",
                happened_at=datetime(2026, 11, 1, 8, number, tzinfo=UTC),
                summary=f"Mail {number}",
                author_id=world["manager"].id,
            )
        )
    await session.commit()
    await sign_in(client, world["manager"].email)
    path = f"/customers/{company.id}"

    everything = await client.get(path)
    filters = everything.text.split('id="timeline-filters"')[1].split("</nav>")[0]
    assert text_of(filters.split(">", 1)[1]) == "All Orders Quotes Credit Notes Activities"
    assert 'aria-current="page">All</a>' in filters
    assert "Pays late in December." in timeline_of(everything.text)

    only_notes = await client.get(path, params={"show": "notes"})
    assert 'aria-current="page">Notes</a>' in only_notes.text
    assert "Pays late in December." in timeline_of(only_notes.text) and "Mail" not in timeline_of(only_notes.text)

    only_activities = await client.get(path, params={"show": "activities"})
    listed = timeline_of(only_activities.text)
    assert listed.count("E-mail by Piotr Zieliński") == customers.TIMELINE_PAGE and "Pays late" not in listed
    assert f'href="{path}?page=2&amp;show=activities"' in only_activities.text
    older = await client.get(path, params={"show": "activities", "page": 2})
    assert timeline_of(older.text).count("E-mail by") == 1 and "Mail 0" in timeline_of(older.text)

    only_orders = await client.get(path, params={"show": "orders"})
    assert "Mail" not in timeline_of(only_orders.text) and "Pays late" not in timeline_of(only_orders.text)
    for bad in ["fax", "ALL", "", "\x00"]:
        answer = await client.get(path, params={"show": bad})
        assert answer.status_code == (200 if bad == "" else 400), bad


async def test_a_filtered_timeline_costs_the_same_few_queries_as_the_whole(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, world["manager"].email)
    path = f"/customers/{world['company'].id}"
    counts = {}
    for show in ("all", "notes", "activities"):
        with counted_statements(client.app) as statements:
            assert (await client.get(path, params={"show": show})).status_code == 200
        counts[show] = len(statements)
    assert counts["notes"] == counts["activities"] == counts["all"] <= 6
    many = [
        Activity(
            company_id=world["company"].id,
            kind="call",
            happened_at=datetime(2026, 11, 2, 8, minute, tzinfo=UTC),
            contact_id=world["anna"].id,
            summary="Call",
            author_id=world["manager"].id,
        )
        for minute in range(15)
    ]
    session.add_all(many)
    await session.commit()
    with counted_statements(client.app) as statements:
        assert (await client.get(path)).status_code == 200
    assert len(statements) == counts["all"]


async def test_activities_for_another_manager_s_customer_are_404_and_a_buyer_s_403(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    csrf = await signed_in(client, world)
    data = {"kind": "call", "summary": "Peeked in.", "_csrf_token": csrf}
    assert (await client.post(f"/customers/{world['elsewhere'].id}/activities", data=data)).status_code == 404
    assert (await client.post("/customers/987654/activities", data=data)).status_code == 404
    client.cookies.clear()
    buyer = await make_user(session, company_id=world["company"].id)
    await session.commit()
    await sign_in(client, buyer.email)
    data["_csrf_token"] = csrf_from((await client.get("/dashboard")).text)
    assert (await client.post(f"/customers/{world['company'].id}/activities", data=data)).status_code == 403
    assert await activity_count(session) == 0


async def test_an_activity_with_a_prospect_names_the_prospect_s_contact(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    prospect = Prospect(name="Fabrikam", owner_id=world["manager"].id)
    session.add(prospect)
    await session.flush()
    karol = await contacts.add_contact(
        session, world["manager"], contacts.ContactDetails(full_name="Karol Duda"), prospect_id=prospect.id
    )
    await session.commit()
    csrf = await signed_in(client, world)
    logged = await client.post(
        f"/prospects/{prospect.id}/activities",
        data={"kind": "visit", "contact_id": str(karol.id), "summary": "Showed the range.", "_csrf_token": csrf},
        follow_redirects=False,
    )
    assert logged.status_code == 303 and logged.headers["location"].startswith(f"/prospects/{prospect.id}")
    activity = (await session.scalars(select(Activity))).one()
    assert (activity.prospect_id, activity.company_id, activity.contact_id) == (prospect.id, None, karol.id)
    refused = await client.post(
        f"/prospects/{prospect.id}/activities",
        data={"kind": "visit", "contact_id": str(world["anna"].id), "summary": "Wrong one.", "_csrf_token": csrf},
    )
    assert refused.status_code == 400 and "Choose one of the listed contacts." in text_of(refused.text)
    assert await activity_count(session) == 1
    assert await session.scalar(select(func.count()).select_from(CustomerNote)) == 0
    assert await session.scalar(select(func.count()).select_from(Contact)) == 4
