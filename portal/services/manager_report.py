"""Account manager effectiveness: per active account manager, what their portfolio did over a
period against the period before it.

Everything is grouped by the manager a customer is assigned to today (`Company.account_manager_id`),
so a customer handed over mid-period counts wholly for its new manager:

- customers: the active companies assigned today;
- revenue and gross margin: `reports.by_company` over both periods, summed per manager; growth
  = (this − previous) ÷ previous (none when the previous was not above zero);
- retained: ordered in the previous period and in this one; lost: in the previous, not in this;
  won: the first month with a counted order ever falls in this period;
- quotes sent: distinct quotes with a version sent in the period; accepted: quotes moved to
  accepted in the period; win rate = accepted ÷ sent (a quote sent before the period and accepted
  in it counts as accepted only, so the rate may pass 100 %); days to accept: the median time
  from the request (`Quote.created_at`) to the acceptance, of the quotes accepted in the period;
- approval turnaround: the median hours from an order's submission to a person's decision
  (approved or rejected by staff, not automatically), of the decisions in the period;
- overdue share: overdue invoice balances ÷ exposure, today (`credit.credit_pictures`).

Moments fall in the period by the seller's calendar (`zone`). Each figure is one query for all
managers at once, and the figures share statements: the portfolios with their sales, the quotes
with the decisions, the credit; medians are taken in Python from the rows."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, literal, literal_column, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Company,
    Order,
    OrderEvent,
    OrderStatus,
    Quote,
    QuoteEvent,
    QuoteStatus,
    QuoteVersion,
    ReportMonth,
    Role,
    User,
)
from portal.services import reports
from portal.services.credit import credit_pictures
from portal.services.reports import Audience, Figures, Period

ZERO = Decimal("0.00")
TENTH = Decimal("0.1")
DECISIONS = (OrderStatus.APPROVED, OrderStatus.REJECTED)


def _tenth(value: Decimal) -> Decimal:
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def _share_pct(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return _tenth(Decimal(part) * 100 / Decimal(whole)) if whole > 0 else None


def growth_pct(current: Decimal, previous: Decimal) -> Decimal | None:
    """Growth against the previous period in %, None when the previous was not above zero."""
    return _tenth((current - previous) * 100 / previous) if previous > 0 else None


def _median(values: Sequence[Decimal]) -> Decimal | None:
    return _tenth(statistics.median(values)) if values else None


@dataclass(frozen=True)
class ManagerFigures:
    """One manager's row (or the totals of several: `total`)."""

    manager_id: int | None
    name: str
    customers: int = 0
    current: Figures = field(default_factory=Figures)
    previous: Figures = field(default_factory=Figures)
    retained: int = 0
    lost: int = 0
    won: int = 0
    quotes_sent: int = 0
    quotes_accepted: int = 0
    accept_days: tuple[Decimal, ...] = ()
    """Days from request to acceptance, one per quote accepted in the period."""
    approval_hours: tuple[Decimal, ...] = ()
    """Hours from submission to a person's decision, one per decision in the period."""
    overdue: Decimal = ZERO
    exposure: Decimal = ZERO

    @property
    def revenue_growth_pct(self) -> Decimal | None:
        return growth_pct(self.current.net, self.previous.net)

    @property
    def margin_growth_pct(self) -> Decimal | None:
        return growth_pct(self.current.margin, self.previous.margin)

    @property
    def win_rate_pct(self) -> Decimal | None:
        return _share_pct(self.quotes_accepted, self.quotes_sent)

    @cached_property
    def median_days_to_accept(self) -> Decimal | None:
        """Taken once: sorting, the table and the totals read it again."""
        return _median(self.accept_days)

    @cached_property
    def median_approval_hours(self) -> Decimal | None:
        return _median(self.approval_hours)

    @property
    def overdue_pct(self) -> Decimal | None:
        return _share_pct(self.overdue, self.exposure)


def total(rows: Iterable[ManagerFigures], name: str) -> ManagerFigures:
    """The rows added up; medians over all their quotes and decisions together."""
    rows = list(rows)

    def summed(attribute: str, start: Any = 0) -> Any:
        return sum((getattr(row, attribute) for row in rows), start)

    return ManagerFigures(
        manager_id=None,
        name=name,
        customers=summed("customers"),
        current=summed("current", Figures()),
        previous=summed("previous", Figures()),
        retained=summed("retained"),
        lost=summed("lost"),
        won=summed("won"),
        quotes_sent=summed("quotes_sent"),
        quotes_accepted=summed("quotes_accepted"),
        accept_days=summed("accept_days", ()),
        approval_hours=summed("approval_hours", ()),
        overdue=summed("overdue", ZERO),
        exposure=summed("exposure", ZERO),
    )


