"""Framework agreements: the terms a company's relationship runs on, read by pricing,
checkout, the approver's flags, the margins staff see and the worker that closes periods.

- A company has at most one active agreement; it applies on the days of its validity.
- Volume tiers count the company's net turnover over a settlement period (calendar month,
  quarter or year, clipped to the agreement's validity): the line nets of the orders that count
  (approved, exported, invoiced), each counted on the seller's day it was approved
  (`Order.counted_on`). A cancelled or rejected order never counts, so cancelling a counted order takes
  its turnover back out. Each scope (all products, or one category) has its own ladder of
  thresholds; a tier is reached when the turnover is at or above its threshold.
- The tiers that apply to a period are the set whose `applies_from` is the latest on or before
  the period's start: changing tiers means adding a set for a period not yet closed.
- Retrospective: the worker closes each period once (`close_due`), recording the rebate of each
  scope at the tier reached on its whole turnover. Prospective: a tier reached lowers the
  prices for the rest of the period (`Standing.tier_discount`).
- Expected rebate (for margins shown to staff): the tier the period's turnover is on track for,
  estimated by pace: turnover so far ÷ days elapsed × days in the period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.sql.base import ExecutableOption

from portal import clock
from portal.errors import NotFound
from portal.i18n import format_date, gettext
from portal.models import (
    Agreement,
    AgreementStatus,
    AgreementTier,
    Company,
    NotificationKind,
    Order,
    OrderLine,
    Product,
    RebateLine,
    Role,
    SettlementClose,
    SettlementPeriod,
    TierMode,
    User,
)
from portal.services.flags import COUNTED, margin_pct

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A settlement period, both days included."""

    starts_on: date
    ends_on: date

    @property
    def days(self) -> int:
        return (self.ends_on - self.starts_on).days + 1

    def elapsed(self, today: date) -> int:
        """Days of the period up to and including `today` (0 before it starts)."""
        return max(0, min((today - self.starts_on).days + 1, self.days))


def calendar_period(kind: SettlementPeriod, day: date) -> Period:
    """The calendar month, quarter or year holding `day`."""
    if kind is SettlementPeriod.YEAR:
        return Period(date(day.year, 1, 1), date(day.year, 12, 31))
    first_month = day.month if kind is SettlementPeriod.MONTH else 3 * ((day.month - 1) // 3) + 1
    last_month = first_month if kind is SettlementPeriod.MONTH else first_month + 2
    following = date(day.year + 1, 1, 1) if last_month == 12 else date(day.year, last_month + 1, 1)
    return Period(date(day.year, first_month, 1), following - timedelta(days=1))


def period_of(agreement: Agreement, day: date) -> Period | None:
    """The agreement's settlement period holding `day`, clipped to its validity; None outside it."""
    if day < agreement.valid_from or (agreement.valid_to is not None and day > agreement.valid_to):
        return None
    calendar = calendar_period(agreement.period, day)
    ends_on = calendar.ends_on if agreement.valid_to is None else min(calendar.ends_on, agreement.valid_to)
    return Period(max(calendar.starts_on, agreement.valid_from), ends_on)


def first_open_period(agreement: Agreement) -> Period | None:
    """The earliest period the worker has not closed yet (None when the validity is used up)."""
    start = agreement.valid_from if agreement.closed_through is None else agreement.closed_through + timedelta(days=1)
    return period_of(agreement, start)


def is_closed(agreement: Agreement, period: Period) -> bool:
    return agreement.closed_through is not None and period.starts_on <= agreement.closed_through


# --- tiers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    threshold: Decimal
    rebate_pct: Decimal


def tier_sets(agreement: Agreement) -> dict[date, list[AgreementTier]]:
    """The agreement's tier sets by the period start they apply from."""
    sets: dict[date, list[AgreementTier]] = defaultdict(list)
    for tier in agreement.tiers:
        sets[tier.applies_from].append(tier)
    return dict(sets)


def tiers_for(agreement: Agreement, period: Period) -> dict[int | None, list[Tier]]:
    """The ladders in force for `period`, by scope (None: all products), each by rising threshold."""
    starts = [start for start in tier_sets(agreement) if start <= period.starts_on]
    if not starts:
        return {}
    chosen = max(starts)
    ladders: dict[int | None, list[Tier]] = defaultdict(list)
    for tier in agreement.tiers:
        if tier.applies_from == chosen:
            ladders[tier.category_id].append(Tier(tier.threshold, tier.rebate_pct))
    return {scope: sorted(ladder, key=lambda tier: tier.threshold) for scope, ladder in ladders.items()}


def tier_reached(ladder: Sequence[Tier], turnover: Decimal) -> Tier | None:
    """The highest tier whose threshold the turnover reaches (at or above it)."""
    reached = None
    for tier in ladder:
        if turnover >= tier.threshold:
            reached = tier
    return reached


def next_tier(ladder: Sequence[Tier], turnover: Decimal) -> Tier | None:
    return next((tier for tier in ladder if turnover < tier.threshold), None)


def rebate_amount(turnover: Decimal, tier: Tier | None) -> Decimal:
    if tier is None:
        return ZERO
    return (turnover * tier.rebate_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)


# --- counted sales -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sale:
    """An order's counted net turnover in one category, on the seller's day it was approved."""

    day: date
    category_id: int
    net: Decimal


async def counted_sales(
    session: AsyncSession, company_id: int, period: Period, *, until: date | None = None
) -> list[Sale]:
    """The company's counted sales approved within the period (up to `until` when given), in
    approval order, in one query."""
    last = period.ends_on if until is None else min(until, period.ends_on)
    query = (
        select(Order.counted_on, Product.category_id, func.sum(OrderLine.line_net))
        .select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.company_id == company_id,
            Order.status.in_(COUNTED),
            Order.counted_on >= period.starts_on,
            Order.counted_on <= last,
        )
        .group_by(Order.id, Order.counted_on, Product.category_id)
        .order_by(Order.counted_on, Order.id)
    )
    return [Sale(day, category_id, net) for day, category_id, net in await session.execute(query) if day is not None]


