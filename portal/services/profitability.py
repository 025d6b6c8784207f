"""Per customer, what they earn the seller and what serving them costs: the rows of the
profitability and cost-to-serve reports, ranked.

Every figure is derived by `reports.Figures` (one home per rule); this module gathers, for the
customers a reader sees (`reports.Audience`), the figures of the period, of the previous period
(growth), of all time up to the period's last month (lifetime value) and of the 12 months ending
with it (the run rate), and adds each customer's expected rebate of the open settlement period
when the period contains today (`agreements.standings_of`; a prospective agreement gives its tiers
in the prices, so nothing is expected). A customer is listed when the summary holds a month of
theirs in the period. The rows are ranked by any column, customers without a value (no orders: no
average order) last whichever the direction; the ranking's first and last tenth (ceil(n / 10)
rows each) are its top and bottom deciles. A page costs the same few queries whatever the number
of customers: one for every set of figures with the names and the months (`_summary`), three for
the agreements."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, Literal, Protocol, TypeVar

from sqlalchemy import Date, Result, case, func, null, select, type_coerce, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, ReportMonth, ReportSettings, User
from portal.services import agreements, reports
from portal.services.report_summary import add_months
from portal.services.reports import Audience, Figures, Period

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
SINCE_EVER = date(2000, 1, 1)
"""Lifetime value counts from here (the portal holds nothing older)."""
RUN_RATE_MONTHS = 12

ProfitSort = Literal[
    "company",
    "revenue",
    "growth",
    "margin",
    "margin_pct",
    "orders",
    "average_order",
    "lifetime",
    "run_rate",
    "discount",
    "exposure",
    "credit_cost",
    "days_late",
    "net_margin",
]
CostSort = Literal[
    "company",
    "orders",
    "small_orders",
    "quotes_sent",
    "approvals",
    "cost_to_serve",
    "cost_per_order",
    "revenue",
    "margin",
    "skonto",
    "rebates",
    "margin_after_terms",
    "margin_after_terms_pct",
    "credit_cost",
    "net_margin",
    "net_margin_pct",
]
Decile = Literal["top", "bottom"]


def pct(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, to 0.1 (None when `whole` is not above zero)."""
    return (part * 100 / whole).quantize(TENTH, ROUND_HALF_UP) if whole > 0 else None


def growth_pct(now: Decimal, before: Decimal) -> Decimal | None:
    """The change from `before` to `now`, in % of `before` (None: nothing before to compare with)."""
    return pct(now - before, before)


@dataclass(frozen=True)
class Customer:
    id: int
    name: str
    manager: str | None
    covered: bool
    """Seen only because the reader covers the customer's account manager today."""


@dataclass(frozen=True)
class ProfitRow:
    """One customer's profitability (or, without `customer`, the totals of the rows shown)."""

    customer: Customer | None
    figures: Figures
    previous_revenue: Decimal
    lifetime: Decimal
    run_rate: Decimal
    days: int
    """Calendar days of the period the summary covers (for the average daily exposure)."""
    settings: ReportSettings

    @property
    def company(self) -> str:
        return self.customer.name if self.customer else ""

    @property
    def revenue(self) -> Decimal:
        return self.figures.net

    @property
    def growth(self) -> Decimal | None:
        return growth_pct(self.figures.net, self.previous_revenue)

    @property
    def margin(self) -> Decimal:
        return self.figures.margin

    @property
    def margin_pct(self) -> Decimal | None:
        return self.figures.margin_pct

    @property
    def orders(self) -> int:
        return self.figures.orders

    @property
    def average_order(self) -> Decimal | None:
        return self.figures.average_order

    @property
    def discount(self) -> Decimal | None:
        return self.figures.discount_pct

    @property
    def exposure(self) -> Decimal:
        return self.figures.average_exposure(self.days)

    @property
    def credit_cost(self) -> Decimal:
        return self.figures.credit_cost(self.settings)

    @property
    def days_late(self) -> Decimal | None:
        return self.figures.days_late

    @property
    def net_margin(self) -> Decimal:
        return self.figures.net_margin(self.settings)


