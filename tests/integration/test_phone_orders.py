"""Orders taken by phone or e-mail, over HTTP: the account manager adds to the cart kept for the
customer from the customer's catalog, checks out with the customer's terms, and the order is
recorded as placed by the manager for the company, goes through the approval rules as any order,
and the company's buyers are told by e-mail. One cart per (manager, customer), apart from the
buyers' own; another manager's customer does not exist (404); finance may look, not order (403)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import (
    Address,
    CartLine,
    Company,
    Deputy,
    NotificationKind,
    Order,
    OrderEvent,
    OrderStatus,
    OutboxMessage,
    Role,
)
from portal.services import cart as carts
from portal.services import delivery
from portal.services.ordering import CheckoutForm, submit_for_customer
from tests.conftest import backend
from tests.factories import csrf_from, make_company, make_order, make_product, make_user, sign_in, text_of
from tests.queries import counted_statements


async def _customer(session: AsyncSession, name: str, manager_id: int, **fields: object) -> Company:
    company = await make_company(session, name=name, account_manager_id=manager_id, **fields)
    session.add(
        Address(company_id=company.id, label="HQ", street="ul. Prosta 1", postal_code="00-001", city="Warszawa")
    )
    return company


@pytest.fixture
async def desk(session: AsyncSession) -> dict:
    """Anna manages Northwind (two buyers) and Baltic; Piotr manages Harbour; finance sees them all."""
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="finance@seller.example")
    northwind = await _customer(session, "Northwind Trading", anna.id, credit_limit=Decimal("1000.00"))
    baltic = await _customer(session, "Baltic Foods", anna.id)
    harbour = await _customer(session, "Harbour Hotels", piotr.id)
    nina = await make_user(session, company_id=northwind.id, email="nina@northwind.example", full_name="Nina Nowak")
    tom = await make_user(session, company_id=northwind.id, email="tom@northwind.example", full_name="Tom Lis")
    glasses = await make_product(session, sku="GLS-6", name="Wine glasses", pack_size=6, list_price=Decimal("10.0000"))
    paper = await make_product(session, sku="PAP-1", name="Copy paper", list_price=Decimal("30.0000"))
    await session.commit()
    return {
        "anna": anna,
        "piotr": piotr,
        "finance": finance,
        "northwind": northwind,
        "baltic": baltic,
        "harbour": harbour,
        "nina": nina,
        "tom": tom,
        "glasses": glasses,
        "paper": paper,
    }


async def add(client: AsyncTestClient, company: Company, product_id: int, quantity: str, htmx: bool = False):  # type: ignore[no-untyped-def]
    """Adds from the customer's catalog, as the Add button there does."""
    page = await client.get(f"/catalog?company={company.id}")
    action = f"/customers/{company.id}/cart/add"
    assert f'action="{action}"' in page.text
    return await client.post(
        action,
        data={
            "product_id": str(product_id),
            "quantity": quantity,
            "next": f"/catalog?company={company.id}",
            "_csrf_token": csrf_from(page.text),
        },
        headers={"hx-request": "true"} if htmx else {},
        follow_redirects=False,
    )


