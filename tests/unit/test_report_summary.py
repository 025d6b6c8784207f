"""The worker's report summary and the figures every report derives from it, on the hand-computed
dataset of `tests/report_data.py`."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import ReportMonth
from portal.services import report_summary, reports
from portal.services.reports import Period
from tests.conftest import Clock
from tests.report_data import TODAY, ZONE, small_dataset


async def test_the_summary_holds_each_customers_months(session: AsyncSession) -> None:
    data = await small_dataset(session)
    rows = {
        (row.company_id, row.month): row
        for row in await session.scalars(select(ReportMonth).where(ReportMonth.company_id == data.alpha.id))
    }
    assert sorted(month for _, month in rows) == [
        date(2025, 11, 1),
        date(2026, 3, 1),
        date(2026, 4, 1),
        date(2026, 5, 1),
        date(2026, 11, 1),
        date(2026, 12, 1),
    ]
    march = rows[(data.alpha.id, date(2026, 3, 1))]
    assert (march.orders, march.net, march.cost, march.goods_net, march.list_total) == (
        1,
        Decimal("1000.00"),
        Decimal("700.00"),
        Decimal("1000.00"),
        Decimal("1250.00"),
    )
    assert (march.skonto, march.approvals, march.small_orders) == (Decimal("20.00"), 1, 0)
    assert march.balance_days == Decimal("25830.00")  # 1,230.00 × 21 days (11-31 March)
    april = rows[(data.alpha.id, date(2026, 4, 1))]
    assert (april.orders, april.balance_days, april.paid, april.late_days) == (
        0,
        Decimal("23370.00"),  # × 19 days (1-19 April)
        Decimal("1230.00"),
        Decimal("12300.00"),  # 1,230.00 × 10 days late
    )
    may = rows[(data.alpha.id, date(2026, 5, 1))]
    assert (may.net, may.goods_net, may.small_orders) == (Decimal("500.00"), Decimal("480.00"), 1)
    assert rows[(data.alpha.id, date(2026, 11, 1))].balance_days == Decimal("3000.00")
    assert rows[(data.alpha.id, date(2026, 12, 1))].balance_days == Decimal("600.00")  # 1-6 December
    state = await report_summary.freshness(session)
    assert state is not None and state.through == TODAY and state.refreshed_at is not None


async def test_figures_of_the_default_period_follow_from_the_summary(session: AsyncSession) -> None:
    data = await small_dataset(session)
    period = Period.default(TODAY)
    assert (period.first, period.last, period.days(TODAY)) == (date(2026, 1, 1), date(2026, 12, 1), 340)
    assert (period.previous.first, period.previous.last) == (date(2025, 1, 1), date(2025, 12, 1))
    settings = await reports.settings(session)
    everyone = await reports.audience(session, data.admin, TODAY)
    figures = await reports.by_company(session, everyone.companies, period)
    alpha = figures[data.alpha.id]
    assert (alpha.orders, alpha.net, alpha.margin, alpha.margin_pct) == (
        2,
        Decimal("1500.00"),
        Decimal("450.00"),
        Decimal("30.0"),
    )
    assert alpha.average_order == Decimal("750.00")
    assert alpha.discount_pct == Decimal("15.4")  # 1 − 1,480.00 ÷ 1,750.00
    assert alpha.average_exposure(period.days(TODAY)) == Decimal("155.29")  # 52,800.00 ÷ 340
    assert alpha.credit_cost(settings) == Decimal("11.57")  # 52,800.00 × 8 % ÷ 365
    assert alpha.days_late == Decimal("10.0")
    assert alpha.cost_to_serve(settings) == Decimal("100.00")  # 2 × 25 + 1 × 40 + 1 × 10
    assert alpha.margin_after_terms == Decimal("430.00")  # less 20.00 skonto
    assert alpha.net_margin(settings) == Decimal("318.43")
    beta = figures[data.beta.id]
    assert (beta.net, beta.discount_pct, beta.days_late) == (Decimal("400.00"), None, None)
    before = await reports.by_company(session, everyone.companies, period.previous)
    assert before[data.alpha.id].net == Decimal("2000.00") and data.beta.id not in before
    months = await reports.by_month(session, everyone.companies, period)
    assert len(months) == 12 and months[date(2026, 7, 1)].net == Decimal("400.00")


async def test_an_account_manager_reads_only_the_portfolio(session: AsyncSession) -> None:
    data = await small_dataset(session)
    anna = await reports.audience(session, data.manager, TODAY)
    assert set(await reports.by_company(session, anna.companies, Period.default(TODAY))) == {data.alpha.id}


async def test_a_second_refresh_rebuilds_rather_than_adds(session: AsyncSession) -> None:
    data = await small_dataset(session)
    await report_summary.refresh(session, TODAY, ZONE)
    everyone = await reports.audience(session, data.admin, TODAY)
    figures = await reports.by_company(session, everyone.companies, Period.default(TODAY))
    assert figures[data.alpha.id].net == Decimal("1500.00")


async def test_the_worker_refreshes_every_ten_minutes_and_each_new_day(
    engine: AsyncEngine, session: AsyncSession, frozen_clock: Clock
) -> None:
    maker = async_sessionmaker(engine, expire_on_commit=False)
    assert await report_summary.refresh_due(maker, TODAY, ZONE)
    assert not await report_summary.refresh_due(maker, TODAY, ZONE)
    frozen_clock.moment += timedelta(minutes=11)
    assert await report_summary.refresh_due(maker, TODAY, ZONE)
    assert await report_summary.refresh_due(maker, TODAY + timedelta(days=1), ZONE)
    state = await report_summary.freshness(session)
    assert state is not None and state.through == TODAY + timedelta(days=1)
