"""Closing settlement periods tells finance and the account manager once; finance's rebates page
shows the open accruals and the closed periods with the numbers computed by hand, downloads both
as CSV, costs the same queries for one agreement and many, and shows an account manager only
their own customers; the customer page carries the agreement block."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import (
    Company,
    NotificationKind,
    OutboxMessage,
    Role,
    SettlementClose,
    TierMode,
    User,
)
from portal.services import agreements
from portal.settings import PROJECT_ROOT
from tests.conftest import backend
from tests.factories import make_agreement, make_company, make_counted_order, make_user, sign_in, text_of
from tests.queries import counted_statements

TIERS = [("50000.00", "1.50"), ("100000.00", "3.00"), ("200000.00", "5.00")]
TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""


def at(day: int, month: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=UTC)


async def period_messages(session: AsyncSession) -> list[OutboxMessage]:
    return list(
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == NotificationKind.PERIOD_CLOSED)
            .order_by(OutboxMessage.recipient)
        )
    )


@pytest.fixture
async def world(session: AsyncSession) -> dict[str, Any]:
    """Anna manages Alfa; Piotr manages Beta. Alfa's agreement runs from 1 July 2026 (quarterly,
    retrospective): 55,000.00 in Q3 (1.5 % tier: 825.00 rebate), 60,000.00 on 10 October and
    20,000.00 on 20 November in Q4. Beta's (from 1 October) has 10,000.00 in Q4."""
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, full_name="Fiona Finance", email="fiona@seller.example")
    await make_user(session, Role.FINANCE, email="gone@seller.example", is_active=False)
    admin = await make_user(session, Role.ADMIN, email="root@seller.example")
    alfa = await make_company(session, name="Alfa Hurt", tax_id="PL5250001003", account_manager_id=anna.id)
    beta = await make_company(session, name="Beta Sklep", account_manager_id=piotr.id)
    buyer = await make_user(session, company_id=alfa.id)
    deal = await make_agreement(session, alfa, tiers=TIERS, valid_from=date(2026, 7, 1), number="FA/2026/001")
    other = await make_agreement(session, beta, tiers=TIERS, valid_from=date(2026, 10, 1), number="FA/2026/002")
    await make_counted_order(session, alfa, net="55000.00", approved_at=at(15, 8))
    await make_counted_order(session, alfa, net="60000.00", approved_at=at(10, 10))
    await make_counted_order(session, alfa, net="20000.00", approved_at=at(20, 11))
    await make_counted_order(session, beta, net="10000.00", approved_at=at(5, 11))
    await session.commit()
    return {
        "anna": anna,
        "piotr": piotr,
        "finance": finance,
        "admin": admin,
        "alfa": alfa,
        "beta": beta,
        "buyer": buyer,
        "deal": deal,
        "other": other,
    }


async def close_q3(engine: AsyncEngine) -> None:
    await agreements.close_due(async_sessionmaker(engine, expire_on_commit=False), TODAY)


async def test_three_workers_close_a_period_once_and_tell_finance_and_the_manager_once(
    session: AsyncSession, engine: AsyncEngine, world: dict[str, Any]
) -> None:
    maker = async_sessionmaker(engine, expire_on_commit=False)
    reports = await asyncio.gather(*(agreements.close_due(maker, date(2026, 10, 5)) for _ in range(3)))
    assert sum(len(report.closed) for report in reports) == 1  # Alfa's Q3; Beta's agreement starts in Q4

    closes = list(await session.scalars(select(SettlementClose)))
    assert [(close.turnover, close.rebate) for close in closes] == [(Decimal("55000.00"), Decimal("825.00"))]
    messages = await period_messages(session)
    # the manager and the one active finance user; not the inactive one, not the other manager, not admins
    assert [message.recipient for message in messages] == ["anna@seller.example", "fiona@seller.example"]
    body = " ".join(messages[0].body_text.split()).replace("\xa0", " ")
    assert "The settlement period 1 Jul 2026 – 30 Sep 2026 of agreement FA/2026/001 with Alfa Hurt is closed." in body
    assert "Turnover: PLN 55,000.00" in body
    assert "tier reached: 1.5 % from PLN 50,000.00" in body
    assert "Rebate to credit: PLN 825.00." in body
    assert messages[0].link == f"/finance/rebates?company={world['alfa'].id}"
    assert "Alfa Hurt" in messages[0].subject and "FA/2026/001" in messages[0].subject

    again = await asyncio.gather(*(agreements.close_due(maker, date(2026, 10, 6)) for _ in range(3)))
    assert sum(len(report.closed) for report in again) == 0
    assert len(await period_messages(session)) == 2


