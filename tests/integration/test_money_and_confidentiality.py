"""Money and confidentiality over HTTP and real SMTP: a credit change's reason stays with staff,
CSV cells never become formulas in Excel (comma or semicolon), e-mail links come from the
worker that sends them, buyers are told their order was submitted (unless they switched it off),
and payment identities stored before they were built from parsed values are rewritten."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from portal import migrate
from portal.i18n import format_date, format_money
from portal.models import Address, CreditEvent, Invoice, Order, OutboxMessage, Role
from portal.services import notifications
from portal.services.notifications import deliver_pending
from portal.settings import Settings
from tests.conftest import _postgres_admin, backend, postgres_admin_url
from tests.factories import csrf_from, make_company, make_invoice, make_product, make_user, sign_in, text_of
from tests.smtp import Inbox, SmtpServer

REASON = "Lowered after review of Q4 payments"
MESSAGE = "Your limit follows our yearly review; call us with any question."


def worker_settings(server: SmtpServer, base_url: str = "http://localhost:8000") -> Settings:
    return Settings.from_env(
        {
            "PORTAL_DATABASE_URL": "sqlite+aiosqlite:///unused.db",
            "PORTAL_ENV": "test",
            "PORTAL_DEFAULT_LOCALE": "en",
            "PORTAL_SMTP_HOST": "127.0.0.1",
            "PORTAL_SMTP_PORT": str(server.port),
            "PORTAL_BASE_URL": base_url,
        }
    )


async def worker_pass(engine: AsyncEngine, server: SmtpServer, base_url: str = "http://localhost:8000") -> int:
    """What `portal worker` does with the outbox, configured with `base_url`."""
    sender = notifications.sender_for(worker_settings(server, base_url))
    return (await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)).sent


@pytest.fixture
async def hotel(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    company = await make_company(
        session, name="Vistula Hotels", account_manager_id=manager.id, credit_limit=Decimal("20000.00")
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
    buyer = await make_user(session, company_id=company.id, email="nina@vistula.example", full_name="Nina Nowak")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    paper = await make_product(
        session, sku="PAP-1", name="Copy paper", list_price=Decimal("1234.5600"), vat_rate=Decimal("0.00")
    )
    await session.commit()
    return {"manager": manager, "company": company, "buyer": buyer, "finance": finance, "paper": paper}


# --- the reason of a credit limit change is internal ---------------------------------------------


async def test_the_reason_of_a_limit_change_never_reaches_a_buyer(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, smtp_server: SmtpServer, hotel: dict
) -> None:
    company, buyer, manager = hotel["company"], hotel["buyer"], hotel["manager"]
    await sign_in(client, hotel["finance"].email)
    page = await client.get(f"/finance/companies/{company.id}")
    assert "Message to the customer (optional; the reason above stays internal)" in text_of(page.text)

    changed = await client.post(
        f"/finance/companies/{company.id}/limit",
        data={
            "_csrf_token": csrf_from(page.text),
            "expected_limit": "20000.00",
            "new_limit": "5000.00",
            "reason": REASON,
            "customer_message": MESSAGE,
        },
        follow_redirects=False,
    )
    assert changed.status_code == 303
    event = await session.scalar(select(CreditEvent).execution_options(populate_existing=True))
    assert event is not None and (event.reason, event.customer_message) == (REASON, MESSAGE)

    assert await worker_pass(engine, smtp_server) == 2
    (to_buyer,) = smtp_server.inbox.to(buyer.email)
    told = Inbox.text(to_buyer)
    assert format_money(Decimal("5000.00"), "PLN") in told and MESSAGE in told
    assert "Q4" not in told and "Q4" not in to_buyer.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Q4" not in to_buyer["Subject"]
    (to_manager,) = smtp_server.inbox.to(manager.email)
    assert REASON in Inbox.text(to_manager)  # staff keep the reason

    client.cookies.clear()
    await sign_in(client, buyer.email)
    for path in ["/", "/statement", "/account/notifications"]:
        shown = await client.get(path)
        assert shown.status_code == 200 and "Q4" not in shown.text, path


async def test_a_limit_change_without_a_message_tells_the_buyer_the_new_limit_only(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, smtp_server: SmtpServer, hotel: dict
) -> None:
    company = hotel["company"]
    await sign_in(client, hotel["finance"].email)
    page = await client.get(f"/finance/companies/{company.id}")
    await client.post(
        f"/finance/companies/{company.id}/limit",
        data={
            "_csrf_token": csrf_from(page.text),
            "expected_limit": "20000.00",
            "new_limit": "25000.00",
            "reason": REASON,
        },
        follow_redirects=False,
    )
    await worker_pass(engine, smtp_server)
    (to_buyer,) = smtp_server.inbox.to(hotel["buyer"].email)
    told = Inbox.text(to_buyer)
    assert format_money(Decimal("25000.00"), "PLN") in told and "Q4" not in told and "Reason" not in told


async def test_a_too_long_message_for_the_customer_is_refused_next_to_its_field(
    client: AsyncTestClient, session: AsyncSession, hotel: dict
) -> None:
    company = hotel["company"]
    await sign_in(client, hotel["finance"].email)
    page = await client.get(f"/finance/companies/{company.id}")
    refused = await client.post(
        f"/finance/companies/{company.id}/limit",
        data={
            "_csrf_token": csrf_from(page.text),
            "expected_limit": "20000.00",
            "new_limit": "5000.00",
            "reason": REASON,
            "customer_message": "x" * 2001,
        },
    )
    assert refused.status_code == 400
    assert 'id="limit_customer_message-error"' in refused.text
    assert REASON in refused.text  # what was typed is kept
    assert await session.scalar(select(CreditEvent.id)) is None


# --- CSV cells never become formulas ---------------------------------------------------------------


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cells(body: str, delimiter: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body), delimiter=delimiter) for cell in row]


async def test_an_invoice_number_cannot_become_a_formula_in_the_statement_csv(
    client: AsyncTestClient, session: AsyncSession, hotel: dict
) -> None:
    for number in ["INV;+5+5", "INV,=1+1", '=HYPERLINK("http://x")', "@SUM(A1)", " -2+3"]:
        invoice = await make_invoice(session, hotel["company"], gross="100.00", due=date(2026, 12, 31))
        invoice.number = number
    await session.commit()
    await sign_in(client, hotel["buyer"].email)

    body = (await client.get("/statement.csv")).content.decode("utf-8-sig")

    for delimiter in (",", ";"):  # Excel splits at its list separator: "," in English, ";" in Polish
        for cell in cells(body, delimiter):
            assert not cell.lstrip(' "').startswith(FORMULA_STARTS), (delimiter, cell)
    rows = list(csv.reader(io.StringIO(body)))
    invoices = rows[1 : rows.index([])]  # after an empty row: the totals, the terms and the credit picture
    assert {row[0] for row in invoices} == {"INV;'+5+5", "INV,'=1+1", '\'=HYPERLINK("http://x")', "'@SUM(A1)", "' -2+3"}
    assert all(row[4] == "100.00" for row in invoices)  # amounts stay numbers


# --- links are made by the worker that sends ---------------------------------------------------------


async def test_links_in_e_mails_come_from_the_worker_not_from_the_web_process(
    session: AsyncSession,
    engine: AsyncEngine,
    smtp_server: SmtpServer,
    hotel: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTAL_BASE_URL", "http://web-process.internal:8000")
    from portal.services import credit_control

    await credit_control.hold_account(session, hotel["finance"], hotel["company"].id, "Overdue invoices")
    await session.commit()
    stored = {m.recipient: m.link for m in await session.scalars(select(OutboxMessage))}
    assert stored == {
        hotel["buyer"].email: "/dashboard",
        hotel["manager"].email: f"/customers/{hotel['company'].id}/credit",
    }

    assert await worker_pass(engine, smtp_server, "https://portal.seller.example") == 2
    for mail in smtp_server.inbox.messages:
        plain, html = Inbox.text(mail), mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
        assert "web-process.internal" not in plain + html
    (to_buyer,) = smtp_server.inbox.to(hotel["buyer"].email)
    assert "https://portal.seller.example/dashboard" in Inbox.text(to_buyer)
    assert 'href="https://portal.seller.example/dashboard"' in to_buyer.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]


# --- buyers are told their order was submitted ----------------------------------------------------


async def submit(client: AsyncTestClient, product_id: int, quantity: int) -> str:
    page = await client.get("/catalog")
    await client.post(
        "/cart/add",
        data={
            "product_id": str(product_id),
            "quantity": str(quantity),
            "next": "/catalog",
            "_csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    form = (await client.get("/checkout")).text
    delivery = re.search(r'name="delivery_date" type="date" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    response = await client.post(
        "/checkout",
        data={
            "_csrf_token": csrf_from(form),
            "key": re.search(r'name="key" value="([^"]+)"', form).group(1),  # type: ignore[union-attr]
            "address_id": re.search(r'<option value="(\d+)" selected', form).group(1),  # type: ignore[union-attr]
            "delivery_date": delivery,
            "po_number": "",
            "note": "",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return delivery


async def test_the_buyer_is_told_the_order_was_submitted_with_number_total_date_and_approver(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, smtp_server: SmtpServer, hotel: dict
) -> None:
    await sign_in(client, hotel["buyer"].email)
    delivery = await submit(client, hotel["paper"].id, 2)
    (order,) = await session.scalars(select(Order))
    assert order.gross_total == Decimal("2469.12")

    await worker_pass(engine, smtp_server)

    (mail,) = smtp_server.inbox.to(hotel["buyer"].email)
    told = Inbox.text(mail)
    assert order.number in mail["Subject"]
    assert order.number in told
    assert format_money(Decimal("2469.12"), "PLN") in told
    assert format_date(date.fromisoformat(delivery)) in told
    assert "Anna Kowalska" in told
    assert len(smtp_server.inbox.to(hotel["manager"].email)) == 1  # the approver hears as before


async def test_without_an_account_manager_the_sales_team_approves(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, smtp_server: SmtpServer, hotel: dict
) -> None:
    company = hotel["company"]
    await session.execute(text("UPDATE companies SET account_manager_id = NULL WHERE id = :id"), {"id": company.id})
    await session.commit()
    await sign_in(client, hotel["buyer"].email)
    await submit(client, hotel["paper"].id, 1)
    await worker_pass(engine, smtp_server)
    (mail,) = smtp_server.inbox.to(hotel["buyer"].email)
    assert "our sales team" in Inbox.text(mail)


async def test_a_buyer_who_switched_it_off_gets_no_submission_e_mail(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, smtp_server: SmtpServer, hotel: dict
) -> None:
    await sign_in(client, hotel["buyer"].email)
    page = await client.get("/account/notifications")
    wanted = ["order_decided", "recurring_generated", "recurring_missed", "credit_changed"]
    saved = await client.post(
        "/account/notifications",
        data={"_csrf_token": csrf_from(page.text), "kind": wanted},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert 'value="order_submitted" ' in (await client.get("/account/notifications")).text

    await submit(client, hotel["paper"].id, 1)
    await worker_pass(engine, smtp_server)

    assert smtp_server.inbox.to(hotel["buyer"].email) == []
    assert len(smtp_server.inbox.to(hotel["manager"].email)) == 1

    page = await client.get("/account/notifications")
    await client.post(
        "/account/notifications",
        data={"_csrf_token": csrf_from(page.text), "kind": [*wanted, "order_submitted"]},
        follow_redirects=False,
    )
    await submit(client, hotel["paper"].id, 1)
    await worker_pass(engine, smtp_server)
    (mail,) = smtp_server.inbox.to(hotel["buyer"].email)  # switched on again: told again
    assert "is submitted" in mail["Subject"]


# --- payment identities stored from raw text are rewritten by migration 0009 -----------------------


def _scratch_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    if backend() == "postgresql":
        import secrets

        from sqlalchemy import make_url

        name = f"portal_test_identity_{secrets.token_hex(4)}"
        _postgres_admin(f'CREATE DATABASE "{name}"')
        return make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    return f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"


async def _run(url: str, *statements: tuple[str, dict]) -> list:  # type: ignore[type-arg]
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            result: list = []  # type: ignore[type-arg]
            for sql, values in statements:
                answer = await connection.execute(text(sql), values)
                result = list(answer.all()) if answer.returns_rows else result
            return result
    finally:
        await engine.dispose()


def test_migration_0009_rewrites_payment_identities_made_from_raw_text(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = _scratch_url(tmp_path)
    try:
        migrate.upgrade(url, "0008")
        now = "2026-12-01 10:00:00"
        asyncio.run(
            _run(
                url,
                (
                    "INSERT INTO companies (id, name, tax_id, payment_terms_days, credit_limit, currency,"
                    " general_discount_pct, on_hold, po_number_required, created_at) VALUES"
                    " (1, 'Vistula Hotels', 'PL1', 30, 1000, 'PLN', 0, false, false, :now)",
                    {"now": now},
                ),
                (
                    "INSERT INTO invoices (id, company_id, number, issue_date, due_date, currency, gross_amount,"
                    " paid_amount) VALUES (1, 1, 'FV|7', '2026-11-01', '2026-12-01', 'PLN', 1000, 300)",
                    {},
                ),
                *[
                    (
                        "INSERT INTO payments (id, company_id, invoice_id, reference, paid_on, amount, recorded_at)"
                        " VALUES (:id, 1, 1, :reference, '2026-11-30', 100, :now)",
                        {"id": pid, "reference": reference, "now": now},
                    )
                    for pid, reference in [
                        (1, "FV|7|30.11.2026|100,00|1"),
                        (2, "FV|7|30.11.2026|100,00|2"),
                        (3, "BANK-77"),
                    ]
                ],
            )
        )

        migrate.upgrade(url, "0009")

        stored = asyncio.run(_run(url, ("SELECT id, reference FROM payments ORDER BY id", {})))
        assert [tuple(row) for row in stored] == [
            (1, "FV|7|2026-11-30|100.00|1"),
            (2, "FV|7|2026-11-30|100.00|2"),
            (3, "BANK-77"),
        ]

        insert_event = (
            "INSERT INTO credit_events (company_id, kind, reason, at) VALUES (1, 'hold', 'x', :now)",
            {"now": now},
        )
        asyncio.run(_run(url, insert_event))
        migrate.downgrade(url, "0008")
        migrate.upgrade(url, "0009")
        with pytest.raises(Exception, match="append-only"):  # the column came and went; the triggers stayed
            asyncio.run(_run(url, ("UPDATE credit_events SET reason = 'changed'", {})))
    finally:
        if backend() == "postgresql":
            from sqlalchemy import make_url

            _postgres_admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


async def test_reimporting_the_same_payments_written_differently_counts_them_once(
    client: AsyncTestClient, session: AsyncSession, hotel: dict
) -> None:
    invoice = await make_invoice(session, hotel["company"], gross="1000.00", due=date(2026, 12, 31))
    await session.commit()
    await sign_in(client, hotel["finance"].email)
    files = [
        f"invoice_number;paid_on;amount\r\n{invoice.number};30.11.2026;100,00\r\n{invoice.number};30.11.2026;100,00\r\n",
        f"invoice_number,paid_on,amount\r\n{invoice.number},2026-11-30,100.00\r\n{invoice.number},2026-11-30,100.00\r\n",
    ]
    for content in files:
        page = await client.get("/finance/imports")
        applied = await client.post(
            "/finance/imports/apply",
            data={"_csrf_token": csrf_from(page.text), "kind": "payments", "content": content},
            follow_redirects=False,
        )
        assert applied.status_code == 303, text_of(applied.text)
    session.expunge_all()
    stored = await session.get(Invoice, invoice.id)
    assert stored is not None and stored.paid_amount == Decimal("200.00")
