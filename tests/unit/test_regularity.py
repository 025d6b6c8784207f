"""The regularity report's figures on a small dataset whose numbers are computed by hand (below,
in `regularity_dataset`'s docstring and in the tests): share of months with an order, median gap
and its spread, days since the last order, the trend, and who is at risk of leaving and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Deputy, OrderStatus, Role, User
from portal.services import regularity, report_summary, reports
from portal.services.regularity import Window, quartile, sort_rows, trend_windows
from portal.services.reports import Period
from tests.factories import make_company, make_counted_order, make_order, make_user
from tests.report_data import ZONE

TODAY = date(2026, 12, 6)
PERIOD = Period(date(2026, 1, 1), date(2026, 12, 1))


@dataclass(frozen=True)
class RegularityData:
    anna: User
    """Regular's and Irregular's account manager."""
    piotr: User
    """Gamma's."""
    admin: User
    regular: Company
    irregular: Company
    gamma: Company


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, tzinfo=UTC)


async def regularity_dataset(session: AsyncSession, today: date = TODAY) -> RegularityData:
    """As of 6 Dec 2026, over Jan–Dec 2026 (trend: Sep–Nov against Jun–Aug, the last 3 whole months):

    - Regular Hurt (Anna's): 1,000.00 on 5 Jan, 2 Feb, 2 Mar, 30 Mar and 27 Apr 2026: gaps 28, 28,
      28, 28 (median 28.0, spread 0.0); 4 of 12 months (33.3 %); last order 223 days ago, 8.0 × the
      gap: at risk (more than 1.5 × 28 = 42 days); no revenue in Jun–Nov: no trend. A cancelled
      order on 1 Dec and a pending one on 2 Dec do not count.
    - Irregular Detal (Anna's): 500.00 on 12 Jan, 19 Jan and 2 Mar; 2,000.00 on 1 Jun, 1,000.00 on
      15 Jun and 20 Jul; 800.00 on 10 Sep; 400.00 and 200.00 on 30 Nov. Order days 12 Jan, 19 Jan,
      2 Mar, 1 Jun, 15 Jun, 20 Jul, 10 Sep, 30 Nov: gaps 7, 42, 91, 14, 35, 52, 81, sorted 7, 14,
      35, 42, 52, 81, 91: median 42.0, p25 = 14 + (35 − 14) × 0.5 = 24.5, p75 = 52 + (81 − 52) ×
      0.5 = 66.5, spread 42.0; 6 of 12 months (50.0 %); last order 6 days ago (0.1 × the gap);
      Sep–Nov 1,400.00 against Jun–Aug 4,000.00: −65.0 %, down by more than a third: at risk.
    - Gamma Sklep (Piotr's): 300.00 on 1 Oct 2025 (before the period) and 600.00 on 3 Nov 2026: no
      gap inside the period, 1 of 12 months (8.3 %), last order 33 days ago; no revenue Jun–Aug:
      no trend; not at risk.
    - Delta (Piotr's) has only a pending order: not in the report."""
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Rytm")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Rytm")
    admin = await make_user(session, Role.ADMIN, full_name="Ada Rytm")
    regular = await make_company(session, name="Regular Hurt", account_manager_id=anna.id)
    irregular = await make_company(session, name="Irregular Detal", account_manager_id=anna.id)
    gamma = await make_company(session, name="Gamma Sklep", account_manager_id=piotr.id)
    delta = await make_company(session, name="Delta Pending", account_manager_id=piotr.id)
    for day in (date(2026, 1, 5), date(2026, 2, 2), date(2026, 3, 2), date(2026, 3, 30), date(2026, 4, 27)):
        await make_counted_order(session, regular, net="1000.00", approved_at=_at(day))
    cancelled = await make_counted_order(session, regular, net="700.00", approved_at=_at(date(2026, 12, 1)))
    cancelled.status = OrderStatus.CANCELLED
    await make_order(session, regular, gross="900.00", submitted_at=_at(date(2026, 12, 2)))
    for day, net in (
        (date(2026, 1, 12), "500.00"),
        (date(2026, 1, 19), "500.00"),
        (date(2026, 3, 2), "500.00"),
        (date(2026, 6, 1), "2000.00"),
        (date(2026, 6, 15), "1000.00"),
        (date(2026, 7, 20), "1000.00"),
        (date(2026, 9, 10), "800.00"),
        (date(2026, 11, 30), "400.00"),
        (date(2026, 11, 30), "200.00"),
    ):
        await make_counted_order(session, irregular, net=net, approved_at=_at(day))
    await make_counted_order(session, gamma, net="300.00", approved_at=_at(date(2025, 10, 1)))
    await make_counted_order(session, gamma, net="600.00", approved_at=_at(date(2026, 11, 3)))
    await make_order(session, delta, gross="100.00", submitted_at=_at(date(2026, 11, 5)))
    await session.flush()
    await report_summary.refresh(session, today, ZONE)
    await session.flush()
    return RegularityData(anna, piotr, admin, regular, irregular, gamma)