# --- where a company stands ----------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeStanding:
    """One scope's turnover in the period so far, against its ladder."""

    category_id: int | None
    category_name: str
    ladder: tuple[Tier, ...]
    turnover: Decimal
    reached: Tier | None
    reached_on: date | None
    projected: Decimal
    on_track: Tier | None

    def covers(self, category_id: int) -> bool:
        return self.category_id is None or self.category_id == category_id

    def next_tier(self, extra: Decimal = ZERO) -> Tier | None:
        return next_tier(self.ladder, self.turnover + extra)

    def remaining(self, extra: Decimal = ZERO) -> Decimal | None:
        """How much more turnover reaches the next tier (None at the top)."""
        upcoming = self.next_tier(extra)
        return None if upcoming is None else upcoming.threshold - self.turnover - extra


def scope_standing(
    category_id: int | None,
    category_name: str,
    ladder: Sequence[Tier],
    sales: Sequence[Sale],
    period: Period,
    today: date,
) -> ScopeStanding:
    """Pure: the scope's turnover, the tier reached and the day it was reached, and the tier its pace is on track for."""
    turnover, reached_on, reached = ZERO, None, None
    for sale in sales:
        if category_id is not None and sale.category_id != category_id:
            continue
        turnover += sale.net
        now_reached = tier_reached(ladder, turnover)
        if now_reached is not None and now_reached != reached:
            reached, reached_on = now_reached, sale.day
    elapsed = period.elapsed(today)
    projected = turnover if elapsed == 0 else (turnover * period.days / elapsed).quantize(CENT, rounding=ROUND_HALF_UP)
    return ScopeStanding(
        category_id,
        category_name,
        tuple(ladder),
        turnover,
        reached,
        reached_on,
        projected,
        tier_reached(ladder, max(projected, turnover)),
    )


@dataclass(frozen=True)
class TierDiscount:
    """A prospective tier in force: its rebate % comes off the price, from the day it was reached."""

    rebate_pct: Decimal
    reached_on: date
    threshold: Decimal


@dataclass(frozen=True)
class Standing:
    """A company's active agreement and where the current settlement period stands."""

    agreement: Agreement
    period: Period
    today: date
    scopes: list[ScopeStanding] = field(default_factory=list)

    @property
    def prospective(self) -> bool:
        return self.agreement.tier_mode is TierMode.PROSPECTIVE

    def tier_discount(self, category_id: int) -> TierDiscount | None:
        """Prospective agreements: the largest reached tier covering the category (tiers of
        different scopes do not add up in a price)."""
        if not self.prospective:
            return None
        best: TierDiscount | None = None
        for scope in self.scopes:
            reached, reached_on = scope.reached, scope.reached_on
            if not scope.covers(category_id) or reached is None or reached_on is None:
                continue
            if best is None or reached.rebate_pct > best.rebate_pct:
                best = TierDiscount(reached.rebate_pct, reached_on, reached.threshold)
        return best

    def expected_rebate_pct(self, category_id: int) -> Decimal:
        """Retrospective agreements: the rebate % a line of this category is expected to earn at the
        period's end, the sum of the on-track tiers of the scopes covering it."""
        if self.prospective:
            return ZERO
        return sum(
            (scope.on_track.rebate_pct for scope in self.scopes if scope.covers(category_id) and scope.on_track),
            ZERO,
        )

    @property
    def skonto_pct(self) -> Decimal:
        return self.agreement.skonto_pct or ZERO

    def deductions_pct(self, category_id: int) -> Decimal:
        """What comes off a line's net after the sale: the expected rebate and the skonto (assumed earned)."""
        return self.expected_rebate_pct(category_id) + self.skonto_pct


