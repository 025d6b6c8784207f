"""`portal worker` processes against one PostgreSQL: three at once over a simulated month make
exactly the expected orders and no duplicate; a worker killed mid-pass and restarted loses nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal.models import Company, OccurrenceStatus, Order, OrderSource, ScheduleOccurrence
from portal.services.schedules import delivered_on, delivery_dates, missed
from portal.settings import PROJECT_ROOT
from tests.conftest import backend
from tests.factories import make_company, make_product, make_schedule

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
