"""The staff's search page over HTTP: results grouped by kind, each a link to its page; the box in
the staff's bar; search as you type; buyers turned away; the same statements for 1 or 50 matches."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Contact, Prospect, Quote, QuoteStatus, Role
from tests.factories import make_company, make_invoice, make_order, make_user, sign_in, text_of
from tests.queries import counted_statements

TODAY = datetime(2026, 11, 27, 9, tzinfo=UTC).date()


@pytest.fixture
async def world(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    other = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak")
    finance = await make_user(session, Role.FINANCE)
    company = await make_company(session, name="Alfa Hurt Łódź", tax_id="PL5250001122", account_manager_id=manager.id)
    foreign = await make_company(session, name="Alfa Foreign", account_manager_id=other.id)
    order = await make_order(session, company, gross="1230.00")
    order.number, order.po_number = "ORD-2026-000123", "PO-ALFA-7"
    quote = Quote(company_id=company.id, number="Q-2026-000123", status=QuoteStatus.DRAFT, title="Alfa winter offer")
    invoice = await make_invoice(session, company, gross="500.00", due=TODAY)
    invoice.number = "FV/ALFA/1"
    contact = Contact(company_id=company.id, full_name="Ewa Alfańska", email="ewa@alfa.example", phone="600 100 200")
    prospect = Prospect(name="Alfa Prospect", owner_id=manager.id)
    foreign_order = await make_order(session, foreign, gross="10.00")
    foreign_order.number = "ORD-2026-000999"
    session.add_all([quote, contact, prospect])
    await session.commit()
    return {
        "manager": manager,
        "finance": finance,
        "company": company,
        "foreign": foreign,
        "order": order,
        "quote": quote,
        "invoice": invoice,
        "contact": contact,
        "prospect": prospect,
    }


def section(html: str, kind: str) -> str:
    """The group of one kind on the page ("" when it is not there)."""
    parts = html.split(f'id="found-{kind}"')
    return parts[1].split("</section>")[0] if len(parts) > 1 else ""


def heading(html: str, kind: str) -> str:
    return text_of(section(html, kind).split("</h2>")[0].split(">", 1)[1])


async def test_the_page_groups_what_the_manager_sees_by_kind_each_row_a_link(
    client: AsyncTestClient, world: dict
) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get("/search", params={"q": "alfa"})
    assert page.status_code == 200
    html = page.text
    company_id = world["company"].id
    assert heading(html, "customers") == "Customers 1"
    assert f'href="/customers/{company_id}"' in section(html, "customers")
    assert "Alfa Foreign" not in html and "ORD-2026-000999" not in html
    assert heading(html, "orders") == "Orders 1"
    orders = section(html, "orders")
    assert f'href="/queue/orders/{world["order"].id}"' in orders
    assert "PO PO-ALFA-7" in text_of(orders) and "Waiting for approval" in text_of(orders)
    assert f'href="/manage/quotes/{world["quote"].id}"' in section(html, "quotes")
    assert "Alfa winter offer" in text_of(section(html, "quotes"))
    invoices = section(html, "invoices")
    assert f'href="/customers/{company_id}"' in invoices and "FV/ALFA/1" in invoices
    contacts = text_of(section(html, "contacts"))
    assert "Ewa Alfańska" in contacts and "Alfa Hurt Łódź" in contacts and "600 100 200" in contacts
    prospects = section(html, "prospects")
    assert "Alfa Prospect" in text_of(prospects) and "prospect of Anna Kowalska" in text_of(prospects)
    if client.app.get_handler_index_by_name("prospect"):
        assert f'href="/prospects/{world["prospect"].id}"' in prospects
    assert 'value="alfa"' in html.split('id="search-form"')[1].split("</form>")[0]


async def test_finance_opens_an_invoice_on_the_customers_credit_page(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["finance"].email)
    html = (await client.get("/search", params={"q": "FV/ALFA"})).text
    assert f'href="/finance/companies/{world["company"].id}"' in section(html, "invoices")
    assert "FV/ALFA/1" in section(html, "invoices") and not section(html, "orders")
    nip = (await client.get("/search", params={"q": "525-000-11-22"})).text
    assert heading(nip, "customers") == "Customers 1" and "Alfa Hurt Łódź" in section(nip, "customers")
    both = (await client.get("/search", params={"q": "ALFA"})).text
    assert heading(both, "customers") == "Customers 2"  # finance sees every company


async def test_the_staff_bar_holds_a_labelled_search_box(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["manager"].email)
    home = (await client.get("/manager")).text
    box = home.split('class="nav-search"')[1].split("</form>")[0]
    assert 'action="/search"' in box and 'method="get"' in box and 'name="q"' in box
    assert re.search(r'<label for="nav-search-q"[^>]*>Search customers, contacts, orders, quotes and invoices', box)
    assert 'role="search"' in home.split('class="nav-search"')[0].rsplit("<form", 1)[1]


async def test_buyers_have_neither_the_page_nor_the_box(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    buyer = await make_user(session, company_id=world["company"].id)
    await session.commit()
    await sign_in(client, buyer.email)
    assert (await client.get("/search", params={"q": "alfa"})).status_code == 403
    assert "nav-search" not in (await client.get("/dashboard")).text


async def test_typing_fetches_only_the_results_and_a_short_text_says_so(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["manager"].email)
    typed = await client.get("/search", params={"q": "000123"}, headers={"HX-Request": "true"})
    assert typed.status_code == 200 and "HX-Request" in typed.headers["vary"]
    assert "<html" not in typed.text and 'id="found-orders"' in typed.text and 'id="found-quotes"' in typed.text
    short = await client.get("/search", params={"q": "a"}, headers={"HX-Request": "true"})
    assert short.status_code == 200 and text_of(short.text) == "Type at least 2 characters."
    page = await client.get("/search", params={"q": "a"})
    assert page.status_code == 400 and 'id="search-error"' in page.text
    assert 'value="a"' in page.text.split('id="search-form"')[1]
    empty = await client.get("/search")
    assert empty.status_code == 200 and 'id="search-q"' in empty.text
    assert "search-error" not in empty.text and "found-" not in empty.text
    nothing = await client.get("/search", params={"q": "50% off"})
    assert "Nothing you can see matches “50% off”." in text_of(nothing.text)


async def test_the_page_costs_the_same_statements_for_one_match_and_fifty(
    client: AsyncTestClient, world: dict, session: AsyncSession
) -> None:
    await sign_in(client, world["manager"].email)
    with counted_statements(client.app) as one:
        page = await client.get("/search", params={"q": "ORD-2026"})
    assert heading(page.text, "orders") == "Orders 1"
    started = datetime(2026, 11, 20, 9, tzinfo=UTC)
    for n in range(49):
        order = await make_order(session, world["company"], gross="10.00", submitted_at=started + timedelta(hours=n))
        order.number = f"ORD-2026-{n + 1:06d}"
    await session.commit()
    with counted_statements(client.app) as fifty:
        page = await client.get("/search", params={"q": "ORD-2026"})
    assert heading(page.text, "orders") == "Orders 10+"
    assert "Only the first 10 are shown. Type more to narrow the search." in text_of(section(page.text, "orders"))
    # The session with its user, the queue badge and the covers in one; one query for each of the six kinds.
    assert len(one) == len(fifty) == 7
