"""What a buyer reads around the figures: the statement CSV with its totals, terms and credit
picture; every CSV download for an English or a Polish Excel; stock in the cart and at checkout,
refused beyond stock where a company takes no backorders; the prices and an over-limit warning on
the buyer's home; cancelling an order and deleting a schedule only after a confirmation."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, AuditEntry, CartLine, Company, Order, OrderStatus, Product, Role
from tests.conftest import Clock
from tests.factories import (
    add_list_price,
    csrf_from,
    make_company,
    make_invoice,
    make_order,
    make_price_list,
    make_product,
    make_schedule,
    make_user,
    sign_in,
    text_of,
)
from tests.integration.test_buying import add, checkout_form
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's day under `frozen_clock`."""


def rows_of(body: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))


def labelled(rows: list[list[str]]) -> dict[str, list[str]]:
    """The rows after the invoices (and the empty row between), by their label."""
    return {row[0]: row[1:] for row in rows[rows.index([]) + 1 :]}


@pytest.fixture
async def account(session: AsyncSession, frozen_clock: Clock) -> dict[str, Any]:
    """A buyer's company with an open invoice, an overdue one, a paid one and an order waiting for approval."""
    company = await make_company(session, name="Hotel Baltic", credit_limit=Decimal("10000.00"))
    buyer = await make_user(session, company_id=company.id, email="nina@baltic.example")
    await make_invoice(session, company, gross="1234.50", due=date(2026, 12, 20))
    await make_invoice(session, company, gross="80.00", due=date(2026, 11, 20))
    await make_invoice(session, company, gross="500.00", paid="500.00", due=date(2026, 11, 1))
    await make_order(session, company, gross="200.00", buyer=buyer)
    await session.commit()
    return {"company": company, "buyer": buyer}


# --- the statement CSV ---------------------------------------------------------------------------


async def test_the_statement_csv_ends_with_the_totals_the_terms_and_the_credit_picture(
    client: AsyncTestClient, account: dict
) -> None:
    await sign_in(client, "nina@baltic.example")
    rows = rows_of((await client.get("/statement.csv")).content)

    assert rows[0][0] == "Invoice" and len(rows[1 : rows.index([])]) == 3
    summary = labelled(rows)
    assert summary["Total invoiced"] == ["1814.50", "PLN"]
    assert summary["Total paid"] == ["500.00", "PLN"]
    assert summary["Balance"] == ["1314.50", "PLN"]
    assert summary["Overdue"] == ["80.00", "PLN"]
    assert summary["Payment terms"] == ["30 days"]
    assert summary["Credit limit"] == ["10000.00", "PLN"]
    assert summary["Exposure (credit used)"] == ["1514.50", "PLN"]  # open invoices and the pending order
    assert summary["Available credit"] == ["8485.50", "PLN"]
    # the figures are the page's figures
    page = text_of((await client.get("/statement")).text)
    assert "Exposure PLN 1,514.50" in page and "Available credit PLN 8,485.50" in page


async def test_a_polish_excel_gets_semicolons_and_decimal_commas(client: AsyncTestClient, account: dict) -> None:
    await sign_in(client, "nina@baltic.example")
    polish = (await client.get("/statement.csv?format=excel_pl")).content.decode("utf-8-sig")
    english = (await client.get("/statement.csv?format=excel")).content.decode("utf-8-sig")

    assert ";1234,50;" in polish and "1234.50" not in polish
    assert polish.splitlines()[0] == "Invoice;Issued;Due;Currency;Gross;Paid;Balance;Days overdue;Order"
    assert labelled(rows_of(polish.encode(), ";"))["Available credit"] == ["8485,50", "PLN"]
    assert ",1234.50," in english and ";" not in english
    for odd in ("xlsx", "", "%00", "excel&format=excel_pl", "EXCEL_PL"):
        assert (await client.get(f"/statement.csv?format={odd}")).status_code < 500, odd
    assert (await client.get("/statement.csv?format=xlsx")).status_code == 400


async def test_without_a_choice_the_download_follows_the_readers_language(
    client: AsyncTestClient, account: dict
) -> None:
    await sign_in(client, "nina@baltic.example")
    polish = (await client.get("/statement.csv", headers={"Accept-Language": "pl"})).content.decode("utf-8-sig")
    english = (await client.get("/statement.csv", headers={"Accept-Language": "en"})).content.decode("utf-8-sig")
    chosen = await client.get("/statement.csv?format=excel", headers={"Accept-Language": "pl"})

    assert polish.splitlines()[0].count(";") == 8 and ";1234,50;" in polish
    assert english.splitlines()[0].count(",") == 8 and ",1234.50," in english
    assert ",1234.50," in chosen.content.decode("utf-8-sig")  # the reader's choice wins