SortKey = Literal[
    "name",
    "customers",
    "revenue",
    "revenue_growth",
    "margin",
    "margin_growth",
    "retained",
    "lost",
    "won",
    "quotes_sent",
    "win_rate",
    "days_to_accept",
    "approval_hours",
    "overdue_share",
]
SORT_KEYS: dict[str, Callable[[ManagerFigures], Any]] = {
    "name": lambda row: row.name.lower(),
    "customers": lambda row: row.customers,
    "revenue": lambda row: row.current.net,
    "revenue_growth": lambda row: row.revenue_growth_pct,
    "margin": lambda row: row.current.margin,
    "margin_growth": lambda row: row.margin_growth_pct,
    "retained": lambda row: row.retained,
    "lost": lambda row: row.lost,
    "won": lambda row: row.won,
    "quotes_sent": lambda row: row.quotes_sent,
    "win_rate": lambda row: row.win_rate_pct,
    "days_to_accept": lambda row: row.median_days_to_accept,
    "approval_hours": lambda row: row.median_approval_hours,
    "overdue_share": lambda row: row.overdue_pct,
}


def sorted_rows(rows: Iterable[ManagerFigures], key: SortKey, *, descending: bool) -> list[ManagerFigures]:
    """The rows by `key` (ties by name); rows without the figure (no quote, no decision) last."""
    by_name = sorted(rows, key=SORT_KEYS["name"])
    figure = SORT_KEYS[key]
    known = [row for row in by_name if figure(row) is not None]
    unknown = [row for row in by_name if figure(row) is None]
    return sorted(known, key=figure, reverse=descending) + unknown


@dataclass(frozen=True)
class ManagerReport:
    period: Period
    rows: list[ManagerFigures]
    """By name."""

    @cached_property
    def totals(self) -> ManagerFigures | None:
        """The totals row, where there is more than one manager to add up."""
        return total(self.rows, "") if len(self.rows) > 1 else None


