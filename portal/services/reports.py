"""What every report reads: the period it covers, whom the reader sees, and the summed figures of
the worker's summary (`report_summary.py`) with what follows from them.

A period is whole months, `first` to `last` (both the months' first days), compared with the
period of the same length just before it. The default is the last 12 months, the current one
included. Figures are sums of `ReportMonth` rows; everything derived (margin, discount, the cost of
trade credit, the cost to serve, net margin) is computed here, in one place, from them and the
report settings:

- revenue is the net of the orders that count (delivery fees included), margin = revenue − cost;
- average discount against list price = 1 − goods net ÷ goods at list prices, over the orders
  whose list value is known;
- cost of trade credit = Σ unpaid invoice balance × days × annual rate ÷ 365 (the average daily
  exposure on invoices × days × rate ÷ 365);
- days paid late = payments × days after due ÷ payments (weighted by amount);
- cost to serve = orders × order cost + deliveries under the free-delivery threshold × delivery
  cost + quote versions sent × quote cost + orders decided by a person × approval cost;
- margin after terms = margin − skonto − rebates (settled ones; `expected` adds the open
  periods' expected rebate where a page knows it);
- net margin = margin after terms − cost of trade credit − cost to serve."""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, ReportMonth, ReportRefresh, ReportSettings, User
from portal.services import scoping
from portal.services.flags import margin_pct
from portal.services.report_summary import add_months, month_start

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
DEFAULT_MONTHS = 12
MAX_MONTHS = 120
"""The longest period a page sums (ten years)."""


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Period:
    first: date
    """The first day of the first month."""
    last: date
    """The first day of the last month (included)."""

    @classmethod
    def default(cls, today: date, months: int = DEFAULT_MONTHS) -> Period:
        last = month_start(today)
        return cls(add_months(last, 1 - months), last)

    @property
    def months(self) -> int:
        return (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1

    @property
    def previous(self) -> Period:
        """The period of the same length just before."""
        return Period(add_months(self.first, -self.months), add_months(self.first, -1))

    @property
    def end(self) -> date:
        """The last day of the last month."""
        return self.last.replace(day=calendar.monthrange(self.last.year, self.last.month)[1])

    def month_list(self) -> list[date]:
        return [add_months(self.first, index) for index in range(self.months)]

    def days(self, through: date) -> int:
        """Calendar days of the period up to `through` (the summary's day), at least 0."""
        end = min(self.end, through)
        return max((end - self.first).days + 1, 0)

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.end


@dataclass(frozen=True)
class Figures:
    """Sums of `ReportMonth` rows (one customer's, a portfolio's, a month's)."""

    orders: int = 0
    net: Decimal = ZERO
    cost: Decimal = ZERO
    goods_net: Decimal = ZERO
    list_total: Decimal = ZERO
    small_orders: int = 0
    skonto: Decimal = ZERO
    rebates: Decimal = ZERO
    quotes_sent: int = 0
    approvals: int = 0
    balance_days: Decimal = ZERO
    paid: Decimal = ZERO
    late_days: Decimal = ZERO
    expected_rebates: Decimal = ZERO
    """The open settlement periods' expected rebate, where a page adds it (`with_expected`)."""

    def __add__(self, other: Figures) -> Figures:
        return Figures(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    def with_expected(self, rebate: Decimal) -> Figures:
        return replace(self, expected_rebates=self.expected_rebates + rebate)

    @property
    def margin(self) -> Decimal:
        return self.net - self.cost

    @property
    def margin_pct(self) -> Decimal | None:
        return margin_pct(self.net, self.cost)

    @property
    def average_order(self) -> Decimal | None:
        return _cents(self.net / self.orders) if self.orders else None

    @property
    def discount_pct(self) -> Decimal | None:
        """Average discount against list price, in % (None: no list value known)."""
        if self.list_total <= 0:
            return None
        return ((self.list_total - self.goods_net) * 100 / self.list_total).quantize(Decimal("0.1"), ROUND_HALF_UP)

    def average_exposure(self, days: int) -> Decimal:
        """Average daily unpaid invoice balance over `days`."""
        return _cents(self.balance_days / days) if days > 0 else ZERO

    def credit_cost(self, settings: ReportSettings) -> Decimal:
        return _cents(self.balance_days * settings.credit_rate_pct / 100 / 365)

    @property
    def days_late(self) -> Decimal | None:
        """Average days payments came after the due date, weighted by amount (None: no payment)."""
        return (self.late_days / self.paid).quantize(Decimal("0.1"), ROUND_HALF_UP) if self.paid > 0 else None

    def cost_to_serve(self, settings: ReportSettings) -> Decimal:
        return _cents(
            self.orders * settings.order_cost
            + self.small_orders * settings.delivery_cost
            + self.quotes_sent * settings.quote_cost
            + self.approvals * settings.approval_cost
        )

    @property
    def margin_after_terms(self) -> Decimal:
        """Margin after skonto and rebates (settled, and expected where added)."""
        return self.margin - self.skonto - self.rebates - self.expected_rebates

    def net_margin(self, settings: ReportSettings) -> Decimal:
        """Margin after terms, less the cost of trade credit and the cost to serve."""
        return self.margin_after_terms - self.credit_cost(settings) - self.cost_to_serve(settings)


COUNTED_FIELDS = ("orders", "small_orders", "quotes_sent", "approvals")
SUMS = [f.name for f in fields(Figures) if f.name != "expected_rebates"]
_COLUMNS = [getattr(ReportMonth, name) for name in SUMS]


_WHOLE = frozenset(index for index, name in enumerate(SUMS) if name in COUNTED_FIELDS)


def in_months(first: date, last: date) -> ColumnElement[bool]:
    """SQL: the `ReportMonth` row is of a month from `first` to `last`."""
    return and_(ReportMonth.month >= first, ReportMonth.month <= last)


def sums(within: ColumnElement[bool] | None = None) -> list[ColumnElement[Any]]:
    """`Figures`' sums in SQL, in its order, of the rows `within` keeps (of every row the query
    reads when None): a query sums several periods in one pass and `figures_of` reads them."""
    return [func.sum(column if within is None else case((within, column))) for column in _COLUMNS]


def figures_of(values: tuple[Any, ...]) -> Figures:
    """A row of sums as `Figures`: counts as int, money as 2-place Decimal (what NUMERIC(…, 2) gives
    back already, so it is taken as it is: this runs for every customer-month a page reads)."""
    converted: list[Any] = [
        int(value or 0) if index in _WHOLE else amount_of(value) for index, value in enumerate(values)
    ]
    return Figures(*converted)


def amount_of(value: Any) -> Decimal:
    """A summed amount as a 2-place Decimal (NUMERIC(…, 2) gives one already; None is zero)."""
    return value if type(value) is Decimal else _cents(Decimal(str(value or 0)))


async def by_company(session: AsyncSession, companies: ColumnElement[bool], period: Period) -> dict[int, Figures]:
    """Each visible customer's figures over the period (customers without a month: absent)."""
    rows = await session.execute(
        select(ReportMonth.company_id, *(func.sum(column) for column in _COLUMNS))
        .join(Company, Company.id == ReportMonth.company_id)
        .where(companies, ReportMonth.month >= period.first, ReportMonth.month <= period.last)
        .group_by(ReportMonth.company_id)
    )
    return {row[0]: figures_of(tuple(row[1:])) for row in rows}


async def by_company_month(
    session: AsyncSession, companies: ColumnElement[bool], first: date, last: date
) -> dict[int, dict[date, Figures]]:
    """Each visible customer's months from `first` to `last` (months without a row: absent)."""
    rows = await session.execute(
        select(ReportMonth.company_id, ReportMonth.month, *_COLUMNS)
        .join(Company, Company.id == ReportMonth.company_id)
        .where(companies, ReportMonth.month >= first, ReportMonth.month <= last)
    )
    result: dict[int, dict[date, Figures]] = defaultdict(dict)
    for row in rows:
        result[row[0]][row[1]] = figures_of(tuple(row[2:]))
    return result


async def activity_by_company_month(
    session: AsyncSession, companies: ColumnElement[bool], first: date, last: date
) -> dict[int, dict[date, Figures]]:
    """`by_company_month` with only `orders` and `net` filled: what regularity and retention read,
    a quarter of the columns for the thousands of customer-months they span."""
    rows = await session.execute(
        select(ReportMonth.company_id, ReportMonth.month, ReportMonth.orders, ReportMonth.net)
        .join(Company, Company.id == ReportMonth.company_id)
        .where(companies, ReportMonth.month >= first, ReportMonth.month <= last)
    )
    result: dict[int, dict[date, Figures]] = defaultdict(dict)
    for company_id, month, orders, net in rows:
        result[company_id][month] = Figures(
            orders=orders, net=net if type(net) is Decimal else _cents(Decimal(str(net)))
        )
    return result


async def by_month(session: AsyncSession, companies: ColumnElement[bool], period: Period) -> dict[date, Figures]:
    """The visible customers' figures summed per month of the period (every month present)."""
    rows = await session.execute(
        select(ReportMonth.month, *(func.sum(column) for column in _COLUMNS))
        .join(Company, Company.id == ReportMonth.company_id)
        .where(companies, ReportMonth.month >= period.first, ReportMonth.month <= period.last)
        .group_by(ReportMonth.month)
    )
    found = {row[0]: figures_of(tuple(row[1:])) for row in rows}
    return {month: found.get(month, Figures()) for month in period.month_list()}


class Managed(Protocol):
    """A customer as a report row knows it: `Company`, or a row read with its manager's id."""

    @property
    def account_manager_id(self) -> int | None: ...


@dataclass(frozen=True)
class Audience:
    """Whom a report reader sees: the filter on `Company`, and for an account manager the managers
    whose customers they see only because they cover them (those customers are marked "covered")."""

    user: User
    companies: ColumnElement[bool]
    covered_managers: frozenset[int]

    def covered(self, company: Managed) -> bool:
        return self.covers(company.account_manager_id)

    def covers(self, manager_id: int | None) -> bool:
        """Whether the customers of this manager are seen only through a cover."""
        return manager_id in self.covered_managers


async def audience(session: AsyncSession, user: User, today: date) -> Audience:
    in_charge = await scoping.managers_in_charge(session, user, today)
    covered = frozenset() if in_charge is None else in_charge - {user.id}
    return Audience(user, scoping.company_filter(user, in_charge), covered)


DEFAULT_SETTINGS = {
    "credit_rate_pct": Decimal("8.00"),
    "order_cost": Decimal("25.00"),
    "delivery_cost": Decimal("40.00"),
    "quote_cost": Decimal("60.00"),
    "approval_cost": Decimal("10.00"),
}
"""The values migration 0017 starts the one row with."""


def _or_defaults(found: ReportSettings | None) -> ReportSettings:
    return found or ReportSettings(id=1, **DEFAULT_SETTINGS)


async def settings(session: AsyncSession) -> ReportSettings:
    """The report settings (the defaults, should the row be missing)."""
    return _or_defaults(await session.get(ReportSettings, 1))


async def settings_and_freshness(session: AsyncSession) -> tuple[ReportSettings, ReportRefresh | None]:
    """The report settings and the summary's freshness (`report_summary.freshness`), both one-row
    tables, in one statement: every report page shows both."""
    one = select(literal(1).label("one")).subquery()
    row = (
        await session.execute(
            select(ReportSettings, ReportRefresh)
            .select_from(one)
            .outerjoin(ReportSettings, ReportSettings.id == 1)
            .outerjoin(ReportRefresh, ReportRefresh.id == 1)
        )
    ).one()
    return _or_defaults(row[0]), row[1]