@dataclass(frozen=True)
class CostRow:
    """One customer's cost to serve and margins (or, without `customer`, the totals)."""

    customer: Customer | None
    figures: Figures
    settings: ReportSettings

    @property
    def company(self) -> str:
        return self.customer.name if self.customer else ""

    @property
    def orders(self) -> int:
        return self.figures.orders

    @property
    def small_orders(self) -> int:
        return self.figures.small_orders

    @property
    def quotes_sent(self) -> int:
        return self.figures.quotes_sent

    @property
    def approvals(self) -> int:
        return self.figures.approvals

    @property
    def order_costs(self) -> Decimal:
        return self.figures.orders * self.settings.order_cost

    @property
    def delivery_costs(self) -> Decimal:
        return self.figures.small_orders * self.settings.delivery_cost

    @property
    def quote_costs(self) -> Decimal:
        return self.figures.quotes_sent * self.settings.quote_cost

    @property
    def approval_costs(self) -> Decimal:
        return self.figures.approvals * self.settings.approval_cost

    @property
    def cost_to_serve(self) -> Decimal:
        return self.figures.cost_to_serve(self.settings)

    @property
    def cost_per_order(self) -> Decimal | None:
        orders = self.figures.orders
        return (self.cost_to_serve / orders).quantize(CENT, ROUND_HALF_UP) if orders else None

    @property
    def revenue(self) -> Decimal:
        return self.figures.net

    @property
    def margin(self) -> Decimal:
        return self.figures.margin

    @property
    def skonto(self) -> Decimal:
        return self.figures.skonto

    @property
    def rebates(self) -> Decimal:
        """Settled rebates and the open periods' expected ones."""
        return self.figures.rebates + self.figures.expected_rebates

    @property
    def margin_after_terms(self) -> Decimal:
        return self.figures.margin_after_terms

    @property
    def margin_after_terms_pct(self) -> Decimal | None:
        return pct(self.margin_after_terms, self.figures.net)

    @property
    def credit_cost(self) -> Decimal:
        return self.figures.credit_cost(self.settings)

    @property
    def net_margin(self) -> Decimal:
        return self.figures.net_margin(self.settings)

    @property
    def net_margin_pct(self) -> Decimal | None:
        return pct(self.net_margin, self.figures.net)


class _Row(Protocol):
    @property
    def company(self) -> str: ...


Row = TypeVar("Row", bound=_Row)


@dataclass(frozen=True)
class Ranking(Generic[Row]):
    """The rows in the order asked for, the totals, and the deciles of that order."""

    rows: list[Row]
    total: Row
    sort: str
    descending: bool

    @property
    def band(self) -> int:
        """Rows in each decile: a tenth of the rows, rounded up."""
        return math.ceil(len(self.rows) / 10)

    def decile(self, index: int) -> Decile | None:
        """Whether the row at `index` of the ranking is in its top or bottom tenth (a single row is
        the top)."""
        if index < self.band:
            return "top"
        if index >= len(self.rows) - self.band:
            return "bottom"
        return None

    def sorted_by(self, key: str, *, descending_first: bool = True) -> dict[str, str]:
        """The query for a column heading: the sorted column turns round; another starts high to low
        (names A to Z)."""
        if key == self.sort:
            descending = not self.descending
        else:
            descending = descending_first and key != "company"
        return {"sort": key, "desc": "true" if descending else "false"}


def ranked(rows: Sequence[Row], total: Row, sort: str, descending: bool) -> Ranking[Row]:
    """`rows` by `sort` (an attribute of theirs), ties and rows without a value by name, the latter
    last whichever the direction."""
    by_name = sorted(rows, key=lambda row: row.company.casefold())
    if sort == "company":
        ordered = by_name[::-1] if descending else by_name
    else:
        valued = [row for row in by_name if getattr(row, sort) is not None]
        valued.sort(key=lambda row: getattr(row, sort), reverse=descending)
        ordered = valued + [row for row in by_name if getattr(row, sort) is None]
    return Ranking(ordered, total, sort, descending)


@dataclass(frozen=True)
class _Summary:
    """What one statement reads from the summary for a ranking: the customers listed (those with a
    month in the period), every visible customer's figures of the period and net revenue of the
    previous period, lifetime and run rate, and the visible customers' figures per month."""

    customers: dict[int, Customer]
    figures: dict[int, Figures]
    previous: dict[int, Decimal]
    lifetime: dict[int, Decimal]
    run_rate: dict[int, Decimal]
    months: dict[date, Figures]


