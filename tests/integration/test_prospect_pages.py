"""The prospects' pages over HTTP: a refused form comes back with each message next to its field
and what was typed, saving nothing; a manager sees their own and their covered colleague's
prospects, another's answers 404; a won prospect becomes a customer and its page then leads there."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Activity, ActivityKind, Company, Contact, Deputy, Opportunity, Prospect, Role, Stage, Task
from tests.factories import csrf_from, make_user, sign_in, text_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    ola = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska", email="ola@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    session.add(Deputy(manager_id=ola.id, deputy_id=anna.id, starts_on=TODAY, ends_on=TODAY + timedelta(days=3)))
    mine = Prospect(name="Baltic Paper", tax_id="PL5260001246", owner_id=anna.id)
    covered = Prospect(name="Hotel Mewa", owner_id=ola.id)
    foreign = Prospect(name="Hotel Bryza", owner_id=piotr.id)
    session.add_all([mine, covered, foreign])
    await session.commit()
    return {"anna": anna, "finance": finance, "mine": mine, "covered": covered, "foreign": foreign, "piotr": piotr}


def error_of(html: str, key: str) -> str:
    return text_of(html.split(f'id="{key}-error"')[1].split(">", 1)[1].split("</p>")[0])


def value_of(html: str, key: str) -> str:
    return html.split(f'id="{key}" name="{key}" value="')[1].split('"')[0]


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


async def add_history(session: AsyncSession, prospect: Prospect, owner_id: int, *, n: int, won: bool = False) -> None:
    """`n` contacts, activities, open tasks and open opportunities (one of them won, if asked)."""
    for i in range(n):
        contact = Contact(prospect_id=prospect.id, full_name=f"Person {i}")
        session.add(contact)
        await session.flush()
        session.add(
            Activity(
                prospect_id=prospect.id,
                kind=ActivityKind.CALL,
                happened_at=datetime(2026, 11, 20, 9, i, tzinfo=UTC),
                contact_id=contact.id,
                summary=f"Call {i}",
                author_id=owner_id,
            )
        )
        session.add(Task(title=f"Follow-up {i}", due_on=TODAY, owner_id=owner_id, prospect_id=prospect.id))
        stage = Stage.WON if won and i == 0 else Stage.OFFER
        session.add(
            Opportunity(
                prospect_id=prospect.id,
                title=f"Deal {i}",
                expected_value=Decimal("1000.00"),
                expected_close_on=TODAY,
                stage=stage,
                owner_id=owner_id,
            )
        )
    await session.commit()


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 201}, "name", "Use at most 200 characters."),
        ({"name": "   "}, "name", "Enter the company's name."),
        ({"name": "Mewa", "tax_id": "526-000-12-47"}, "tax_id", "This is not a valid NIP"),
        ({"name": "Mewa", "tax_id": "5260001246"}, "tax_id", "This NIP is already the prospect Baltic Paper's."),
        ({"name": "Mewa", "contact_email": "ewa@"}, "contact_name", "Enter the contact's name"),
        ({"name": "Mewa", "contact_name": "Ewa", "contact_email": "ewa@"}, "contact_email", "Enter an e-mail address"),
        ({"name": "Mewa", "contact_phone": "1" * 41}, "contact_phone", "Use at most 40 characters."),
        ({"name": "Mewa\x00"}, "name", "This text contains a character that cannot be saved."),
    ],
)
async def test_a_refused_new_prospect_shows_each_message_next_to_its_field(
    client: AsyncTestClient,
    session: AsyncSession,
    world: dict[str, Any],
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    await sign_in(client, world["anna"].email)
    page = await client.get("/prospects/new")
    assert page.status_code == 200 and 'id="owner_id"' not in page.text  # a manager's prospects are their own
    answer = await client.post("/prospects", data={**form, "_csrf_token": csrf_from(page.text)})
    assert answer.status_code == 400
    assert error_of(answer.text, field).startswith(message)
    if "\x00" not in form.get("name", ""):
        assert value_of(answer.text, "name") == form["name"].replace("'", "&#39;")
    assert await count(session, Prospect) == 3 and await count(session, Contact) == 0


async def test_a_new_prospect_opens_on_its_page_with_its_first_contact(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, world["finance"].email)
    page = await client.get("/prospects/new")
    form = {
        "name": "Hotel Sopot",
        "tax_id": "PL 123-456-78-02",
        "owner_id": str(world["piotr"].id),
        "contact_name": "Ewa Lis",
        "contact_position": "Purchasing",
        "contact_email": "ewa@sopot.pl",
        "_csrf_token": csrf_from(page.text),
    }
    answer = await client.post("/prospects", data=form)
    shown = text_of(answer.text)
    assert answer.status_code == 200 and "Prospect Hotel Sopot added." in shown
    assert "PL1234567802" in shown and "Piotr Nowak" in shown and "Ewa Lis Purchasing" in shown
    assert "It can become a customer once one of its opportunities is won." in shown


async def test_a_refused_edit_shows_its_message_next_to_the_field_and_keeps_the_prospect(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, world["anna"].email)
    path = f"/prospects/{world['covered'].id}"
    page = await client.get(path)
    answer = await client.post(
        path, data={"name": "Mewa Hotels", "tax_id": "5260001246", "_csrf_token": csrf_from(page.text)}
    )
    assert answer.status_code == 400
    assert error_of(answer.text, "tax_id") == "This NIP is already the prospect Baltic Paper's."
    assert value_of(answer.text, "name") == "Mewa Hotels"
    saved = await client.post(
        path, data={"name": "Mewa Hotels", "notes": "Three sites", "_csrf_token": csrf_from(page.text)}
    )
    assert "Prospect saved." in text_of(saved.text)
    await session.refresh(world["covered"])
    assert (world["covered"].name, world["covered"].notes) == ("Mewa Hotels", "Three sites")


async def test_a_manager_lists_their_own_and_covered_prospects_and_another_managers_answers_404(
    client: AsyncTestClient, world: dict[str, Any]
) -> None:
    await sign_in(client, world["anna"].email)
    listed = text_of((await client.get("/prospects")).text)
    assert "Baltic Paper" in listed and "Hotel Mewa" in listed and "Hotel Bryza" not in listed
    assert "2 prospects" in listed
    assert (await client.get(f"/prospects/{world['covered'].id}")).status_code == 200
    foreign = await client.get(f"/prospects/{world['foreign'].id}")
    assert foreign.status_code == 404
    assert text_of(foreign.text) == text_of((await client.get("/prospects/2147483647")).text)
    searched = text_of((await client.get("/prospects", params={"q": "526-000-12-46"})).text)
    assert "Baltic Paper" in searched and "Hotel Mewa" not in searched


async def test_converting_without_a_won_opportunity_says_why_next_to_the_button(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, world["anna"].email)
    path = f"/prospects/{world['mine'].id}"
    page = await client.get(path)
    assert 'id="convert-form"' not in page.text
    answer = await client.post(f"{path}/convert", data={"_csrf_token": csrf_from(page.text)})
    assert answer.status_code == 400
    assert error_of(answer.text, "convert") == "It can become a customer once one of its opportunities is won."
    assert await count(session, Company) == 0


async def test_a_won_prospect_becomes_a_customer_and_its_page_leads_there(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await add_history(session, world["mine"], world["anna"].id, n=1, won=True)
    await sign_in(client, world["anna"].email)
    path = f"/prospects/{world['mine'].id}"
    page = await client.get(path)
    assert "Make Baltic Paper a customer" in text_of(page.text) and "Won: Deal 0." in text_of(page.text)
    answer = await client.post(f"{path}/convert", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    company = await session.scalar(select(Company).where(Company.name == "Baltic Paper"))
    assert company is not None and company.account_manager_id == world["anna"].id
    customer = f"/customers/{company.id}"
    assert answer.status_code == 303 and answer.headers["location"] == customer
    assert (await client.get(path, follow_redirects=False)).headers["location"] == customer
    again = await client.post(f"{path}/convert", data={"_csrf_token": csrf_from(page.text)})
    assert "This prospect is already a customer: Baltic Paper." in text_of(again.text)
    assert await count(session, Company) == 1


async def test_finance_sees_the_prospect_but_not_the_convert_button(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await add_history(session, world["mine"], world["anna"].id, n=1, won=True)
    await sign_in(client, world["finance"].email)
    page = await client.get(f"/prospects/{world['mine'].id}")
    shown = text_of(page.text)
    assert page.status_code == 200 and 'id="convert-form"' not in page.text
    assert "Its account manager or an admin can make it a customer." in shown
    assert 'id="owner_id"' in page.text
    converted = await client.post(f"/prospects/{world['mine'].id}/convert", data={"_csrf_token": csrf_from(page.text)})
    assert converted.status_code == 403


async def test_the_prospect_page_and_the_list_cost_the_same_queries_whatever_their_size(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    await sign_in(client, world["anna"].email)
    path = f"/prospects/{world['mine'].id}"
    await add_history(session, world["mine"], world["anna"].id, n=1)
    with counted_statements(client.app) as one:
        assert (await client.get(path)).status_code == 200
    with counted_statements(client.app) as short_list:
        assert (await client.get("/prospects")).status_code == 200
    await add_history(session, world["mine"], world["anna"].id, n=6)
    for n in range(8):
        session.add(Prospect(name=f"Lead {n}", owner_id=world["anna"].id))
    await session.commit()
    with counted_statements(client.app) as many:
        page = await client.get(path)
    with counted_statements(client.app) as long_list:
        listed = await client.get("/prospects")
    assert text_of(page.text).count("Follow-up") == 7 and "10 prospects" in text_of(listed.text)
    assert len(many) == len(one)
    assert len(long_list) == len(short_list)