async def test_a_period_without_a_tier_and_a_prospective_one_say_so(session: AsyncSession, engine: AsyncEngine) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="m@seller.example")
    small = await make_company(session, account_manager_id=manager.id)
    priced = await make_company(session, account_manager_id=manager.id)
    await make_agreement(session, small, tiers=TIERS, valid_from=date(2026, 7, 1))
    await make_agreement(session, priced, tiers=TIERS, valid_from=date(2026, 7, 1), tier_mode=TierMode.PROSPECTIVE)
    await make_counted_order(session, small, net="49999.99", approved_at=at(1, 9))
    await make_counted_order(session, priced, net="70000.00", approved_at=at(1, 9))
    await session.commit()
    await agreements.close_due(async_sessionmaker(engine, expire_on_commit=False), date(2026, 10, 1))
    texts = sorted(" ".join(message.body_text.split()) for message in await period_messages(session))
    assert len(texts) == 2
    assert any("no tier reached" in text and "No tier reached: no rebate." in text for text in texts)
    assert any("given in the prices: there is no rebate to credit" in text for text in texts)


@pytest.mark.skipif(backend() != "postgresql", reason="worker processes against one PostgreSQL")
async def test_three_worker_processes_close_the_period_once(
    session: AsyncSession, database_url: str, world: dict[str, Any]
) -> None:
    env = {**os.environ, "PORTAL_DATABASE_URL": database_url, "PORTAL_ENV": "test", "PORTAL_DEFAULT_LOCALE": "en"}
    command = [sys.executable, "-m", "portal.cli", "worker", "--once", "--today", "2026-10-02"]
    running = [
        subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(3)
    ]
    for process in running:
        output = process.communicate(timeout=120)[0]
        assert process.returncode == 0, output.decode()
    assert await session.scalar(select(func.count()).select_from(SettlementClose)) == 1
    assert len(await period_messages(session)) == 2


