"""A quote's offer as PDF over HTTP: the buyer downloads a sent version with its number, lines,
totals and terms and never a cost, margin, floor reason or internal comment; another company's
buyer, or a manager who does not see the company, gets 404; a draft is staff's only, marked so.
And the e-mail choices about quotes: each side is asked about the quote e-mails it receives."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import NotificationKind, NotificationOptOut, Quote, Role
from portal.services import quotes
from tests.conftest import Clock
from tests.factories import csrf_from, make_company, make_product, make_user, sign_in, text_of
from tests.integration.test_documents import SELLER, pdf_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""
FLOOR = Decimal("10")
BUYER_NIP = "7010002130"


def path(quote: Quote, version: int) -> str:
    return f"/quotes/{quote.id}/versions/{version}/quote.pdf"


@pytest.fixture
async def shop(session: AsyncSession, frozen_clock: Clock) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    other_manager = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    company = await make_company(session, name="Northwind Trading", tax_id=BUYER_NIP, account_manager_id=manager.id)
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example", full_name="Nina Nowak")
    await session.refresh(buyer, ["company"])
    glasses = await make_product(
        session, sku="GLS-6", name="Wine glasses", list_price=Decimal("20.0000"), cost=Decimal("17.3100")
    )
    paper = await make_product(
        session,
        sku="PAP-1",
        name="Copy paper",
        list_price=Decimal("300.0000"),
        cost=Decimal("211.4700"),
        vat_rate=Decimal("8.00"),
    )
    other = await make_company(session, name="Baltic Foods", account_manager_id=other_manager.id)
    stranger = await make_user(session, company_id=other.id, email="bart@baltic.example")
    await session.commit()
    return {
        "manager": manager,
        "other_manager": other_manager,
        "finance": finance,
        "company": company,
        "buyer": buyer,
        "glasses": glasses,
        "paper": paper,
        "stranger": stranger,
    }


async def sent_quote(session: AsyncSession, shop: dict, extra_lines: int = 0) -> Quote:
    """Version 1 sent: 100 glasses at 18.00 (23 % VAT; under the floor, with a reason) and 2 reams
    of paper at 290.00 (8 %), valid until 11 Dec 2026, with an internal comment beside it."""
    buyer, manager = shop["buyer"], shop["manager"]
    wanted = [quotes.WantedLine(100, shop["glasses"].id), quotes.WantedLine(2, shop["paper"].id)]
    for number in range(extra_lines):
        product = await make_product(session, sku=f"EXT-{number}", list_price=Decimal("5.0000"), cost=Decimal("1.0000"))
        wanted.append(quotes.WantedLine(1, product.id))
    quote = await quotes.request_quote(session, buyer, wanted, message="For the new restaurant.", today=TODAY)
    draft = quotes.draft_of(quote)
    assert draft is not None
    prices = {shop["glasses"].id: Decimal("18.00"), shop["paper"].id: Decimal("290.00")}
    changes = [
        quotes.LineChange(
            line.id,
            unit_price=prices.get(line.product_id or 0, Decimal("5.00")),
            below_floor_reason="Matching the competitor's bid" if line.product_id == shop["glasses"].id else "",
        )
        for line in draft.lines
    ]
    await quotes.save_draft(
        session,
        manager,
        quote.id,
        quotes.DraftChanges(
            valid_until=TODAY + timedelta(days=14),
            delivery_terms="Delivered free to the door",
            payment_terms="14 days from the invoice date",
            lines=changes,
        ),
        today=TODAY,
        margin_floor=FLOOR,
    )
    await quotes.add_comment(session, manager, quote.id, "Secret: our lowest possible", internal=True, today=TODAY)
    quote = await quotes.send(session, manager, quote.id, today=TODAY, margin_floor=FLOOR)
    await session.commit()
    return quote


async def test_the_buyer_downloads_the_sent_version_without_costs_or_margins(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    quote = await sent_quote(session, shop)
    await sign_in(client, shop["buyer"].email)
    text = pdf_of(await client.get(path(quote, 1)))
    assert f"Quote {quote.number}/1" in text
    assert SELLER in text and "Northwind Trading" in text and f"NIP {BUYER_NIP}" in text
    assert "Sent 27 Nov 2026" in text and "Valid until 11 Dec 2026" in text
    assert "GLS-6 Wine glasses 100 pcs PLN 18.00" in text and "PAP-1 Copy paper 2 pcs PLN 290.00" in text
    # 100 × 18.00 = 1,800.00 at 23 % → VAT 414.00; 2 × 290.00 = 580.00 at 8 % → VAT 46.40
    assert "Net at 23 % VAT PLN 1,800.00" in text and "VAT 23 % PLN 414.00" in text
    assert "Net at 8 % VAT PLN 580.00" in text and "VAT 8 % PLN 46.40" in text
    assert "Net total PLN 2,380.00" in text and "VAT total PLN 460.40" in text and "Gross total PLN 2,840.40" in text
    assert "Delivered free to the door" in text and "14 days from the invoice date" in text
    assert "DRAFT" not in text
    for secret in ("17.31", "211.47", "Matching the competitor", "Secret", "margin", "Margin", "Cost", "cost"):
        assert secret not in text, secret


async def test_only_who_sees_the_company_gets_the_quote(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    quote = await sent_quote(session, shop)
    expected = {
        shop["stranger"].email: 404,  # another company's buyer: as if there were no such quote
        shop["other_manager"].email: 404,  # another manager's customer
        shop["finance"].email: 200,
        shop["manager"].email: 200,
        shop["buyer"].email: 200,
    }
    for email, status in expected.items():
        client.cookies.clear()
        await sign_in(client, email)
        response = await client.get(path(quote, 1))
        assert response.status_code == status, email
        if status == 404:
            assert b"%PDF" not in response.content and quote.number not in response.text
    for version in (0, 2, 1001, 99999999999):
        assert (await client.get(path(quote, version))).status_code == 404, version
    assert (await client.get(f"/quotes/{2**31 - 1}/versions/1/quote.pdf")).status_code == 404
    client.cookies.clear()
    assert (await client.get(path(quote, 1), follow_redirects=False)).status_code in (302, 303, 401)


async def test_a_draft_is_the_staffs_marked_draft_and_never_the_buyers(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    quote = await sent_quote(session, shop)
    await quotes.revise(session, shop["manager"], quote.id, today=TODAY)
    offer = await quotes.new_offer(session, shop["manager"], shop["company"].id, today=TODAY)
    await session.commit()

    await sign_in(client, shop["buyer"].email)
    assert (await client.get(path(quote, 2))).status_code == 404  # the manager's version 2, not sent
    assert (await client.get(path(offer, 1))).status_code == 404  # an offer not sent at all
    assert "DRAFT" not in pdf_of(await client.get(path(quote, 1)))

    client.cookies.clear()
    await sign_in(client, shop["manager"].email)
    draft = pdf_of(await client.get(path(quote, 2)))
    assert f"Quote {quote.number}/2" in draft and "DRAFT: not sent to the customer" in draft
    assert "Sent not yet" in draft and "GLS-6" in draft
    empty = pdf_of(await client.get(path(offer, 1)))
    assert "DRAFT" in empty and "No lines yet." in empty and "Gross total PLN 0.00" in empty


async def test_a_polish_reader_gets_the_quote_in_polish(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    buyer, glasses = shop["buyer"], shop["glasses"]
    buyer.locale = "pl"
    glasses.name = "Kieliszki łączone ąęłśż"
    session.add_all([buyer, glasses])
    await session.commit()
    quote = await sent_quote(session, shop)
    await sign_in(client, buyer.email)
    text = pdf_of(await client.get(path(quote, 1)))
    assert "Kieliszki łączone ąęłśż" in text and "2840,40zł" in text.replace(" ", "") and "PLN" not in text
    assert "11.12.2026" in text


async def test_a_long_quote_costs_the_same_queries_as_a_short_one(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    short = await sent_quote(session, shop)
    long = await sent_quote(session, shop, extra_lines=30)
    await sign_in(client, shop["buyer"].email)
    counts = []
    for quote in (short, long):
        with counted_statements(client.app) as statements:
            assert "Gross total" in pdf_of(await client.get(path(quote, 1)))
        counts.append(len(statements))
    assert counts[0] == counts[1]


async def test_each_side_chooses_the_quote_e_mails_it_receives(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    K = NotificationKind
    await sign_in(client, shop["buyer"].email)
    page = await client.get("/account/notifications")
    text = text_of(page.text)
    assert "A quote for us is ready, or was withdrawn" in text and "A quote for us expires in three days" in text
    assert "Our account manager places an order for us" in text
    for kind in (K.QUOTE_SENT, K.QUOTE_EXPIRING, K.QUOTE_COMMENT, K.ORDER_PLACED_FOR_YOU):
        assert f'value="{kind.value}" checked' in page.text, kind
    for kind in (K.QUOTE_REQUESTED, K.QUOTE_ANSWERED):
        assert f'value="{kind.value}"' not in page.text, kind  # the account manager's e-mails
    saved = await client.post(
        "/account/notifications", data={"kind": ["order_submitted"], "_csrf_token": csrf_from(page.text)}
    )
    assert saved.status_code == 200 and 'value="quote_sent"  >' in saved.text
    off = set(
        await session.scalars(select(NotificationOptOut.kind).where(NotificationOptOut.user_id == shop["buyer"].id))
    )
    assert {K.QUOTE_SENT, K.QUOTE_EXPIRING, K.QUOTE_COMMENT, K.ORDER_PLACED_FOR_YOU} <= off
    assert not off & {K.QUOTE_REQUESTED, K.QUOTE_ANSWERED, K.ORDER_SUBMITTED}  # not asked: left on

    client.cookies.clear()
    await sign_in(client, shop["manager"].email)
    page = await client.get("/account/notifications")
    text = text_of(page.text)
    assert "A customer asks for a quote, or for changes to one" in text
    assert "A customer accepts or declines a quote" in text and "A customer's quote expired without an answer" in text
    assert 'value="quote_sent"' not in page.text and 'value="order_placed_for_you"' not in page.text
