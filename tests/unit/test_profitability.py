"""Customer profitability and cost to serve on the hand-computed dataset of `tests/report_data.py`
(the default period: January to December 2026, the summary through 6 December 2026: 340 days; the
report settings' defaults: credit 8 % a year, 25.00 an order, 40.00 a small delivery, 60.00 a quote
version, 10.00 an approval), and the report settings an admin keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.models import AuditEntry, ReportSettings, SettlementPeriod
from portal.services import profitability, report_settings, reports
from portal.services.profitability import ranked
from portal.services.reports import Period
from tests.factories import make_agreement
from tests.report_data import TODAY, ReportData, small_dataset

DAYS = 340
"""1 January to 6 December 2026."""


async def _profitability(
    session: AsyncSession, data: ReportData, period: Period | None = None, **options: object
) -> profitability.Profitability:
    period = period or Period.default(TODAY)
    audience = await reports.audience(session, data.admin, TODAY)
    settings = await reports.settings(session)
    return await profitability.profitability(
        session,
        audience,
        period,
        settings,
        days=period.days(TODAY),
        today=TODAY,
        **options,  # type: ignore[arg-type]
    )


def _figures(row: profitability.ProfitRow) -> tuple[object, ...]:
    return (
        row.revenue,
        row.growth,
        row.margin,
        row.margin_pct,
        row.orders,
        row.average_order,
        row.lifetime,
        row.run_rate,
        row.discount,
        row.exposure,
        row.credit_cost,
        row.days_late,
        row.net_margin,
    )


async def test_each_customers_profitability_follows_from_the_summary(session: AsyncSession) -> None:
    data = await small_dataset(session)
    found = await _profitability(session, data)
    alpha, beta = found.ranking.rows
    assert alpha.customer is not None and alpha.customer.name == "Alpha Hurt"
    assert alpha.customer.manager == "Anna Report" and not alpha.customer.covered
    assert _figures(alpha) == (
        Decimal("1500.00"),
        Decimal("-25.0"),  # against 2,000.00 in 2025
        Decimal("450.00"),
        Decimal("30.0"),
        2,
        Decimal("750.00"),
        Decimal("3500.00"),  # 2,000.00 in Nov 2025 + 1,500.00
        Decimal("1500.00"),
        Decimal("15.4"),
        Decimal("155.29"),  # 52,800.00 ÷ 340 days
        Decimal("11.57"),  # 52,800.00 × 8 % ÷ 365
        Decimal("10.0"),
        Decimal("318.43"),  # 450.00 − 20.00 skonto − 11.57 − 100.00 to serve
    )
    # Beta: one order of 400.00 (cost 280.00) in July 2026, nothing before, no list value, no
    # invoice; to serve: 1 order × 25.00.
    assert beta.customer is not None and beta.customer.name == "Beta Detal"
    assert _figures(beta) == (
        Decimal("400.00"),
        None,
        Decimal("120.00"),
        Decimal("30.0"),
        1,
        Decimal("400.00"),
        Decimal("400.00"),
        Decimal("400.00"),
        None,
        Decimal("0.00"),
        Decimal("0.00"),
        None,
        Decimal("95.00"),  # 120.00 − 25.00
    )
    assert _figures(found.ranking.total) == (
        Decimal("1900.00"),
        Decimal("-5.0"),  # against 2,000.00
        Decimal("570.00"),
        Decimal("30.0"),
        3,
        Decimal("633.33"),
        Decimal("3900.00"),
        Decimal("1900.00"),
        Decimal("15.4"),
        Decimal("155.29"),
        Decimal("11.57"),
        Decimal("10.0"),
        Decimal("413.43"),  # 570.00 − 20.00 − 11.57 − 125.00
    )
    assert [found.ranking.decile(index) for index in range(2)] == ["top", "bottom"]
    assert len(found.months) == 12 and found.months[date(2026, 7, 1)].net == Decimal("400.00")
    assert found.previous_months[date(2025, 11, 1)].net == Decimal("2000.00")


async def test_the_ranking_follows_the_column_asked_for(session: AsyncSession) -> None:
    data = await small_dataset(session)
    by_name = await _profitability(session, data, sort="company", descending=False)
    assert [row.company for row in by_name.ranking.rows] == ["Alpha Hurt", "Beta Detal"]
    by_growth = await _profitability(session, data, sort="growth", descending=False)
    assert [row.company for row in by_growth.ranking.rows] == ["Alpha Hurt", "Beta Detal"]  # no growth: last
    by_growth = await _profitability(session, data, sort="growth", descending=True)
    assert [row.company for row in by_growth.ranking.rows] == ["Alpha Hurt", "Beta Detal"]
    by_margin = await _profitability(session, data, sort="net_margin", descending=False)
    assert [row.company for row in by_margin.ranking.rows] == ["Beta Detal", "Alpha Hurt"]


async def test_the_open_periods_expected_rebate_counts_while_the_period_runs(session: AsyncSession) -> None:
    data = await small_dataset(session)
    # Beta's yearly agreement: 5 % from 300.00; 400.00 so far this year: 20.00 expected.
    await make_agreement(session, data.beta, tiers=[("300.00", "5.00")], period=SettlementPeriod.YEAR)
    await session.flush()
    running = await _profitability(session, data)
    beta = next(row for row in running.ranking.rows if row.company == "Beta Detal")
    assert (beta.figures.expected_rebates, beta.net_margin) == (Decimal("20.00"), Decimal("75.00"))
    past = await _profitability(session, data, Period(date(2026, 1, 1), date(2026, 11, 1)))
    beta = next(row for row in past.ranking.rows if row.company == "Beta Detal")
    assert (beta.figures.expected_rebates, beta.net_margin) == (Decimal("0.00"), Decimal("95.00"))


async def test_an_account_manager_sees_only_the_portfolio(session: AsyncSession) -> None:
    data = await small_dataset(session)
    period = Period.default(TODAY)
    anna = await reports.audience(session, data.manager, TODAY)
    settings = await reports.settings(session)
    found = await profitability.profitability(session, anna, period, settings, days=DAYS, today=TODAY)
    assert [row.company for row in found.ranking.rows] == ["Alpha Hurt"]
    assert found.ranking.total.revenue == Decimal("1500.00")
    assert found.ranking.total.growth == Decimal("-25.0")
    costs = await profitability.cost_to_serve(session, anna, period, settings, today=TODAY)
    assert [row.company for row in costs.ranking.rows] == ["Alpha Hurt"]


def _costs(row: profitability.CostRow) -> tuple[object, ...]:
    return (
        (row.orders, row.order_costs),
        (row.small_orders, row.delivery_costs),
        (row.quotes_sent, row.quote_costs),
        (row.approvals, row.approval_costs),
        row.cost_to_serve,
        row.cost_per_order,
        row.revenue,
        row.margin,
        row.skonto,
        row.rebates,
        row.margin_after_terms,
        row.margin_after_terms_pct,
        row.credit_cost,
        row.net_margin,
        row.net_margin_pct,
    )


async def test_each_customers_cost_to_serve_lowest_net_margin_share_first(session: AsyncSession) -> None:
    data = await small_dataset(session)
    audience = await reports.audience(session, data.admin, TODAY)
    settings = await reports.settings(session)
    found = await profitability.cost_to_serve(session, audience, Period.default(TODAY), settings, today=TODAY)
    alpha, beta = found.ranking.rows
    assert alpha.company == "Alpha Hurt" and beta.company == "Beta Detal"
    assert _costs(alpha) == (
        (2, Decimal("50.00")),
        (1, Decimal("40.00")),  # May's delivery fee: under the threshold
        (0, Decimal("0.00")),
        (1, Decimal("10.00")),  # March's, approved by Anna
        Decimal("100.00"),
        Decimal("50.00"),
        Decimal("1500.00"),
        Decimal("450.00"),
        Decimal("20.00"),
        Decimal("0.00"),
        Decimal("430.00"),
        Decimal("28.7"),  # 430 ÷ 1,500
        Decimal("11.57"),
        Decimal("318.43"),
        Decimal("21.2"),  # 318.43 ÷ 1,500
    )
    assert _costs(beta) == (
        (1, Decimal("25.00")),
        (0, Decimal("0.00")),
        (0, Decimal("0.00")),
        (0, Decimal("0.00")),
        Decimal("25.00"),
        Decimal("25.00"),
        Decimal("400.00"),
        Decimal("120.00"),
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("120.00"),
        Decimal("30.0"),
        Decimal("0.00"),
        Decimal("95.00"),
        Decimal("23.8"),  # 95 ÷ 400 = 23.75
    )
    total = found.ranking.total
    assert (total.cost_to_serve, total.cost_per_order, total.net_margin, total.net_margin_pct) == (
        Decimal("125.00"),
        Decimal("41.67"),
        Decimal("413.43"),
        Decimal("21.8"),  # 413.43 ÷ 1,900 = 21.759
    )
    assert found.months[date(2026, 5, 1)].small_orders == 1


@dataclass(frozen=True)
class _Row:
    company: str
    value: int | None


@pytest.mark.parametrize(
    ("count", "top", "bottom"),
    [(1, [0], []), (2, [0], [1]), (10, [0], [9]), (11, [0, 1], [9, 10]), (20, [0, 1], [18, 19])],
)
def test_the_deciles_are_a_tenth_of_the_ranking_rounded_up(count: int, top: list[int], bottom: list[int]) -> None:
    rows = [_Row(f"C{n:02d}", n) for n in range(count)]
    ranking = ranked(rows, _Row("", None), "value", True)
    assert [n for n in range(count) if ranking.decile(n) == "top"] == top
    assert [n for n in range(count) if ranking.decile(n) == "bottom"] == bottom


def test_rows_without_a_value_rank_last_either_way() -> None:
    rows = [_Row("b", None), _Row("c", 2), _Row("a", 1), _Row("d", 2)]
    total = _Row("", None)
    assert [r.company for r in ranked(rows, total, "value", True).rows] == ["c", "d", "a", "b"]
    assert [r.company for r in ranked(rows, total, "value", False).rows] == ["a", "c", "d", "b"]
    assert [r.company for r in ranked(rows, total, "company", True).rows] == ["d", "c", "b", "a"]


# Report settings.
VALUES = {
    "credit_rate_pct": Decimal("16.00"),
    "order_cost": Decimal("30.00"),
    "delivery_cost": Decimal("0.00"),
    "quote_cost": Decimal("60.00"),
    "approval_cost": Decimal("12.50"),
}


async def test_saving_the_settings_creates_the_missing_row_and_audits_the_change(session: AsyncSession) -> None:
    data = await small_dataset(session, summarise=False)
    await session.execute(delete(ReportSettings))
    assert (await report_settings.current(session)).credit_rate_pct == Decimal("8.00")
    saved = await report_settings.save(session, data.admin, VALUES)
    assert (saved.credit_rate_pct, saved.approval_cost, saved.updated_by_id) == (
        Decimal("16.00"),
        Decimal("12.50"),
        data.admin.id,
    )
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "report_settings"))
    assert entry is not None and entry.changes["credit_rate_pct"] == ["8", "16"]
    assert "quote_cost" not in entry.changes
    await report_settings.save(session, data.admin, VALUES)  # unchanged: no entry
    entries = await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "report_settings"))
    assert len(list(entries)) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("credit_rate_pct", Decimal("100.01"), "Enter a percentage from 0 to 100."),
        ("credit_rate_pct", Decimal("-1"), "Enter a percentage from 0 to 100."),
        ("order_cost", Decimal("-0.01"), "Enter an amount of 0 or more."),
        ("quote_cost", Decimal("1.005"), "Use at most 2 decimal places."),
        ("approval_cost", None, "This field is required."),
    ],
)
async def test_a_wrong_setting_refuses_them_all(
    session: AsyncSession, field: str, value: Decimal | None, message: str
) -> None:
    data = await small_dataset(session, summarise=False)
    with pytest.raises(Refused) as refused:
        await report_settings.save(session, data.admin, {**VALUES, field: value})
    assert refused.value.errors == {field: message}
    assert (await reports.settings(session)).credit_rate_pct == Decimal("8.00")
