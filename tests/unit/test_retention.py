"""Retention by cohort on a small hand-made dataset: who joins which quarter's cohort, the share
of each cohort still ordering quarter by quarter and its revenue, an account manager's scope, and
the cap on the number of cohorts of a long period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Role, User
from portal.services import report_summary, reports, retention
from portal.services.reports import Figures, Period
from portal.services.retention import quarter_of, quarters_between
from tests.factories import make_company, make_counted_order, make_order, make_user
from tests.report_data import ZONE

TODAY = date(2026, 12, 6)
PERIOD = Period(date(2026, 1, 1), date(2026, 11, 1))
"""January to November 2026: the quarters Q1 to Q4 2026, the last one up to November only."""


@dataclass(frozen=True)
class RetentionData:
    anna: User
    piotr: User
    admin: User
    first: Company
    second: Company
    third: Company
    fourth: Company
    older: Company


def _at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 10, tzinfo=UTC)


async def retention_dataset(session: AsyncSession) -> RetentionData:
    """Anna's customers, cohort Q1 2026 (3 customers):
    - First: 1,000.00 in Feb, 500.00 in May, 300.00 in Aug 2026, then stops;
    - Second: 200.00 in Mar, 400.00 in Nov 2026;
    - Third: 100.00 in Jan 2026 only (and a pending order of 700.00 in Jun, which does not count).
    Piotr's customers: Fourth, cohort Q2 2026 (1 customer): 800.00 in Apr, 100.00 in Jun, 50.00 in Jul,
    then stops; Older: first order 600.00 in Nov 2025 (cohort Q4 2025, before the period of Jan–Nov
    2026 but within the 8 quarters up to its end that are always shown), 100.00 in Jan 2026.

    Cohort Q1 2026, size 3: Q+0 3 of 3 = 100.0 %, 1,300.00; Q+1 (Q2) 1 of 3 = 33.3 %, 500.00;
    Q+2 (Q3) 33.3 %, 300.00; Q+3 (Q4, Oct–Nov) 33.3 %, 400.00.
    Cohort Q2 2026, size 1: Q+0 100.0 %, 900.00; Q+1 100.0 %, 50.00; Q+2 0.0 %, 0.00.
    Cohort Q4 2025, size 1: Q+0 100.0 %, 600.00; Q+1 100.0 %, 100.00; then 0.0 % up to Q+4."""
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Cohort", email="anna.c@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Cohort", email="piotr.c@seller.example")
    admin = await make_user(session, Role.ADMIN, full_name="Ada Cohort", email="ada.c@seller.example")
    first = await make_company(session, name="First Hurt", account_manager_id=anna.id)
    second = await make_company(session, name="Second Detal", account_manager_id=anna.id)
    third = await make_company(session, name="Third Sklep", account_manager_id=anna.id)
    fourth = await make_company(session, name="Fourth Trade", account_manager_id=piotr.id)
    older = await make_company(session, name="Older Partner", account_manager_id=piotr.id)
    for company, net, when in [
        (first, "1000.00", _at(2026, 2, 10)),
        (first, "500.00", _at(2026, 5, 12)),
        (first, "300.00", _at(2026, 8, 3)),
        (second, "200.00", _at(2026, 3, 20)),
        (second, "400.00", _at(2026, 11, 5)),
        (third, "100.00", _at(2026, 1, 15)),
        (fourth, "800.00", _at(2026, 4, 2)),
        (fourth, "100.00", _at(2026, 6, 30)),
        (fourth, "50.00", _at(2026, 7, 1)),
        (older, "600.00", _at(2025, 11, 20)),
        (older, "100.00", _at(2026, 1, 8)),
    ]:
        await make_counted_order(session, company, net=net, approved_at=when)
    await make_order(session, third, gross="700.00", submitted_at=_at(2026, 6, 2))
    await session.flush()
    await report_summary.refresh(session, TODAY, ZONE)
    await session.flush()
    return RetentionData(anna, piotr, admin, first, second, third, fourth, older)


def table(found: retention.Retention) -> dict[date, list[tuple[int, int, Decimal, Decimal]]]:
    return {
        cohort.quarter: [(q.offset, q.customers, q.share_pct, q.revenue) for q in cohort.quarters]
        for cohort in found.cohorts
    }


Q1_2026 = [
    (0, 3, Decimal("100.0"), Decimal("1300.00")),
    (1, 1, Decimal("33.3"), Decimal("500.00")),
    (2, 1, Decimal("33.3"), Decimal("300.00")),
    (3, 1, Decimal("33.3"), Decimal("400.00")),
]
Q4_2025 = [
    (0, 1, Decimal("100.0"), Decimal("600.00")),
    (1, 1, Decimal("100.0"), Decimal("100.00")),
    (2, 0, Decimal("0.0"), Decimal("0.00")),
    (3, 0, Decimal("0.0"), Decimal("0.00")),
    (4, 0, Decimal("0.0"), Decimal("0.00")),
]
Q2_2026 = [
    (0, 1, Decimal("100.0"), Decimal("900.00")),
    (1, 1, Decimal("100.0"), Decimal("50.00")),
    (2, 0, Decimal("0.0"), Decimal("0.00")),
]


def test_quarters() -> None:
    assert quarter_of(date(2026, 1, 1)) == date(2026, 1, 1)
    assert quarter_of(date(2026, 6, 30)) == date(2026, 4, 1)
    assert quarter_of(date(2026, 12, 1)) == date(2026, 10, 1)
    assert quarters_between(date(2025, 10, 1), date(2026, 11, 1)) == 4
    assert quarters_between(date(2026, 4, 1), date(2026, 6, 1)) == 0


async def test_each_cohort_is_followed_quarter_by_quarter(session: AsyncSession) -> None:
    data = await retention_dataset(session)
    everyone = await reports.audience(session, data.admin, TODAY)

    found = await retention.retention(session, everyone, PERIOD)

    assert [(c.quarter, c.size) for c in found.cohorts] == [
        (date(2025, 10, 1), 1),
        (date(2026, 1, 1), 3),
        (date(2026, 4, 1), 1),
    ]
    assert table(found) == {date(2025, 10, 1): Q4_2025, date(2026, 1, 1): Q1_2026, date(2026, 4, 1): Q2_2026}
    assert [q.quarter for q in found.cohorts[1].quarters] == [date(2026, m, 1) for m in (1, 4, 7, 10)]
    assert (found.first, found.last, found.offsets) == (date(2025, 1, 1), date(2026, 10, 1), [0, 1, 2, 3, 4])
    assert found.partial and not found.capped


async def test_an_account_manager_sees_only_their_customers_cohorts(session: AsyncSession) -> None:
    data = await retention_dataset(session)

    annas = await retention.retention(session, await reports.audience(session, data.anna, TODAY), PERIOD)
    piotrs = await retention.retention(session, await reports.audience(session, data.piotr, TODAY), PERIOD)

    assert table(annas) == {date(2026, 1, 1): Q1_2026}
    assert table(piotrs) == {date(2025, 10, 1): Q4_2025, date(2026, 4, 1): Q2_2026}


async def test_a_period_starting_mid_quarter_takes_the_whole_quarter_s_cohort(session: AsyncSession) -> None:
    data = await retention_dataset(session)
    everyone = await reports.audience(session, data.admin, TODAY)

    found = await retention.retention(session, everyone, Period(date(2025, 12, 1), date(2026, 6, 1)))

    # Q4 2025: Older (first order in November, before the period's December); followed up to June.
    assert table(found)[date(2025, 10, 1)] == [
        (0, 1, Decimal("100.0"), Decimal("600.00")),
        (1, 1, Decimal("100.0"), Decimal("100.00")),
        (2, 0, Decimal("0.0"), Decimal("0.00")),
    ]
    assert table(found)[date(2026, 1, 1)][:2] == Q1_2026[:2]
    assert not found.partial


def test_a_long_period_shows_the_twelve_most_recent_cohorts() -> None:
    one_order = Figures(orders=1, net=Decimal("10.00"))
    months = {n: {date(2020 + n // 4, n % 4 * 3 + 1, 1): one_order} for n in range(28)}  # a customer a quarter

    found = retention.cohorts(months, Period(date(2020, 1, 1), date(2026, 12, 1)))

    assert found.capped and found.first == date(2024, 1, 1) and len(found.cohorts) == 12
    assert found.cohorts[0].quarter == date(2024, 1, 1) and found.cohorts[-1].quarter == date(2026, 10, 1)
    assert len(found.cohorts[0].quarters) == 12 and len(found.cohorts[-1].quarters) == 1
    assert [q.share_pct for q in found.cohorts[0].quarters[:2]] == [Decimal("100.0"), Decimal("0.0")]