def _bounds(period: Period, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The period's first and after-last moments in the seller's calendar, in UTC."""
    start = datetime.combine(period.first, time.min, tzinfo=zone)
    end = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _hours_between(session: AsyncSession, since: Any, until: Any) -> ColumnElement[Any]:
    """Hours from one moment column to another, in SQL: a decision is a number, not two datetimes
    to build in Python (the managers' page reads one per decision of the period)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", until - since) / 3600
    return (func.julianday(until) - func.julianday(since)) * 24


@dataclass
class _Tally:
    name: str
    customers: int = 0
    current: Figures = field(default_factory=Figures)
    previous: Figures = field(default_factory=Figures)
    retained: int = 0
    lost: int = 0
    won: int = 0
    quotes_sent: int = 0
    accept_days: list[Decimal] = field(default_factory=list)
    approval_hours: list[Decimal] = field(default_factory=list)
    overdue: Decimal = ZERO
    exposure: Decimal = ZERO

    def frozen(self, manager_id: int) -> ManagerFigures:
        return ManagerFigures(
            manager_id=manager_id,
            name=self.name,
            customers=self.customers,
            current=self.current,
            previous=self.previous,
            retained=self.retained,
            lost=self.lost,
            won=self.won,
            quotes_sent=self.quotes_sent,
            quotes_accepted=len(self.accept_days),
            accept_days=tuple(self.accept_days),
            approval_hours=tuple(self.approval_hours),
            overdue=self.overdue,
            exposure=self.exposure,
        )


def _of(tallies: dict[int, _Tally], manager_id: int | None) -> _Tally:
    """The tally of a row's manager: every query keeps to the tallied managers' companies."""
    if manager_id is None or manager_id not in tallies:
        raise LookupError(manager_id)
    return tallies[manager_id]


def _managers(reader: User) -> ColumnElement[bool] | None:
    """The condition on `User` of the managers whose rows the reader sees: every active one for
    finance and admins, an account manager only their own (a covered colleague's figures are not
    theirs); None: nobody's."""
    active = and_(User.role == Role.ACCOUNT_MANAGER, User.is_active)
    if reader.role is Role.ACCOUNT_MANAGER:
        return and_(active, User.id == reader.id)
    return active if reader.role in (Role.FINANCE, Role.ADMIN) else None


async def manager_report(
    session: AsyncSession, audience: Audience, period: Period, *, today: date, zone: ZoneInfo, grace_days: int
) -> ManagerReport:
    """Each manager's row the reader sees, by name (see the module docstring for each figure)."""
    managers = _managers(audience.user)
    if managers is None:
        return ManagerReport(period, [])
    tallies = await _portfolios(session, audience.companies, managers, period)
    if not tallies:
        return ManagerReport(period, [])
    portfolio = and_(audience.companies, Company.account_manager_id.in_(sorted(tallies)))
    start, end = _bounds(period, zone)
    await _quotes_and_decisions(session, portfolio, start, end, tallies)
    await _credit(session, today, grace_days, tallies)
    rows = [tally.frozen(manager_id) for manager_id, tally in tallies.items()]
    return ManagerReport(period, sorted_rows(rows, "name", descending=False))


async def _credit(session: AsyncSession, today: date, grace_days: int, tallies: dict[int, _Tally]) -> None:
    """Overdue invoice balances and exposure of each manager's companies, today."""
    pictures = await credit_pictures(session, today=today, grace_days=grace_days, account_manager_ids=set(tallies))
    for picture in pictures:
        tally = _of(tallies, picture.company.account_manager_id)
        tally.overdue += picture.overdue_amount
        tally.exposure += picture.exposure


async def _portfolios(
    session: AsyncSession, companies: ColumnElement[bool], managers: ColumnElement[bool], period: Period
) -> dict[int, _Tally]:
    """One statement: each manager the reader sees with each portfolio company (none: a row
    without one), whether it is active, its figures of both periods and its first month with an
    order ever. Counts the active companies as the manager's customers; adds up revenue and
    margin; counts the customers retained, lost and won."""
    previous = period.previous
    in_period = reports.in_months(period.first, period.last)
    in_previous = reports.in_months(previous.first, previous.last)
    rows = await session.execute(
        select(
            User.id,
            User.full_name,
            Company.id,
            Company.is_active,
            func.min(case((ReportMonth.orders > 0, ReportMonth.month))),
            *reports.sums(in_period),
            *reports.sums(in_previous),
        )
        .select_from(User)
        .outerjoin(Company, and_(Company.account_manager_id == User.id, companies))
        .outerjoin(ReportMonth, ReportMonth.company_id == Company.id)
        .where(managers)
        .group_by(User.id, User.full_name, Company.id, Company.is_active)
    )
    width = len(reports.SUMS)
    tallies: dict[int, _Tally] = {}
    for row in rows:
        tally = tallies.setdefault(row[0], _Tally(row[1]))
        if row[2] is None:
            continue
        tally.customers += 1 if row[3] else 0
        first_month = row[4]
        now, before = reports.figures_of(tuple(row[5 : 5 + width])), reports.figures_of(tuple(row[5 + width :]))
        tally.won += 1 if first_month is not None and period.first <= first_month <= period.last else 0
        tally.current += now
        tally.previous += before
        if before.orders > 0:
            tally.retained += 1 if now.orders > 0 else 0
            tally.lost += 0 if now.orders > 0 else 1
    return tallies


def _exact(value: Any) -> Decimal:
    """A number of days or hours to 6 places: PostgreSQL's NUMERIC is rounded as it is, SQLite's
    float through its shortest text (one per quote and decision of the period)."""
    rounded = round(value, 6)
    return rounded if type(rounded) is Decimal else Decimal(str(rounded))


SENT, ACCEPTED, DECIDED = 1, 2, 3
"""What a row of `_quotes_and_decisions` holds: a manager's count of quotes sent, the days to
accept one quote, the hours to decide one order."""


async def _quotes_and_decisions(
    session: AsyncSession, portfolio: ColumnElement[bool], start: datetime, end: datetime, tallies: dict[int, _Tally]
) -> None:
    """One statement: quotes sent in the period (distinct quotes with a version sent), the days
    from the request to the first acceptance in the period of each quote accepted in it, and the
    hours from submission to a person's approval or rejection of each decision in the period."""
    sent = (
        select(Company.account_manager_id, literal(SENT), func.count(QuoteVersion.quote_id.distinct()).label("value"))
        .select_from(QuoteVersion)
        .join(Company, Company.id == QuoteVersion.company_id)
        .where(portfolio, QuoteVersion.sent_at >= start, QuoteVersion.sent_at < end)
        .group_by(Company.account_manager_id)
    )
    accepted = (
        select(
            Company.account_manager_id,
            literal(ACCEPTED),
            _hours_between(session, Quote.created_at, func.min(QuoteEvent.at)) / 24,
        )
        .select_from(QuoteEvent)
        .join(Company, Company.id == QuoteEvent.company_id)
        .join(Quote, and_(Quote.id == QuoteEvent.quote_id, Quote.company_id == QuoteEvent.company_id))
        .where(portfolio, QuoteEvent.to_status == QuoteStatus.ACCEPTED, QuoteEvent.at >= start, QuoteEvent.at < end)
        .group_by(Company.account_manager_id, Quote.id, Quote.created_at)
    )
    decided = (
        select(
            Company.account_manager_id,
            literal(DECIDED),
            _hours_between(session, Order.submitted_at, OrderEvent.at),
        )
        .select_from(OrderEvent)
        .join(Company, Company.id == OrderEvent.company_id)
        .join(Order, and_(Order.id == OrderEvent.order_id, Order.company_id == OrderEvent.company_id))
        .join(User, User.id == OrderEvent.actor_id)
        .where(
            portfolio,
            OrderEvent.from_status == OrderStatus.PENDING_APPROVAL,
            OrderEvent.to_status.in_(DECISIONS),
            User.role != Role.BUYER,
            OrderEvent.at >= start,
            OrderEvent.at < end,
        )
    )
    # smallest first: each manager's values come sorted, and the medians' sorts find them so
    found = await session.execute(union_all(sent, accepted, decided).order_by(literal_column("value")))
    for manager_id, kind, value in found.all():
        tally = _of(tallies, manager_id)
        if kind == SENT:
            tally.quotes_sent = int(value)
        elif kind == ACCEPTED:
            tally.accept_days.append(_exact(value))
        else:
            tally.approval_hours.append(_exact(value))