async def checkout_form(client: AsyncTestClient, company: Company) -> dict[str, str]:
    page = (await client.get(f"/customers/{company.id}/checkout")).text
    return {
        "_csrf_token": csrf_from(page),
        "key": re.search(r'name="key" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "address_id": re.search(r'<option value="(\d+)"', page).group(1),  # type: ignore[union-attr]
        "delivery_date": re.search(r'name="delivery_date" type="date" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "po_number": "PO-PHONE-1",
        "note": "Ordered by phone with Nina",
    }


async def messages(session: AsyncSession, kind: NotificationKind) -> list[OutboxMessage]:
    return list(await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


async def test_manager_takes_an_order_for_a_customer_from_its_catalog(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    northwind, nina = desk["northwind"], desk["nina"]
    await carts.add_to_cart(session, nina, desk["paper"].id, 2)  # the buyer's own cart
    await session.commit()
    await sign_in(client, "anna@seller.example")

    catalog = text_of((await client.get(f"/catalog?company={northwind.id}")).text)
    assert "Ordering for Northwind Trading:" in catalog and "Cart for Northwind Trading" in catalog
    refused = await add(client, northwind, desk["glasses"].id, "5", htmx=True)
    assert "Sold in packs of 6: 6?" in text_of(refused.text) and "<html" not in refused.text
    added = await add(client, northwind, desk["glasses"].id, "12", htmx=True)
    assert "Added 12 × Wine glasses to the cart for Northwind Trading." in text_of(added.text)
    assert f'href="/customers/{northwind.id}/cart"' in added.text
    plain = await add(client, northwind, desk["paper"].id, "1")
    assert (plain.status_code, plain.headers["location"]) == (303, f"/catalog?company={northwind.id}")

    cart = text_of((await client.get(f"/customers/{northwind.id}/cart")).text)
    assert "Cart for Northwind Trading" in cart and "You are ordering for Northwind Trading" in cart
    # 12 × 10.00 + 30.00 = 150.00 net at 23 % → 184.50 gross
    assert "Net total PLN 150.00" in cart and "Gross total PLN 184.50" in cart

    checkout = await client.get(f"/customers/{northwind.id}/checkout")
    assert 'id="cart-credit"' in checkout.text and "Place the order for Northwind Trading" in text_of(checkout.text)
    submitted = await client.post(
        f"/customers/{northwind.id}/checkout", data=await checkout_form(client, northwind), follow_redirects=False
    )
    order = await session.scalar(select(Order).execution_options(populate_existing=True))
    assert order is not None
    assert (submitted.status_code, submitted.headers["location"]) == (303, f"/queue/orders/{order.id}")
    assert (order.status, order.placed_by_id, order.buyer_id) == (OrderStatus.PENDING_APPROVAL, desk["anna"].id, None)
    assert (order.company_id, order.po_number, order.gross_total) == (northwind.id, "PO-PHONE-1", Decimal("184.50"))
    first = await session.scalar(select(OrderEvent).where(OrderEvent.order_id == order.id))
    assert first is not None and first.actor_id == desk["anna"].id

    review = text_of((await client.get(submitted.headers["location"])).text)
    assert f"Order {order.number} placed for Northwind Trading." in review
    assert "Placed by Anna Kowalska for Northwind Trading." in review
    assert "Northwind Trading is empty" in text_of((await client.get(f"/customers/{northwind.id}/cart")).text)

    told = await messages(session, NotificationKind.ORDER_PLACED_FOR_YOU)
    assert sorted(message.recipient for message in told) == ["nina@northwind.example", "tom@northwind.example"]
    assert all(message.link == f"/orders/{order.id}" for message in told)
    assert f"Your account manager Anna Kowalska placed order {order.number} for Northwind Trading." in told[0].body_text
    assert "waiting for approval" in told[0].body_text
    # Anna placed it herself: nobody tells her it waits; the buyer's own cart is as it was
    assert await messages(session, NotificationKind.ORDER_SUBMITTED) == []
    own = await carts.buyer_cart(session, nina)
    assert [(line.product.sku, line.quantity) for line in own.lines] == [("PAP-1", 2)]


async def test_a_managers_carts_for_two_customers_are_separate(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    northwind, baltic = desk["northwind"], desk["baltic"]
    await sign_in(client, "anna@seller.example")
    await add(client, northwind, desk["glasses"].id, "6", htmx=True)
    await add(client, baltic, desk["paper"].id, "3", htmx=True)

    for_northwind = text_of((await client.get(f"/customers/{northwind.id}/cart")).text)
    for_baltic = text_of((await client.get(f"/customers/{baltic.id}/cart")).text)
    assert "Wine glasses" in for_northwind and "Copy paper" not in for_northwind
    assert "Copy paper" in for_baltic and "Wine glasses" not in for_baltic
    owners = (await session.execute(select(CartLine.company_id, CartLine.quantity).order_by(CartLine.id))).all()
    assert [tuple(row) for row in owners] == [(northwind.id, 6), (baltic.id, 3)]

    page = await client.get(f"/customers/{baltic.id}/cart")
    removed = await client.post(
        f"/customers/{baltic.id}/cart/lines/{desk['paper'].id}/remove",
        data={"_csrf_token": csrf_from(page.text)},
        headers={"hx-request": "true"},
    )
    assert "The cart for Baltic Foods is empty." in text_of(removed.text)
    assert "Wine glasses" in text_of((await client.get(f"/customers/{northwind.id}/cart")).text)

    changed = await client.post(
        f"/customers/{northwind.id}/cart/lines/{desk['glasses'].id}",
        data={"quantity": "7", "_csrf_token": csrf_from(page.text)},
    )
    assert changed.status_code == 400 and "Sold in packs of 6: 6 or 12?" in text_of(changed.text)
    assert "Cart for Northwind Trading" in text_of(changed.text)


async def test_the_checkout_key_makes_a_double_submission_one_order(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    northwind = desk["northwind"]
    await sign_in(client, "anna@seller.example")
    await add(client, northwind, desk["glasses"].id, "6")
    form = await checkout_form(client, northwind)
    if backend() == "postgresql":
        answers = await asyncio.gather(
            *[client.post(f"/customers/{northwind.id}/checkout", data=form, follow_redirects=False) for _ in range(4)]
        )
    else:
        answers = [
            await client.post(f"/customers/{northwind.id}/checkout", data=form, follow_redirects=False)
            for _ in range(2)
        ]
    assert {answer.status_code for answer in answers} == {303}
    assert len({answer.headers["location"] for answer in answers}) == 1
    assert await session.scalar(select(func.count()).select_from(Order)) == 1
    again = await client.post(f"/customers/{northwind.id}/checkout", data=form)
    assert "had already been placed for Northwind Trading" in text_of(again.text)
    assert len(await messages(session, NotificationKind.ORDER_PLACED_FOR_YOU)) == 2  # told once each


async def test_an_order_for_an_auto_approved_customer_is_approved_at_once(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    northwind = desk["northwind"]
    northwind.auto_approve = True
    session.add(northwind)
    earlier = datetime(2026, 10, 1, tzinfo=UTC)
    await make_order(session, northwind, gross="50.00", status=OrderStatus.INVOICED, submitted_at=earlier)
    await session.commit()  # not its first order, which would be flagged
    await sign_in(client, "anna@seller.example")
    await add(client, northwind, desk["glasses"].id, "6")
    await client.post(f"/customers/{northwind.id}/checkout", data=await checkout_form(client, northwind))
    order = await session.scalar(
        select(Order).where(Order.placed_by_id.is_not(None)).execution_options(populate_existing=True)
    )
    assert order is not None and order.status is OrderStatus.APPROVED
    told = await messages(session, NotificationKind.ORDER_PLACED_FOR_YOU)
    assert len(told) == 2 and "It is approved." in told[0].body_text


async def test_a_customer_on_hold_cannot_be_ordered_for(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    northwind = desk["northwind"]
    await sign_in(client, "anna@seller.example")
    await add(client, northwind, desk["glasses"].id, "6")
    form = await checkout_form(client, northwind)
    northwind.on_hold, northwind.hold_reason = True, "Cheque returned"
    session.add(northwind)
    await session.commit()
    page = await client.get(f"/customers/{northwind.id}/checkout")
    assert "Northwind Trading is on hold, so orders cannot be submitted. Reason: Cheque returned" in text_of(page.text)
    assert 'id="checkout-form"' not in page.text
    refused = await client.post(f"/customers/{northwind.id}/checkout", data=form)
    assert refused.status_code == 400
    assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_a_deputy_covering_orders_for_the_absent_managers_customer(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    today = clock.today(client.app.state.settings.seller_zone)
    session.add(
        Deputy(manager_id=desk["anna"].id, deputy_id=desk["piotr"].id, starts_on=today, ends_on=today + timedelta(3))
    )
    await session.commit()
    await sign_in(client, "piotr@seller.example")
    northwind = desk["northwind"]
    await add(client, northwind, desk["glasses"].id, "6")
    await client.post(f"/customers/{northwind.id}/checkout", data=await checkout_form(client, northwind))
    order = await session.scalar(select(Order).execution_options(populate_existing=True))
    assert order is not None and order.placed_by_id == desk["piotr"].id
    waits = await messages(session, NotificationKind.ORDER_SUBMITTED)
    assert [message.recipient for message in waits] == ["anna@seller.example"]  # not Piotr, who placed it


async def test_another_managers_customer_does_not_exist(client: AsyncTestClient, desk: dict) -> None:
    await sign_in(client, "piotr@seller.example")
    northwind, glasses = desk["northwind"], desk["glasses"]
    token = csrf_from((await client.get("/catalog")).text)
    for path in ["cart", "checkout"]:
        assert (await client.get(f"/customers/{northwind.id}/{path}")).status_code == 404
        assert (await client.get(f"/customers/987654/{path}")).status_code == 404
    for path, data in [
        ("cart/add", {"product_id": str(glasses.id), "quantity": "6"}),
        (f"cart/lines/{glasses.id}", {"quantity": "6"}),
        (f"cart/lines/{glasses.id}/remove", {}),
        ("checkout", {}),
    ]:
        answer = await client.post(f"/customers/{northwind.id}/{path}", data={**data, "_csrf_token": token})
        assert answer.status_code == 404 and "Northwind" not in answer.text, path
    catalog = await client.get(f"/catalog?company={desk['harbour'].id}")
    assert f"/customers/{desk['harbour'].id}/cart/add" in catalog.text  # his own customer: he may


async def test_finance_may_look_at_customers_but_not_order_for_them(client: AsyncTestClient, desk: dict) -> None:
    await sign_in(client, "finance@seller.example")
    northwind = desk["northwind"]
    customer = await client.get(f"/customers/{northwind.id}")
    assert customer.status_code == 200 and 'id="take-order"' not in customer.text
    token = csrf_from(customer.text)
    for path in ["cart", "checkout"]:
        assert (await client.get(f"/customers/{northwind.id}/{path}")).status_code == 403
    answer = await client.post(
        f"/customers/{northwind.id}/cart/add",
        data={"product_id": str(desk["glasses"].id), "quantity": "6", "_csrf_token": token},
    )
    assert answer.status_code == 403


async def test_the_buyer_sees_who_placed_the_order_for_the_company(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    northwind, anna = desk["northwind"], desk["anna"]
    owner = carts.CartOwner(anna.id, northwind.id)
    await carts.add_to_cart(session, owner, desk["glasses"].id, 6)
    address = await session.scalar(select(Address).where(Address.company_id == northwind.id))
    assert address is not None
    today = clock.today(client.app.state.settings.seller_zone)
    form = CheckoutForm(
        key=(await carts.buyer_cart(session, owner)).checkout_key,
        delivery_date=delivery.earliest(northwind, today, None),
        address_id=address.id,
    )
    submission = await submit_for_customer(
        session, anna, northwind, form, today=today, grace_days=7, margin_floor=Decimal("10")
    )
    await session.commit()
    await sign_in(client, "nina@northwind.example")

    page = text_of((await client.get(f"/orders/{submission.order.id}")).text)
    assert "Placed by Anna Kowalska for Northwind Trading." in page and "By Anna Kowalska (account manager)" in page
    assert "Anna Kowalska (account manager)" in text_of((await client.get("/orders")).text)
    assert "Your cart is empty." in text_of((await client.get("/cart")).text)


async def test_the_customers_cart_and_checkout_cost_the_same_queries_for_2_and_6_lines(
    client: AsyncTestClient, session: AsyncSession, desk: dict
) -> None:
    northwind = desk["northwind"]
    await sign_in(client, "anna@seller.example")

    async def statements_for(lines: int) -> int:
        for _ in range(lines):
            product = await make_product(session)
            await session.commit()
            await add(client, northwind, product.id, "1", htmx=True)
        with counted_statements(client.app) as statements:
            for path in ("cart", "checkout"):
                assert (await client.get(f"/customers/{northwind.id}/{path}")).status_code == 200
        return len(statements)

    assert await statements_for(2) == await statements_for(4)