async def test_every_csv_download_comes_in_both_flavours_and_the_pages_offer_both(
    client: AsyncTestClient, session: AsyncSession, account: dict
) -> None:
    await make_product(session, sku="TWL-1", name="Towel", list_price=Decimal("12.5000"))
    finance = await make_user(session, Role.FINANCE, email="fiona@seller.example")
    await session.commit()

    await sign_in(client, "nina@baltic.example")
    for page, download, number in [
        ("/statement", "/statement.csv", "1234"),
        ("/catalog", "/catalog/price-list.csv", "12"),
    ]:
        html = (await client.get(page)).text
        assert f"{download}?format=excel" in html and f"{download}?format=excel_pl" in html, page
        polish = (await client.get(f"{download}?format=excel_pl")).content.decode("utf-8-sig")
        assert f";{number}," in polish and ";" in polish.splitlines()[0], download
        assert "," not in polish.splitlines()[0], download

    client.cookies.clear()
    await sign_in(client, finance.email)
    html = (await client.get("/finance/ageing")).text
    assert "/finance/ageing.csv?format=excel_pl" in html and "/finance/ageing.csv?format=excel" in html
    ageing = await client.get("/finance/ageing.csv", headers={"Accept-Language": "pl"})
    assert ";80,00;" in ageing.content.decode("utf-8-sig")
    english = (await client.get("/finance/ageing.csv?format=excel")).content.decode("utf-8-sig")
    assert ",80.00," in english


# --- stock in the cart and at checkout -------------------------------------------------------------


@pytest.fixture
async def shop(session: AsyncSession) -> dict[str, Any]:
    company = await make_company(session, name="Bistro Mewa", allow_backorders=False)
    session.add(
        Address(
            company_id=company.id, label="HQ", street="Długa 1", postal_code="00-001", city="Gdańsk", is_default=True
        )
    )
    await make_user(session, company_id=company.id, email="tom@mewa.example")
    towels = await make_product(session, sku="TWL-1", name="Towels", stock=20)
    soap = await make_product(session, sku="SOP-1", name="Soap", stock=0)
    cups = await make_product(session, sku="CUP-1", name="Cups", stock=8)
    await session.commit()
    return {"company": company, "towels": towels, "soap": soap, "cups": cups}


async def cart_quantity(session: AsyncSession, product: Product) -> int | None:
    return await session.scalar(select(CartLine.quantity).where(CartLine.product_id == product.id))


async def test_the_cart_shows_each_lines_stock(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "tom@mewa.example")
    for product, quantity in ((shop["towels"], "12"), (shop["soap"], "1"), (shop["cups"], "3")):
        await add(client, product.id, quantity)
    page = await client.get("/cart")

    rows = {sku: text_of(row) for sku, row in re.findall(r'<tr data-sku="([^"]+)"(.*?)</tr>', page.text, re.S)}
    assert "In stock" in rows["TWL-1"] and "Out of stock" in rows["SOP-1"] and "Low stock" in rows["CUP-1"]
    assert "Out of stock: remove this line to submit the order." in rows["SOP-1"]
    assert "Only" not in rows["TWL-1"] and "Only" not in rows["CUP-1"]  # the stock covers them


async def test_beyond_stock_without_backorders_is_refused_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "tom@mewa.example")
    await add(client, shop["towels"].id, "15")
    form = await checkout_form(client)  # 20 in stock when the form was made
    await session.execute(update(Product).where(Product.id == shop["towels"].id).values(stock=12))
    await session.commit()  # the ERP reports less before the buyer submits

    refused = await client.post("/checkout", data=form)

    assert refused.status_code == 400
    text = text_of(refused.text)
    assert "Only 12 in stock: order at most 12 to submit the order." in text
    assert "Some lines ask for more than is in stock." in text
    assert 'value="PO-42"' in refused.text  # what was typed stays
    assert await session.scalar(select(func.count()).select_from(Order)) == 0
    assert await cart_quantity(session, shop["towels"]) == 15
    cart = text_of((await client.get("/cart")).text)
    assert "Only 12 in stock: order at most 12 to submit the order." in cart


async def test_beyond_stock_with_backorders_is_ordered_and_the_rest_comes_later(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await session.execute(update(Company).where(Company.id == shop["company"].id).values(allow_backorders=True))
    await session.commit()
    await sign_in(client, "tom@mewa.example")
    await add(client, shop["towels"].id, "25")
    await add(client, shop["soap"].id, "2")

    cart = text_of((await client.get("/cart")).text)
    assert "Only 20 in stock: the rest is delivered later." in cart
    assert "Out of stock: it is delivered when it comes in." in cart
    checkout = text_of((await client.get("/checkout")).text)
    assert "Only 20 in stock: the rest is delivered later." in checkout

    submitted = await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)
    assert submitted.status_code == 303
    order = await session.scalar(select(Order))
    assert order is not None and order.status is OrderStatus.PENDING_APPROVAL
    assert await cart_quantity(session, shop["towels"]) is None


async def test_the_cart_costs_the_same_queries_for_2_and_8_lines(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "tom@mewa.example")

    async def statements_for(lines: int) -> int:
        for number in range(lines):
            product = await make_product(session, stock=number)  # out, low and in stock
            await session.commit()
            await add(client, product.id, "5")
        with counted_statements(client.app) as statements:
            for path in ("/cart", "/checkout"):
                assert (await client.get(path)).status_code == 200
        return len(statements)

    assert await statements_for(2) == await statements_for(6)