def test_quartiles_interpolate_between_the_sorted_gaps() -> None:
    gaps = [7, 14, 35, 42, 52, 81, 91]
    assert quartile(gaps, Decimal("0.25")) == Decimal("24.5")
    assert quartile(gaps, Decimal("0.75")) == Decimal("66.5")
    assert quartile([28], Decimal("0.75")) == 28


def test_the_trend_compares_the_last_three_whole_months_with_the_three_before() -> None:
    recent, earlier = trend_windows(PERIOD, TODAY)
    assert (recent, earlier) == (
        Window(date(2026, 9, 1), date(2026, 11, 1)),
        Window(date(2026, 6, 1), date(2026, 8, 1)),
    )
    # on the last day of December, December is whole
    assert trend_windows(PERIOD, date(2026, 12, 31))[0] == Window(date(2026, 10, 1), date(2026, 12, 1))
    # a past period ends where it ends
    assert trend_windows(Period(date(2025, 1, 1), date(2025, 6, 1)), TODAY)[1] == Window(
        date(2025, 1, 1), date(2025, 3, 1)
    )


async def test_each_customer_s_regularity_computed_by_hand(session: AsyncSession) -> None:
    data = await regularity_dataset(session)
    everyone = await reports.audience(session, data.admin, TODAY)
    report = await regularity.regularity(session, everyone, PERIOD, TODAY)
    rows = {row.company.name: row for row in report.rows}
    assert sorted(rows) == ["Gamma Sklep", "Irregular Detal", "Regular Hurt"]
    assert (report.months, report.through) == (12, TODAY)

    regular = rows["Regular Hurt"]
    assert (regular.active_months, regular.months, regular.share_pct) == (4, 12, Decimal("33.3"))
    assert regular.gaps == (28, 28, 28, 28)
    assert (regular.median_gap, regular.spread) == (Decimal("28.0"), Decimal("0.0"))
    assert (regular.last_order, regular.days_since, regular.overdue_ratio) == (date(2026, 4, 27), 223, Decimal("8.0"))
    assert (regular.recent, regular.earlier, regular.trend_pct) == (Decimal("0.00"), Decimal("0.00"), None)
    assert (regular.overdue, regular.dropping, regular.at_risk) == (True, False, True)

    irregular = rows["Irregular Detal"]
    assert (irregular.active_months, irregular.share_pct) == (6, Decimal("50.0"))
    assert irregular.gaps == (7, 42, 91, 14, 35, 52, 81)
    assert (irregular.median_gap, irregular.spread) == (Decimal("42.0"), Decimal("42.0"))
    assert (irregular.last_order, irregular.days_since, irregular.overdue_ratio) == (
        date(2026, 11, 30),
        6,
        Decimal("0.1"),
    )
    assert (irregular.recent, irregular.earlier, irregular.trend_pct) == (
        Decimal("1400.00"),
        Decimal("4000.00"),
        Decimal("-65.0"),
    )
    assert (irregular.overdue, irregular.dropping, irregular.at_risk) == (False, True, True)

    gamma = rows["Gamma Sklep"]
    assert (gamma.active_months, gamma.share_pct, gamma.gaps, gamma.median_gap, gamma.spread) == (
        1,
        Decimal("8.3"),
        (),
        None,
        None,
    )
    assert (gamma.days_since, gamma.overdue_ratio, gamma.trend_pct, gamma.at_risk) == (33, None, None, False)

    assert [row.company.name for row in report.at_risk] == ["Regular Hurt", "Irregular Detal"]
    # customers ordering per month: Jan (2), Feb, Mar (2), Apr, Jun, Jul, Sep, Nov (2); 2025: Oct (Gamma)
    assert [(m.month.month, m.customers, m.previous) for m in report.ordering] == [
        (1, 2, 0),
        (2, 1, 0),
        (3, 2, 0),
        (4, 1, 0),
        (5, 0, 0),
        (6, 1, 0),
        (7, 1, 0),
        (8, 0, 0),
        (9, 1, 0),
        (10, 0, 1),
        (11, 2, 0),
        (12, 0, 0),
    ]


