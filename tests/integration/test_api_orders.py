"""The ERP takes approved orders out: it pulls them page by page (every order once, in a stable
order, with its lines, totals, company, buyer and address, at the same query cost for any page
size), acknowledges each one (approved → exported, once, a repeat answering the same), and the
admin downloads the orders not taken yet as a CSV without changing them."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import Address, Company, Order, OrderEvent, OrderLine, OrderStatus, Product, Role
from portal.services import order_export
from portal.settings import Settings
from tests.factories import bearer, make_api_key, make_company, make_order, make_product, make_user, sign_in
from tests.queries import counted_statements

ORDERS = "/api/v1/orders"
SUBMITTED = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
APPROVED = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
_numbers = itertools.count(1)


async def erp_order(
    session: AsyncSession,
    company: Company,
    product: Product,
    status: OrderStatus = OrderStatus.APPROVED,
    gross: str = "100.00",
    **fields: Any,
) -> Order:
    """An order with a number as checkout gives one; an approved one with the event that approved it."""
    order = await make_order(session, company, gross=gross, status=status, product=product, submitted_at=SUBMITTED)
    order.number = f"ORD-2026-{next(_numbers):06d}"
    for name, value in fields.items():
        setattr(order, name, value)
    if status in order_export.FOR_ERP:
        order.events.append(
            OrderEvent(
                company_id=company.id,
                at=APPROVED,
                from_status=OrderStatus.PENDING_APPROVAL,
                to_status=OrderStatus.APPROVED,
                reason="",
            )
        )
    await session.flush()
    return order


@pytest.fixture
async def product(session: AsyncSession) -> Product:
    return await make_product(session, sku="TWL-1", name="Towels", unit="pcs")


@pytest.fixture
async def secret(session: AsyncSession, settings: Settings) -> str:
    _, secret = await make_api_key(session, settings)
    return secret


async def pull(client: AsyncTestClient, secret: str, **params: Any) -> list[list[str]]:
    """Every page of a pull, as order numbers per page, following `next` to its end."""
    pages: list[list[str]] = []
    after: str | None = None
    while True:
        query = {**params, **({"after": after} if after else {})}
        answer = await client.get(ORDERS, params=query, headers=bearer(secret))
        assert answer.status_code == 200, answer.text
        pages.append([order["number"] for order in answer.json()["orders"]])
        after = answer.json()["next"]
        if after is None:
            return pages
        assert len(pages) < 20


async def status_of(session: AsyncSession, number: str) -> OrderStatus | None:
    session.expire_all()
    return await session.scalar(select(Order.status).where(Order.number == number))


async def test_pages_hold_every_order_of_the_status_once_in_a_stable_order(
    client: AsyncTestClient, session: AsyncSession, secret: str, product: Product
) -> None:
    first, second = await make_company(session), await make_company(session)
    approved = [(await erp_order(session, (first, second)[n % 2], product)).number for n in range(7)]
    exported = [(await erp_order(session, first, product, OrderStatus.EXPORTED)).number for _ in range(2)]
    await erp_order(session, first, product, OrderStatus.PENDING_APPROVAL)
    await erp_order(session, second, product, OrderStatus.CANCELLED)
    await session.commit()

    pages = await pull(client, secret, limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]
    assert [number for page in pages for number in page] == approved
    assert await pull(client, secret, status="exported", limit=3) == [exported]
    assert await pull(client, secret, status="invoiced") == [[]]

    # an order taken between two pages moves nothing on the pages after it
    page = (await client.get(ORDERS, params={"limit": 3}, headers=bearer(secret))).json()
    assert (await client.post(f"{ORDERS}/{approved[0]}/export", headers=bearer(secret))).status_code == 200
    rest = (await client.get(ORDERS, params={"limit": 3, "after": page["next"]}, headers=bearer(secret))).json()
    assert [order["number"] for order in rest["orders"]] == approved[3:6]


async def test_an_order_carries_its_lines_totals_company_buyer_and_address(
    client: AsyncTestClient, session: AsyncSession, secret: str, product: Product
) -> None:
    company = await make_company(session, name="Hotel Wisła", tax_id="PL5250001003", payment_terms_days=14)
    address = Address(company_id=company.id, label="Kitchen", street="ul. Prosta 1", postal_code="00-001", city="Wisła")
    session.add(address)
    await session.flush()
    buyer = await make_user(session, company_id=company.id, email="ewa@wisla.example")
    soap = await make_product(session, sku="SOAP-5", name="Soap, 5 l", unit="can", vat_rate=Decimal("8.00"))
    order = await erp_order(
        session,
        company,
        product,
        gross="0.00",
        buyer_id=buyer.id,
        po_number="PO/77",
        requested_delivery_date=date(2026, 12, 3),
        delivery_address="Kitchen\nul. Prosta 1\n00-001 Wisła\nPL",
        delivery_address_id=address.id,
        note="Ring twice.",
        net_total=Decimal("135.00"),
        vat_total=Decimal("13.50"),
        gross_total=Decimal("148.50"),
        delivery_fee=Decimal("15.00"),
        delivery_fee_vat_rate=Decimal("23.00"),
    )
    line = order.lines[0]
    line.quantity, line.unit_price, line.vat_rate, line.line_net = 4, Decimal("5.2500"), Decimal("23.00"), Decimal("21")
    order.lines.append(
        OrderLine(
            company_id=company.id,
            product_id=soap.id,
            sku="SOAP-5",
            name="Soap, 5 l",
            unit="can",
            quantity=3,
            unit_price=Decimal("33.0000"),
            price_source="contract",
            unit_cost=Decimal("20.0000"),
            vat_rate=Decimal("8.00"),
            line_net=Decimal("99.00"),
        )
    )
    await session.commit()

    answer = await client.get(ORDERS, headers=bearer(secret))
    assert answer.status_code == 200
    assert answer.json() == {
        "orders": [
            {
                "number": order.number,
                "status": "approved",
                "company_name": "Hotel Wisła",
                "company_tax_id": "PL5250001003",
                "buyer_email": "ewa@wisla.example",
                "po_number": "PO/77",
                "requested_delivery_date": "2026-12-03",
                "delivery_address": "Kitchen\nul. Prosta 1\n00-001 Wisła\nPL",
                "delivery_address_id": address.id,
                "currency": "PLN",
                "net_total": "135.00",
                "vat_total": "13.50",
                "gross_total": "148.50",
                "delivery_fee": "15.00",
                "delivery_fee_vat_rate": "23.00",
                "payment_terms_days": 14,
                "submitted_at": "2026-11-20T08:30:00Z",
                "approved_at": "2026-11-20T09:15:00Z",
                "note": "Ring twice.",
                "lines": [
                    {
                        "sku": "TWL-1",
                        "name": "Towels",
                        "unit": "pcs",
                        "quantity": 4,
                        "unit_price": "5.2500",
                        "vat_rate": "23.00",
                        "line_net": "21.00",
                    },
                    {
                        "sku": "SOAP-5",
                        "name": "Soap, 5 l",
                        "unit": "can",
                        "quantity": 3,
                        "unit_price": "33.0000",
                        "vat_rate": "8.00",
                        "line_net": "99.00",
                    },
                ],
            }
        ],
        "next": None,
    }


async def test_a_page_of_fifty_orders_costs_the_queries_of_a_page_of_five(
    client: AsyncTestClient, session: AsyncSession, secret: str, product: Product
) -> None:
    companies = [await make_company(session) for _ in range(5)]
    buyers = [await make_user(session, company_id=company.id) for company in companies]
    for n in range(55):
        await erp_order(session, companies[n % 5], product, buyer_id=buyers[n % 5].id)
    await session.commit()

    counts = {}
    for limit in (5, 50):
        with counted_statements(client.app) as statements:
            answer = await client.get(ORDERS, params={"limit": limit}, headers=bearer(secret))
        assert len(answer.json()["orders"]) == limit
        counts[limit] = len(statements)
    assert counts[5] == counts[50], counts


async def test_an_acknowledgement_exports_the_order_once_and_a_repeat_answers_the_same(
    client: AsyncTestClient, session: AsyncSession, secret: str, product: Product
) -> None:
    number = (await erp_order(session, await make_company(session), product)).number
    await session.commit()

    first = await client.post(f"{ORDERS}/{number}/export", headers=bearer(secret))
    assert first.status_code == 200, first.text
    assert first.json()["number"] == number and first.json()["status"] == "exported"
    assert first.json()["exported_at"].endswith("Z")
    assert await status_of(session, number) is OrderStatus.EXPORTED
    event = await session.scalar(select(OrderEvent).order_by(OrderEvent.id.desc()).limit(1))
    assert event is not None and event.to_status is OrderStatus.EXPORTED and event.actor_id is None
    assert "API key ERP" in event.reason

    again = await client.post(f"{ORDERS}/{number}/export", headers=bearer(secret))
    assert again.status_code == 200 and again.json() == first.json()
    assert await session.scalar(select(func.count()).select_from(OrderEvent)) == 3  # submitted, approved, exported
    assert await pull(client, secret) == [[]]
    assert await pull(client, secret, status="exported") == [[number]]

    headers = {**bearer(secret), "Idempotency-Key": "ack-1"}
    keyed = await client.post(f"{ORDERS}/{number}/export", headers=headers)
    replayed = await client.post(f"{ORDERS}/{number}/export", headers=headers)
    assert keyed.json() == replayed.json() == first.json() and replayed.headers["idempotent-replayed"] == "true"


async def test_acknowledgements_at_the_same_moment_export_the_order_once(
    engine: AsyncEngine, session: AsyncSession, product: Product, monkeypatch: pytest.MonkeyPatch
) -> None:
    number = (await erp_order(session, await make_company(session), product)).number
    await session.commit()
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    move = order_export.move_order

    async def slow_move(*args: Any, **kwargs: Any) -> Order:
        await asyncio.sleep(0.2)  # the other acknowledgement arrives while this one is deciding
        return await move(*args, **kwargs)

    monkeypatch.setattr(order_export, "move_order", slow_move)

    async def acknowledge(label: str) -> order_export.Acknowledgement:
        async with sessions() as own:
            done = await order_export.acknowledge(own, number, label)
            await own.commit()
            return done

    answers = await asyncio.gather(acknowledge("API key A (#1)"), acknowledge("API key B (#2)"))
    assert answers[0] == answers[1] and answers[0].status is OrderStatus.EXPORTED
    moves = await session.scalar(
        select(func.count()).select_from(OrderEvent).where(OrderEvent.to_status == OrderStatus.EXPORTED)
    )
    assert moves == 1


async def test_orders_not_approved_conflict_and_unknown_numbers_are_not_found(
    client: AsyncTestClient, session: AsyncSession, secret: str, product: Product
) -> None:
    company = await make_company(session)
    pending = (await erp_order(session, company, product, OrderStatus.PENDING_APPROVAL)).number
    rejected = (await erp_order(session, company, product, OrderStatus.REJECTED)).number
    await session.commit()

    for number in (pending, rejected):
        answer = await client.post(f"{ORDERS}/{number}/export", headers=bearer(secret))
        assert answer.status_code == 409 and answer.headers["content-type"].startswith("application/problem+json")
        assert number in answer.json()["detail"]
    assert await status_of(session, pending) is OrderStatus.PENDING_APPROVAL
    assert await status_of(session, rejected) is OrderStatus.REJECTED

    for number in ("ORD-2026-999999", "ORD-2026", "x" * 40):
        answer = await client.post(f"{ORDERS}/{number}/export", headers=bearer(secret))
        assert answer.status_code == 404 and answer.json()["status"] == 404, number


async def test_a_bad_cursor_limit_or_status_points_at_its_parameter(client: AsyncTestClient, secret: str) -> None:
    for params, pointer in (
        ({"after": "Zm9v"}, "after"),  # base64 of "foo": not a cursor the portal made
        ({"after": "MDA3"}, "after"),  # "007"
        ({"after": "not a cursor!"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"status": "pending_approval"}, "status"),
    ):
        answer = await client.get(ORDERS, params=params, headers=bearer(secret))
        assert answer.status_code == 422, (params, answer.text)
        assert [error["pointer"] for error in answer.json()["errors"]] == [pointer], params


async def test_keys_without_the_orders_scopes_are_refused(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, product: Product
) -> None:
    number = (await erp_order(session, await make_company(session), product)).number
    await session.commit()
    _, reader = await make_api_key(session, settings, {"orders:read"})
    _, writer = await make_api_key(session, settings, {"orders:write"})

    assert (await client.get(ORDERS, headers=bearer(reader))).status_code == 200
    refused = await client.post(f"{ORDERS}/{number}/export", headers=bearer(reader))
    assert refused.status_code == 403 and "orders:write" in refused.json()["detail"]
    refused = await client.get(ORDERS, headers=bearer(writer))
    assert refused.status_code == 403 and "orders:read" in refused.json()["detail"]
    assert await status_of(session, number) is OrderStatus.APPROVED


async def test_the_admin_downloads_the_approved_orders_not_taken_yet_without_changing_them(
    client: AsyncTestClient, session: AsyncSession, product: Product
) -> None:
    company = await make_company(session, name="Bistro; Kraków", tax_id="PL7740001454")
    waiting = await erp_order(session, company, product, gross="12.50", po_number="=1+1")
    other = await make_product(session, sku="SOAP-5", name="Soap", unit="can")
    waiting.lines.append(
        OrderLine(
            company_id=company.id,
            product_id=other.id,
            sku="SOAP-5",
            name="Soap",
            unit="can",
            quantity=2,
            unit_price=Decimal("3.0000"),
            price_source="contract",
            unit_cost=Decimal("2.0000"),
            vat_rate=Decimal("8.00"),
            line_net=Decimal("6.00"),
        )
    )
    second = await erp_order(session, company, product, gross="40.00")
    taken = await erp_order(session, company, product, OrderStatus.EXPORTED)
    await erp_order(session, company, product, OrderStatus.PENDING_APPROVAL)
    admin = await make_user(session, Role.ADMIN)
    finance = (await make_user(session, Role.FINANCE)).email
    await session.commit()

    await sign_in(client, admin.email)
    page = await client.get("/admin/imports")
    assert "/admin/exports/orders?format=excel_pl" in page.text and "changes no order" in page.text
    english = await client.get("/admin/exports/orders?format=excel")
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/csv")
    assert 'filename="orders-approved-' in english.headers["content-disposition"]
    assert english.content.startswith(b"\xef\xbb\xbf")
    lines = english.content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(order_export.CSV_HEADER)
    rows = lines[1:-1]
    assert [row.split(",", 1)[0] for row in rows] == [waiting.number, waiting.number, second.number]
    assert taken.number not in english.text
    assert rows[0].startswith(
        f'{waiting.number},approved,"Bistro; Kraków",PL7740001454,,\'=1+1,2026-12-01,HQ,,PLN,12.50,'
    )
    assert rows[0].endswith(",2026-11-20T08:30:00Z,2026-11-20T09:15:00Z,,TWL-1,Towels,pcs,1,12.5000,0.00,12.50")
    assert rows[1].endswith(",SOAP-5,Soap,can,2,3.0000,8.00,6.00")

    polish = await client.get("/admin/exports/orders?format=excel_pl")
    assert polish.content.decode("utf-8-sig").split("\r\n")[3].endswith(";TWL-1;Towels;pcs;1;40,0000;0,00;40,00")
    assert await status_of(session, waiting.number) is OrderStatus.APPROVED

    client.cookies.clear()
    await sign_in(client, finance)
    assert (await client.get("/admin/exports/orders")).status_code == 403


async def test_every_order_reads_past_a_full_page(
    session: AsyncSession, product: Product, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_export, "PAGE_MAX", 3)
    company = await make_company(session)
    made = [(await erp_order(session, company, product)).number for _ in range(7)]
    await session.commit()
    orders = await order_export.every_order(session, OrderStatus.APPROVED)
    assert [order.number for order in orders] == made
    assert orders[-1].approved_at == APPROVED