async def _summary(
    session: AsyncSession, audience: Audience, period: Period, *, since: date, chart: Period
) -> _Summary:
    """One statement: per visible customer, the sums of its months from `since` to the period's
    last (the period's, the previous period's, the run rate's, all of them), with its name and
    manager; then, in the same result, the visible customers' sums per month of `chart`."""
    in_period = reports.in_months(period.first, period.last)
    before, trailing = period.previous, Period(add_months(period.last, 1 - RUN_RATE_MONTHS), period.last)
    net = ReportMonth.net
    per_company = (
        select(
            ReportMonth.company_id,
            type_coerce(null(), Date).label("month"),
            Company.name,
            Company.account_manager_id,
            User.full_name,
            func.count(case((in_period, 1))),
            func.sum(case((reports.in_months(before.first, before.last), net))),
            func.sum(net),
            func.sum(case((reports.in_months(trailing.first, trailing.last), net))),
            *reports.sums(in_period),
        )
        .join(Company, Company.id == ReportMonth.company_id)
        .outerjoin(User, User.id == Company.account_manager_id)
        .where(audience.companies, reports.in_months(since, period.last))
        .group_by(ReportMonth.company_id, Company.name, Company.account_manager_id, User.full_name)
    )
    per_month = (
        select(null(), ReportMonth.month, *(null() for _ in range(7)), *reports.sums())
        .join(Company, Company.id == ReportMonth.company_id)
        .where(audience.companies, reports.in_months(chart.first, chart.last))
        .group_by(ReportMonth.month)
    )
    found = _Summary({}, {}, {}, {}, {}, {})
    months: dict[date, Figures] = {}
    result: Result[Any] = await session.execute(union_all(per_company, per_month))
    for values in result.tuples():
        row: tuple[Any, ...] = tuple(values)
        if row[0] is None:
            months[row[1]] = reports.figures_of(row[9:])
            continue
        company_id = row[0]
        if row[5]:
            found.customers[company_id] = Customer(company_id, row[2], row[4], audience.covers(row[3]))
            found.figures[company_id] = reports.figures_of(row[9:])
        found.previous[company_id] = reports.amount_of(row[6])
        found.lifetime[company_id] = reports.amount_of(row[7])
        found.run_rate[company_id] = reports.amount_of(row[8])
    found.months.update({month: months.get(month, Figures()) for month in chart.month_list()})
    return found


async def expected_rebates(
    session: AsyncSession, audience: Audience, period: Period, today: date
) -> dict[int, Decimal]:
    """Each visible customer's expected rebate of their open settlement period, when the period
    contains today (otherwise none: a past period's rebates are settled, in the summary)."""
    if not period.contains(today):
        return {}
    found: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for accrual in agreements.accruals_of(await agreements.standings_of(session, audience.companies, today)):
        if not accrual.prospective:
            found[accrual.agreement.company_id] += accrual.expected_rebate
    return dict(found)


async def _listed(
    session: AsyncSession, audience: Audience, period: Period, today: date, *, since: date, chart: Period
) -> _Summary:
    """The summary, the listed customers' figures of the period with their expected rebates added."""
    found = await _summary(session, audience, period, since=since, chart=chart)
    expected = await expected_rebates(session, audience, period, today)
    for company_id, figures in found.figures.items():
        found.figures[company_id] = figures.with_expected(expected.get(company_id, ZERO))
    return found


def _total(figures: Sequence[Figures]) -> Figures:
    return sum(figures, Figures())


@dataclass(frozen=True)
class Profitability:
    ranking: Ranking[ProfitRow]
    months: dict[date, Figures]
    """The visible customers' figures per month of the period (for the chart)."""
    previous_months: dict[date, Figures]
    """And of the previous period, month by month."""


async def profitability(
    session: AsyncSession,
    audience: Audience,
    period: Period,
    settings: ReportSettings,
    *,
    days: int,
    today: date,
    sort: ProfitSort = "net_margin",
    descending: bool = True,
) -> Profitability:
    """Each visible customer's profitability over `period`, ranked; the totals' growth compares
    with every visible customer's previous revenue, those who bought nothing in the period too."""
    chart = Period(period.previous.first, period.last)
    found = await _listed(session, audience, period, today, since=SINCE_EVER, chart=chart)

    def row(customer: Customer) -> ProfitRow:
        ever, recent = found.lifetime[customer.id], found.run_rate[customer.id]
        return ProfitRow(
            customer, found.figures[customer.id], found.previous[customer.id], ever, recent, days, settings
        )

    rows = [row(customer) for customer in found.customers.values()]
    total = ProfitRow(
        None,
        _total([r.figures for r in rows]),
        sum(found.previous.values(), ZERO),
        sum((r.lifetime for r in rows), ZERO),
        sum((r.run_rate for r in rows), ZERO),
        days,
        settings,
    )
    months = found.months
    return Profitability(
        ranked(rows, total, sort, descending),
        {month: months[month] for month in period.month_list()},
        {month: months[month] for month in period.previous.month_list()},
    )


@dataclass(frozen=True)
class CostToServe:
    ranking: Ranking[CostRow]
    months: dict[date, Figures]


async def cost_to_serve(
    session: AsyncSession,
    audience: Audience,
    period: Period,
    settings: ReportSettings,
    *,
    today: date,
    sort: CostSort = "net_margin_pct",
    descending: bool = False,
) -> CostToServe:
    """Each visible customer's cost to serve and margins over `period`, ranked (by default the
    lowest net margin % first: who costs most for what they bring)."""
    found = await _listed(session, audience, period, today, since=period.first, chart=period)
    rows = [CostRow(customer, found.figures[customer.id], settings) for customer in found.customers.values()]
    total = CostRow(None, _total([r.figures for r in rows]), settings)
    return CostToServe(ranked(rows, total, sort, descending), found.months)
