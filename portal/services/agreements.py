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

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from portal import clock
from portal.models import (
    Agreement,
    AgreementStatus,
    AgreementTier,
    Company,
    Order,
    OrderLine,
    Product,
    RebateLine,
    SettlementClose,
    SettlementPeriod,
    TierMode,
)
from portal.services.flags import COUNTED

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
    query = (
        select(Agreement)
        .where(
            Agreement.company_id == company_id,
            Agreement.status == AgreementStatus.ACTIVE,
            Agreement.valid_from <= day,
            or_(Agreement.valid_to.is_(None), Agreement.valid_to >= day),
        )
        .options(*_with_terms())  # type: ignore[arg-type]
    )
    return (await session.scalars(query)).first()


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
    if agreement is None:
        return None
    period = period_of(agreement, today)
    assert period is not None
    sales = await counted_sales(session, company_id, period, until=today) if agreement.tiers else []
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
    return close


async def _currency(session: AsyncSession, company_id: int) -> str:
    currency = await session.scalar(select(Company.currency).where(Company.id == company_id))
    assert currency is not None
    return currency
