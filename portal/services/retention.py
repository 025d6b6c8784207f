"""Retention by cohort: customers grouped by the quarter of their first order that counts, and for
each later quarter the share of the cohort that ordered in it and the cohort's revenue in it.

A customer's first order is the first month with an order in the worker's summary (`ReportMonth`,
`orders > 0`), looked for from 2000 on: the customer joins that month's quarter's cohort. The
cohorts shown are those of the quarters the period touches (whole quarters, so a cohort is never
cut in half by the period's first month), reaching back at least `MIN_COHORTS` quarters from the
period's last (a year's period still shows two years of cohorts: retention needs time to show)
and at most `MAX_COHORTS`; each is followed
quarter by quarter (Q+0 is the cohort's own quarter, always 100 %) up to the period's last month,
so the last quarter may be partial. One query, whatever the number of customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import SettlementPeriod
from portal.services import reports
from portal.services.agreements import calendar_period
from portal.services.report_summary import add_months
from portal.services.reports import ZERO, Audience, Figures, Period

SINCE = date(2000, 1, 1)
"""Where the search for a customer's first order starts (the portal keeps no earlier orders)."""
MIN_COHORTS = 8
"""The quarters looked at for cohorts when the period is shorter (two years)."""
MAX_COHORTS = 12
"""The most recent quarters shown as cohorts when the period is longer (three years)."""


def quarter_of(day: date) -> date:
    """The first day of the quarter `day` falls in."""
    return calendar_period(SettlementPeriod.QUARTER, day).starts_on


def quarters_between(first: date, last: date) -> int:
    """How many quarters `last`'s quarter lies after `first`'s (0: the same quarter)."""
    return ((last.year - first.year) * 12 + last.month - first.month) // 3


@dataclass(frozen=True)
class CohortQuarter:
    """One quarter of a cohort's life: Q+`offset`."""

    offset: int
    quarter: date
    customers: int
    """The cohort's customers with an order that counts in this quarter."""
    share_pct: Decimal
    revenue: Decimal


@dataclass(frozen=True)
class Cohort:
    quarter: date
    size: int
    quarters: tuple[CohortQuarter, ...]
    """Q+0 up to the quarter of the period's last month."""


@dataclass(frozen=True)
class Retention:
    cohorts: tuple[Cohort, ...]
    """Oldest first; only quarters in which some customer ordered for the first time."""
    first: date
    """The first cohort quarter looked at."""
    last: date
    """The quarter of the period's last month (the last cohort quarter, and the last quarter followed)."""
    through: date
    """The period's last month: the last quarter counts its months up to this one."""
    capped: bool
    """The period touches more than `MAX_COHORTS` quarters: only the most recent are cohorts."""

    @property
    def offsets(self) -> list[int]:
        """The table's columns: Q+0 … as far as the oldest cohort reaches."""
        return list(range(quarters_between(self.cohorts[0].quarter, self.last) + 1)) if self.cohorts else []

    @property
    def partial(self) -> bool:
        """The last quarter is not whole within the period."""
        return add_months(self.last, 2) != self.through


def _share(part: int, whole: int) -> Decimal:
    return (Decimal(part * 100) / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def cohorts(months: dict[int, dict[date, Figures]], period: Period) -> Retention:
    """The cohorts of the period, from each customer's months (`reports.activity_by_company_month`)."""
    last = quarter_of(period.last)
    at_least = min(quarter_of(period.first), add_months(last, -3 * (MIN_COHORTS - 1)))
    first = max(at_least, add_months(last, -3 * (MAX_COHORTS - 1)))
    capped = quarter_of(period.first) < first
    members: dict[date, list[dict[date, Figures]]] = {}
    for company_months in months.values():
        ordered = sorted(month for month, figures in company_months.items() if figures.orders > 0)
        if ordered and first <= quarter_of(ordered[0]) <= last:
            members.setdefault(quarter_of(ordered[0]), []).append(company_months)
    found = []
    for quarter in sorted(members):
        group = members[quarter]
        followed = []
        for offset in range(quarters_between(quarter, last) + 1):
            start = add_months(quarter, 3 * offset)
            inside = [add_months(start, n) for n in range(3) if add_months(start, n) <= period.last]
            ordering = sum(1 for m in group if any(m[d].orders > 0 for d in inside if d in m))
            revenue = sum((m[d].net for m in group for d in inside if d in m), ZERO)
            followed.append(CohortQuarter(offset, start, ordering, _share(ordering, len(group)), revenue))
        found.append(Cohort(quarter, len(group), tuple(followed)))
    return Retention(tuple(found), first, last, period.last, capped)


async def retention(session: AsyncSession, audience: Audience, period: Period) -> Retention:
    """Retention by cohort of the customers the reader sees, over the period."""
    months = await reports.activity_by_company_month(session, audience.companies, SINCE, period.last)
    return cohorts(months, period)
