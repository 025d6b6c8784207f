"""The buyer's quote pages over HTTP: asking from the cart or with described items, the request
form refused with what was typed kept, the offer read version against version, the thread
without the staff's internal notes, and accepting into one order (or being told why not)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Address,
    CartLine,
    Company,
    Order,
    OrderSource,
    OrderStatus,
    Product,
    Quote,
    QuoteLine,
    QuoteStatus,
    QuoteVersion,
    Role,
    User,
)
from portal.services import cart, quotes
from tests.factories import csrf_from, make_company, make_product, make_user, sign_in, text_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""
FLOOR = Decimal("10")


@dataclass
class Shop:
    manager: User
    company: Company
    buyer: User
    towels: Product
    soap: Product
    stranger: User


@pytest.fixture
async def shop(session: AsyncSession, frozen_clock: Any) -> Shop:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    company = await make_company(
        session, name="Hotel Bryza", account_manager_id=manager.id, credit_limit=Decimal("100000.00")
    )
    session.add(
        Address(
            company_id=company.id,
            label="Main",
            street="Magazynowa 1",
            postal_code="00-001",
            city="Warszawa",
            is_default=True,
        )
    )
    buyer = await make_user(session, company_id=company.id, email="nina@bryza.example", full_name="Nina Buyer")
    await session.refresh(buyer, ["company"])
    towels = await make_product(session, sku="TWL-1", name="Towels", list_price=Decimal("20.00"), cost=Decimal("10.00"))
    soap = await make_product(session, sku="SOP-2", name="Soap", list_price=Decimal("5.00"), cost=Decimal("2.00"))
    other = await make_company(session, name="Baltic Foods")
    stranger = await make_user(session, company_id=other.id, email="bart@baltic.example")
    await session.refresh(stranger, ["company"])
    await session.commit()
    return Shop(manager, company, buyer, towels, soap, stranger)


async def sent_quote(session: AsyncSession, shop: Shop, products: list[Product] | None = None) -> Quote:
    """A request by the shop's buyer, priced at 15.00 a unit and sent as version 1."""
    wanted = [
        quotes.WantedLine(100 + n, p.id, target_price=Decimal("14.00")) for n, p in enumerate(products or [shop.towels])
    ]
    quote = await quotes.request_quote(session, shop.buyer, wanted, message="For the spring season.", today=TODAY)
    draft = quotes.draft_of(quote)
    assert draft is not None
    changes = [quotes.LineChange(line.id, unit_price=Decimal("15.00")) for line in draft.lines]
    await quotes.save_draft(
        session,
        shop.manager,
        quote.id,
        quotes.DraftChanges(valid_until=TODAY + timedelta(days=14), payment_terms="30 days", lines=changes),
        today=TODAY,
        margin_floor=FLOOR,
    )
    sent = await quotes.send(session, shop.manager, quote.id, today=TODAY, margin_floor=FLOOR)
    await session.commit()
    return sent


async def second_version(session: AsyncSession, shop: Shop, quote: Quote) -> None:
    """The buyer asks for a lower price; the manager sends version 2 at 13.80."""
    key = quotes.sent_of(quote).lines[0].line_key  # type: ignore[union-attr]
    await quotes.ask_for_changes(
        session, shop.buyer, quote.id, 1, "Lower, please.", {key: Decimal("13.50")}, today=TODAY
    )
    quote = await quotes.staff_quote(session, shop.manager, quote.id, TODAY)
    draft = quotes.draft_of(quote)
    assert draft is not None
    await quotes.save_draft(
        session,
        shop.manager,
        quote.id,
        quotes.DraftChanges(
            valid_until=TODAY + timedelta(days=10),
            lines=[quotes.LineChange(draft.lines[0].id, unit_price=Decimal("13.80"))],
        ),
        today=TODAY,
        margin_floor=FLOOR,
    )
    await quotes.send(session, shop.manager, quote.id, today=TODAY, margin_floor=FLOOR)
    await session.commit()


