"""How regularly each customer reorders, and who is at risk of leaving: the figures of the
regularity report (`/reports/regularity`).

Per visible customer that has ordered (orders that count, `flags.COUNTED`) up to the period's end:

- share of months with an order: months of the period (up to the month of `through`, the summary's
  day) with at least one order ÷ those months;
- median gap: days between consecutive distinct order days (`Order.counted_on`) within the period up
  to `through`; its spread is the interquartile range, p75 − p25 of the gaps (quartiles interpolated
  between the sorted gaps, as a spreadsheet's QUARTILE.INC does);
- days since the last order, as of `through` (the last counted order at or before it, any time);
- trend: revenue of the last 3 whole months of the period (up to `through`) against the 3 before,
  from the summary.

A customer is at risk of leaving when it has not ordered for more than `LATE_FACTOR` × its median
gap (the rule of the account manager's "later than usual", `customers.LATE_FACTOR`), or when the
revenue of the last 3 months is down by more than a third against the 3 before, or when it ordered
in the previous period and not once in this one. The whole report
costs three queries, whatever the number of customers, and reads the customers as plain values."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Literal, NamedTuple

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Order
from portal.services import reports
from portal.services.customers import LATE_FACTOR
from portal.services.flags import COUNTED
from portal.services.report_summary import add_months, month_start
from portal.services.reports import Audience, Figures, Period

TREND_MONTHS = 3
"""The trend compares the revenue of this many months with as many before."""
LATE = Decimal(str(LATE_FACTOR))
TENTH = Decimal("0.1")
ZERO = Decimal("0.00")

SortKey = Literal["company", "share", "gap", "spread", "since", "overdue", "trend"]
SORT_KEYS: tuple[SortKey, ...] = ("company", "share", "gap", "spread", "since", "overdue", "trend")
DEFAULT_SORT: SortKey = "overdue"


def _tenth(value: Decimal) -> Decimal:
    return value.quantize(TENTH, ROUND_HALF_UP)


def quartile(ordered: Sequence[int], fraction: Decimal) -> Decimal:
    """The value `fraction` of the way through the sorted values, interpolated between neighbours
    (position (n − 1) × fraction: QUARTILE.INC)."""
    position = (len(ordered) - 1) * fraction
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@dataclass(frozen=True)
class Window:
    """Months from `first` to `last` (first days, both included)."""

    first: date
    last: date


class Customer(NamedTuple):
    """What a row shows of the customer (read as plain values, not as a `Company`)."""

    id: int
    name: str
    tax_id: str
    currency: str
    account_manager_id: int | None


@dataclass(frozen=True)
class CustomerRegularity:
    """One customer's row."""

    company: Customer
    covered: bool
    """Seen only because the reader covers its account manager."""
    active_months: int
    months: int
    """The months of the period up to the summary's day (the share's base)."""
    gaps: tuple[int, ...]
    """Days between consecutive order days in the period, in order of time."""
    last_order: date
    days_since: int
    recent: Decimal
    """Revenue of the trend's last months."""
    earlier: Decimal
    """Revenue of the months before them."""
    previous_orders: int = 0
    """Orders in the previous period: a customer who ordered then and not now has stopped."""

    @cached_property
    def share_pct(self) -> Decimal | None:
        return _tenth(Decimal(self.active_months * 100) / self.months) if self.months else None

    @cached_property
    def median_gap(self) -> Decimal | None:
        return _tenth(Decimal(str(statistics.median(self.gaps)))) if self.gaps else None

    @cached_property
    def spread(self) -> Decimal | None:
        """The interquartile range of the gaps, p75 − p25, in days."""
        if not self.gaps:
            return None
        ordered = sorted(self.gaps)
        return _tenth(quartile(ordered, Decimal("0.75")) - quartile(ordered, Decimal("0.25")))

    @cached_property
    def overdue_ratio(self) -> Decimal | None:
        """Days since the last order ÷ the median gap: above `LATE_FACTOR`, later than usual."""
        median = self.median_gap
        return _tenth(self.days_since / median) if median else None

    @cached_property
    def overdue(self) -> bool:
        median = self.median_gap
        return median is not None and self.days_since > LATE * median

    @cached_property
    def trend_pct(self) -> Decimal | None:
        """% change of the revenue of the last months against the months before (None: nothing before)."""
        if self.earlier <= 0:
            return None
        return _tenth((self.recent - self.earlier) * 100 / self.earlier)

    @cached_property
    def dropping(self) -> bool:
        """Revenue down by more than a third."""
        return self.earlier > 0 and self.recent * 3 < self.earlier * 2

    @cached_property
    def stopped(self) -> bool:
        """Ordered in the previous period, not once in this one (no gap to compare with)."""
        return self.active_months == 0 and self.previous_orders > 0

    @cached_property
    def at_risk(self) -> bool:
        return self.overdue or self.dropping or self.stopped


@dataclass(frozen=True)
class MonthOrdering:
    """How many customers ordered in a month of the period, and in the same month of the previous one."""

    month: date
    customers: int
    previous: int