def margin_after(net: Decimal, cost: Decimal, deductions_pct: Decimal) -> Decimal:
    """Margin after the expected rebate and skonto: net − cost − net × deductions %."""
    return net - cost - (net * deductions_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _with_terms() -> list[object]:
    return [
        selectinload(Agreement.tiers).joinedload(AgreementTier.category),
        selectinload(Agreement.payment_options),
        selectinload(Agreement.assortment),
    ]


async def active_agreement(session: AsyncSession, company_id: int, day: date) -> Agreement | None:
    """The company's active agreement valid on `day`, with its tiers, payment options and assortment."""
    query = select(Agreement).where(active_on(company_id, day)).options(*_with_terms())  # type: ignore[arg-type]
    return (await session.scalars(query)).first()


def active_on(company_id: int, day: date) -> ColumnElement[bool]:
    """The condition on `Agreement` that keeps the company's active agreement valid on `day`."""
    return and_(
        Agreement.company_id == company_id,
        Agreement.status == AgreementStatus.ACTIVE,
        Agreement.valid_from <= day,
        or_(Agreement.valid_to.is_(None), Agreement.valid_to >= day),
    )


def with_tiers() -> ExecutableOption:
    """What `standing_for` reads of an agreement besides its columns: its tiers, each with its category."""
    return joinedload(Agreement.tiers).joinedload(AgreementTier.category)


def standing_of(agreement: Agreement, period: Period, sales: Sequence[Sale], today: date) -> Standing:
    scopes = []
    names = {tier.category_id: tier.category.name for tier in agreement.tiers if tier.category is not None}
    for scope, ladder in tiers_for(agreement, period).items():
        scopes.append(scope_standing(scope, names.get(scope, "") if scope else "", ladder, sales, period, today))
    scopes.sort(key=lambda scope: (scope.category_id is not None, scope.category_name))
    return Standing(agreement, period, today, scopes)


async def standing(session: AsyncSession, company_id: int, today: date) -> Standing | None:
    """The company's active agreement and its current period's standing (None without an agreement)."""
    agreement = await active_agreement(session, company_id, today)
    return None if agreement is None else await standing_for(session, agreement, today)


async def standing_for(session: AsyncSession, agreement: Agreement, today: date) -> Standing:
    """Where the current period of this active agreement (loaded `with_tiers`) stands: one query
    for its sales, none without tiers."""
    period = period_of(agreement, today)
    assert period is not None
    sales = await counted_sales(session, agreement.company_id, period, until=today) if agreement.tiers else []
    return standing_of(agreement, period, sales, today)


# --- closing periods ----------------------------------------------------------------------------


@dataclass
class CloseReport:
    closed: list[int] = field(default_factory=list)
    """The ids of the `SettlementClose` rows written."""


def _closable(agreement: Agreement, today: date) -> Period | None:
    period = first_open_period(agreement)
    return period if period is not None and period.ends_on < today else None


async def close_due(maker: async_sessionmaker[AsyncSession], today: date) -> CloseReport:
    """Closes every settlement period that ended before `today` and is not closed yet, oldest
    first, each in its own transaction. A period is claimed by one conditional UPDATE of the
    agreement's `closed_through` (and `settlement_closes` is unique per agreement and period),
    so any number of workers close each period exactly once."""
    report = CloseReport()
    async with maker() as session:
        candidates = list(
            await session.scalars(
                select(Agreement.id).where(
                    Agreement.status != AgreementStatus.DRAFT,
                    or_(Agreement.closed_through.is_(None), Agreement.closed_through < today - timedelta(days=1)),
                )
            )
        )
    for agreement_id in candidates:
        while True:
            async with maker() as session, session.begin():
                agreement = (
                    await session.scalars(select(Agreement).where(Agreement.id == agreement_id).options(*_with_terms()))  # type: ignore[arg-type]
                ).one()
                period = _closable(agreement, today)
                if period is None:
                    break
                claimed = await session.execute(
                    update(Agreement)
                    .where(
                        Agreement.id == agreement_id,
                        Agreement.closed_through.is_not_distinct_from(agreement.closed_through),
                    )
                    .values(closed_through=period.ends_on)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    break
                close = await _record_close(session, agreement, period)
                report.closed.append(close.id)
    return report


async def _record_close(session: AsyncSession, agreement: Agreement, period: Period) -> SettlementClose:
    sales = await counted_sales(session, agreement.company_id, period)
    final = standing_of(agreement, period, sales, period.ends_on)
    retrospective = agreement.tier_mode is TierMode.RETROSPECTIVE
    lines = []
    for scope in final.scopes:
        amount = rebate_amount(scope.turnover, scope.reached) if retrospective else ZERO
        lines.append(
            RebateLine(
                company_id=agreement.company_id,
                category_id=scope.category_id,
                category_name=scope.category_name,
                turnover=scope.turnover,
                threshold=None if scope.reached is None else scope.reached.threshold,
                rebate_pct=ZERO if scope.reached is None else scope.reached.rebate_pct,
                amount=amount,
            )
        )
    close = SettlementClose(
        agreement_id=agreement.id,
        company_id=agreement.company_id,
        starts_on=period.starts_on,
        ends_on=period.ends_on,
        tier_mode=agreement.tier_mode,
        currency=await _currency(session, agreement.company_id),
        turnover=sum((sale.net for sale in sales), ZERO),
        rebate=sum((line.amount for line in lines), ZERO),
        closed_at=clock.now(),
        lines=lines,
    )
    session.add(close)
    await session.flush()
    await _tell_closed(session, agreement, close, lines)
    return close


async def _currency(session: AsyncSession, company_id: int) -> str:
    currency = await session.scalar(select(Company.currency).where(Company.id == company_id))
    assert currency is not None
    return currency


async def _tell_closed(
    session: AsyncSession, agreement: Agreement, close: SettlementClose, lines: Sequence[RebateLine]
) -> None:
    """Tells finance (every active finance user) and the company's account manager that a period
    was closed, in the transaction that closed it, so the e-mail goes out exactly when the close
    is kept: its turnover, the tier reached and the rebate of each scope."""
    from portal.services import notifications  # the outbox; imported here to keep pricing's imports light

    company = await session.get(Company, agreement.company_id)
    assert company is not None
    finance = list(await session.scalars(select(User).where(User.role == Role.FINANCE, User.is_active.is_(True))))
    manager = await notifications.account_manager(session, company)

    def subject() -> str:
        return gettext("%(company)s: agreement %(number)s, period %(start)s – %(end)s closed") % {
            "company": company.name,
            "number": agreement.number,
            "start": format_date(close.starts_on),
            "end": format_date(close.ends_on),
        }

    await notifications.notify(
        session,
        NotificationKind.PERIOD_CLOSED,
        [*finance, manager],
        subject,
        "period_closed",
        {"company": company, "agreement": agreement, "close": close, "lines": list(lines)},
        f"/finance/rebates?company={company.id}",
    )


# --- many companies at once: finance's rebates, the ERP's credit notes -----------------------------


@dataclass(frozen=True)
class Accrual:
    """One scope of an active agreement's current period, as finance accrues it."""

    agreement: Agreement
    period: Period
    scope: ScopeStanding

    @property
    def prospective(self) -> bool:
        return self.agreement.tier_mode is TierMode.PROSPECTIVE

    @property
    def expected_rebate(self) -> Decimal:
        """The turnover so far at the rebate % of the tier its pace is on track for (`scope_standing`);
        nothing for a prospective agreement, whose tiers are given in the prices."""
        return ZERO if self.prospective else rebate_amount(self.scope.turnover, self.scope.on_track)


async def sales_by_company(
    session: AsyncSession, company_ids: Sequence[int], since: date, until: date
) -> dict[int, list[Sale]]:
    """The counted sales of many companies from `since` to `until`, per seller's day and category,
    in one query, each company's in day order."""
    found: dict[int, list[Sale]] = defaultdict(list)
    if not company_ids:
        return found
    query = (
        select(Order.company_id, Order.counted_on, Product.category_id, func.sum(OrderLine.line_net))
        .select_from(Order)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(
            Order.company_id.in_(sorted(set(company_ids))),
            Order.status.in_(COUNTED),
            Order.counted_on >= since,
            Order.counted_on <= until,
        )
        .group_by(Order.company_id, Order.counted_on, Product.category_id)
        .order_by(Order.company_id, Order.counted_on, Product.category_id)
    )
    for company_id, day, category_id, net in await session.execute(query):
        if day is not None:
            found[company_id].append(Sale(day, category_id, net))
    return found


async def standings_of(session: AsyncSession, companies: ColumnElement[bool], today: date) -> list[Standing]:
    """`standing` of every company matching `companies` (a condition on `Company`) whose active
    agreement has tiers, in three queries whatever their number: the agreements, their tiers, and
    the counted sales of all their companies."""
    query = (
        select(Agreement)
        .join(Company, Company.id == Agreement.company_id)
        .where(
            companies,
            Agreement.status == AgreementStatus.ACTIVE,
            Agreement.valid_from <= today,
            or_(Agreement.valid_to.is_(None), Agreement.valid_to >= today),
            Agreement.tiers.any(),
        )
        .options(contains_eager(Agreement.company), selectinload(Agreement.tiers).joinedload(AgreementTier.category))
        .order_by(Company.name, Agreement.id)
    )
    found = list((await session.scalars(query)).unique())
    periods = {agreement.id: period_of(agreement, today) for agreement in found}
    starts = [period.starts_on for period in periods.values() if period is not None]
    sales = await sales_by_company(session, [a.company_id for a in found], min(starts), today) if starts else {}
    standings = []
    for agreement in found:
        period = periods[agreement.id]
        assert period is not None
        own = [sale for sale in sales.get(agreement.company_id, []) if sale.day >= period.starts_on]
        standings.append(standing_of(agreement, period, own, today))
    return standings


def accruals_of(standings: Sequence[Standing]) -> list[Accrual]:
    return [Accrual(standing.agreement, standing.period, scope) for standing in standings for scope in standing.scopes]


def _closes_query(companies: ColumnElement[bool]) -> Select[SettlementClose]:
    return (
        select(SettlementClose)
        .join(Company, Company.id == SettlementClose.company_id)
        .where(companies)
        .options(
            joinedload(SettlementClose.agreement).joinedload(Agreement.company), selectinload(SettlementClose.lines)
        )
    )


async def closed_periods(
    session: AsyncSession, companies: ColumnElement[bool], *, newest_first: bool = True, limit: int | None = None
) -> list[SettlementClose]:
    """The closed periods of the companies matching `companies`, by the moment they were closed."""
    order = [SettlementClose.closed_at, SettlementClose.id]
    query = _closes_query(companies).order_by(*(column.desc() if newest_first else column for column in order))
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query))


