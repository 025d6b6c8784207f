"""Documents as PDF over HTTP and SMTP: an order's confirmation (for its buyers and the staff who
see the company; anyone else gets 404), the statement of account, both in the reader's language
with the Polish letters intact, and the approved-order e-mail carrying the confirmation."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal import clock
from portal.models import Address, MessageStatus, NotificationKind, Order, OutboxMessage, Role
from portal.services.notifications import SmtpSender, deliver_pending
from portal.settings import Settings
from tests.conftest import Clock
from tests.factories import csrf_from, make_company, make_invoice, make_product, make_user, sign_in
from tests.integration.test_buying import add, checkout_form
from tests.queries import counted_statements
from tests.smtp import SmtpServer

SELLER = Settings.seller_name
BUYER_NIP = "7010002130"


def pdf_text(content: bytes) -> str:
    """The text of every page, whitespace (non-breaking spaces included) collapsed to one space."""
    pages = PdfReader(io.BytesIO(content)).pages
    text = " ".join(page.extract_text() for page in pages)
    return re.sub(r"\s+", " ", text.replace("\xa0", " ").replace("\u202f", " ")).strip()


def pdf_of(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    return pdf_text(response.content)


@pytest.fixture
async def shop(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    other_manager = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    company = await make_company(
        session,
        name="Northwind Trading",
        tax_id=BUYER_NIP,
        account_manager_id=manager.id,
        credit_limit=Decimal("5000.00"),
        delivery_fee=Decimal("25.00"),
        free_delivery_from=Decimal("1000.00"),
    )
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
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example", full_name="Nina Nowak")
    glasses = await make_product(session, sku="GLS-6", name="Wine glasses", pack_size=6, list_price=Decimal("10.0000"))
    paper = await make_product(
        session, sku="PAP-1", name="Copy paper", list_price=Decimal("300.0000"), vat_rate=Decimal("8.00")
    )
    other = await make_company(session, name="Baltic Foods", account_manager_id=other_manager.id)
    stranger = await make_user(session, company_id=other.id, email="bart@baltic.example")
    await session.commit()
    return {
        "manager": manager,
        "other_manager": other_manager,
        "finance": finance,
        "company": company,
        "buyer": buyer,
        "glasses": glasses,
        "paper": paper,
        "stranger": stranger,
    }


async def submit(client: AsyncTestClient, session: AsyncSession, shop: dict) -> Order:
    """12 glasses at 23 % VAT and a ream of paper at 8 %, through the cart and checkout, signed in
    as the buyer: 420.00 net, under the free-delivery threshold, so a 25.00 fee at 23 % is added."""
    await sign_in(client, shop["buyer"].email)
    await add(client, shop["glasses"].id, "12")
    await add(client, shop["paper"].id, "1")
    submitted = await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)
    assert submitted.status_code == 303
    order_id = int(submitted.headers["location"].rsplit("/", 1)[1])
    order = await session.scalar(select(Order).where(Order.id == order_id))
    assert order is not None
    return order


async def approve(client: AsyncTestClient, shop: dict, order: Order) -> None:
    client.cookies.clear()
    await sign_in(client, shop["manager"].email)
    page = await client.get(f"/queue/orders/{order.id}")
    approved = await client.post(
        f"/queue/orders/{order.id}/approve",
        data={"_csrf_token": csrf_from(page.text), "confirm_warnings": "1"},
        follow_redirects=False,
    )
    assert approved.status_code == 303, approved.text[:500]


async def test_the_order_confirmation_states_the_order_as_its_page_does(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    order = await submit(client, session, shop)
    page = await client.get(f"/orders/{order.id}")
    assert f'href="/orders/{order.id}/confirmation.pdf"' in page.text

    text = pdf_of(await client.get(f"/orders/{order.id}/confirmation.pdf"))
    assert "Order confirmation" in text and f"Order {order.number}" in text
    assert SELLER in text and "NIP 5260000005" in text  # the seller
    assert "Northwind Trading" in text and f"NIP {BUYER_NIP}" in text  # the buyer
    assert "ul. Prosta 1" in text and "00-001 Warszawa" in text and "PO-42" in text
    assert "Status: Waiting for approval" in text and "Payment within 30 days" in text
    assert "GLS-6" in text and "Wine glasses" in text and "PAP-1" in text
    # 12 × 10.00 + the fee 25.00 at 23 % → 145.00, VAT 33.35; 300.00 at 8 % → VAT 24.00
    assert "Delivery fee (net, 23 % VAT) PLN 25.00" in text
    assert "Net at 23 % VAT PLN 145.00" in text and "VAT 23 % PLN 33.35" in text
    assert "Net at 8 % VAT PLN 300.00" in text and "VAT 8 % PLN 24.00" in text
    assert "Net total PLN 445.00" in text and "VAT total PLN 57.35" in text and "Gross total PLN 502.35" in text
    assert (order.net_total, order.vat_total, order.gross_total) == (
        Decimal("445.00"),
        Decimal("57.35"),
        Decimal("502.35"),
    )
    assert "Page 1 of 1" in text

    await approve(client, shop, order)
    review = await client.get(f"/queue/orders/{order.id}")
    assert f'href="/orders/{order.id}/confirmation.pdf"' in review.text
    approved = pdf_of(await client.get(f"/orders/{order.id}/confirmation.pdf"))  # staff who see the company
    assert "Status: Approved" in approved and "Waiting for approval" not in approved


async def test_only_who_sees_the_company_gets_the_confirmation(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    order = await submit(client, session, shop)
    path = f"/orders/{order.id}/confirmation.pdf"
    expected = {
        shop["stranger"].email: 404,  # another company's buyer: as if there were no such order
        shop["other_manager"].email: 404,  # another manager's customer
        shop["finance"].email: 200,
        shop["manager"].email: 200,
    }
    for email, status in expected.items():
        client.cookies.clear()
        await sign_in(client, email)
        response = await client.get(path)
        assert response.status_code == status, email
        if status == 404:
            assert b"%PDF" not in response.content and order.number not in response.text
    assert (await client.get(f"/orders/{2**31 - 1}/confirmation.pdf")).status_code == 404
    assert (await client.get("/orders/99999999999999999999/confirmation.pdf")).status_code == 404
    client.cookies.clear()
    assert (await client.get(path, follow_redirects=False)).status_code in (302, 303, 401)


async def test_a_polish_reader_gets_polish_letters_and_amounts(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    company, buyer, glasses = shop["company"], shop["buyer"], shop["glasses"]
    company.name = "Spółdzielnia Źdźbło ąęłśż"
    glasses.name = "Kieliszki łączone ąęłśż"
    buyer.locale = "pl"
    session.add_all([company, glasses, buyer])
    await session.commit()
    order = await submit(client, session, shop)

    text = pdf_of(await client.get(f"/orders/{order.id}/confirmation.pdf"))
    assert "Spółdzielnia Źdźbło ąęłśż" in text and "Kieliszki łączone ąęłśż" in text
    assert "502,35 zł" in text and "PLN" not in text
    assert order.requested_delivery_date.strftime("%d.%m.%Y") in text


async def test_the_statement_of_account_shows_balance_overdue_and_credit(
    client: AsyncTestClient, session: AsyncSession, shop: dict, frozen_clock: Clock
) -> None:
    company = shop["company"]
    today = clock.today(Settings.from_env({}).seller_zone)
    late = await make_invoice(session, company, gross="1000.00", paid="200.00", due=today - timedelta(days=20))
    soon = await make_invoice(session, company, gross="500.00", due=today + timedelta(days=10))
    settled = await make_invoice(
        session,
        company,
        gross="300.00",
        paid="300.00",
        due=today - timedelta(days=5),
        issued=today - timedelta(days=35),
    )
    await session.commit()

    await sign_in(client, shop["buyer"].email)
    page = await client.get("/statement")
    assert 'href="/statement.pdf"' in page.text
    text = pdf_of(await client.get("/statement.pdf"))
    assert "Statement of account" in text and "As of 27 Nov 2026" in text
    assert "Northwind Trading" in text and f"NIP {BUYER_NIP}" in text and SELLER in text
    assert late.number in text and soon.number in text and settled.number in text
    assert "Balance PLN 1,300.00" in text and "Overdue PLN 800.00" in text
    assert "Credit limit PLN 5,000.00" in text and "Available credit PLN 3,700.00" in text
    assert "Payment within 30 days" in text

    client.cookies.clear()
    await sign_in(client, shop["manager"].email)
    assert (await client.get("/statement.pdf")).status_code == 403  # a buyer's own document


async def test_a_long_statement_runs_over_pages_numbered_and_costs_the_same_queries(
    client: AsyncTestClient, session: AsyncSession, shop: dict, frozen_clock: Clock
) -> None:
    company = shop["company"]
    today = clock.today(Settings.from_env({}).seller_zone)
    await make_invoice(session, company, gross="10.00", due=today + timedelta(days=3))
    await session.commit()
    await sign_in(client, shop["buyer"].email)
    with counted_statements(client.app) as short:
        assert "Page 1 of 1" in pdf_of(await client.get("/statement.pdf"))
    for day in range(90):
        await make_invoice(session, company, gross="10.00", due=today + timedelta(days=day % 30))
    await session.commit()
    with counted_statements(client.app) as long:
        response = await client.get("/statement.pdf")
    text, pages = pdf_of(response), len(PdfReader(io.BytesIO(response.content)).pages)
    assert pages > 1 and f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Balance PLN 910.00" in text
    assert len(long) == len(short)


def pdf_parts(mail: Any) -> list[Any]:
    """The PDF files attached to a received e-mail."""
    return [part for part in mail.iter_attachments() if part.get_content_type() == "application/pdf"]


async def test_the_approval_e_mail_carries_the_order_confirmation(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, shop: dict, smtp_server: SmtpServer
) -> None:
    order = await submit(client, session, shop)
    await approve(client, shop, order)
    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example")
    await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)

    told = smtp_server.inbox.to(shop["buyer"].email)
    approved = [mail for mail in told if "approved" in mail["Subject"]]
    assert len(approved) == 1, [mail["Subject"] for mail in told]
    (part,) = pdf_parts(approved[0])
    assert part.get_filename() == f"{order.number}.pdf"
    text = pdf_text(part.get_content())
    assert f"Order {order.number}" in text and "Status: Approved" in text and "Gross total PLN 502.35" in text
    for mail in told:
        if mail is not approved[0]:
            assert pdf_parts(mail) == []  # only the approval carries it


async def test_an_e_mail_whose_order_is_gone_is_sent_without_the_document(
    session: AsyncSession, engine: AsyncEngine, smtp_server: SmtpServer
) -> None:
    session.add(
        OutboxMessage(
            kind=NotificationKind.ORDER_DECIDED,
            recipient="nina@northwind.example",
            subject="Order ORD-2026-000001 was approved",
            body_text="Your order was approved.",
            body_html="<p>Your order was approved.</p>",
            link="/orders/1",
            attachment=f"order:{2**31 - 1}",
            status=MessageStatus.PENDING,
            attempts=0,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
        )
    )
    await session.commit()
    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example")
    assert (await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)).sent == 1
    (mail,) = smtp_server.inbox.messages
    assert pdf_parts(mail) == []
    assert (await session.scalar(select(OutboxMessage.status).execution_options(populate_existing=True))) == (
        MessageStatus.SENT
    )


async def test_a_confirmation_is_written_in_the_recipients_language(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, shop: dict, smtp_server: SmtpServer
) -> None:
    buyer = shop["buyer"]
    buyer.locale = "pl"
    session.add(buyer)
    await session.commit()
    order = await submit(client, session, shop)
    await approve(client, shop, order)
    (message,) = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.attachment != "").execution_options(populate_existing=True)
    )
    assert (message.locale, message.attachment) == ("pl", f"order:{order.id}")
    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example")
    await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)
    (part,) = [part for mail in smtp_server.inbox.to(buyer.email) for part in pdf_parts(mail)]
    text = pdf_text(part.get_content())
    assert order.number in text and "502,35 zł" in text and "PLN" not in text
