"""Requests truly at the same moment, against a real server with two worker processes on
PostgreSQL: no lost update, no deadlock, no 500. Each test sends its burst, then reads what the
database holds and what every answer said."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Address,
    Cart,
    CartLine,
    Company,
    NotificationKind,
    NotificationOptOut,
    Order,
    OrderEvent,
    OrderStatus,
    Role,
    ShoppingList,
    ShoppingListLine,
)
from portal.web.schedules import not_offered
from tests.conftest import backend
from tests.factories import make_company, make_order, make_product, make_user
from tests.live_server import live_server, signed_in

pytestmark = [
    pytest.mark.postgresql_only,
    pytest.mark.skipif(backend() != "postgresql", reason="concurrent writers need PostgreSQL and a real server"),
]

BURST = 20
EARLIER = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(database_url, tmp_path_factory.mktemp("server"), workers=2) as base_url:
        yield base_url


@pytest.fixture
async def buyer_company(session: AsyncSession) -> AsyncIterator[dict]:
    company = await make_company(session, name="Northwind Trading", credit_limit=Decimal("100000.00"))
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
    product = await make_product(session, sku="PAP-1", name="Copy paper", list_price=Decimal("3.0000"))
    other = await make_product(session, sku="PEN-1", name="Pens", list_price=Decimal("1.0000"))
    await session.commit()
    yield {"company": company, "buyer": buyer, "product": product, "other": other}


def tally(responses: list[httpx.Response]) -> str:
    """ "303 x18, 500 x2": what the burst answered."""
    counts = Counter(response.status_code for response in responses)
    return ", ".join(f"{status} x{count}" for status, count in sorted(counts.items()))


def fine(responses: list[httpx.Response]) -> bool:
    return all(200 <= response.status_code < 400 for response in responses)


async def burst(*requests: object) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))  # type: ignore[arg-type]


async def test_twenty_adds_of_one_to_the_cart_add_twenty(
    server: str, session: AsyncSession, buyer_company: dict
) -> None:
    product = buyer_company["product"]
    client = await signed_in(server, "nina@northwind.example")
    async with aclosing(client):
        responses = await burst(
            *[client.post("/cart/add", data={"product_id": str(product.id), "quantity": "1"}) for _ in range(BURST)]
        )
    quantity = await session.scalar(select(func.sum(CartLine.quantity)).where(CartLine.product_id == product.id))
    carts = await session.scalar(select(func.count()).select_from(Cart))
    figure = f"+{quantity or 0} of {BURST}, answers {tally(responses)}, {carts} cart(s)"
    assert (quantity, carts, fine(responses)) == (BURST, 1, True), figure


async def test_twenty_adds_of_one_to_a_list_add_twenty(server: str, session: AsyncSession, buyer_company: dict) -> None:
    shopping_list = ShoppingList(company_id=buyer_company["company"].id, name="Office")
    session.add(shopping_list)
    await session.commit()
    product = buyer_company["product"]
    client = await signed_in(server, "nina@northwind.example")
    form = {"product_id": str(product.id), "quantity": "1", "list_id": str(shopping_list.id)}
    async with aclosing(client):
        responses = await burst(*[client.post("/lists/add", data=form) for _ in range(BURST)])
    quantity = await session.scalar(
        select(func.sum(ShoppingListLine.quantity)).where(ShoppingListLine.list_id == shopping_list.id)
    )
    figure = f"+{quantity or 0} of {BURST}, answers {tally(responses)}"
    assert (quantity, fine(responses)) == (BURST, True), figure


async def test_reorders_at_once_each_add_the_whole_order(
    server: str, session: AsyncSession, buyer_company: dict
) -> None:
    company, buyer = buyer_company["company"], buyer_company["buyer"]
    order = await make_order(
        session, company, gross="30.00", buyer=buyer, product=buyer_company["product"], quantity=10
    )
    await session.commit()
    rounds = 10
    client = await signed_in(server, "nina@northwind.example")
    async with aclosing(client):
        responses = await burst(*[client.post(f"/orders/{order.id}/reorder") for _ in range(rounds)])
    quantity = await session.scalar(select(func.sum(CartLine.quantity)))
    figure = f"+{quantity or 0} of {rounds * 10}, answers {tally(responses)}"
    assert (quantity, fine(responses)) == (rounds * 10, True), figure


async def test_opposite_order_bulk_approvals_neither_deadlock_nor_overdraw(server: str, session: AsyncSession) -> None:
    """Two admins approve the same orders of two companies at once, one from the first company to
    the second, the other the other way round, ten rounds of one order of 150.00 per company
    against a limit of 1,000.00: each order is approved at most once, every answer is the queue
    again, and approvals stop at six per company (900.00), so no company passes its limit."""
    for number in (1, 2):
        await make_user(session, Role.ADMIN, email=f"admin{number}@seller.example")
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    companies: list[Company] = []
    for _ in range(2):
        company = await make_company(session, credit_limit=Decimal("1000.00"), account_manager_id=manager.id)
        companies.append(company)
    buyer = await make_user(session, company_id=companies[0].id)
    for company in companies:  # an earlier order, so no order is a first order (which bulk leaves)
        await make_order(session, company, gross="10.00", status=OrderStatus.INVOICED, submitted_at=EARLIER)
    await session.commit()
    first = await signed_in(server, "admin1@seller.example")
    second = await signed_in(server, "admin2@seller.example")
    answers: list[httpx.Response] = []
    async with aclosing(first), aclosing(second):
        for _ in range(10):
            orders = [await make_order(session, company, gross="150.00", buyer=buyer) for company in companies]
            await session.commit()
            forward = [str(order.id) for order in orders]
            answers += await burst(
                first.post("/queue/bulk-approve", data={"order_ids": forward}),
                second.post("/queue/bulk-approve", data={"order_ids": forward[::-1]}),
            )
    company_ids = [company.id for company in companies]
    session.expire_all()
    statuses = Counter((await session.scalars(select(Order.status))).all())
    approvals = await session.scalar(
        select(func.count()).select_from(OrderEvent).where(OrderEvent.to_status == OrderStatus.APPROVED)
    )
    approved_by_company = dict(
        (
            await session.execute(
                select(Order.company_id, func.sum(Order.gross_total))
                .where(Order.status == OrderStatus.APPROVED)
                .group_by(Order.company_id)
            )
        ).all()
    )
    figure = (
        f"answers {tally(answers)}, {statuses[OrderStatus.APPROVED]} of 20 approved (12 fit), {approvals} approval events, "
        f"approved per company {approved_by_company}"
    )
    assert fine(answers), figure
    assert (statuses[OrderStatus.APPROVED], approvals) == (12, 12), figure
    assert approved_by_company == dict.fromkeys(company_ids, Decimal("900.00")), figure


async def _checkout_form(client: httpx.AsyncClient) -> dict[str, str]:
    page = (await client.get("/checkout")).text
    found = {
        "key": re.search(r'name="key" value="([^"]+)"', page),
        "address_id": re.search(r'<option value="(\d+)" selected', page),
        "delivery_date": re.search(r'name="delivery_date" type="date" value="([^"]+)"', page),
    }
    assert all(found.values()), page[:2000]
    return {name: match.group(1) for name, match in found.items() if match} | {"po_number": "PO-7", "note": ""}


async def test_two_identical_checkouts_make_one_order_and_both_answer(
    server: str, session: AsyncSession, buyer_company: dict
) -> None:
    rounds = 10
    client = await signed_in(server, "nina@northwind.example")
    answers: list[httpx.Response] = []
    async with aclosing(client):
        for _ in range(rounds):
            added = await client.post(
                "/cart/add", data={"product_id": str(buyer_company["product"].id), "quantity": "2"}
            )
            assert added.status_code == 303
            form = await _checkout_form(client)
            pair = await burst(*[client.post("/checkout", data=form) for _ in range(2)])
            answers += pair
            assert len({response.headers.get("location") for response in pair}) == 1 or not fine(pair)
    orders = await session.scalar(select(func.count()).select_from(Order))
    figure = f"{orders} orders from {rounds} carts, answers {tally(answers)}"
    assert (orders, fine(answers)) == (rounds, True), figure
    assert all(response.headers["location"].startswith("/orders/") for response in answers), figure


async def test_a_list_deleted_while_renamed_gives_the_loser_a_clear_answer(
    server: str, session: AsyncSession, buyer_company: dict
) -> None:
    """Per round: one buyer deletes the list, another renames it, a third deletes it too. Every
    answer is a redirect or the 404 page that says the list no longer exists; the list is gone."""
    company = buyer_company["company"]
    for number in (2, 3):
        await make_user(session, company_id=company.id, email=f"buyer{number}@northwind.example")
    rounds = 10
    made = []
    for number in range(rounds):
        shopping_list = ShoppingList(
            company_id=company.id,
            name=f"List {number}",
            lines=[ShoppingListLine(company_id=company.id, product_id=buyer_company["product"].id, quantity=3)],
        )
        session.add(shopping_list)
        made.append(shopping_list)
    await session.commit()
    clients = [await signed_in(server, email) for email in ("nina@northwind.example", "buyer2@northwind.example")]
    clients.append(await signed_in(server, "buyer3@northwind.example"))
    answers: list[httpx.Response] = []
    async with aclosing(clients[0]), aclosing(clients[1]), aclosing(clients[2]):
        for shopping_list in made:
            path = f"/lists/{shopping_list.id}"
            answers += await burst(
                clients[0].post(f"{path}/delete"),
                clients[1].post(path, data={"name": "Renamed", "description": ""}),
                clients[2].post(f"{path}/delete"),
            )
    unclear = [
        response
        for response in answers
        if not (
            response.status_code == 303
            or (response.status_code == 404 and "This list no longer exists" in response.text)
        )
    ]
    left = await session.scalar(select(func.count()).select_from(ShoppingList))
    lines = await session.scalar(select(func.count()).select_from(ShoppingListLine))
    figure = f"answers {tally(answers)}, {len(unclear)} unclear, {left} lists and {lines} lines left"
    assert (unclear, left, lines) == ([], 0, 0), figure


async def test_notification_settings_saved_at_once_never_fail(
    server: str, session: AsyncSession, buyer_company: dict
) -> None:
    optional = [kind.value for kind in NotificationKind if kind.optional]
    client = await signed_in(server, "nina@northwind.example")
    choices = [optional[: number % (len(optional) + 1)] for number in range(BURST)]
    async with aclosing(client):
        answers = await burst(*[client.post("/account/notifications", data={"kind": kind}) for kind in choices])
    off = set(
        await session.scalars(
            select(NotificationOptOut.kind).where(NotificationOptOut.user_id == buyer_company["buyer"].id)
        )
    )
    kept_on = not_offered(buyer_company["buyer"])  # a kind a buyer is not asked about stays on
    outcomes = [
        {NotificationKind(k) for k in optional} - {NotificationKind(k) for k in kind} - kept_on for kind in choices
    ]
    figure = f"answers {tally(answers)}, {len(off)} kinds off"
    assert fine(answers), figure
    assert off in outcomes, figure
