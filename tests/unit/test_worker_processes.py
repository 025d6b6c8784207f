"""`portal worker` processes against one PostgreSQL: three at once over a simulated month make
exactly the expected orders and no duplicate; a worker killed mid-pass and restarted loses nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import OccurrenceStatus, Order, OrderSource, ScheduleOccurrence
from portal.services.schedules import delivery_dates
from portal.settings import PROJECT_ROOT
from tests.conftest import backend
from tests.factories import make_company, make_product, make_schedule

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="SKIP LOCKED workers need PostgreSQL")

START = date(2026, 12, 1)
DAYS = 31


def worker(database_url: str, day: date) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PORTAL_DATABASE_URL": database_url, "PORTAL_ENV": "test"}
    return subprocess.Popen([sys.executable, "-m", "portal.cli", "worker", "--once", "--today", day.isoformat()],
                            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def schedules_for_a_month(session: AsyncSession, count: int):  # type: ignore[no-untyped-def]
    product = await make_product(session, list_price=Decimal("5.0000"))
    plans = []
    for number in range(count):
        company = await make_company(session)
        first = START + timedelta(days=3 + number % 7)
        plans.append(await make_schedule(
            session, company, [(product, 1 + number)], first=first, lead_days=number % 3, today=START - timedelta(days=1),
            frequency="monthly" if number % 4 == 3 else "weekly", month_day=first.day, interval_weeks=1 + number % 2,
            name=f"Schedule {number}"))
    await session.commit()
    return plans


def expected(plans, last_day: date) -> set[tuple[int, date]]:  # type: ignore[no-untyped-def]
    wanted = set()
    for plan in plans:
        for day in delivery_dates(plan, START, 10):
            if day - timedelta(days=plan.lead_days) <= last_day:
                wanted.add((plan.id, day))
    return wanted


async def made(session: AsyncSession) -> list[tuple[int, date]]:
    rows = await session.execute(select(ScheduleOccurrence.schedule_id, ScheduleOccurrence.delivery_date).where(
        ScheduleOccurrence.status == OccurrenceStatus.GENERATED))
    return [tuple(row) for row in rows]


async def test_three_workers_over_a_month_make_each_order_exactly_once(session: AsyncSession, database_url: str) -> None:
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
    recurring = await session.scalar(select(func.count()).select_from(Order).where(Order.source == OrderSource.RECURRING))
    assert recurring == len(generated)
    assert await session.scalar(select(func.count(func.distinct(Order.number)))) == recurring


async def test_a_worker_killed_mid_pass_and_restarted_loses_nothing(session: AsyncSession, database_url: str) -> None:
    plans = await schedules_for_a_month(session, 40)
    day = START + timedelta(days=20)
    victim = worker(database_url, day)
    time.sleep(2.5)  # the imports take about a second; then it is part-way through the pass
    victim.kill()
    victim.wait()
    restarted = worker(database_url, day)
    output = restarted.communicate(timeout=180)[0]
    assert restarted.returncode == 0, output.decode()
    generated = await made(session)
    assert len(generated) == len(set(generated))
    handled = {tuple(row) for row in await session.execute(
        select(ScheduleOccurrence.schedule_id, ScheduleOccurrence.delivery_date))}
    assert handled == expected(plans, day)
