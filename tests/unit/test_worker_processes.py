"""`portal worker` processes against one PostgreSQL: three at once over a simulated month make
exactly the expected orders and no duplicate; a worker killed mid-pass and restarted loses nothing;
three at once, twice, expire each quote past its validity once and remind the buyers of each quote
about to expire once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal.models import (
    Company,
    NotificationKind,
    OccurrenceStatus,
    Order,
    OrderSource,
    OutboxMessage,
    Quote,
    QuoteEvent,
    QuoteLine,
    QuoteStatus,
    QuoteVersion,
    Role,
    ScheduleOccurrence,
)
from portal.services.schedules import delivered_on, delivery_dates, missed
from portal.settings import PROJECT_ROOT
from tests.conftest import backend
from tests.factories import make_company, make_product, make_schedule, make_user

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="SKIP LOCKED workers need PostgreSQL")

START = date(2026, 12, 1)
DAYS = 31


def worker(
    database_url: str, day: date, name: str = "worker", output: Any = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_ENV": "test",
        "PORTAL_DEFAULT_LOCALE": "en",
        "PGAPPNAME": name,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "worker", "--once", "--today", day.isoformat()],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )


async def schedules_for_a_month(session: AsyncSession, count: int):  # type: ignore[no-untyped-def]
    product = await make_product(session, list_price=Decimal("5.0000"))
    plans = []
    for number in range(count):
        company = await make_company(session)
        first = START + timedelta(days=3 + number % 7)
        plans.append(
            await make_schedule(
                session,
                company,
                [(product, 1 + number)],
                first=first,
                lead_days=number % 3,
                today=START - timedelta(days=1),
                frequency="monthly" if number % 4 == 3 else "weekly",
                month_day=first.day,
                interval_weeks=1 + number % 2,
                name=f"Schedule {number}",
            )
        )
    await session.commit()
    return plans


MONDAY_TO_FRIDAY = Company(delivery_weekdays="12345")
"""The companies' delivery days: an occurrence is ordered lead time before the day it is delivered on."""


def expected(plans, last_day: date) -> set[tuple[int, date]]:  # type: ignore[no-untyped-def]
    wanted = set()
    for plan in plans:
        for day in delivery_dates(plan, START, 10):
            if delivered_on(plan, MONDAY_TO_FRIDAY, day) - timedelta(days=plan.lead_days) <= last_day:
                wanted.add((plan.id, day))
    return wanted


async def made(session: AsyncSession) -> list[tuple[int, date]]:
    rows = await session.execute(
        select(ScheduleOccurrence.schedule_id, ScheduleOccurrence.delivery_date).where(
            ScheduleOccurrence.status == OccurrenceStatus.GENERATED
        )
    )
    return [tuple(row) for row in rows]


async def test_three_workers_over_a_month_make_each_order_exactly_once(
    session: AsyncSession, database_url: str
) -> None:
    plans = await schedules_for_a_month(session, 12)
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        running = [worker(database_url, day) for _ in range(3)]
        for process in running:
            output = process.communicate(timeout=120)[0]
            assert process.returncode == 0, output.decode()
    generated = await made(session)
    assert len(generated) == len(set(generated))
    assert set(generated) == expected(plans, START + timedelta(days=DAYS - 1))
    recurring = await session.scalar(
        select(func.count()).select_from(Order).where(Order.source == OrderSource.RECURRING)
    )
    assert recurring == len(generated)
    assert await session.scalar(select(func.count(func.distinct(Order.number)))) == recurring