def rows_of(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"')[1].split("</table>")[0]
    return [text_of(row) for row in body.split("<tr")[2:]]


async def test_finance_sees_the_accruals_and_closed_periods_computed_by_hand(
    client: AsyncTestClient, engine: AsyncEngine, world: dict[str, Any], frozen_clock: Any
) -> None:
    await close_q3(engine)
    await sign_in(client, world["finance"].email)
    page = await client.get("/finance/rebates")
    assert page.status_code == 200, text_of(page.text)[:3000]
    accruals = rows_of(page.text, "accrual-rows")
    # Alfa's Q4 on 27 November: 80,000.00 so far; 58 of 92 days: 80,000 × 92 / 58 = 126,896.55,
    # on track for 3 %: 80,000 × 3 % = 2,400.00 expected
    (alfa,) = [row for row in accruals if "Alfa Hurt" in row]
    assert "FA/2026/001" in alfa and "1 Oct 2026 – 31 Dec 2026" in alfa and "All products" in alfa
    assert "PLN 80,000.00" in alfa and "1.5 % from PLN 50,000.00" in alfa
    assert "PLN 126,896.55" in alfa and "3.0 % from PLN 100,000.00" in alfa and alfa.endswith("PLN 2,400.00")
    # Beta: 10,000.00 so far; 10,000 × 92 / 58 = 15,862.07, no tier on track: nothing expected
    (beta,) = [row for row in accruals if "Beta Sklep" in row]
    assert "PLN 10,000.00" in beta and "PLN 15,862.07" in beta and beta.endswith("PLN 0.00")
    assert "turnover to date ÷ days elapsed × days in the period" in text_of(page.text)

    (closed,) = rows_of(page.text, "close-rows")
    assert "Alfa Hurt" in closed and "1 Jul 2026 – 30 Sep 2026" in closed and "PLN 55,000.00" in closed
    assert "All products: 1.5 %" in closed and "PLN 825.00" in closed and "not exported yet" in closed


async def test_the_downloads_hold_the_accruals_and_one_credit_note_row_per_rebate_line(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, world: dict[str, Any], frozen_clock: Any
) -> None:
    await close_q3(engine)
    close_id = await session.scalar(select(SettlementClose.id))
    await sign_in(client, world["finance"].email)

    accruals = await client.get("/finance/rebates/accruals.csv", params={"format": "excel"})
    assert accruals.status_code == 200 and accruals.headers["content-type"].startswith("text/csv")
    lines = accruals.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Company,Tax id,Agreement,Tiers,Period start,Period end,Scope,Currency")
    assert (
        "Alfa Hurt,PL5250001003,FA/2026/001,retrospective,2026-10-01,2026-12-31,All products,PLN,80000.00,1.50,126896.55,3.00,2400.00"
        in lines
    )

    notes = await client.get("/finance/rebates/closed.csv", params={"format": "excel_pl", "company": world["alfa"].id})
    rows = notes.content.decode("utf-8-sig").splitlines()
    assert rows[1:] == [
        f"{close_id};Alfa Hurt;PL5250001003;FA/2026/001;2026-07-01;2026-09-30;PLN;All products;55000,00;1,50;825,00;2026-11-27;"
    ]
    assert 'filename="rebate-credit-notes-2026-11-27-' in notes.headers["content-disposition"]


async def test_an_account_manager_sees_only_their_customers_rebates(
    client: AsyncTestClient, engine: AsyncEngine, world: dict[str, Any], frozen_clock: Any
) -> None:
    await close_q3(engine)
    await sign_in(client, world["piotr"].email)
    page = await client.get("/finance/rebates")
    assert page.status_code == 200
    assert "Beta Sklep" in text_of(page.text) and "Alfa Hurt" not in text_of(page.text)
    assert 'id="close-rows"' not in page.text  # Alfa's closed Q3 is not his
    assert (await client.get("/finance/rebates", params={"company": world["alfa"].id})).status_code == 404
    assert (await client.get("/finance/rebates/closed.csv", params={"company": world["alfa"].id})).status_code == 404
    download = await client.get("/finance/rebates/accruals.csv")
    assert "Beta Sklep" in download.text and "Alfa Hurt" not in download.text
    assert (await client.get("/finance/rebates", params={"company": world["beta"].id})).status_code == 200

    client.cookies.clear()
    await sign_in(client, world["buyer"].email)
    assert (await client.get("/finance/rebates")).status_code == 403


async def test_the_rebates_page_costs_the_same_queries_for_one_agreement_and_many(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, world: dict[str, Any], frozen_clock: Any
) -> None:
    await close_q3(engine)
    await sign_in(client, world["finance"].email)
    with counted_statements(client.app) as few:
        assert (await client.get("/finance/rebates")).status_code == 200
    for number in range(4):
        company = await make_company(session, name=f"Gamma {number}")
        await make_agreement(session, company, tiers=TIERS, valid_from=date(2026, 7, 1))
        await make_counted_order(session, company, net="1000.00", approved_at=at(3, 9))
        await make_counted_order(session, company, net="2000.00", approved_at=at(3, 11))
    await session.commit()
    await close_q3(engine)
    with counted_statements(client.app) as many:
        page = await client.get("/finance/rebates")
    assert len(rows_of(page.text, "accrual-rows")) == 6 and len(rows_of(page.text, "close-rows")) == 5
    assert len(many) == len(few)


async def test_the_customer_page_shows_the_agreement(
    client: AsyncTestClient, engine: AsyncEngine, world: dict[str, Any], frozen_clock: Any
) -> None:
    await close_q3(engine)
    await sign_in(client, world["anna"].email)
    page = await client.get(f"/customers/{world['alfa'].id}")
    block = text_of(page.text.split('id="agreement"')[1].split("</section>")[0])
    assert "FA/2026/001" in block and "period 1 Oct 2026 – 31 Dec 2026" in block
    assert "PLN 80,000.00" in block and "1.5 % on 10 Oct 2026" in block
    assert "3.0 % from PLN 100,000.00, PLN 20,000.00 to go" in block and "PLN 2,400.00" in block
    assert "1 Jul 2026 – 30 Sep 2026: turnover PLN 55,000.00, rebate PLN 825.00" in block

    beta = await client.get(f"/customers/{world['beta'].id}")
    assert beta.status_code == 404


async def test_the_manager_can_switch_the_e_mail_off(
    session: AsyncSession, engine: AsyncEngine, world: dict[str, Any]
) -> None:
    from portal.services import notifications

    anna = await session.get(User, world["anna"].id)
    assert anna is not None
    wanted = {kind for kind in NotificationKind if kind is not NotificationKind.PERIOD_CLOSED}
    await notifications.set_preferences(session, anna, wanted)
    await session.commit()
    await agreements.close_due(async_sessionmaker(engine, expire_on_commit=False), date(2026, 10, 5))
    assert [message.recipient for message in await period_messages(session)] == ["fiona@seller.example"]
    assert await session.scalar(select(Company.id).where(Company.id == world["alfa"].id)) is not None
