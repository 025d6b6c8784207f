"""The queue and the customer page over HTTP: the role matrix for every URL, inline
decisions, and the buyer reading the decision."""

from __future__ import annotations

from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Order, OrderStatus, Role
from tests.factories import csrf_from, make_company, make_order, make_user, sign_in, text_of


@pytest.fixture
async def world(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    other_manager = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    company = await make_company(session, name="Northwind Trading", account_manager_id=manager.id,
                                 credit_limit=Decimal("5000.00"))
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    await session.commit()
    return {"manager": manager, "other_manager": other_manager, "finance": finance, "admin": admin,
            "company": company, "buyer": buyer, "order": order}


async def token(client: AsyncTestClient) -> str:
    return csrf_from((await client.get("/login", follow_redirects=True)).text)


MATRIX = {
    # who: (queue list, review page, approve/reject, customer page)
    "manager": (200, 200, 303, 200),
    "other_manager": (200, 200, 403, 200),
    "finance": (403, 200, 403, 200),
    "admin": (200, 200, 303, 200),
    "buyer": (403, 403, 403, 403),
}


@pytest.mark.parametrize("who", list(MATRIX))
async def test_role_matrix(client: AsyncTestClient, world: dict, who: str) -> None:
    await sign_in(client, world[who].email)
    order, company = world["order"], world["company"]
    queue, review, decide, customer = MATRIX[who]
    assert (await client.get("/queue")).status_code == queue
    assert (await client.get(f"/queue/orders/{order.id}")).status_code == review
    assert (await client.get(f"/customers/{company.id}")).status_code == customer
    csrf = await token(client)
    response = await client.post(f"/queue/orders/{order.id}/reject", data={"reason": "test", "_csrf_token": csrf},
                                 follow_redirects=False)
    assert response.status_code == decide
    note = await client.post(f"/customers/{company.id}/notes", data={"body": "hello", "_csrf_token": csrf},
                             follow_redirects=False)
    assert note.status_code == (303 if customer == 200 else 403)


async def test_other_managers_queue_does_not_show_my_orders(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["other_manager"].email)
    page = await client.get("/queue")
    assert world["order"].number not in page.text and "Nothing waits for your decision." in text_of(page.text)
    assert 'id="queue-count">0<' in page.text


async def test_unknown_order_and_customer_are_404(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["manager"].email)
    assert (await client.get("/queue/orders/987654")).status_code == 404
    assert (await client.get("/customers/987654")).status_code == 404
    csrf = await token(client)
    assert (await client.post("/queue/orders/987654/approve", data={"_csrf_token": csrf})).status_code == 404


async def test_approve_inline_with_htmx_and_the_buyer_reads_it(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get("/queue")
    assert world["order"].number in page.text and 'id="queue-count">1<' in page.text
    fragment = await client.post(f"/queue/orders/{world['order'].id}/approve",
                                 data={"note": "Ships Tuesday", "_csrf_token": csrf_from(page.text)},
                                 headers={"hx-request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Approved · Anna Kowalska" in text_of(fragment.text) and "Ships Tuesday" in text_of(fragment.text)

    again = await client.post(f"/queue/orders/{world['order'].id}/approve",
                              data={"_csrf_token": csrf_from(page.text)}, headers={"hx-request": "true"})
    assert "Nothing was changed: this order was already approved by Anna Kowalska" in text_of(again.text)

    client.cookies.clear()
    await sign_in(client, "nina@northwind.example")
    order_page = text_of((await client.get(f"/orders/{world['order'].id}")).text)
    assert "Approved" in order_page and "Ships Tuesday" in order_page


async def test_rejection_without_a_reason_is_refused_by_the_field(client: AsyncTestClient, world: dict, session: AsyncSession) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{world['order'].id}")
    refused = await client.post(f"/queue/orders/{world['order'].id}/reject", data={"reason": " ", "_csrf_token": csrf_from(page.text)})
    assert refused.status_code == 400 and "Give the buyer a reason for the rejection." in text_of(refused.text)
    done = await client.post(f"/queue/orders/{world['order'].id}/reject",
                             data={"reason": "Out of stock until January", "_csrf_token": csrf_from(page.text)},
                             follow_redirects=False)
    assert done.headers["location"] == "/queue"
    await session.refresh(world["order"])
    assert world["order"].status is OrderStatus.REJECTED


async def test_blocked_order_shows_the_reason_instead_of_the_button(client: AsyncTestClient, world: dict, session: AsyncSession) -> None:
    big = await make_order(session, world["company"], gross="9000.00", buyer=world["buyer"])
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{big.id}")
    text = text_of(page.text)
    assert "Cannot be approved now: Exceeds available credit by PLN 4,000.00 (available PLN 5,000.00, order PLN 9,000.00)." in text
    assert 'id="approve"' not in page.text
    forced = await client.post(f"/queue/orders/{big.id}/approve", data={"_csrf_token": csrf_from(page.text)})
    assert forced.status_code == 409
    await session.refresh(big)
    assert big.status is OrderStatus.PENDING_APPROVAL


async def test_bulk_approve(client: AsyncTestClient, world: dict, session: AsyncSession) -> None:
    second = await make_order(session, world["company"], gross="100.00", buyer=world["buyer"])
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await client.get("/queue")
    response = await client.post("/queue/bulk-approve", data={"order_ids": [str(world["order"].id), str(second.id)],
                                                              "_csrf_token": csrf_from(page.text)})
    assert "Approved:" in text_of(response.text) and "Nothing waits for your decision." in text_of(response.text)
    ids = [world["order"].id, second.id]
    session.expire_all()
    statuses = {(await session.get(Order, order_id)).status for order_id in ids}  # type: ignore[union-attr]
    assert statuses == {OrderStatus.APPROVED}


async def test_customer_page_notes_and_reassignment(client: AsyncTestClient, world: dict, session: AsyncSession) -> None:
    await sign_in(client, world["manager"].email)
    company = world["company"]
    page = await client.get(f"/customers/{company.id}")
    assert "Northwind Trading" in page.text and "nina@northwind.example" in page.text and "<svg" in page.text
    empty = await client.post(f"/customers/{company.id}/notes", data={"body": "", "_csrf_token": csrf_from(page.text)})
    assert empty.status_code == 400 and 'id="note-error"' in empty.text
    saved = await client.post(f"/customers/{company.id}/notes", data={"body": "Agreed 2% extra from January",
                                                                      "_csrf_token": csrf_from(page.text)})
    assert "Agreed 2% extra from January" in saved.text and "Note saved." in text_of(saved.text)
    refused = await client.post(f"/customers/{company.id}/manager", data={"manager_id": str(world["other_manager"].id),
                                                                         "_csrf_token": csrf_from(page.text)})
    assert refused.status_code == 403

    client.cookies.clear()
    await sign_in(client, world["admin"].email)
    page = await client.get(f"/customers/{company.id}")
    await client.post(f"/customers/{company.id}/manager", data={"manager_id": str(world["other_manager"].id),
                                                                "_csrf_token": csrf_from(page.text)})
    await session.refresh(company)
    assert company.account_manager_id == world["other_manager"].id


async def test_queue_and_customer_posts_need_the_csrf_token(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["admin"].email)
    order, company = world["order"], world["company"]
    for path in [f"/queue/orders/{order.id}/approve", f"/queue/orders/{order.id}/reject", "/queue/bulk-approve",
                 f"/customers/{company.id}/notes", f"/customers/{company.id}/manager"]:
        assert (await client.post(path, data={"reason": "x"})).status_code == 403, path