CLOSES_SHOWN = 200
"""The rebates page lists this many closed periods (the CSV has them all)."""


@dataclass(frozen=True)
class Rebates:
    """Finance's rebates page: the open accruals and the closed periods of the companies a user
    sees (one company when `company` is chosen)."""

    accruals: list[Accrual]
    closes: list[SettlementClose]
    company: Company | None
    companies: list[Company]
    """The companies the user sees that have an agreement, for the filter."""
    newest_first: bool
    more: bool
    """More closed periods than shown."""


async def rebates(
    session: AsyncSession,
    user: User,
    today: date,
    *,
    company_id: int | None = None,
    newest_first: bool = True,
    limit: int | None = CLOSES_SHOWN,
) -> Rebates:
    """Accruals and closed periods as `user` may see them (`services/scoping.py`): finance and
    admins every company, an account manager their own and covered ones. A chosen company the
    user does not see is `NotFound`, as one that does not exist."""
    from portal.services import scoping

    visible = await scoping.visible_companies_filter(session, user, today)
    company = None
    chosen = visible
    if company_id is not None:
        company = await session.scalar(select(Company).where(Company.id == company_id, visible))
        if company is None:
            raise NotFound()
        chosen = Company.id == company_id
    companies = list(
        await session.scalars(
            select(Company).where(visible, Company.id.in_(select(Agreement.company_id))).order_by(Company.name)
        )
    )
    closes = await closed_periods(
        session, chosen, newest_first=newest_first, limit=None if limit is None else limit + 1
    )
    more = limit is not None and len(closes) > limit
    accruals = accruals_of(await standings_of(session, chosen, today))
    return Rebates(accruals, closes[:limit], company, companies, newest_first, more)


