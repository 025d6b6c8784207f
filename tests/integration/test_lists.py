"""Shopping lists over HTTP: every list URL answers 404 for another company's list."""

from __future__ import annotations

from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.services import lists
from tests.factories import csrf_from, make_company, make_product, make_user, sign_in, text_of
from datetime import date


@pytest.fixture
async def shared(session: AsyncSession) -> dict:
    company = await make_company(session, name="Northwind Trading")
    nina = await make_user(session, company_id=company.id, email="nina@northwind.example")
    tom = await make_user(session, company_id=company.id, email="tom@northwind.example")
    other = await make_company(session, name="Baltic Foods")
    bart = await make_user(session, company_id=other.id, email="bart@baltic.example")
    glasses = await make_product(session, sku="GLS-6", name="Wine glasses", pack_size=6, list_price=Decimal("10.0000"))
    await session.refresh(nina, ["company"])
    shopping_list = await lists.create_list(session, nina, "Bar supplies", lines={glasses.id: 12}, today=date(2026, 11, 27))
    await session.commit()
    return {"list": shopping_list, "line": shopping_list.lines[0], "glasses": glasses, "bart": bart, "tom": tom}


async def test_another_companys_list_is_404_for_every_url(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "bart@baltic.example")
    token = csrf_from((await client.get("/lists")).text)
    list_id, line_id = shared["list"].id, shared["line"].id
    assert "Bar supplies" not in (await client.get("/lists")).text
    for path in [f"/lists/{list_id}", f"/lists/{list_id}/delete"]:
        assert (await client.get(path)).status_code == 404, path
    for path in [f"/lists/{list_id}", f"/lists/{list_id}/duplicate", f"/lists/{list_id}/delete",
                 f"/lists/{list_id}/lines/{line_id}", f"/lists/{list_id}/lines/{line_id}/remove", f"/lists/{list_id}/cart"]:
        response = await client.post(path, data={"name": "x", "quantity": "6", "all": "yes", "_csrf_token": token})
        assert response.status_code == 404, path
    added = await client.post("/lists/add", data={"product_id": str(shared["glasses"].id), "list_id": str(list_id),
                                                  "quantity": "6", "next": "/lists", "_csrf_token": token})
    assert "This list no longer exists" in text_of(added.text)


async def test_the_second_buyer_uses_the_same_list(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    page = await client.get(f"/lists/{shared['list'].id}")
    assert "Bar supplies" in page.text and "PLN 120.00" in text_of(page.text)
    wrong = await client.post(f"/lists/{shared['list'].id}/lines/{shared['line'].id}",
                              data={"quantity": "7", "note": "", "_csrf_token": csrf_from(page.text)}, headers={"hx-request": "true"})
    assert "Sold in packs of 6: 6 or 12?" in text_of(wrong.text) and "<html" not in wrong.text
    done = await client.post(f"/lists/{shared['list'].id}/cart", data={"all": "yes", "_csrf_token": csrf_from(page.text)})
    assert "Added 1 lines to your cart at today's prices." in text_of(done.text)
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
    for path in ["/lists", "/lists/add", f"/lists/{shared['list'].id}/cart", f"/lists/{shared['list'].id}/delete",
                 "/lists/usual/cart", "/lists/usual/save"]:
        assert (await client.post(path, data={"name": "x"})).status_code == 403, path


async def test_add_from_the_catalog_to_a_list_or_a_new_one(client: AsyncTestClient, shared: dict) -> None:
    await sign_in(client, "tom@northwind.example")
    catalog = await client.get("/catalog")
    assert 'action="/lists/add"' in catalog.text and ">Bar supplies</option>" in catalog.text
    token = csrf_from(catalog.text)
    glasses = str(shared["glasses"].id)
    more = await client.post("/lists/add", data={"product_id": glasses, "list_id": str(shared["list"].id), "quantity": "6",
                                                 "next": "/catalog", "_csrf_token": token})
    assert "Added to the list “Bar supplies”." in text_of(more.text)
    refused = await client.post("/lists/add", data={"product_id": glasses, "list_id": "", "new_name": "Party",
                                                    "quantity": "4", "next": "/catalog", "_csrf_token": token})
    assert "Sold in packs of 6: 6?" in text_of(refused.text) and ">Party</option>" not in refused.text
    created = await client.post("/lists/add", data={"product_id": glasses, "list_id": "", "new_name": "Party",
                                                    "quantity": "6", "next": "/catalog", "_csrf_token": token})
    assert "Added to the list “Party”." in text_of(created.text)
    page = (await client.get(f"/lists/{shared['list'].id}")).text
    assert 'value="18"' in page  # 12 + 6
