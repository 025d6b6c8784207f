"""Shopping lists over HTTP: every list URL answers 404 for another company's list."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import OrderStatus, ShoppingList, ShoppingListLine
from portal.services import lists
from tests.factories import csrf_from, make_company, make_order, make_product, make_user, sign_in, text_of


@pytest.fixture
async def shared(session: AsyncSession) -> dict:
    company = await make_company(session, name="Northwind Trading")
    nina = await make_user(session, company_id=company.id, email="nina@northwind.example")
    tom = await make_user(session, company_id=company.id, email="tom@northwind.example")
    other = await make_company(session, name="Baltic Foods")
    bart = await make_user(session, company_id=other.id, email="bart@baltic.example")
    glasses = await make_product(session, sku="GLS-6", name="Wine glasses", pack_size=6, list_price=Decimal("10.0000"))
    await session.refresh(nina, ["company"])
    shopping_list = await lists.create_list(
        session, nina, "Bar supplies", lines={glasses.id: 12}, today=date(2026, 11, 27)
    )
    await session.commit()
    return {
        "list": shopping_list,
        "line": shopping_list.lines[0],
        "glasses": glasses,
        "bart": bart,
        "tom": tom,
        "company": company,
    }


def field_error(html: str, field: str) -> str:
    """The message shown next to a field (`<p class="field-error" id="FIELD-error">`), or ""."""
    match = re.search(rf'<p class="field-error[^"]*" id="{re.escape(field)}-error" role="alert">(.*?)</p>', html, re.S)
    return unescape(match.group(1)).strip() if match else ""


def value_of(html: str, input_id: str) -> str:
    match = re.search(rf'<input id="{re.escape(input_id)}"[^>]*? value="([^"]*)"', html)
    assert match, f"no input #{input_id}"
    return unescape(match.group(1))


async def saved(session: AsyncSession, model: type, ident: int):  # type: ignore[no-untyped-def]
    session.expire_all()
    return await session.get(model, ident)


async def list_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ShoppingList)) or 0)


async def test_another_companys_list_is_404_for_every_url(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "bart@baltic.example")
    token = csrf_from((await client.get("/lists")).text)
    list_id, line_id = shared["list"].id, shared["line"].id
    assert "Bar supplies" not in (await client.get("/lists")).text
    for path in [f"/lists/{list_id}", f"/lists/{list_id}/delete"]:
        assert (await client.get(path)).status_code == 404, path
    for path in [
        f"/lists/{list_id}",
        f"/lists/{list_id}/duplicate",
        f"/lists/{list_id}/delete",
        f"/lists/{list_id}/lines/{line_id}",
        f"/lists/{list_id}/lines/{line_id}/remove",
        f"/lists/{list_id}/cart",
    ]:
        response = await client.post(path, data={"name": "x", "quantity": "6", "all": "yes", "_csrf_token": token})
        assert response.status_code == 404, path
    added = await client.post(
        "/lists/add",
        data={
            "product_id": str(shared["glasses"].id),
            "list_id": str(list_id),
            "quantity": "6",
            "next": "/lists",
            "_csrf_token": token,
        },
    )
    assert "This list no longer exists" in text_of(added.text)


@pytest.mark.parametrize("line_ids", ["0", "x", "99999999999999999999"])
async def test_an_id_no_column_can_hold_is_404_even_when_the_form_is_refused(
    client: AsyncTestClient, shared: dict, line_ids: str
) -> None:
    await sign_in(client, "nina@northwind.example")
    token = csrf_from((await client.get("/lists")).text)
    for list_id in ["99999999999999999999", "2147483648", "0"]:
        response = await client.post(f"/lists/{list_id}/cart", data={"line_ids": line_ids, "_csrf_token": token})
        assert response.status_code == 404, (list_id, line_ids)


async def test_the_second_buyer_uses_the_same_list(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    page = await client.get(f"/lists/{shared['list'].id}")
    assert "Bar supplies" in page.text and "PLN 120.00" in text_of(page.text)
    wrong = await client.post(
        f"/lists/{shared['list'].id}/lines/{shared['line'].id}",
        data={"quantity": "7", "note": "", "_csrf_token": csrf_from(page.text)},
        headers={"hx-request": "true"},
    )
    assert "Sold in packs of 6: 6 or 12?" in text_of(wrong.text) and "<html" not in wrong.text
    done = await client.post(
        f"/lists/{shared['list'].id}/cart", data={"all": "yes", "_csrf_token": csrf_from(page.text)}
    )
    assert "Added 1 line to your cart at today's prices." in text_of(done.text)
    assert 'data-sku="GLS-6"' in done.text


async def test_deleting_needs_confirmation_and_then_the_list_is_gone(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    confirm = await client.get(f"/lists/{shared['list'].id}/delete")
    assert "Delete the list “Bar supplies”?" in text_of(confirm.text)
    await client.post(f"/lists/{shared['list'].id}/delete", data={"_csrf_token": csrf_from(confirm.text)})
    gone = await client.get(f"/lists/{shared['list'].id}")
    assert gone.status_code == 404 and "another buyer of your company may have deleted it" in text_of(gone.text)


async def test_list_posts_need_the_csrf_token(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    for path in [
        "/lists",
        "/lists/add",
        f"/lists/{shared['list'].id}/cart",
        f"/lists/{shared['list'].id}/delete",
        "/lists/usual/cart",
        "/lists/usual/save",
    ]:
        assert (await client.post(path, data={"name": "x"})).status_code == 403, path


async def test_add_from_the_catalog_to_a_list_or_a_new_one(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    catalog = await client.get("/catalog")
    assert 'action="/lists/add"' in catalog.text and ">Bar supplies</option>" in catalog.text
    token = csrf_from(catalog.text)
    glasses = str(shared["glasses"].id)
    more = await client.post(
        "/lists/add",
        data={
            "product_id": glasses,
            "list_id": str(shared["list"].id),
            "quantity": "6",
            "next": "/catalog",
            "_csrf_token": token,
        },
    )
    assert "Added to the list “Bar supplies”." in text_of(more.text)
    refused = await client.post(
        "/lists/add",
        data={
            "product_id": glasses,
            "list_id": "",
            "new_name": "Party",
            "quantity": "4",
            "next": "/catalog",
            "_csrf_token": token,
        },
    )
    assert "Sold in packs of 6: 6?" in text_of(refused.text) and ">Party</option>" not in refused.text
    created = await client.post(
        "/lists/add",
        data={
            "product_id": glasses,
            "list_id": "",
            "new_name": "Party",
            "quantity": "6",
            "next": "/catalog",
            "_csrf_token": token,
        },
    )
    assert "Added to the list “Party”." in text_of(created.text)
    page = (await client.get(f"/lists/{shared['list'].id}")).text
    assert 'value="18"' in page  # 12 + 6


async def test_a_refused_rename_keeps_the_old_name_and_shows_what_was_typed(
    client: AsyncTestClient, shared: dict, session: AsyncSession
) -> None:
    await sign_in(client, "tom@northwind.example")
    list_id = shared["list"].id
    token = csrf_from((await client.get(f"/lists/{list_id}")).text)
    for typed, message in [
        ("x" * 10_000, "Use at most 100 characters."),
        ("", "This field is required."),
        (" \t ", "Give the list a name."),
        ("a\x00b", "This text contains a character"),
    ]:
        refused = await client.post(
            f"/lists/{list_id}", data={"name": typed, "description": "typed too", "_csrf_token": token}
        )
        assert refused.status_code == 400, typed
        assert field_error(refused.text, "name").startswith(message), typed
        assert "<h1>Bar supplies</h1>" in refused.text
        assert value_of(refused.text, "describe") == "typed too"
        assert value_of(refused.text, "rename") == typed
    spaces = await client.post(f"/lists/{list_id}", data={"name": "\u00a0 ", "_csrf_token": token})
    assert spaces.status_code == 400 and field_error(spaces.text, "name") == "Give the list a name."
    shopping_list = await saved(session, ShoppingList, list_id)
    assert (shopping_list.name, shopping_list.description) == ("Bar supplies", "")

    renamed = await client.post(f"/lists/{list_id}", data={"name": "  Bar   and kitchen ", "_csrf_token": token})
    assert renamed.status_code == 200 and "<h1>Bar and kitchen</h1>" in renamed.text
    assert (await saved(session, ShoppingList, list_id)).name == "Bar and kitchen"


async def test_a_new_list_with_a_name_too_long_is_refused_next_to_the_field(
    client: AsyncTestClient, shared: dict, session: AsyncSession
) -> None:
    await sign_in(client, "tom@northwind.example")
    token = csrf_from((await client.get("/lists")).text)
    before = await list_count(session)
    refused = await client.post(
        "/lists", data={"name": "n" * 10_000, "description": "for the bar", "source": "cart", "_csrf_token": token}
    )
    assert refused.status_code == 400
    assert field_error(refused.text, "name") == "Use at most 100 characters."
    assert value_of(refused.text, "list-name") == "n" * 10_000
    assert value_of(refused.text, "list-description") == "for the bar"
    assert re.search(r'value="cart" checked', refused.text)
    bad_source = await client.post("/lists", data={"name": "Bar", "source": "drawer", "_csrf_token": token})
    assert bad_source.status_code == 400 and field_error(bad_source.text, "source")
    empty_cart = await client.post("/lists", data={"name": "Bar", "source": "cart", "_csrf_token": token})
    assert empty_cart.status_code == 400 and field_error(empty_cart.text, "source") == "Your cart is empty."
    assert await list_count(session) == before

    made = await client.post("/lists", data={"name": "Kitchen", "description": "for the cook", "_csrf_token": token})
    assert made.status_code == 200 and "<h1>Kitchen</h1>" in made.text
    assert await list_count(session) == before + 1


async def test_a_refused_line_shows_its_message_next_to_its_field_and_saves_nothing(
    client: AsyncTestClient, shared: dict, session: AsyncSession
) -> None:
    await sign_in(client, "tom@northwind.example")
    list_id, line_id = shared["list"].id, shared["line"].id
    token = csrf_from((await client.get(f"/lists/{list_id}")).text)
    for typed, message in [
        ("²", "Enter a whole number, in digits 0–9."),
        ("１２", "Enter a whole number"),
        ("99999999999999999999", "Enter at most 1,000,000."),
        ("1.5", "Enter a whole number"),
        ("7", "Sold in packs of 6: 6 or 12?"),
        ("0", "Enter a quantity of at least 6."),
    ]:
        refused = await client.post(
            f"/lists/{list_id}/lines/{line_id}", data={"quantity": typed, "note": "for Friday", "_csrf_token": token}
        )
        assert refused.status_code == 400, typed
        assert field_error(refused.text, f"quantity-{line_id}").startswith(message), typed
        assert f'value="{typed}"' in refused.text and 'value="for Friday"' in refused.text
    long_note = await client.post(
        f"/lists/{list_id}/lines/{line_id}", data={"quantity": "18", "note": "n" * 10_000, "_csrf_token": token}
    )
    assert (
        long_note.status_code == 400 and field_error(long_note.text, f"note-{line_id}") == "Use at most 200 characters."
    )
    line = await saved(session, ShoppingListLine, line_id)
    assert (line.quantity, line.note) == (12, "")

    changed = await client.post(
        f"/lists/{list_id}/lines/{line_id}",
        data={"quantity": "18", "note": "for Friday", "_csrf_token": token},
        headers={"hx-request": "true"},
    )
    assert changed.status_code == 200 and "<html" not in changed.text and 'value="18"' in changed.text
    assert changed.headers["vary"] == "HX-Request"
    line = await saved(session, ShoppingListLine, line_id)
    assert (line.quantity, line.note) == (18, "for Friday")


async def test_a_line_removed_meanwhile_is_said_and_removing_it_again_changes_nothing(
    client: AsyncTestClient, shared: dict, session: AsyncSession
) -> None:
    await sign_in(client, "tom@northwind.example")
    list_id, line_id = shared["list"].id, shared["line"].id
    token = csrf_from((await client.get(f"/lists/{list_id}")).text)
    for _ in range(2):
        removed = await client.post(
            f"/lists/{list_id}/lines/{line_id}/remove", data={"_csrf_token": token}, follow_redirects=False
        )
        assert removed.status_code == 303 and removed.headers["location"] == f"/lists/{list_id}"
    swapped = await client.post(
        f"/lists/{list_id}/lines/{line_id}/remove", data={"_csrf_token": token}, headers={"hx-request": "true"}
    )
    assert swapped.status_code == 200 and "<html" not in swapped.text and "This list is empty." in swapped.text
    assert await saved(session, ShoppingListLine, line_id) is None
    late = await client.post(f"/lists/{list_id}/lines/{line_id}", data={"quantity": "6", "_csrf_token": token})
    assert late.status_code == 400 and field_error(late.text, "line_ids") == "This line was removed meanwhile."


async def test_adding_nothing_to_the_cart_is_refused_on_the_list_page(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    list_id = shared["list"].id
    token = csrf_from((await client.get(f"/lists/{list_id}")).text)
    for data in [{}, {"line_ids": "999"}, {"line_ids": "abc"}, {"line_ids": ["1", "²"]}]:
        refused = await client.post(f"/lists/{list_id}/cart", data={**data, "_csrf_token": token})
        assert refused.status_code == 400, data
        assert field_error(refused.text, "line_ids") in ("Choose at least one line.", "Choose from the list."), data
    assert "Your cart is empty" in text_of((await client.get("/cart")).text)
    chosen = await client.post(
        f"/lists/{list_id}/cart", data={"line_ids": str(shared["line"].id), "_csrf_token": token}
    )
    assert "Added 1 line to your cart at today's prices." in text_of(chosen.text)


async def test_adding_to_a_list_that_is_gone_or_with_a_bad_quantity_goes_back_with_the_reason(
    client: AsyncTestClient, shared: dict, session: AsyncSession
) -> None:
    await sign_in(client, "tom@northwind.example")
    token = csrf_from((await client.get("/catalog")).text)
    glasses, list_id = str(shared["glasses"].id), shared["list"].id
    await client.post(f"/lists/{list_id}/delete", data={"_csrf_token": token})
    gone = await client.post(
        "/lists/add",
        data={
            "product_id": glasses,
            "list_id": str(list_id),
            "quantity": "6",
            "next": "/catalog",
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    assert gone.status_code == 303 and gone.headers["location"] == "/catalog"
    page = await client.get("/catalog")
    assert "This list no longer exists: another buyer of your company may have deleted it." in text_of(page.text)
    for quantity, message in [("²", "Enter a whole number, in digits 0–9."), ("", "This field is required.")]:
        refused = await client.post(
            "/lists/add",
            data={
                "product_id": glasses,
                "new_name": "Party",
                "quantity": quantity,
                "next": "/catalog?q=glass",
                "_csrf_token": token,
            },
            follow_redirects=False,
        )
        assert refused.headers["location"] == "/catalog?q=glass"
        assert message in text_of((await client.get("/catalog")).text)
    no_name = await client.post(
        "/lists/add",
        data={"product_id": glasses, "quantity": "6", "next": "//evil.example", "_csrf_token": token},
        follow_redirects=False,
    )
    assert no_name.headers["location"] == "/lists"
    assert "Give the list a name." in text_of((await client.get("/lists")).text)
    assert await list_count(session) == 0


async def test_a_list_from_a_past_order_and_from_the_usual_items(
    client: AsyncTestClient, shared: dict, session: AsyncSession
) -> None:
    company, glasses = shared["company"], shared["glasses"]
    now = datetime.now(UTC)
    for days in (5, 50, 95):
        order = await make_order(
            session,
            company,
            gross="60.00",
            status=OrderStatus.INVOICED,
            product=glasses,
            quantity=6,
            submitted_at=now - timedelta(days=days),
        )
    stranger = await make_order(session, await make_company(session), gross="10.00", status=OrderStatus.INVOICED)
    await session.commit()
    await sign_in(client, "tom@northwind.example")
    token = csrf_from((await client.get("/lists/usual")).text)
    assert (await client.post(f"/lists/from-order/{stranger.id}", data={"_csrf_token": token})).status_code == 404
    assert (await client.post("/lists/from-order/99999999999", data={"_csrf_token": token})).status_code == 404
    made = await client.post(f"/lists/from-order/{order.id}", data={"_csrf_token": token})
    assert f"<h1>From order {order.number}</h1>" in made.text

    too_long = await client.post("/lists/usual/save", data={"name": "u" * 10_000, "_csrf_token": token})
    assert too_long.status_code == 400 and field_error(too_long.text, "name") == "Use at most 100 characters."
    assert value_of(too_long.text, "usual-name") == "u" * 10_000
    saved_usual = await client.post("/lists/usual/save", data={"_csrf_token": token})
    assert "<h1>Usual items</h1>" in saved_usual.text and 'data-sku="GLS-6"' in saved_usual.text
    to_cart = await client.post("/lists/usual/cart", data={"_csrf_token": token})
    assert "Added 1 line to your cart at today's prices." in text_of(to_cart.text)


async def test_without_usual_items_saving_them_is_refused(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    token = csrf_from((await client.get("/lists/usual")).text)
    for path in ("/lists/usual/save", "/lists/usual/cart"):
        refused = await client.post(path, data={"_csrf_token": token})
        assert refused.status_code == 400 and field_error(refused.text, "form") == "There are no usual items yet."


async def test_a_list_with_a_long_name_can_be_duplicated(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    list_id = shared["list"].id
    token = csrf_from((await client.get(f"/lists/{list_id}")).text)
    await client.post(f"/lists/{list_id}", data={"name": "L" * 100, "_csrf_token": token})
    copy = await client.post(f"/lists/{list_id}/duplicate", data={"_csrf_token": token})
    assert copy.status_code == 200 and f"<h1>Copy of {'L' * 92}</h1>" in copy.text


async def test_ids_out_of_range_name_nothing(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    token = csrf_from((await client.get("/lists")).text)
    for path in ["/lists/2147483648", "/lists/99999999999999999999/delete", "/lists/0"]:
        assert (await client.get(path)).status_code == 404, path
    line = shared["line"].id
    for path in [
        f"/lists/99999999999999999999/lines/{line}",
        "/lists/1/lines/9223372036854775808/remove",
        "/lists/2147483648/cart",
        "/lists/2147483648/duplicate",
    ]:
        assert (await client.post(path, data={"quantity": "6", "_csrf_token": token})).status_code == 404, path
