"""Cancelling an approved order over HTTP: the company's account manager (their deputy on cover) or
an admin cancels an approved order the ERP has not taken yet, with a reason the buyers read; the
timeline records it, it leaves the company's exposure and its settlement period's turnover. An
order the ERP took is refused with a clear message; outside one's customers it does not exist."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Deputy, NotificationKind, Order, OrderEvent, OrderStatus, OutboxMessage, Role
from portal.services import agreements, credit
from tests.factories import (
    csrf_from,
    make_agreement,
    make_company,
    make_counted_order,
    make_user,
    sign_in,
    text_of,
)

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    deputy = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    company = await make_company(
        session, name="Northwind Trading", account_manager_id=manager.id, credit_limit=Decimal("100000.00")
    )
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    await make_agreement(session, company, number="FA/2026/001", tiers=[("100000.00", "3.00")])
    earlier = await make_counted_order(
        session, company, net="60000.00", approved_at=datetime(2026, 10, 20, 10, tzinfo=UTC)
    )
    order = await make_counted_order(
        session, company, net="40000.00", approved_at=datetime(2026, 11, 20, 10, tzinfo=UTC)
    )
    await session.commit()
    return {
        "manager": manager,
        "deputy": deputy,
        "finance": finance,
        "admin": admin,
        "company": company,
        "buyer": buyer,
        "earlier": earlier,
        "order": order,
    }


async def signed_in(client: AsyncTestClient, email: str) -> str:
    client.cookies.clear()
    assert (await sign_in(client, email)).status_code == 303
    return csrf_from((await client.get("/", follow_redirects=True)).text)


async def cancel(client: AsyncTestClient, order: Order, csrf: str, reason: str = "", **headers: str) -> Any:
    return await client.post(
        f"/queue/orders/{order.id}/cancel",
        data={"reason": reason, "_csrf_token": csrf},
        headers=headers,
        follow_redirects=False,
    )


async def status_of(session: AsyncSession, order: Order) -> OrderStatus:
    found = await session.scalar(
        select(Order.status).where(Order.id == order.id).execution_options(populate_existing=True)
    )
    assert found is not None
    return found


async def test_the_manager_cancels_an_approved_order_and_it_stops_counting(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    company, order = world["company"], world["order"]
    before = await agreements.standing(session, company.id, TODAY)
    assert before is not None and before.scopes[0].turnover == Decimal("100000.00")
    assert before.scopes[0].reached == agreements.Tier(Decimal("100000.00"), Decimal("3.00"))
    picture = await credit.credit_picture(session, company.id, today=TODAY, grace_days=7)
    assert picture.exposure == Decimal("100000.00")  # both approved orders, not invoiced yet

    csrf = await signed_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{order.id}")
    assert 'id="cancel-form"' in page.text
    done = await cancel(client, order, csrf, "The customer ordered twice by mistake.", **{"hx-request": "true"})
    assert done.status_code == 200 and "<html" not in done.text
    assert "Cancelled · Anna Kowalska" in text_of(done.text)
    assert "The customer ordered twice by mistake." in text_of(done.text)
    assert 'id="cancel-form"' not in done.text

    assert await status_of(session, order) is OrderStatus.CANCELLED
    event = await session.scalar(
        select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id.desc()).limit(1)
    )
    assert event is not None
    assert (event.from_status, event.to_status, event.actor_id, event.reason) == (
        OrderStatus.APPROVED,
        OrderStatus.CANCELLED,
        world["manager"].id,
        "The customer ordered twice by mistake.",
    )
    # it leaves the period's turnover (100,000.00 − 40,000.00 = 60,000.00: below the 3 % tier) and the exposure
    after = await agreements.standing(session, company.id, TODAY)
    assert after is not None and after.scopes[0].turnover == Decimal("60000.00") and after.scopes[0].reached is None
    picture = await credit.credit_picture(session, company.id, today=TODAY, grace_days=7)
    assert picture.exposure == Decimal("60000.00")
    # the buyers are told, with the reason
    told = list(
        await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == NotificationKind.ORDER_DECIDED))
    )
    assert [(message.recipient, message.subject) for message in told] == [
        ("nina@northwind.example", f"Order {order.number} was cancelled")
    ]
    assert "was cancelled by your account manager" in told[0].body_text
    assert "The customer ordered twice by mistake." in told[0].body_text
    # the buyer reads it on the order page, without a cancel button of their own
    await signed_in(client, world["buyer"].email)
    mine = await client.get(f"/orders/{order.id}")
    assert "Cancelled" in text_of(mine.text) and "The customer ordered twice by mistake." in text_of(mine.text)


async def test_a_reason_is_required_and_nothing_changes_without_one(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await signed_in(client, world["manager"].email)
    refused = await cancel(client, world["order"], csrf, "   ")
    assert refused.status_code == 400
    assert 'id="cancel-reason-error"' in refused.text
    assert "Give the buyer a reason for the cancellation." in text_of(refused.text)
    assert await status_of(session, world["order"]) is OrderStatus.APPROVED


async def test_an_order_the_erp_took_cannot_be_cancelled(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    order = world["order"]
    order.status = OrderStatus.EXPORTED
    await session.commit()
    csrf = await signed_in(client, world["manager"].email)
    assert 'id="cancel-form"' not in (await client.get(f"/queue/orders/{order.id}")).text
    refused = await cancel(client, order, csrf, "Too late?")
    assert refused.status_code == 409
    assert (
        f"Order {order.number} was already taken by the ERP, so it can no longer be cancelled here; nothing was changed."
        in text_of(refused.text)
    )
    assert await status_of(session, order) is OrderStatus.EXPORTED


async def test_a_pending_order_is_not_cancelled_here(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    order = world["order"]
    order.status = OrderStatus.PENDING_APPROVAL
    await session.commit()
    csrf = await signed_in(client, world["manager"].email)
    refused = await cancel(client, order, csrf, "Not this way.")
    assert refused.status_code == 409
    assert "“Waiting for approval”" in text_of(refused.text)
    assert await status_of(session, order) is OrderStatus.PENDING_APPROVAL


@pytest.mark.parametrize(
    ("who", "status"), [("finance", 403), ("buyer", 403), ("stranger", 404), ("admin", 303), ("deputy", 303)]
)
async def test_who_may_cancel(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession, who: str, status: int
) -> None:
    if who == "stranger":
        world["stranger"] = await make_user(session, Role.ACCOUNT_MANAGER, email="other@seller.example")
    if who == "deputy":
        session.add(
            Deputy(
                manager_id=world["manager"].id,
                deputy_id=world["deputy"].id,
                starts_on=TODAY,
                ends_on=TODAY + timedelta(days=3),
            )
        )
    await session.commit()
    csrf = await signed_in(client, world[who].email)
    answer = await cancel(client, world["order"], csrf, "Customer asked.")
    assert answer.status_code == status
    expected = OrderStatus.CANCELLED if status == 303 else OrderStatus.APPROVED
    assert await status_of(session, world["order"]) is expected
    if who == "deputy":
        event = await session.scalar(select(OrderEvent).order_by(OrderEvent.id.desc()).limit(1))
        assert event is not None and event.on_behalf_of_id == world["manager"].id


async def test_the_buyer_cannot_cancel_an_approved_order(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    csrf = await signed_in(client, world["buyer"].email)
    page = await client.get(f"/orders/{world['order'].id}")
    assert page.status_code == 200 and f'action="/orders/{world["order"].id}/cancel"' not in page.text
    refused = await client.post(
        f"/orders/{world['order'].id}/cancel", data={"_csrf_token": csrf}, follow_redirects=False
    )
    assert refused.status_code in (303, 409)
    assert await status_of(session, world["order"]) is OrderStatus.APPROVED