async def closes_for_erp(
    session: AsyncSession, *, exported: bool | None, after: int, limit: int
) -> list[SettlementClose]:
    """The closed periods with a rebate to credit, by id after `after`: those the ERP has not
    taken yet (`exported=False`), those it has (True), or all (None)."""
    query = _closes_query(SettlementClose.rebate > 0).where(SettlementClose.id > after)
    if exported is not None:
        query = query.where(
            SettlementClose.exported_at.is_not(None) if exported else SettlementClose.exported_at.is_(None)
        )
    return list(await session.scalars(query.order_by(SettlementClose.id).limit(limit)))


@dataclass(frozen=True)
class Taken:
    close: SettlementClose
    already: bool
    """The ERP had taken it before: nothing changed."""


async def acknowledge_close(session: AsyncSession, close_id: int) -> Taken:
    """The ERP has booked the credit note of a closed period: `exported_at` is set once, by a
    conditional UPDATE (the only column of a close that may change). Acknowledging it again
    changes nothing and says so; a close without a rebate, or none at all, is `NotFound`."""
    taken = await session.execute(
        update(SettlementClose)
        .where(SettlementClose.id == close_id, SettlementClose.rebate > 0, SettlementClose.exported_at.is_(None))
        .values(exported_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    close = await session.scalar(
        _closes_query(SettlementClose.rebate > 0)
        .where(SettlementClose.id == close_id)
        .execution_options(populate_existing=True)
    )
    if close is None:
        raise NotFound(gettext("No closed period with a rebate has the id %(id)d.") % {"id": close_id})
    return Taken(close, already=taken.rowcount != 1)  # type: ignore[attr-defined]


CUSTOMER_CLOSES_SHOWN = 4


@dataclass(frozen=True)
class CustomerAgreement:
    """The customer page's agreement block: where the current period stands, and the last closes."""

    standing: Standing | None
    closes: list[SettlementClose]

    @property
    def accruals(self) -> list[Accrual]:
        return accruals_of([self.standing]) if self.standing is not None else []


async def customer_agreement(
    session: AsyncSession, active: Agreement | None, closes: list[SettlementClose], today: date
) -> CustomerAgreement | None:
    """The standing of the company's active agreement (loaded `with_tiers`, None without one) and
    its last `CUSTOMER_CLOSES_SHOWN` closed periods; None without either."""
    current = await standing_for(session, active, today) if active is not None else None
    return CustomerAgreement(current, closes) if current is not None or closes else None


# --- the agreed assortment, and margins after the terms (the approver's flags, staff margins) ------


async def active_agreements(session: AsyncSession, company_ids: Sequence[int], day: date) -> dict[int, Agreement]:
    """The active agreement valid on `day` of each of these companies that has one, by company id,
    with its agreed assortment: one query however many companies (the queue flags many orders)."""
    if not company_ids:
        return {}
    query = (
        select(Agreement)
        .where(
            Agreement.company_id.in_(sorted(set(company_ids))),
            Agreement.status == AgreementStatus.ACTIVE,
            Agreement.valid_from <= day,
            or_(Agreement.valid_to.is_(None), Agreement.valid_to >= day),
        )
        .options(joinedload(Agreement.assortment))
    )
    return {agreement.company_id: agreement for agreement in (await session.scalars(query)).unique()}


def in_assortment(agreement: Agreement, product_id: int, category_id: int | None) -> bool:
    """Whether the agreed assortment covers a product: an agreement without items covers everything;
    otherwise the product is listed itself or its category is."""
    if not agreement.assortment:
        return True
    return any(
        item.product_id == product_id or (item.category_id is not None and item.category_id == category_id)
        for item in agreement.assortment
    )


@dataclass(frozen=True)
class AfterTerms:
    """A margin after the expected rebate and skonto (`margin_after`), of `net` (a line's, or the sum
    of an order's or a quote version's lines, each line at its own category's deductions)."""

    net: Decimal
    margin: Decimal

    @property
    def pct(self) -> Decimal | None:
        return margin_pct(self.net, self.net - self.margin)

    def __add__(self, other: AfterTerms) -> AfterTerms:
        return AfterTerms(self.net + other.net, self.margin + other.margin)


def after_terms(standing: Standing, category_id: int, net: Decimal, cost: Decimal) -> AfterTerms:
    """One line's margin after the deductions its category earns (`Standing.deductions_pct`)."""
    return AfterTerms(net, margin_after(net, cost, standing.deductions_pct(category_id)))