@dataclass(frozen=True)
class RegularityReport:
    rows: list[CustomerRegularity]
    through: date
    months: int
    recent: Window
    earlier: Window
    ordering: list[MonthOrdering]

    @cached_property
    def at_risk(self) -> list[CustomerRegularity]:
        """The customers at risk, most overdue first."""
        return sort_rows([row for row in self.rows if row.at_risk], DEFAULT_SORT, descending=True)


def trend_windows(period: Period, through: date) -> tuple[Window, Window]:
    """The last `TREND_MONTHS` whole months of the period up to `through`, and as many before."""
    whole = add_months(month_start(through + timedelta(days=1)), -1)
    last = min(period.last, whole)
    recent = Window(add_months(last, 1 - TREND_MONTHS), last)
    return recent, Window(add_months(recent.first, -TREND_MONTHS), add_months(recent.first, -1))


def _revenue(months: dict[date, Figures], window: Window) -> Decimal:
    return sum((f.net for month, f in months.items() if window.first <= month <= window.last), ZERO)


def _ordering(period: Period, summary: dict[int, dict[date, Figures]]) -> list[MonthOrdering]:
    buying: dict[date, int] = defaultdict(int)
    for months in summary.values():
        for month, figures in months.items():
            if figures.orders > 0:
                buying[month] += 1
    return [
        MonthOrdering(month, buying[month], buying[before])
        for month, before in zip(period.month_list(), period.previous.month_list(), strict=True)
    ]


def _counted_until(day: date) -> ColumnElement[bool]:
    return and_(Order.company_id == Company.id, Order.status.in_(COUNTED), Order.counted_on <= day)


async def _customers(
    session: AsyncSession, audience: Audience, period: Period, through: date
) -> list[tuple[Customer, date]]:
    """The visible customers with an order up to the period's end (and `through`), and their last
    order up to `through`: per customer, a look at the end of its orders by day (an index's
    path), not a pass over all its orders."""
    last_order = select(func.max(Order.counted_on)).where(_counted_until(through)).scalar_subquery()
    rows = await session.execute(
        select(*(getattr(Company, name) for name in Customer._fields), last_order)
        .where(audience.companies, exists().where(_counted_until(min(period.end, through))))
        .order_by(Company.id)
    )
    return [(Customer(*row[:-1]), row[-1]) for row in rows]


async def _order_days(
    session: AsyncSession, audience: Audience, period: Period, through: date
) -> dict[int, list[date]]:
    """Each visible customer's distinct order days in the period up to `through`, in order."""
    rows = await session.execute(
        select(Order.company_id, Order.counted_on)
        .distinct()
        .join(Company, Company.id == Order.company_id)
        .where(
            audience.companies,
            Order.status.in_(COUNTED),
            Order.counted_on >= period.first,
            Order.counted_on <= min(period.end, through),
        )
    )
    days: dict[int, list[date]] = defaultdict(list)
    for company_id, day in rows:
        if day is not None:  # the condition keeps none, the column allows it
            days[company_id].append(day)
    return {company_id: sorted(found) for company_id, found in days.items()}


async def regularity(session: AsyncSession, audience: Audience, period: Period, through: date) -> RegularityReport:
    """The report for the customers `audience` sees, over `period`, as of `through` (the summary's day)."""
    recent, earlier = trend_windows(period, through)
    start = min(period.previous.first, earlier.first)
    summary = await reports.activity_by_company_month(session, audience.companies, start, period.last)
    days = await _order_days(session, audience, period, through)
    counted = [month for month in period.month_list() if month <= month_start(through)]
    rows = []
    for company, last_order in await _customers(session, audience, period, through):
        months = summary.get(company.id, {})
        found = days.get(company.id, [])
        rows.append(
            CustomerRegularity(
                company=company,
                covered=audience.covered(company),
                active_months=sum(1 for month in counted if month in months and months[month].orders > 0),
                months=len(counted),
                gaps=tuple((later - before).days for before, later in zip(found, found[1:], strict=False)),
                last_order=last_order,
                days_since=(through - last_order).days,
                recent=_revenue(months, recent),
                earlier=_revenue(months, earlier),
                previous_orders=sum(months[m].orders for m in period.previous.month_list() if m in months),
            )
        )
    return RegularityReport(rows, through, len(counted), recent, earlier, _ordering(period, summary))


def _number(row: CustomerRegularity, key: SortKey) -> Decimal | None:
    values = {
        "share": row.share_pct,
        "gap": row.median_gap,
        "spread": row.spread,
        "since": Decimal(row.days_since),
        "overdue": row.overdue_ratio,
        "trend": row.trend_pct,
    }
    return values.get(key)


def sort_rows(rows: list[CustomerRegularity], key: SortKey, *, descending: bool) -> list[CustomerRegularity]:
    """Rows by `key`, ties by name; rows without the figure last either way."""
    by_name = sorted(rows, key=lambda row: (row.company.name.casefold(), row.company.id))
    if key == "company":
        return by_name[::-1] if descending else by_name
    numbers = [(row, _number(row, key)) for row in by_name]
    known = [(row, value) for row, value in numbers if value is not None]
    known.sort(key=lambda pair: pair[1], reverse=descending)
    return [row for row, _ in known] + [row for row, value in numbers if value is None]