async def test_the_admin_sets_backorders_and_the_change_is_audited(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await make_user(session, Role.ADMIN, email="ada@seller.example")
    await session.commit()
    company = shop["company"]
    await sign_in(client, "ada@seller.example")
    form = await client.get(f"/admin/companies/{company.id}/edit")
    assert 'name="allow_backorders" value="1" >' in form.text  # shown unticked: this company takes none

    sent = {"name": company.name, "tax_id": company.tax_id, "payment_terms_days": "30", "currency": "PLN"}
    sent |= {f"weekday_{day}": "1" for day in "12345"} | {"allow_backorders": "1", "_csrf_token": csrf_from(form.text)}
    saved = await client.post(f"/admin/companies/{company.id}/edit", data=sent)
    assert saved.status_code == 200 and "may be ordered, delivered later" in text_of(saved.text)
    await session.refresh(company)
    assert company.allow_backorders
    entry = await session.scalar(select(AuditEntry))
    assert entry is not None and entry.changes == {"allow_backorders": ["no", "yes"]}


# --- the buyer's home ------------------------------------------------------------------------------


async def test_the_buyers_home_shows_the_price_terms_and_warns_over_the_limit(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    hotels = await make_price_list(session, name="Hotels 2026")
    await add_list_price(session, hotels, await make_product(session), "9.00")
    company = await make_company(
        session, credit_limit=Decimal("1000.00"), price_list_id=hotels.id, general_discount_pct=Decimal("5.00")
    )
    await make_user(session, company_id=company.id, email="ola@hotel.example")
    await make_invoice(session, company, gross="1250.00", due=date(2026, 12, 15))
    await session.commit()
    await sign_in(client, "ola@hotel.example")

    page = await client.get("/dashboard")

    text = text_of(page.text)
    assert "Prices: price list Hotels 2026 · 5 % discount on list prices" in text
    banner = re.search(r'<div[^>]*id="over-limit-banner"[^>]*>(.*?)</div>', page.text, re.S)
    assert banner is not None and 'role="alert"' in banner.group(0)
    assert "Your account is PLN 250.00 over its credit limit." in text_of(banner.group(1))
    assert "new orders wait for approval" in text_of(banner.group(1))

    await session.execute(update(Company).where(Company.id == company.id).values(credit_limit=Decimal("5000.00")))
    await session.commit()
    calm = await client.get("/dashboard")
    assert "over-limit-banner" not in calm.text


async def test_a_buyer_without_a_price_list_reads_list_prices(client: AsyncTestClient, session: AsyncSession) -> None:
    company = await make_company(session)
    await make_user(session, company_id=company.id, email="jan@shop.example")
    await session.commit()
    await sign_in(client, "jan@shop.example")
    text = text_of((await client.get("/dashboard")).text)
    assert "Prices: list prices" in text and "discount" not in text


# --- confirmations ---------------------------------------------------------------------------------


def disclosure(html: str, element_id: str) -> str:
    """The closed <details> element of that id, with everything in it."""
    match = re.search(rf'<details[^>]*id="{element_id}"[^>]*>.*?</details>', html, re.S)
    assert match is not None, element_id
    assert " open" not in match.group(0).split(">", 1)[0], "it starts closed"
    return match.group(0)


async def test_cancelling_an_order_waits_behind_a_confirmation(
    client: AsyncTestClient, session: AsyncSession, account: dict
) -> None:
    order = await session.scalar(select(Order))
    assert order is not None
    await sign_in(client, "nina@baltic.example")
    page = await client.get(f"/orders/{order.id}")

    confirm = disclosure(page.text, "cancel-order")
    assert re.search(r"<summary>\s*Cancel order\s*</summary>", confirm)
    assert 'id="cancel-form"' in confirm and page.text.count('id="cancel-form"') == 1
    assert f"Yes, cancel order {order.number}" in text_of(confirm)
    assert not re.search(r"<script(?![^>]*\bsrc=)|\son\w+=", page.text)  # no inline script (strict CSP)

    cancelled = await client.post(
        f"/orders/{order.id}/cancel", data={"reason": "", "_csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    await session.refresh(order)
    assert order.status is OrderStatus.CANCELLED
    assert 'id="cancel-order"' not in (await client.get(f"/orders/{order.id}")).text


async def test_deleting_a_schedule_waits_behind_a_confirmation(
    client: AsyncTestClient, session: AsyncSession, account: dict
) -> None:
    schedule = await make_schedule(
        session,
        account["company"],
        [(await make_product(session), 2)],
        first=date(2026, 12, 7),
        created_by=account["buyer"],
    )
    await session.commit()
    await sign_in(client, "nina@baltic.example")
    page = await client.get(f"/schedules/{schedule.id}")

    confirm = disclosure(page.text, "delete-schedule")
    assert f'action="/schedules/{schedule.id}/delete"' in confirm
    assert page.text.count(f'action="/schedules/{schedule.id}/delete"') == 1
    assert "Yes, delete this schedule" in text_of(confirm) and "cannot be undone" in text_of(confirm)