async def wait_for(check, what: str, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_worker_killed_mid_pass_and_restarted_loses_nothing(
    session: AsyncSession, engine: AsyncEngine, database_url: str
) -> None:
    plans = await schedules_for_a_month(session, 40)
    day = START + timedelta(days=8)  # the first week passed without a worker: some missed, the rest ordered
    lead = {plan.id: plan.lead_days for plan in plans}
    in_pass_order = sorted(expected(plans, day), key=lambda item: (item[1] - timedelta(days=lead[item[0]]), item[0]))
    held = next(item for item in in_pass_order[len(in_pass_order) // 2 :] if not missed(item[1], lead[item[0]], day))
    # Another transaction holds the key of one occurrence to be ordered half-way through the pass: the
    # worker waits on it there, its own transaction open, and is killed.
    async with engine.connect() as blocker:
        await blocker.execute(
            insert(ScheduleOccurrence).values(
                schedule_id=held[0],
                company_id=next(p.company_id for p in plans if p.id == held[0]),
                delivery_date=held[1],
                status=OccurrenceStatus.SKIPPED,
            )
        )
        victim = worker(database_url, day, name="victim", output=subprocess.DEVNULL)  # nobody reads it before the kill

        async def victim_connections() -> list[str | None]:
            await blocker.execute(text("SELECT pg_stat_clear_snapshot()"))  # fresh activity inside this transaction
            return list(
                await blocker.scalars(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE application_name = 'victim'")
                )
            )

        async def victim_waits() -> bool:
            return "Lock" in await victim_connections()

        async def victim_gone() -> bool:
            return not await victim_connections()

        await wait_for(victim_waits, "the worker to reach the held occurrence")
        done_before_kill = await session.scalar(select(func.count()).select_from(ScheduleOccurrence))
        victim.kill()
        victim.wait()
        await blocker.rollback()
        await wait_for(victim_gone, "the killed worker's connection to close")
    assert done_before_kill == in_pass_order.index(held)  # everything before it, nothing after

    restarted = worker(database_url, day)
    output = restarted.communicate(timeout=180)[0]
    assert restarted.returncode == 0, output.decode()
    handled = {
        tuple(row)
        for row in await session.execute(select(ScheduleOccurrence.schedule_id, ScheduleOccurrence.delivery_date))
    }
    assert handled == set(in_pass_order)
    generated = await made(session)
    assert held in generated and len(generated) == len(set(generated))
    assert set(generated) == {item for item in in_pass_order if not missed(item[1], lead[item[0]], day)}
    orders = await session.scalar(select(func.count()).select_from(Order).where(Order.source == OrderSource.RECURRING))
    assert orders == len(generated)


QUOTE_DAY = date(2026, 12, 10)


async def sent_quotes(session: AsyncSession, valid_until: list[date], reminded: int | None = None):  # type: ignore[no-untyped-def]
    """One sent quote (version 1) per validity date, each to its own company with its own manager
    and buyer; the one at index `reminded` had its reminder already."""
    product = await make_product(session, list_price=Decimal("5.0000"))
    made = []
    for number, last_day in enumerate(valid_until):
        manager = await make_user(session, Role.ACCOUNT_MANAGER, email=f"manager{number}@seller.example")
        company = await make_company(session, account_manager_id=manager.id)
        buyer = await make_user(session, company_id=company.id, email=f"buyer{number}@customer.example")
        quote = Quote(
            company_id=company.id,
            number=f"Q-2026-{number + 1:06d}",
            status=QuoteStatus.SENT,
            sent_version=1,
            valid_until=last_day,
            reminded_at=datetime(2026, 12, 1, 8, tzinfo=UTC) if number == reminded else None,
        )
        quote.versions = [
            QuoteVersion(
                company_id=company.id,
                number=1,
                valid_until=last_day,
                sent_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
                sent_by_id=manager.id,
                lines=[
                    QuoteLine(
                        company_id=company.id,
                        line_key=1,
                        product_id=product.id,
                        sku=product.sku,
                        name=product.name,
                        quantity=10,
                        unit_price=Decimal("5.0000"),
                        unit_cost=product.cost,
                    )
                ],
            )
        ]
        session.add(quote)
        await session.flush()
        made.append((quote, manager, buyer))
    await session.commit()
    return made


async def test_three_workers_twice_expire_each_quote_once_and_remind_each_once(
    session: AsyncSession, database_url: str
) -> None:
    past = [QUOTE_DAY - timedelta(days=1 + number % 5) for number in range(15)]
    soon = [QUOTE_DAY + timedelta(days=number % 4) for number in range(9)]  # today … 3 days ahead
    later = [QUOTE_DAY + timedelta(days=4), QUOTE_DAY + timedelta(days=30)]
    already = len(past) + len(soon) + len(later)  # reminded before: not again
    made = await sent_quotes(session, past + soon + later + [QUOTE_DAY + timedelta(days=2)], reminded=already)
    for _ in range(2):  # a second round finds nothing left to do
        running = [worker(database_url, QUOTE_DAY, name=f"worker-{n}") for n in range(3)]
        for process in running:
            output = process.communicate(timeout=120)[0]
            assert process.returncode == 0, output.decode()
        assert b"quotes_expired" in output and b"quotes_reminded" in output

    statuses = {row.id: row.status for row in await session.execute(select(Quote.id, Quote.status))}
    reminded_at = {row.id: row.reminded_at for row in await session.execute(select(Quote.id, Quote.reminded_at))}
    expired_events = list(
        await session.scalars(select(QuoteEvent.quote_id).where(QuoteEvent.to_status == QuoteStatus.EXPIRED))
    )
    expiring = list(
        await session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.kind == NotificationKind.QUOTE_EXPIRING)
        )
    )
    for index, (quote, manager, buyer) in enumerate(made):
        if index < len(past):
            assert statuses[quote.id] is QuoteStatus.EXPIRED, quote.number
            assert expired_events.count(quote.id) == 1, quote.number
            assert (expiring.count(manager.email), expiring.count(buyer.email)) == (1, 0), quote.number
        elif index < len(past) + len(soon):
            assert statuses[quote.id] is QuoteStatus.SENT and reminded_at[quote.id] is not None, quote.number
            assert (expiring.count(manager.email), expiring.count(buyer.email)) == (0, 1), quote.number
        else:  # further off, or reminded before
            assert statuses[quote.id] is QuoteStatus.SENT, quote.number
            assert (expiring.count(manager.email), expiring.count(buyer.email)) == (0, 0), quote.number
    assert len(expired_events) == len(past) and len(expiring) == len(past) + len(soon)