def field_error(html: str, error_id: str) -> str:
    match = re.search(rf'<p class="field-error[^"]*" id="{re.escape(error_id)}" role="alert">(.*?)</p>', html, re.S)
    if match is None:
        match = re.search(rf'<p class="field-error[^"]*" role="alert" id="{re.escape(error_id)}">(.*?)</p>', html, re.S)
    return unescape(match.group(1)).strip() if match else ""


def value_of(html: str, input_id: str) -> str:
    match = re.search(rf'<input id="{re.escape(input_id)}"[^>]*? value="([^"]*)"', html)
    assert match, f"no input #{input_id}"
    return unescape(match.group(1))


async def count(session: AsyncSession, model: type, *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_request_from_the_cart_leaves_the_cart_as_it_was(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    await cart.add_to_cart(session, shop.buyer, shop.towels.id, 40)
    await cart.add_to_cart(session, shop.buyer, shop.soap.id, 12)
    await session.commit()
    await sign_in(client, shop.buyer.email)
    form = await client.get("/quotes/new")
    assert form.status_code == 200
    assert value_of(form.text, "quantity-0") == "40" and value_of(form.text, "quantity-1") == "12"
    response = await client.post(
        "/quotes",
        data={
            "_csrf_token": csrf_from(form.text),
            "source": "cart",
            "product_0": str(shop.towels.id),
            "quantity_0": "500",
            "target_0": "14,50",
            "product_1": str(shop.soap.id),
            "quantity_1": "12",
            "leave_1": "1",
            "title": "Spring season",
            "message": "We open a second hotel.",
            "wanted_by": (TODAY + timedelta(days=5)).isoformat(),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    page = await client.get(response.headers["location"])
    text = text_of(page.text)
    assert "requested: your account manager prepares the offer" in text
    assert "Your account manager is preparing the offer" in text
    assert "We open a second hotel." in text
    quote = await session.scalar(select(Quote))
    assert quote is not None and quote.status is QuoteStatus.REQUESTED and quote.title == "Spring season"
    lines = list(await session.scalars(select(QuoteLine)))
    assert [(line.product_id, line.quantity, line.target_price) for line in lines] == [
        (shop.towels.id, 500, Decimal("14.5"))
    ]
    in_cart = {(line.product_id, line.quantity) for line in await session.scalars(select(CartLine))}
    assert in_cart == {(shop.towels.id, 40), (shop.soap.id, 12)}


async def test_a_request_can_ask_for_an_item_the_catalogue_does_not_have(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    await sign_in(client, shop.buyer.email)
    form = await client.get("/quotes/new")
    assert "No products here yet" in text_of(form.text)
    response = await client.post(
        "/quotes",
        data={
            "_csrf_token": csrf_from(form.text),
            "free_name_0": "Red pallet, 120 × 80",
            "free_quantity_0": "10",
            "free_target_0": "35.00",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    (line,) = list(await session.scalars(select(QuoteLine)))
    assert (line.product_id, line.name, line.quantity, line.target_price) == (
        None,
        "Red pallet, 120 × 80",
        10,
        Decimal("35"),
    )
    page = await client.get(response.headers["location"])
    assert "Red pallet, 120 × 80" in text_of(page.text)


async def test_a_refused_request_keeps_what_was_typed_and_says_why_next_to_the_line(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    await cart.add_to_cart(session, shop.buyer, shop.towels.id, 40)
    await cart.add_to_cart(session, shop.buyer, shop.soap.id, 12)
    await session.commit()
    await sign_in(client, shop.buyer.email)
    token = csrf_from((await client.get("/quotes/new")).text)
    typed = {
        "_csrf_token": token,
        "product_0": str(shop.towels.id),
        "quantity_0": "500",
        "product_1": str(shop.soap.id),
        "quantity_1": "12",
        "title": "Spring season",
    }
    too_precise = await client.post("/quotes", data={**typed, "target_0": "1.23456"})
    assert too_precise.status_code == 400
    assert field_error(too_precise.text, "row-0-error") == "Use at most 4 decimal places."
    assert value_of(too_precise.text, "target-0") == "1.23456"
    assert value_of(too_precise.text, "quantity-0") == "500"
    assert value_of(too_precise.text, "quote-title") == "Spring season"

    past = await client.post("/quotes", data={**typed, "wanted_by": "2026-11-01"})
    assert past.status_code == 400
    assert field_error(past.text, "wanted-by-error") == "Choose today or a later day."
    assert value_of(past.text, "wanted-by") == "2026-11-01"

    # the service names the third line it was given; that is the first free-text row
    undescribed = await client.post(
        "/quotes", data={**typed, "leave_0": "1", "free_name_0": "Red pallet", "free_target_0": "3.50"}
    )
    assert undescribed.status_code == 400
    assert field_error(undescribed.text, "free-0-error").startswith("Enter a quantity between 1 and")
    assert field_error(undescribed.text, "row-1-error") == ""
    assert value_of(undescribed.text, "free-name-0") == "Red pallet"
    assert 'name="leave_0" value="1" checked' in undescribed.text
    assert await count(session, Quote) == 0


async def test_a_list_of_another_company_is_not_found(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    from portal.services import lists

    theirs = await lists.create_list(session, shop.stranger, "Theirs", lines={shop.soap.id: 3}, today=TODAY)
    mine = await lists.create_list(session, shop.buyer, "Bar supplies", lines={shop.soap.id: 30}, today=TODAY)
    await session.commit()
    await sign_in(client, shop.buyer.email)
    assert (await client.get(f"/quotes/new?source=list&source_id={theirs.id}")).status_code == 404
    page = await client.get(f"/quotes/new?source=list&source_id={mine.id}")
    assert page.status_code == 200
    assert value_of(page.text, "quantity-0") == "30" and value_of(page.text, "quote-title") == "Bar supplies"


async def test_the_buyer_reads_version_2_against_version_1_line_by_line(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    quote = await sent_quote(session, shop)
    await second_version(session, shop, quote)
    await sign_in(client, shop.buyer.email)
    page = await client.get(f"/quotes/{quote.id}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert f"Quote {quote.number}/2" in text
    assert re.search(r"was 15[.,]00\d* zł → 13[.,]80", text) or re.search(r"was PLN ?15\.00\d* → PLN ?13\.80", text), (
        text
    )
    assert 'data-change="changed"' in page.text
    assert "marked against version 1" in text
    older = await client.get(f"/quotes/{quote.id}?version=1")
    assert "This is version 1; the current one is version 2." in text_of(older.text)
    assert 'id="accept-form"' not in older.text
    assert (await client.get(f"/quotes/{quote.id}?version=3")).status_code == 404


async def test_an_internal_comment_never_reaches_the_buyers_page(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    quote = await sent_quote(session, shop)
    await quotes.add_comment(session, shop.manager, quote.id, "Margin is thin: hold at 15.", internal=True, today=TODAY)
    await quotes.add_comment(session, shop.manager, quote.id, "Delivery in two lots is possible.", today=TODAY)
    await session.commit()
    await sign_in(client, shop.buyer.email)
    page = await client.get(f"/quotes/{quote.id}")
    assert "Delivery in two lots is possible." in page.text
    assert "Margin is thin" not in page.text
    token = csrf_from(page.text)
    posted = await client.post(
        f"/quotes/{quote.id}/comments", data={"_csrf_token": token, "body": "Two lots suit us."}, follow_redirects=False
    )
    assert posted.status_code == 303
    again = await client.get(f"/quotes/{quote.id}")
    assert "Two lots suit us." in again.text and "Margin is thin" not in again.text
    blank = await client.post(f"/quotes/{quote.id}/comments", data={"_csrf_token": token})
    assert blank.status_code == 400 and field_error(blank.text, "comment-body-error") == "Write a comment."


async def test_another_companys_buyer_gets_404_for_every_quote_url(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    quote = await sent_quote(session, shop)
    await sign_in(client, shop.stranger.email)
    listing = await client.get("/quotes")
    assert quote.number not in listing.text
    token = csrf_from(listing.text)
    assert (await client.get(f"/quotes/{quote.id}")).status_code == 404
    for action in ("accept", "decline", "changes", "comments"):
        data = {"_csrf_token": token, "version": "1", "reason": "x", "comment": "x", "body": "x"}
        response = await client.post(f"/quotes/{quote.id}/{action}", data=data)
        assert response.status_code == 404, action
    assert await count(session, Order) == 0


async def accept_form(client: AsyncTestClient, quote: Quote) -> dict[str, str]:
    page = await client.get(f"/quotes/{quote.id}")
    return {
        "_csrf_token": csrf_from(page.text),
        "delivery_date": value_of(page.text, "accept-date"),
        "address_id": re.search(r'<option value="(\d+)" selected>', page.text).group(1),  # type: ignore[union-attr]
        "po_number": "PO-77",
    }


async def test_accepting_an_older_version_is_refused(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    quote = await sent_quote(session, shop)
    await second_version(session, shop, quote)
    await sign_in(client, shop.buyer.email)
    response = await client.post(
        f"/quotes/{quote.id}/accept", data={**await accept_form(client, quote), "version": "1"}
    )
    assert response.status_code == 409
    assert f"Version {quote.number}/1 is no longer the offer: please read version {quote.number}/2 first." in text_of(
        response.text
    )
    assert await count(session, Order) == 0


async def test_accepting_while_the_company_is_on_hold_explains_and_orders_nothing(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    quote = await sent_quote(session, shop)
    await sign_in(client, shop.buyer.email)
    form = await accept_form(client, quote)
    company = await session.get(Company, shop.company.id)
    assert company is not None
    company.on_hold, company.hold_reason = True, "Unpaid invoices"
    await session.commit()
    response = await client.post(f"/quotes/{quote.id}/accept", data={**form, "version": "1"})
    assert response.status_code == 400
    assert "Your account is on hold, so orders cannot be submitted." in text_of(response.text)
    assert await count(session, Order) == 0
    assert await session.scalar(select(Quote.status).where(Quote.id == quote.id)) is QuoteStatus.SENT


async def test_accepting_makes_the_order_at_the_quoted_prices_and_opens_it(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    quote = await sent_quote(session, shop)
    await sign_in(client, shop.buyer.email)
    form = await accept_form(client, quote)
    response = await client.post(f"/quotes/{quote.id}/accept", data={**form, "version": "1"}, follow_redirects=False)
    assert response.status_code == 303, response.text
    order = await session.scalar(select(Order).where(Order.quote_id == quote.id))
    assert order is not None
    assert response.headers["location"] == f"/orders/{order.id}"
    assert (order.source, order.status, order.po_number) == (OrderSource.QUOTE, OrderStatus.APPROVED, "PO-77")
    page = await client.get(response.headers["location"])
    assert f"Quote accepted: order {order.number} approved." in text_of(page.text)
    assert f'href="/quotes/{quote.id}?version=1">{quote.number}/1</a>' in page.text  # the order names its quote
    quote_page = await client.get(f"/quotes/{quote.id}")
    assert f'href="/orders/{order.id}">{order.number}</a>' in quote_page.text  # and the quote its order
    again = await client.post(f"/quotes/{quote.id}/accept", data={**form, "version": "1"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/orders/{order.id}"
    assert await count(session, Order) == 1


async def test_asking_for_changes_takes_a_comment_and_typed_target_prices(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    quote = await sent_quote(session, shop)
    key = quotes.sent_of(quote).lines[0].line_key  # type: ignore[union-attr]
    await sign_in(client, shop.buyer.email)
    token = csrf_from((await client.get(f"/quotes/{quote.id}")).text)
    negative = await client.post(
        f"/quotes/{quote.id}/changes",
        data={"_csrf_token": token, "version": "1", "comment": "Lower", f"target_{key}": "-2"},
    )
    assert negative.status_code == 400
    assert field_error(negative.text, f"changes-target_{key}-error") == "Enter a price above zero."
    assert value_of(negative.text, f"changes-target_{key}") == "-2"
    silent = await client.post(f"/quotes/{quote.id}/changes", data={"_csrf_token": token, "version": "1"})
    assert field_error(silent.text, "changes-comment-error") == "Say what you would like changed."
    asked = await client.post(
        f"/quotes/{quote.id}/changes",
        data={"_csrf_token": token, "version": "1", "comment": "Lower, please", f"target_{key}": "13.5"},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    assert await session.scalar(select(Quote.status).where(Quote.id == quote.id)) is QuoteStatus.CHANGES_REQUESTED
    draft = await session.scalar(
        select(QuoteVersion).where(QuoteVersion.quote_id == quote.id, QuoteVersion.number == 2)
    )
    assert draft is not None
    page = await client.get(f"/quotes/{quote.id}")
    assert "Your account manager is preparing a new version." in text_of(page.text)
    assert 'id="accept-form"' not in page.text


async def test_declining_needs_a_reason(client: AsyncTestClient, session: AsyncSession, shop: Shop) -> None:
    quote = await sent_quote(session, shop)
    await sign_in(client, shop.buyer.email)
    token = csrf_from((await client.get(f"/quotes/{quote.id}")).text)
    blank = await client.post(f"/quotes/{quote.id}/decline", data={"_csrf_token": token, "version": "1"})
    assert blank.status_code == 400
    assert field_error(blank.text, "decline-reason-error") == "Tell your account manager why."
    declined = await client.post(
        f"/quotes/{quote.id}/decline",
        data={"_csrf_token": token, "version": "1", "reason": "Too dear"},
        follow_redirects=False,
    )
    assert declined.status_code == 303
    page = await client.get(f"/quotes/{quote.id}")
    assert "Declined" in text_of(page.text) and "Too dear" in text_of(page.text)


async def test_the_quote_list_filters_pages_and_costs_the_same_for_more_quotes(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    await sign_in(client, shop.buyer.email)
    empty = await client.get("/quotes")
    assert "Your company has not asked for a quote yet." in text_of(empty.text)
    first = await sent_quote(session, shop)
    with counted_statements(client.app) as few:
        page = await client.get("/quotes")
    row = text_of(re.search(rf'<tr data-quote="{first.number}">.*?</tr>', page.text, re.S).group(0))  # type: ignore[union-attr]
    assert "Offer sent" in row and "PLN 1,500.00" in row, row
    for _ in range(3):
        await sent_quote(session, shop, [shop.towels, shop.soap])
    with counted_statements(client.app) as many:
        assert (await client.get("/quotes")).status_code == 200
    assert len(many) == len(few), many
    accepted = await client.get("/quotes?status=accepted")
    assert "No quotes match." in text_of(accepted.text)
    assert (await client.get("/quotes?status=bogus")).status_code == 400
    assert (await client.get("/quotes?page=0")).status_code == 400


async def test_the_quote_page_costs_the_same_whatever_its_lines(
    client: AsyncTestClient, session: AsyncSession, shop: Shop
) -> None:
    small = await sent_quote(session, shop)
    extra = [await make_product(session, sku=f"EXT-{n}", cost=Decimal("2.00")) for n in range(5)]
    big = await sent_quote(session, shop, [shop.towels, shop.soap, *extra])
    await quotes.add_comment(session, shop.manager, big.id, "Ask if you need more.", today=TODAY)
    await session.commit()
    await sign_in(client, shop.buyer.email)
    with counted_statements(client.app) as few:
        assert (await client.get(f"/quotes/{small.id}")).status_code == 200
    with counted_statements(client.app) as many:
        assert (await client.get(f"/quotes/{big.id}")).status_code == 200
    assert len(many) == len(few), many
