"""Delivery terms over HTTP: the cart and the checkout show the fee with its VAT and what makes the
delivery free, say what is missing to the minimum and refuse to submit under it; the date picker
starts at the earliest date after the cut-off and a day off the delivery weekdays is refused next to
the field; retired addresses are not offered; the order page, the review page and the timeline
show the fee and an automatic approval; a schedule's moved dates are shown as moved."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, Order, OrderStatus, Role
from tests.factories import csrf_from, make_product, make_schedule, make_user, sign_in, text_of
from tests.factories import make_company as company_row
from tests.factories import make_order as order_row

pytestmark = pytest.mark.usefixtures("frozen_clock")  # Friday 27 November 2026, 10:00 in Warsaw


@pytest.fixture
async def shop(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example")
    company = await company_row(
        session,
        name="Northwind Trading",
        account_manager_id=manager.id,
        delivery_weekdays="245",
        order_cutoff=time(9, 30),
        min_order_value=Decimal("100.00"),
        delivery_fee=Decimal("25.00"),
        free_delivery_from=Decimal("500.00"),
    )
    home = Address(company_id=company.id, label="HQ", street="ul. Prosta 1", postal_code="00-001", city="Warszawa")
    old = Address(company_id=company.id, label="Old depot", street="ul. Stara 9", postal_code="90-001", city="Łódź")
    old.retired = True
    session.add_all([home, old])
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    paper = await make_product(session, sku="PAP-1", name="Copy paper", list_price=Decimal("40.0000"))
    await session.commit()
    return {"company": company, "home": home, "old": old, "buyer": buyer, "paper": paper, "manager": manager}


async def add(client: AsyncTestClient, product_id: int, quantity: int) -> None:
    page = await client.get("/catalog")
    data = {"product_id": str(product_id), "quantity": str(quantity), "next": "/catalog"}
    await client.post("/cart/add", data={**data, "_csrf_token": csrf_from(page.text)}, follow_redirects=False)


async def checkout_form(client: AsyncTestClient) -> tuple[str, dict[str, str]]:
    page = (await client.get("/checkout")).text
    key = re.search(r'name="key" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    day = re.search(r'name="delivery_date" type="date" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    address = re.search(r'<option value="(\d+)" selected', page).group(1)  # type: ignore[union-attr]
    form = {"_csrf_token": csrf_from(page), "key": key, "delivery_date": day, "address_id": address}
    return page, {**form, "po_number": "PO-1", "note": ""}


async def orders(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def test_the_cart_shows_the_fee_and_what_is_missing_and_offers_no_checkout_under_the_minimum(
    client: AsyncTestClient, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 2)  # 80.00 net: under the minimum of 100.00
    page = (await client.get("/cart")).text
    text = text_of(page)
    assert "Delivery fee (net, 23 % VAT) PLN 25.00" in text
    assert "Net at 23 % VAT PLN 105.00 VAT 23 % PLN 24.15" in text  # the fee is taxed with its rate's lines
    assert "Gross total PLN 129.15" in text
    assert "Add PLN 420.00 more (net) for free delivery." in text
    assert "Your minimum order is PLN 100.00 (net); add PLN 20.00 more to submit this order." in text
    assert 'id="to-checkout"' not in page

    await add(client, shop["paper"].id, 11)  # 520.00: over the minimum and the free-delivery threshold
    page = (await client.get("/cart")).text
    assert 'id="to-checkout"' in page and "Delivery fee" not in page and "free delivery" not in page


async def test_checkout_under_the_minimum_is_refused_next_to_the_form(
    client: AsyncTestClient, shop: dict, session: AsyncSession
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 2)
    page, form = await checkout_form(client)
    assert 'id="minimum-error"' in page and 'id="submit-order"' not in page
    refused = await client.post("/checkout", data=form)
    assert refused.status_code == 400
    assert 'id="minimum-error"' in refused.text
    assert "add PLN 20.00 more to submit this order" in text_of(refused.text)
    assert await orders(session) == 0


async def test_the_date_picker_starts_after_the_cutoff_and_refuses_a_day_off_the_delivery_weekdays(
    client: AsyncTestClient, shop: dict, session: AsyncSession
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 5)
    page, form = await checkout_form(client)
    # Friday 10:00, after the 9:30 cut-off: taken on Monday; Tuesday, Thursday and Friday are delivery days
    assert 'min="2026-12-01"' in page and form["delivery_date"] == "2026-12-01"
    assert "We deliver to you on Tue, Thu, Fri; the earliest date is 1 Dec 2026." in text_of(page)
    refused = await client.post("/checkout", data={**form, "delivery_date": "2026-12-02", "note": "kept"})
    assert refused.status_code == 400
    error = re.search(r'id="delivery_date-error">([^<]*)<', refused.text)
    assert error is not None and error.group(1) == "We deliver to you on Tue, Thu, Fri only; choose one of those days."
    assert ">kept</textarea>" in refused.text
    early = await client.post("/checkout", data={**form, "delivery_date": "2026-11-30"})
    assert early.status_code == 400 and "The earliest delivery date is 1 Dec 2026." in text_of(early.text)
    assert await orders(session) == 0


def date_error(page: str) -> str:
    error = re.search(r'id="delivery_date-error">([^<]*)<', page)
    assert error is not None, "no message next to the date"
    return error.group(1)


async def test_checkout_refuses_a_public_holiday_or_a_weekend_saying_why(
    client: AsyncTestClient, shop: dict, session: AsyncSession
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 5)
    _, form = await checkout_form(client)
    christmas = await client.post("/checkout", data={**form, "delivery_date": "2026-12-25"})  # a Friday
    assert christmas.status_code == 400
    assert date_error(christmas.text) == "25 Dec 2026 is a public holiday (Christmas Day); choose a working day."
    saturday = await client.post("/checkout", data={**form, "delivery_date": "2026-12-05"})
    assert saturday.status_code == 400
    assert date_error(saturday.text) == "5 Dec 2026 is a Saturday; we deliver on working days only."
    in_polish = await client.post(
        "/checkout", data={**form, "delivery_date": "2026-12-25"}, headers={"Accept-Language": "pl"}
    )
    assert in_polish.status_code == 400
    assert "25.12.2026" in date_error(in_polish.text) and "Boże Narodzenie" in date_error(in_polish.text)
    assert await orders(session) == 0
    accepted = await client.post("/checkout", data={**form, "delivery_date": "2026-12-29"}, follow_redirects=False)
    assert accepted.status_code == 303  # Tuesday 29 December: a working delivery day


async def test_on_a_saturday_after_the_cutoff_the_earliest_date_is_after_the_next_working_day(
    client: AsyncTestClient,
    shop: dict,
    frozen_clock,  # type: ignore[no-untyped-def]
) -> None:
    frozen_clock.moment = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # Saturday 5 December, 13:00 in Warsaw
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 5)
    page, form = await checkout_form(client)
    # taken on Monday 7 December; Tuesday 8 December is the next delivery day
    assert 'min="2026-12-08"' in page and form["delivery_date"] == "2026-12-08"
    frozen_clock.moment = datetime(2026, 12, 23, 12, 0, tzinfo=UTC)  # Wednesday before Christmas, after the cut-off
    await sign_in(client, "nina@northwind.example")
    page, form = await checkout_form(client)
    assert 'min="2026-12-29"' in page  # 24–27 December are off: taken Monday 28, delivered Tuesday 29


async def test_retired_addresses_are_not_offered_and_are_refused(
    client: AsyncTestClient, shop: dict, session: AsyncSession
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 5)
    page, form = await checkout_form(client)
    assert "Old depot" not in page
    refused = await client.post("/checkout", data={**form, "address_id": str(shop["old"].id)})
    assert refused.status_code == 400 and 'id="address_id-error"' in refused.text
    assert await orders(session) == 0


async def test_the_fee_is_a_line_of_the_order_and_of_the_review(
    client: AsyncTestClient, shop: dict, session: AsyncSession
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 5)  # 200.00 net + 25.00 fee
    _, form = await checkout_form(client)
    submitted = await client.post("/checkout", data=form, follow_redirects=False)
    assert submitted.status_code == 303
    order = await session.scalar(select(Order))
    assert order is not None and (order.delivery_fee, order.net_total, order.gross_total) == (
        Decimal("25.00"),
        Decimal("225.00"),
        Decimal("276.75"),
    )
    shown = text_of((await client.get(f"/orders/{order.id}")).text)
    assert "Delivery fee (net, 23 % VAT) PLN 25.00 Net total PLN 225.00" in shown

    await sign_in(client, "anna@seller.example")
    review = (await client.get(f"/queue/orders/{order.id}")).text
    fee = re.search(r'id="review-delivery-fee">(.*?)</tr>', review, re.S)
    assert fee is not None and text_of(fee.group(1)) == "Delivery fee (net, 23 % VAT) PLN 25.00 –"
    # the margin is the products': 200.00 − cost 5 × 6.00
    assert "Totals (gross PLN 276.75) PLN 225.00 PLN 170.00" in text_of(review)


async def test_an_automatic_approval_shows_in_the_timeline(
    client: AsyncTestClient, shop: dict, session: AsyncSession
) -> None:
    company = shop["company"]
    company.auto_approve, company.min_order_value = True, Decimal("0.00")
    await order_row(
        session,
        company,
        gross="50.00",
        buyer=shop["buyer"],
        status=OrderStatus.INVOICED,
        submitted_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    await session.commit()
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, 1)
    _, form = await checkout_form(client)
    submitted = await client.post("/checkout", data=form)
    assert submitted.status_code == 200
    text = text_of(submitted.text)
    assert "submitted and approved" in text
    assert "Approved · " in text and "the system: Approved automatically: no flags" in text


async def test_the_schedule_page_shows_a_moved_delivery(
    client: AsyncTestClient, shop: dict, session: AsyncSession
) -> None:
    plan = await make_schedule(
        session, shop["company"], [(shop["paper"], 5)], created_by=shop["buyer"], first=date(2026, 12, 7)
    )
    await session.commit()
    await sign_in(client, "nina@northwind.example")
    shown = text_of((await client.get(f"/schedules/{plan.id}")).text)
    # Mondays are not delivery days here: each Monday is delivered on Tuesday
    assert "Coming deliveries 8 Dec 2026 (moved from Mon 7 Dec) Skip 15 Dec 2026 (moved from Mon 14 Dec)" in shown
