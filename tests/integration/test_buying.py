"""Buying over HTTP: the cart with live fragments, quick order, checkout once per
key even under concurrent submissions, orders scoped to the company."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, CartLine, Order, OrderStatus
from portal.services import cart as carts
from portal.services import transactions
from tests.conftest import backend
from tests.factories import csrf_from, make_company, make_product, make_user, sign_in, text_of


@pytest.fixture
async def shop(session: AsyncSession) -> dict:
    company = await make_company(session, name="Northwind Trading", credit_limit=Decimal("1000.00"))
    session.add(
        Address(
            company_id=company.id,
            label="HQ",
            street="ul. Prosta 1",
            postal_code="00-001",
            city="Warszawa",
            is_default=True,
        )
    )
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    colleague = await make_user(session, company_id=company.id, email="tom@northwind.example")
    glasses = await make_product(session, sku="GLS-6", name="Wine glasses", pack_size=6, list_price=Decimal("10.0000"))
    paper = await make_product(
        session, sku="PAP-1", name="Copy paper", list_price=Decimal("300.0000"), vat_rate=Decimal("8.00")
    )
    other = await make_company(session, name="Baltic Foods")
    stranger = await make_user(session, company_id=other.id, email="bart@baltic.example")
    await session.commit()
    return {
        "company": company,
        "buyer": buyer,
        "colleague": colleague,
        "glasses": glasses,
        "paper": paper,
        "other": other,
        "stranger": stranger,
    }


async def add(client: AsyncTestClient, product_id: int, quantity: str, htmx: bool = False):  # type: ignore[no-untyped-def]
    page = await client.get("/catalog")
    headers = {"hx-request": "true"} if htmx else {}
    return await client.post(
        "/cart/add",
        data={
            "product_id": str(product_id),
            "quantity": quantity,
            "next": "/catalog",
            "_csrf_token": csrf_from(page.text),
        },
        headers=headers,
        follow_redirects=False,
    )


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


async def test_a_wrong_quantity_is_refused_next_to_its_line_and_nothing_changes(
    client: AsyncTestClient, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "12")
    page = await client.get("/cart")
    fragment = await client.post(
        f"/cart/lines/{shop['glasses'].id}",
        data={"quantity": "15", "_csrf_token": csrf_from(page.text)},
        headers={"hx-request": "true"},
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'id="err-{shop["glasses"].id}"' in fragment.text
    assert "Sold in packs of 6: 12 or 18?" in text_of(fragment.text)
    assert 'value="15"' in fragment.text  # what the buyer typed stays in the field
    plain = await client.post(
        f"/cart/lines/{shop['glasses'].id}", data={"quantity": "abc", "_csrf_token": csrf_from(page.text)}
    )
    assert plain.status_code == 400 and "Enter a whole number, in digits 0–9." in text_of(plain.text)
    assert 'value="abc"' in plain.text
    assert "Net total PLN 120.00" in text_of((await client.get("/cart")).text)  # still 12

    updated = await client.post(
        f"/cart/lines/{shop['glasses'].id}",
        data={"quantity": "18", "_csrf_token": csrf_from(page.text)},
        headers={"hx-request": "true"},
    )
    assert "Net total PLN 180.00" in text_of(updated.text)


async def test_cart_warns_before_exceeding_credit(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["paper"].id, "4")  # 1200 net + 96 VAT = 1296 gross against 1000 available
    cart = text_of((await client.get("/cart")).text)
    assert (
        "This order exceeds your available credit by PLN 296.00. You can submit it; your account manager "
        "can approve it once credit is available."
    ) in cart
    assert "After this order -PLN 296.00" in cart


async def test_quick_order_reports_rows_and_adds_only_valid_lines(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    page = await client.get("/cart/quick")
    report = await client.post(
        "/cart/quick",
        files={"text": (None, "GLS-6\t12\nNOPE 3\nPAP-1;2\ngls-6 5")},
        data={"_csrf_token": csrf_from(page.text)},
    )
    text = text_of(report.text)
    assert "Unknown SKU." in text and "Together 17: Sold in packs of 6: 12 or 18?" in text
    assert 'data-line="2"' in report.text
    confirm = await client.post(
        "/cart/quick/confirm",
        data={"text": "GLS-6\t12\nNOPE 3\nPAP-1;2\ngls-6 5", "_csrf_token": csrf_from(report.text)},
        follow_redirects=False,
    )
    assert confirm.headers["location"] == "/cart"
    cart = (await client.get("/cart")).text
    assert "Added 1 line to your cart. 3 lines with errors were left out." in text_of(cart)
    assert 'data-sku="PAP-1"' in cart and 'data-sku="GLS-6"' not in cart


async def test_quick_order_from_an_uploaded_excel_csv(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    page = await client.get("/cart/quick")
    content = "SKU;Ilość\r\nGLS-6;24\r\nPAP-1;1,00\r\n".encode("cp1250")
    report = await client.post(
        "/cart/quick", files={"file": ("order.csv", content, "text/csv")}, data={"_csrf_token": csrf_from(page.text)}
    )
    assert "Add 2 valid lines to the cart" in text_of(report.text)


async def test_checkout_submits_once_and_lands_on_the_order(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
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


async def test_checkout_errors_are_shown_by_the_fields_and_the_cart_is_kept(
    client: AsyncTestClient, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    form = await checkout_form(client)
    response = await client.post("/checkout", data={**form, "delivery_date": "2020-01-01", "note": "keep me"})
    assert response.status_code == 400
    assert 'id="delivery_date-error"' in response.text and "The earliest delivery date is" in text_of(response.text)
    assert ">keep me</textarea>" in response.text
    assert 'data-sku="GLS-6"' in (await client.get("/cart")).text


async def test_held_company_sees_why_it_cannot_submit(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
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


async def test_concurrent_submissions_of_one_cart_make_one_order(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    if backend() != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them by design")
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    first_tab = await checkout_form(client)
    second_tab = await checkout_form(client)
    assert first_tab["key"] == second_tab["key"]

    responses = await asyncio.gather(
        *[client.post("/checkout", data=form, follow_redirects=False) for form in [first_tab, second_tab] * 4]
    )

    assert {response.status_code for response in responses} == {303}
    assert len({response.headers["location"] for response in responses}) == 1
    assert await session.scalar(select(func.count()).select_from(Order)) == 1


async def test_buyers_of_one_company_share_its_orders_but_not_carts(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    location = (await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)).headers[
        "location"
    ]
    client.cookies.clear()
    await sign_in(client, "tom@northwind.example")
    assert (await client.get(location)).status_code == 200
    assert "Your cart is empty." in text_of((await client.get("/cart")).text)


async def test_another_companys_order_does_not_exist_for_any_url(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    location = (await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)).headers[
        "location"
    ]
    order_id = int(location.rsplit("/", 1)[1])
    client.cookies.clear()
    await sign_in(client, "bart@baltic.example")
    token = csrf_from((await client.get("/orders")).text)
    assert location not in (await client.get("/orders")).text
    for method, path in [
        ("get", f"/orders/{order_id}"),
        ("get", f"/orders/{order_id}/reorder"),
        ("post", f"/orders/{order_id}/reorder"),
        ("post", f"/orders/{order_id}/cancel"),
    ]:
        if method == "get":
            response = await client.get(path)
        else:
            response = await client.post(path, data={"_csrf_token": token})
        assert response.status_code == 404, path
    assert (await session.get(Order, order_id)).status is OrderStatus.PENDING_APPROVAL  # type: ignore[union-attr]


async def test_cart_and_order_posts_need_the_csrf_token(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    for path in [
        "/cart/add",
        f"/cart/lines/{shop['glasses'].id}",
        f"/cart/lines/{shop['glasses'].id}/remove",
        "/cart/quick/confirm",
        "/checkout",
        "/orders/1/cancel",
        "/orders/1/reorder",
    ]:
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
    location = (await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)).headers[
        "location"
    ]
    page = await client.get(location)
    cancelled = await client.post(
        f"{location}/cancel", data={"reason": "Ordered twice", "_csrf_token": csrf_from(page.text)}
    )
    text = text_of(cancelled.text)
    assert "Cancelled" in text and "Ordered twice" in text
    again = await client.post(f"{location}/cancel", data={"reason": "", "_csrf_token": csrf_from(page.text)})
    assert again.status_code == 409 and 'id="order-notice"' in again.text
    assert "Nothing was changed: this order was already set to “Cancelled” by" in text_of(again.text)

    shop["glasses"].list_price = Decimal("12.0000")
    session.add(shop["glasses"])
    await session.commit()
    preview = text_of((await client.get(f"{location}/reorder")).text)
    assert "PLN 10.00 PLN 12.00 Price changed" in preview
    done = await client.post(f"{location}/reorder", data={"_csrf_token": csrf_from(page.text)})
    assert "Added 1 line to your cart at today's prices. 1 of them changed price since the order." in text_of(done.text)


def field_error(html: str, field: str) -> str:
    """The message shown next to a field, or "" when there is none."""
    match = re.search(rf'<p class="field-error[^"]*"[^>]*id="{re.escape(field)}-error"[^>]*>([^<]*)</p>', html)
    return match.group(1) if match else ""


async def cart_lines(session: AsyncSession) -> list[tuple[int, int]]:
    session.expire_all()
    return [(line.product_id, line.quantity) for line in await session.scalars(select(CartLine))]


async def test_a_refused_line_quantity_is_shown_next_to_the_line_as_typed(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    glasses = shop["glasses"].id
    await add(client, glasses, "12")
    token = csrf_from((await client.get("/cart")).text)
    for typed, message in [
        ("１２３", "Enter a whole number, in digits 0–9."),
        ("²", "Enter a whole number, in digits 0–9."),
        ("0", "Enter a quantity of at least 6."),
        ("-6", "Enter at least 0."),
        ("99999999999", "Enter at most 1,000,000."),
        ("6\x00", "Enter a whole number, in digits 0–9."),
    ]:
        response = await client.post(f"/cart/lines/{glasses}", data={"quantity": typed, "_csrf_token": token})
        assert response.status_code == 400, typed
        assert re.search(rf'id="err-{glasses}" role="alert">{re.escape(message)}<', response.text), typed
        assert f'aria-describedby="err-{glasses}"' in response.text
    kept = await client.post(f"/cart/lines/{glasses}", data={"quantity": "１２３", "_csrf_token": token})
    assert 'value="１２３"' in kept.text
    missing = await client.post(f"/cart/lines/{shop['paper'].id}", data={"quantity": "1", "_csrf_token": token})
    assert missing.status_code == 400 and "This product is no longer in your cart." in text_of(missing.text)
    assert await cart_lines(session) == [(glasses, 12)]  # nothing changed
    for path in ["/cart/lines/0", "/cart/lines/99999999999", "/cart/lines/-1/remove"]:
        assert (await client.post(path, data={"quantity": "6", "_csrf_token": token})).status_code == 404, path


async def test_a_refused_add_to_cart_is_said_by_the_row_and_nothing_is_added(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    token = csrf_from((await client.get("/catalog")).text)

    async def post(htmx: bool, **values: str):  # type: ignore[no-untyped-def]
        data = {
            "product_id": str(shop["glasses"].id),
            "quantity": "6",
            "next": "/catalog?q=GLS",
            **values,
            "_csrf_token": token,
        }
        return await client.post(
            "/cart/add", data=data, headers={"hx-request": "true"} if htmx else {}, follow_redirects=False
        )

    fragment = await post(True, quantity="²")
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert text_of(fragment.text) == "Enter a whole number, in digits 0–9."
    gone = await post(True, product_id="99999999999")
    assert text_of(gone.text) == "This product is not sold any more."
    plain = await post(False, quantity="0")
    assert (plain.status_code, plain.headers["location"]) == (303, "/catalog?q=GLS")
    assert "Enter at least 1." in text_of((await client.get("/catalog?q=GLS")).text)
    away = await post(False, quantity="0", next="https://evil.example/")
    assert away.headers["location"] == "/catalog"
    assert await cart_lines(session) == []


async def test_refused_checkout_fields_answer_400_next_to_each_field_and_keep_what_was_typed(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    form = await checkout_form(client)
    cases = [
        ("po_number", "P" * 51, "Use at most 50 characters."),
        ("po_number", "PO\x001", "This text contains a character that cannot be saved."),
        ("delivery_date", "9999-12-31", "Enter a date between 2000 and 2100."),
        ("delivery_date", "2026-02-30", "This day does not exist."),
        ("delivery_date", "", "This field is required."),
        ("address_id", "１", "Enter a whole number, in digits 0–9."),
        ("address_id", "99999999999", "Enter at most 2,147,483,647."),
        ("note", "n" * 2001, "Use at most 2,000 characters."),
    ]
    for name, typed, message in cases:
        response = await client.post(
            "/checkout",
            data={**form, name: typed, "note": form["note"] or "Leave at gate"}
            if name != "note"
            else {**form, name: typed},
        )
        assert response.status_code == 400, (name, typed)
        assert field_error(response.text, name) == message, (name, typed)
        assert f'aria-describedby="{name}-error"' in response.text
        if name != "note":
            assert ">Leave at gate</textarea>" in response.text  # the other fields as typed
    long_po = await client.post("/checkout", data={**form, "po_number": "P" * 51})
    assert 'value="' + "P" * 51 + '"' in long_po.text
    assert await session.scalar(select(func.count()).select_from(Order)) == 0
    assert len(await cart_lines(session)) == 1


async def test_an_out_of_date_checkout_form_shows_the_cart_as_it_is_now(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    form = await checkout_form(client)
    forged = await client.post("/checkout", data={**form, "key": "../../etc"})
    assert forged.status_code == 400
    assert "This checkout form is out of date. Please review your cart and submit again." in text_of(forged.text)
    assert f'name="key" value="{form["key"]}"' in forged.text

    await add(client, shop["paper"].id, "1")  # another tab changes the cart
    stale = await client.post("/checkout", data={**form, "po_number": "PO-stale"})
    assert stale.status_code == 409
    assert "Your cart changed since this form was opened." in text_of(stale.text)
    assert 'data-sku="PAP-1"' not in stale.text and "PAP-1" in text_of(stale.text)  # the new line is shown
    assert f'name="key" value="{form["key"]}"' not in stale.text and 'value="PO-stale"' in stale.text
    assert await session.scalar(select(func.count()).select_from(Order)) == 0
    fresh = await checkout_form(client)
    assert (await client.post("/checkout", data=fresh, follow_redirects=False)).status_code == 303


async def test_quick_order_states_its_limits_and_refuses_more_by_the_field(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    page = await client.get("/cart/quick")
    assert "Up to 5,000 lines at a time; a file of at most 2 MB. More is refused, never cut." in text_of(page.text)
    token = csrf_from(page.text)
    many = "GLS-6;6\n" * 5001
    refused = await client.post("/cart/quick", files={"text": (None, many)}, data={"_csrf_token": token})
    assert refused.status_code == 400
    assert field_error(refused.text, "text") == (
        "A quick order takes at most 5,000 lines; this one has 5,001. Split it and check each part."
    )
    assert refused.text.count("GLS-6;6") == 5001  # what was pasted stays in the field
    big = await client.post(
        "/cart/quick",
        files={"file": ("big.csv", b"GLS-6;6\n" + b" " * 2_000_000, "text/csv")},
        data={"_csrf_token": token},
    )
    assert big.status_code == 400
    assert field_error(big.text, "file") == "This file is larger than 2 MB. Split it into smaller files."
    confirm = await client.post("/cart/quick/confirm", files={"text": (None, many)}, data={"_csrf_token": token})
    assert confirm.status_code == 400 and field_error(confirm.text, "text").startswith("A quick order takes at most")
    assert await cart_lines(session) == []

    fine = await client.post("/cart/quick", files={"text": (None, "GLS-6;6\n" * 5000)}, data={"_csrf_token": token})
    assert fine.status_code == 200 and fine.text.count('data-line="') == 5000


@pytest.mark.parametrize(
    "content",
    [
        b";;;;\n;;;\n",
        b",,,\n1,2,3\n",
        b"sku;quantity\rGLS-6;6\rPAP-1;1\r",
        b'sku,quantity\n"' + b"x" * 140_000 + b"\n",
        b"sku,quantity\nGLS\x00-6,6\n",
        b"\x00\x00\x00",
        b"",
        b"\xff\xfe\x00s\x00k\x00u",
        "sku;quantity\nGLS-6;１２３\n".encode(),
        b"\n\n\n",
        b"GLS-6;\xb2\n",
    ],
)
async def test_odd_quick_order_files_are_reported_line_by_line(
    client: AsyncTestClient, shop: dict, content: bytes
) -> None:
    await sign_in(client, "nina@northwind.example")
    token = csrf_from((await client.get("/cart/quick")).text)
    response = await client.post(
        "/cart/quick", files={"file": ("odd.csv", content, "text/csv")}, data={"_csrf_token": token}
    )
    assert response.status_code == 200
    if content.startswith(b"sku;quantity\r"):
        assert "Add 2 valid lines to the cart" in text_of(response.text)
    if b"\x00-6" in content:
        assert "This line contains a character that cannot be read." in text_of(response.text)


async def test_a_refused_cancel_keeps_the_reason_and_the_order(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    await add(client, shop["glasses"].id, "6")
    location = (await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)).headers[
        "location"
    ]
    token = csrf_from((await client.get(location)).text)
    response = await client.post(f"{location}/cancel", data={"reason": "r" * 2001, "_csrf_token": token})
    assert response.status_code == 400 and field_error(response.text, "reason") == "Use at most 2,000 characters."
    assert 'value="' + "r" * 2001 + '"' in response.text
    session.expire_all()
    assert (await session.scalar(select(Order))).status is OrderStatus.PENDING_APPROVAL  # type: ignore[union-attr]


async def test_the_order_list_takes_typed_filters_and_says_what_is_wrong_with_a_bad_one(
    client: AsyncTestClient, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    for po_number in ("PO-ALPHA", "PO-BETA"):
        await add(client, shop["glasses"].id, "6")
        await client.post("/checkout", data={**await checkout_form(client), "po_number": po_number})
    assert "PO-ALPHA" in (all_orders := (await client.get("/orders")).text) and "PO-BETA" in all_orders
    found = text_of((await client.get("/orders", params={"q": "alpha"})).text)
    assert "PO-ALPHA" in found and "PO-BETA" not in found
    assert "No orders match." in text_of((await client.get("/orders", params={"status": "invoiced"})).text)
    assert "No orders match." in text_of((await client.get("/orders", params={"q": "PO-%"})).text)  # % is a letter
    for params, message in [
        ({"status": "shipped"}, "status: This value is not one of the choices."),
        ({"date_from": "9999-12-31"}, "date_from: Enter a date between 2000 and 2100."),
        ({"page": "²"}, "page: Enter a whole number, in digits 0–9."),
        ({"page": "0"}, "page: Enter at least 1."),
        ({"q": "x" * 201}, "q: Use at most 200 characters."),
        ({"date_to": "tomorrow"}, "date_to: Enter the date as YYYY-MM-DD."),
    ]:
        response = await client.get("/orders", params=params)
        assert response.status_code == 400, params
        assert message in text_of(response.text), (params, text_of(response.text)[-300:])
    assert (await client.get("/orders/99999999999")).status_code == 404
    assert (await client.get("/orders/0/reorder")).status_code == 404


def _collision() -> OperationalError:
    class DriverError(Exception):
        sqlstate = "40P01"

    return OperationalError("UPDATE carts …", {}, DriverError("deadlock detected"))


async def test_a_collision_nobody_retried_answers_busy_not_500(
    client: AsyncTestClient, shop: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def collides(*args: object, **kwargs: object) -> None:
        raise _collision()

    await sign_in(client, "nina@northwind.example")
    monkeypatch.setattr(carts, "add_to_cart", collides)
    response = await add(client, shop["glasses"].id, "6")
    assert response.status_code == 503
    assert "Nothing was saved; please try again." in text_of(response.text)


async def test_collisions_that_go_on_say_try_again_next_to_the_form(
    client: AsyncTestClient, session: AsyncSession, shop: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The add is started over `ATTEMPTS` times, then the buyer reads "try again" where the
    button is; nothing was added."""
    claims = 0

    async def collides(*args: object) -> int:
        nonlocal claims
        claims += 1
        raise _collision()

    await sign_in(client, "nina@northwind.example")
    monkeypatch.setattr(transactions.random, "uniform", lambda low, high: 0.0)
    monkeypatch.setattr(carts, "_claim", collides)
    response = await add(client, shop["glasses"].id, "6", htmx=True)
    assert response.status_code == 200 and "please try again" in text_of(response.text)
    assert claims == transactions.ATTEMPTS
    assert await session.scalar(select(func.count()).select_from(CartLine)) == 0
