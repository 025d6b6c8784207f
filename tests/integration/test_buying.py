"""Buying over HTTP: the cart with live fragments, quick order, checkout once per
key even under concurrent submissions, orders scoped to the company."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, Order, OrderStatus
from tests.conftest import backend
from tests.factories import csrf_from, make_company, make_product, make_user, sign_in, text_of


@pytest.fixture
async def shop(session: AsyncSession) -> dict:
    company = await make_company(session, name="Northwind Trading", credit_limit=Decimal("1000.00"))
    session.add(Address(company_id=company.id, label="HQ", street="ul. Prosta 1", postal_code="00-001",
                        city="Warszawa", is_default=True))
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    colleague = await make_user(session, company_id=company.id, email="tom@northwind.example")
    glasses = await make_product(session, sku="GLS-6", name="Wine glasses", pack_size=6, list_price=Decimal("10.0000"))
    paper = await make_product(session, sku="PAP-1", name="Copy paper", list_price=Decimal("300.0000"),
                               vat_rate=Decimal("8.00"))
    other = await make_company(session, name="Baltic Foods")
    stranger = await make_user(session, company_id=other.id, email="bart@baltic.example")
    await session.commit()
    return {"company": company, "buyer": buyer, "colleague": colleague, "glasses": glasses, "paper": paper,
            "other": other, "stranger": stranger}


async def add(client: AsyncTestClient, product_id: int, quantity: str, htmx: bool = False):  # type: ignore[no-untyped-def]
    page = await client.get("/catalog")
    headers = {"hx-request": "true"} if htmx else {}
    return await client.post("/cart/add", data={"product_id": str(product_id), "quantity": quantity, "next": "/catalog",
                                                "_csrf_token": csrf_from(page.text)}, headers=headers, follow_redirects=False)


async def checkout_form(client: AsyncTestClient) -> dict[str, str]:
    page = (await client.get("/checkout")).text
    return {
        "_csrf_token": csrf_from(page),
        "key": re.search(r'name="key" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "address_id": re.search(r'<option value="(\d+)" selected', page).group(1),  # type: ignore[union-attr]
        "delivery_date": re.search(r'name="delivery_date" type="date" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "po_number": "PO-42",
        "note": "",
    }


async def test_add_to_cart_from_the_catalog_with_and_without_htmx(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    refused = await add(client, shop["glasses"].id, "5", htmx=True)
    assert "Sold in packs of 6: 6?" in text_of(refused.text) and "<html" not in refused.text
    added = await add(client, shop["glasses"].id, "12", htmx=True)
    assert "Added 12 × Wine glasses to your cart." in text_of(added.text)
    plain = await add(client, shop["paper"].id, "1")
    assert (plain.status_code, plain.headers["location"]) == (303, "/catalog")
    cart = text_of((await client.get("/cart")).text)
    # 12 × 10.00 = 120.00 at 23 % → 27.60; 300.00 at 8 % → 24.00
    assert "Net total PLN 420.00" in cart and "VAT total PLN 51.60" in cart and "Gross total PLN 471.60" in cart


async def test_a_wrong_quantity_is_refused_next_to_its_line_and_nothing_changes(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "12")
    page = await client.get("/cart")
    fragment = await client.post(f"/cart/lines/{shop['glasses'].id}", data={"quantity": "15", "_csrf_token": csrf_from(page.text)},
                                 headers={"hx-request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'id="err-%d"' % shop["glasses"].id in fragment.text
    assert "Sold in packs of 6: 12 or 18?" in text_of(fragment.text)
    assert 'value="15"' in fragment.text  # what the buyer typed stays in the field
    plain = await client.post(f"/cart/lines/{shop['glasses'].id}", data={"quantity": "abc", "_csrf_token": csrf_from(page.text)})
    assert plain.status_code == 400 and "Enter the quantity as a whole number." in text_of(plain.text)
    assert "Net total PLN 120.00" in text_of((await client.get("/cart")).text)  # still 12

    updated = await client.post(f"/cart/lines/{shop['glasses'].id}", data={"quantity": "18", "_csrf_token": csrf_from(page.text)},
                                headers={"hx-request": "true"})
    assert "Net total PLN 180.00" in text_of(updated.text)


async def test_cart_warns_before_exceeding_credit(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, "4")  # 1200 net + 96 VAT = 1296 gross against 1000 available
    cart = text_of((await client.get("/cart")).text)
    assert ("This order exceeds your available credit by PLN 296.00. You can submit it; your account manager "
            "can approve it once credit is available.") in cart
    assert "After this order -PLN 296.00" in cart


async def test_quick_order_reports_rows_and_adds_only_valid_lines(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    page = await client.get("/cart/quick")
    report = await client.post("/cart/quick", files={"text": (None, "GLS-6\t12\nNOPE 3\nPAP-1;2\ngls-6 5")},
                               data={"_csrf_token": csrf_from(page.text)})
    text = text_of(report.text)
    assert "Unknown SKU." in text and "Together 17: Sold in packs of 6: 12 or 18?" in text
    assert 'data-line="2"' in report.text
    confirm = await client.post("/cart/quick/confirm", data={"text": "GLS-6\t12\nNOPE 3\nPAP-1;2\ngls-6 5",
                                                             "_csrf_token": csrf_from(report.text)}, follow_redirects=False)
    assert confirm.headers["location"] == "/cart"
    cart = (await client.get("/cart")).text
    assert "Added 1 lines to your cart. 3 lines with errors were left out." in text_of(cart)
    assert 'data-sku="PAP-1"' in cart and 'data-sku="GLS-6"' not in cart


async def test_quick_order_from_an_uploaded_excel_csv(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    page = await client.get("/cart/quick")
    content = "SKU;Ilość\r\nGLS-6;24\r\nPAP-1;1,00\r\n".encode("cp1250")
    report = await client.post("/cart/quick", files={"file": ("order.csv", content, "text/csv")},
                               data={"_csrf_token": csrf_from(page.text)})
    assert "Add 2 valid lines to the cart" in text_of(report.text)


async def test_checkout_submits_once_and_lands_on_the_order(client: AsyncTestClient, session: AsyncSession, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    form = await checkout_form(client)
    first = await client.post("/checkout", data=form, follow_redirects=False)
    again = await client.post("/checkout", data=form, follow_redirects=False)
    assert first.headers["location"] == again.headers["location"]
    page = text_of((await client.get(first.headers["location"])).text)
    assert "Order ORD-" in page and "Waiting for approval" in page and "Waiting for your account manager." in page
    assert "PO-42" in page
    assert await session.scalar(select(func.count()).select_from(Order)) == 1


async def test_checkout_errors_are_shown_by_the_fields_and_the_cart_is_kept(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    form = await checkout_form(client)
    response = await client.post("/checkout", data={**form, "delivery_date": "2020-01-01", "note": "keep me"})
    assert response.status_code == 400
    assert 'id="delivery_date-error"' in response.text and "The earliest delivery date is" in text_of(response.text)
    assert ">keep me</textarea>" in response.text
    assert 'data-sku="GLS-6"' in (await client.get("/cart")).text


async def test_held_company_sees_why_it_cannot_submit(client: AsyncTestClient, session: AsyncSession, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    form = await checkout_form(client)
    company = shop["company"]
    company.on_hold, company.hold_reason = True, "Cheque returned"
    session.add(company)
    await session.commit()
    page = await client.get("/checkout")
    assert "Your account is on hold, so orders cannot be submitted. Reason: Cheque returned" in text_of(page.text)
    assert 'id="checkout-form"' not in page.text
    refused = await client.post("/checkout", data=form)
    assert refused.status_code == 400
    assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_concurrent_submissions_of_one_cart_make_one_order(client: AsyncTestClient, session: AsyncSession, shop: dict) -> None:
    if backend() != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them by design")
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    first_tab = await checkout_form(client)
    second_tab = await checkout_form(client)
    assert first_tab["key"] == second_tab["key"]

    responses = await asyncio.gather(*[
        client.post("/checkout", data=form, follow_redirects=False) for form in [first_tab, second_tab] * 4
    ])

    assert {response.status_code for response in responses} == {303}
    assert len({response.headers["location"] for response in responses}) == 1
    assert await session.scalar(select(func.count()).select_from(Order)) == 1


async def test_buyers_of_one_company_share_its_orders_but_not_carts(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    location = (await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)).headers["location"]
    client.cookies.clear()
    await sign_in(client, "tom@northwind.example")
    assert (await client.get(location)).status_code == 200
    assert "Your cart is empty." in text_of((await client.get("/cart")).text)


async def test_another_companys_order_does_not_exist_for_any_url(client: AsyncTestClient, session: AsyncSession, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    location = (await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)).headers["location"]
    order_id = int(location.rsplit("/", 1)[1])
    client.cookies.clear()
    await sign_in(client, "bart@baltic.example")
    token = csrf_from((await client.get("/orders")).text)
    assert location not in (await client.get("/orders")).text
    for method, path in [("get", f"/orders/{order_id}"), ("get", f"/orders/{order_id}/reorder"),
                         ("post", f"/orders/{order_id}/reorder"), ("post", f"/orders/{order_id}/cancel")]:
        if method == "get":
            response = await client.get(path)
        else:
            response = await client.post(path, data={"_csrf_token": token})
        assert response.status_code == 404, path
    assert (await session.get(Order, order_id)).status is OrderStatus.PENDING_APPROVAL  # type: ignore[union-attr]


async def test_cart_and_order_posts_need_the_csrf_token(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    for path in ["/cart/add", f"/cart/lines/{shop['glasses'].id}", f"/cart/lines/{shop['glasses'].id}/remove",
                 "/cart/quick/confirm", "/checkout", "/orders/1/cancel", "/orders/1/reorder"]:
        assert (await client.post(path, data={"quantity": "6"})).status_code == 403, path


async def test_staff_have_no_cart(client: AsyncTestClient, session: AsyncSession) -> None:
    from portal.models import Role

    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    await session.commit()
    await sign_in(client, manager.email)
    for path in ["/cart", "/checkout", "/orders", "/cart/quick"]:
        assert (await client.get(path)).status_code == 403, path


async def test_cancel_and_reorder(client: AsyncTestClient, session: AsyncSession, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    location = (await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)).headers["location"]
    page = await client.get(location)
    cancelled = await client.post(f"{location}/cancel", data={"reason": "Ordered twice", "_csrf_token": csrf_from(page.text)})
    text = text_of(cancelled.text)
    assert "Cancelled" in text and "Ordered twice" in text
    again = await client.post(f"{location}/cancel", data={"reason": "", "_csrf_token": csrf_from(page.text)})
    assert "Nothing was changed: this order was already cancelled by" in text_of(again.text)

    shop["glasses"].list_price = Decimal("12.0000")
    session.add(shop["glasses"])
    await session.commit()
    preview = text_of((await client.get(f"{location}/reorder")).text)
    assert "PLN 10.00 PLN 12.00 Price changed" in preview
    done = await client.post(f"{location}/reorder", data={"_csrf_token": csrf_from(page.text)})
    assert "Added 1 lines to your cart at today's prices. 1 of them changed price since the order." in text_of(done.text)