async def test_a_manager_sees_their_customers_and_the_covered_colleague_s_marked(session: AsyncSession) -> None:
    data = await regularity_dataset(session)
    anna = await reports.audience(session, data.anna, TODAY)
    report = await regularity.regularity(session, anna, PERIOD, TODAY)
    assert sorted(row.company.name for row in report.rows) == ["Irregular Detal", "Regular Hurt"]
    assert sum(month.customers for month in report.ordering) == 10  # 4 + 6 months; Gamma's November is not hers
    assert all(month.previous == 0 for month in report.ordering)

    session.add(Deputy(manager_id=data.piotr.id, deputy_id=data.anna.id, starts_on=TODAY, ends_on=TODAY))
    await session.flush()
    covering = await reports.audience(session, data.anna, TODAY)
    rows = (await regularity.regularity(session, covering, PERIOD, TODAY)).rows
    assert {row.company.name: row.covered for row in rows} == {
        "Gamma Sklep": True,
        "Irregular Detal": False,
        "Regular Hurt": False,
    }


async def test_the_period_s_end_and_the_summary_s_day_bound_the_figures(session: AsyncSession) -> None:
    data = await regularity_dataset(session)
    everyone = await reports.audience(session, data.admin, TODAY)
    # Jan–Mar 2026: Gamma counts (it ordered in October 2025), without a gap inside the period
    first_quarter = Period(date(2026, 1, 1), date(2026, 3, 1))
    report = await regularity.regularity(session, everyone, first_quarter, TODAY)
    rows = {row.company.name: row for row in report.rows}
    assert sorted(rows) == ["Gamma Sklep", "Irregular Detal", "Regular Hurt"]
    assert rows["Regular Hurt"].gaps == (28, 28, 28)  # 5 Jan, 2 Feb, 2 Mar, 30 Mar
    assert rows["Regular Hurt"].days_since == 223  # the last order as of the summary's day, any time
    assert (rows["Regular Hurt"].active_months, rows["Regular Hurt"].months) == (3, 3)
    # a period before anyone ordered lists nobody
    assert (
        await regularity.regularity(session, everyone, Period(date(2024, 1, 1), date(2024, 12, 1)), TODAY)
    ).rows == []
    # the summary's day bounds the last order: as of 29 Nov, Irregular's last order is 10 Sep
    earlier = await regularity.regularity(session, everyone, PERIOD, date(2026, 11, 29))
    assert {row.company.name: row.days_since for row in earlier.rows}["Irregular Detal"] == 80
    assert earlier.months == 11


async def test_rows_sort_by_any_figure_with_the_missing_ones_last(session: AsyncSession) -> None:
    data = await regularity_dataset(session)
    everyone = await reports.audience(session, data.admin, TODAY)
    rows = (await regularity.regularity(session, everyone, PERIOD, TODAY)).rows

    def names(key: regularity.SortKey, descending: bool) -> list[str]:
        return [row.company.name for row in sort_rows(rows, key, descending=descending)]

    assert names("overdue", True) == ["Regular Hurt", "Irregular Detal", "Gamma Sklep"]
    assert names("overdue", False) == ["Irregular Detal", "Regular Hurt", "Gamma Sklep"]
    assert names("company", False) == ["Gamma Sklep", "Irregular Detal", "Regular Hurt"]
    assert names("since", True) == ["Regular Hurt", "Gamma Sklep", "Irregular Detal"]
    assert names("share", True) == ["Irregular Detal", "Regular Hurt", "Gamma Sklep"]
    assert names("trend", True) == ["Irregular Detal", "Gamma Sklep", "Regular Hurt"]
    assert names("spread", False) == ["Regular Hurt", "Irregular Detal", "Gamma Sklep"]


async def test_a_customer_who_ordered_last_period_and_not_in_this_one_has_stopped(session: AsyncSession) -> None:
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Stopped")
    gone = await make_company(session, name="Gone Hurt", account_manager_id=anna.id)
    for day in (date(2025, 3, 4), date(2025, 6, 10)):
        await make_counted_order(
            session, gone, net="100.00", approved_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
        )
    await report_summary.refresh(session, date(2026, 12, 6), ZONE)
    audience = await reports.audience(session, anna, date(2026, 12, 6))

    found = await regularity.regularity(session, audience, Period.default(date(2026, 12, 6)), date(2026, 12, 6))

    (row,) = found.rows
    assert (row.active_months, row.previous_orders, row.median_gap, row.days_since) == (0, 2, None, 544)
    assert row.stopped and row.at_risk and not row.overdue and not row.dropping
    assert found.at_risk == [row]
