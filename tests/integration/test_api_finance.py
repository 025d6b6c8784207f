"""The ERP API's accounting documents: invoices by number, payments by the ERP's reference, an
order's invoice that moves the order to invoiced; all or nothing per call with every bad item
listed, repeats that change nothing, and the buyer's statement showing what the ERP sent."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import Company, Invoice, Order, OrderEvent, OrderStatus, Payment, Role
from portal.settings import Settings
from tests.factories import bearer, make_api_key, make_company, make_invoice, make_order, make_user, sign_in, text_of

INVOICES = "/api/v1/invoices"
PAYMENTS = "/api/v1/payments"


@pytest.fixture
def today(settings: Settings) -> date:
    return clock.today(settings.seller_zone)


@pytest.fixture
async def company(session: AsyncSession) -> Company:
    company = await make_company(session, name="Pomerania Retail", tax_id="PL9550006006")
    await session.commit()
    return company


@pytest.fixture
async def secret(session: AsyncSession, settings: Settings) -> str:
    _, secret = await make_api_key(session, settings)
    return secret


def invoice(number: str, today: date, **fields: Any) -> dict[str, Any]:
    return {
        "number": number,
        "tax_id": "PL955-000-60-06",
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
        "gross": "1230.00",
        "currency": "PLN",
        **fields,
    }


def order_invoice(number: str, today: date, **fields: Any) -> dict[str, Any]:
    return {
        "invoice_number": number,
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
        "gross": "1230.00",
        "currency": "PLN",
        **fields,
    }


async def stored_invoices(session: AsyncSession) -> list[tuple[str, Decimal, Decimal, str | None]]:
    session.expire_all()
    return [
        (i.number, i.gross_amount, i.paid_amount, i.order_number)
        for i in await session.scalars(select(Invoice).order_by(Invoice.number))
    ]


async def test_invoices_are_recorded_a_repeat_is_unchanged_and_other_figures_are_refused(
    client: AsyncTestClient, session: AsyncSession, company: Company, secret: str, today: date
) -> None:
    body = {"items": [invoice("FV/1", today), invoice("FV/2", today, gross="99.99")]}
    created = await client.put(INVOICES, json=body, headers=bearer(secret))
    assert created.status_code == 200, created.text
    assert created.json() == {
        "created": 2,
        "unchanged": 0,
        "items": [{"key": "FV/1", "outcome": "new"}, {"key": "FV/2", "outcome": "new"}],
    }
    assert await stored_invoices(session) == [
        ("FV/1", Decimal("1230.00"), Decimal("0.00"), None),
        ("FV/2", Decimal("99.99"), Decimal("0.00"), None),
    ]

    repeat = await client.put(
        INVOICES,
        json={"items": [invoice("FV/2", today, gross="99.99"), invoice("FV/3", today)]},
        headers=bearer(secret),
    )
    assert repeat.json()["items"] == [{"key": "FV/2", "outcome": "unchanged"}, {"key": "FV/3", "outcome": "new"}]

    refused = await client.put(
        INVOICES,
        json={
            "items": [
                invoice("FV/4", today),
                invoice("FV/1", today, gross="1300.00"),
                invoice("FV/5", today, tax_id="PL0000000000", currency="EUR"),
            ]
        },
        headers=bearer(secret),
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [(e["pointer"], e["detail"]) for e in refused.json()["errors"]] == [
        (
            "/items/1/number",
            "Invoice FV/1 was imported before with other figures "
            f"(gross PLN\xa01,230.00, issued {today.isoformat()}, due {(today + timedelta(days=30)).isoformat()}).",
        ),
        ("/items/2/tax_id", "No customer company has the tax id “PL0000000000”."),
    ]
    assert [number for number, *_ in await stored_invoices(session)] == ["FV/1", "FV/2", "FV/3"]


async def test_payments_are_known_by_reference_and_every_bad_item_refuses_the_call(
    client: AsyncTestClient, session: AsyncSession, company: Company, secret: str, today: date
) -> None:
    first = await make_invoice(session, company, gross="1000.00", due=today + timedelta(days=10))
    second = await make_invoice(session, company, gross="200.00", due=today + timedelta(days=10))
    await session.commit()
    first_number, second_number, first_id = first.number, second.number, first.id
    paid_on = today.isoformat()
    payments = [
        {"invoice_number": first_number, "paid_on": paid_on, "amount": "400.00", "reference": "BANK-1"},
        {"invoice_number": second_number, "paid_on": paid_on, "amount": "200", "reference": "BANK-2"},
    ]
    headers = {**bearer(secret), "Idempotency-Key": "payments-001"}
    created = await client.put(PAYMENTS, json={"items": payments}, headers=headers)
    assert created.status_code == 200, created.text
    assert created.json()["created"] == 2
    replayed = await client.put(PAYMENTS, json={"items": payments}, headers=headers)
    assert replayed.json() == created.json() and replayed.headers["idempotent-replayed"] == "true"

    again = await client.put(PAYMENTS, json={"items": payments}, headers=bearer(secret))
    assert again.json() == {
        "created": 0,
        "unchanged": 2,
        "items": [{"key": "BANK-1", "outcome": "unchanged"}, {"key": "BANK-2", "outcome": "unchanged"}],
    }
    session.expire_all()
    assert [(i.number, i.paid_amount) for i in await session.scalars(select(Invoice).order_by(Invoice.id))] == [
        (first_number, Decimal("400.00")),
        (second_number, Decimal("200.00")),
    ]

    refused = await client.put(
        PAYMENTS,
        json={
            "items": [
                {"invoice_number": first_number, "paid_on": paid_on, "amount": "100.00", "reference": "BANK-3"},
                {"invoice_number": first_number, "paid_on": paid_on, "amount": "600.00", "reference": "BANK-4"},
                {"invoice_number": "FV/NONE", "paid_on": paid_on, "amount": "10.00", "reference": "BANK-5"},
                {"invoice_number": first_number, "paid_on": paid_on, "amount": "1.00", "reference": "BANK-1"},
            ]
        },
        headers=bearer(secret),
    )
    assert refused.status_code == 422
    assert [(e["pointer"], e["detail"]) for e in refused.json()["errors"]] == [
        (
            "/items/1/amount",
            f"The payment of PLN\xa0600.00 exceeds the balance PLN\xa0500.00 of invoice {first_number}.",
        ),
        ("/items/2/invoice_number", "No invoice FV/NONE; import the invoice first."),
        ("/items/3/reference", "The reference BANK-1 was imported before for another payment."),
    ]
    without_reference = await client.put(
        PAYMENTS,
        json={"items": [{"invoice_number": first_number, "paid_on": paid_on, "amount": "1.00"}]},
        headers=bearer(secret),
    )
    assert without_reference.status_code == 422
    assert [e["pointer"] for e in without_reference.json()["errors"]] == ["/items/0/reference"]
    session.expire_all()
    assert sorted(await session.scalars(select(Payment.reference))) == ["BANK-1", "BANK-2"]
    assert await session.scalar(select(Invoice.paid_amount).where(Invoice.id == first_id)) == Decimal("400.00")


async def test_a_key_without_the_invoices_write_scope_is_forbidden(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, company: Company, today: date
) -> None:
    order = await make_order(session, company, gross="100.00", status=OrderStatus.APPROVED)
    await session.commit()
    _, reader = await make_api_key(session, settings, {"invoices:read", "orders:write"})
    payment = {"invoice_number": "FV/1", "paid_on": today.isoformat(), "amount": "1.00", "reference": "B"}
    answers = [
        await client.put(INVOICES, json={"items": [invoice("FV/1", today)]}, headers=bearer(reader)),
        await client.put(PAYMENTS, json={"items": [payment]}, headers=bearer(reader)),
        await client.post(
            f"/api/v1/orders/{order.number}/invoice",
            json=order_invoice("FV/1", today),
            headers=bearer(reader),
        ),
    ]
    assert [answer.status_code for answer in answers] == [403, 403, 403]
    assert all("invoices:write" in answer.json()["detail"] for answer in answers)
    assert await stored_invoices(session) == []


async def test_an_order_s_invoice_moves_it_to_invoiced_once_and_the_buyer_s_statement_shows_it(
    client: AsyncTestClient, session: AsyncSession, company: Company, secret: str, today: date
) -> None:
    buyer = await make_user(session, Role.BUYER, company_id=company.id)
    order = await make_order(session, company, gross="1230.00", status=OrderStatus.APPROVED, buyer=buyer)
    pending = await make_order(session, company, gross="50.00")
    await session.commit()
    order_number, order_id, pending_number, email = order.number, order.id, pending.number, buyer.email
    url = f"/api/v1/orders/{order_number}/invoice"
    body = order_invoice("FV/2026/0001", today, gross="1230")

    first = await client.post(url, json=body, headers=bearer(secret))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "order_number": order_number,
        "status": "invoiced",
        "invoice_number": "FV/2026/0001",
        "tax_id": "PL9550006006",
        "issue_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
        "gross": "1230.00",
        "currency": "PLN",
    }
    second = await client.post(url, json=body | {"gross": "1230.00"}, headers=bearer(secret))
    assert (second.status_code, second.json()) == (200, first.json())
    session.expire_all()
    assert await session.scalar(select(Order.status).where(Order.id == order_id)) is OrderStatus.INVOICED
    events = (
        await session.scalars(select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id))
    ).all()
    assert [e.to_status for e in events][-2:] == [OrderStatus.EXPORTED, OrderStatus.INVOICED]
    assert "API key ERP" in events[-1].reason and events[-1].actor_id is None
    assert await stored_invoices(session) == [("FV/2026/0001", Decimal("1230.00"), Decimal("0.00"), order_number)]

    other_figures = await client.post(url, json=body | {"gross": "1000.00"}, headers=bearer(secret))
    assert other_figures.status_code == 422
    assert [e["pointer"] for e in other_figures.json()["errors"]] == ["/invoice_number"]
    not_approved = await client.post(
        f"/api/v1/orders/{pending_number}/invoice",
        json=body | {"invoice_number": "FV/2026/0002"},
        headers=bearer(secret),
    )
    assert not_approved.status_code == 409
    assert not_approved.json()["detail"] == (
        f"Order {pending_number} has the status “Waiting for approval”; only approved orders are invoiced."
    )
    for unknown in ("ORD-2026-999999", "no%20such%20order", "X" * 31):
        assert (
            await client.post(f"/api/v1/orders/{unknown}/invoice", json=body, headers=bearer(secret))
        ).status_code == 404
    assert [number for number, *_ in await stored_invoices(session)] == ["FV/2026/0001"]

    await sign_in(client, email)
    statement = text_of((await client.get("/statement")).text)
    assert "FV/2026/0001" in statement and "PLN 1,230.00" in statement
    lines = (await client.get("/statement.csv")).content.decode("utf-8-sig").splitlines()
    assert any(line.startswith("FV/2026/0001,") and line.endswith(f",{order_number}") for line in lines)
