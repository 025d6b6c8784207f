"""The buyer's view of the company's framework agreement: its terms as a buyer may read them
(never costs, margins or how the rebate is estimated) and the progress of each volume-tier
scope in the current settlement period, with what the cart would add to it.

The figures come from `agreements.standing`; this module only arranges them for the buyer's
pages (home, cart, "Your agreement"), each of which costs a constant number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from portal.models import (
    Agreement,
    AgreementStatus,
    AssortmentItem,
    Company,
    PaymentOption,
    PriceList,
    SettlementClose,
    SettlementPeriod,
)
from portal.services import agreements, payment_terms
from portal.services.agreements import Period, ScopeStanding, Standing, Tier, tier_reached
from portal.services.cart import PricedCart

ZERO = Decimal("0.00")


def in_force(company_id: SQLColumnExpression[int | None], day: date | ColumnElement[date]) -> ColumnElement[bool]:
    """SQL: the company has an active agreement valid on `day` (for the navigation's link, folded
    into the statement that loads the signed-in user, so no page pays a query for it)."""
    return exists().where(
        Agreement.company_id == company_id,
        Agreement.status == AgreementStatus.ACTIVE,
        Agreement.valid_from <= day,
        or_(Agreement.valid_to.is_(None), Agreement.valid_to >= day),
    )


@dataclass(frozen=True)
class ScopeProgress:
    """One scope's way to its next tier, and what the cart (when there is one) adds to it."""

    scope: ScopeStanding
    cart: Decimal | None = None
    """The cart's net in this scope; None where no cart is shown."""

    @property
    def name(self) -> str:
        """The category's name; empty for all products."""
        return self.scope.category_name

    @property
    def turnover(self) -> Decimal:
        return self.scope.turnover

    @property
    def reached(self) -> Tier | None:
        return self.scope.reached

    @property
    def reached_on(self) -> date | None:
        return self.scope.reached_on

    @property
    def next_tier(self) -> Tier | None:
        return self.scope.next_tier()

    @property
    def remaining(self) -> Decimal | None:
        return self.scope.remaining()

    @property
    def with_cart(self) -> Decimal:
        return self.turnover + (self.cart or ZERO)

    @property
    def cart_next_tier(self) -> Tier | None:
        return self.scope.next_tier(self.cart or ZERO)

    @property
    def cart_remaining(self) -> Decimal | None:
        return self.scope.remaining(self.cart or ZERO)

    @property
    def cart_reaches(self) -> Tier | None:
        """The higher tier this cart would reach once its order counts (None: it reaches none)."""
        if not self.cart:
            return None
        after = tier_reached(self.scope.ladder, self.with_cart)
        return after if after is not None and after != self.scope.reached else None


@dataclass(frozen=True)
class Progress:
    """The progress lines of a company's agreement this period, one per scope."""

    period_kind: SettlementPeriod
    period: Period
    prospective: bool
    currency: str
    scopes: list[ScopeProgress]

    @property
    def with_cart(self) -> bool:
        return any(scope.cart is not None for scope in self.scopes)


def progress_of(standing: Standing | None, currency: str, cart: dict[int, Decimal] | None = None) -> Progress | None:
    """Pure: the progress of each scope (None without an agreement with tiers this period);
    `cart` is the cart's net by category, added to the scopes that cover each category."""
    if standing is None or not standing.scopes:
        return None
    scopes = []
    for scope in standing.scopes:
        added = None
        if cart is not None:
            added = sum((net for category_id, net in cart.items() if scope.covers(category_id)), ZERO)
        scopes.append(ScopeProgress(scope, added))
    agreement = standing.agreement
    return Progress(agreement.period, standing.period, standing.prospective, currency, scopes)


def cart_by_category(lines: Iterable[tuple[int, Decimal]]) -> dict[int, Decimal]:
    """(category id, net) of each cart line → the cart's net by category."""
    by_category: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for category_id, net in lines:
        by_category[category_id] += net
    return dict(by_category)


async def progress(
    session: AsyncSession, company: Company, today: date, cart: dict[int, Decimal] | None = None
) -> Progress | None:
    """The company's progress to its next tiers today (the home page; the cart with its net by category)."""
    return progress_of(await agreements.standing(session, company.id, today), company.currency, cart)


def cart_progress(company: Company, cart: PricedCart) -> Progress | None:
    """The progress with what the cart's orderable lines would add, by their categories (the
    standing the cart was priced with)."""
    lines = ((item.product.category_id, item.net) for item in cart.orderable)
    return progress_of(cart.standing, company.currency, cart_by_category(lines))


@dataclass(frozen=True)
class AgreementView:
    """What a buyer reads on "Your agreement"."""

    agreement: Agreement
    standing: Standing
    progress: Progress | None
    price_list_name: str | None
    payment_options: list[PaymentOption]
    assortment: list[str] = field(default_factory=list)
    """The agreed categories and products by name (empty: the agreement covers everything)."""
    closes: list[SettlementClose] = field(default_factory=list)
    """The company's last closed settlement periods, newest first, with the rebate each earned."""

    @property
    def period(self) -> Period:
        return self.standing.period

    @property
    def skonto(self) -> str:
        """ "2.00 % early-payment discount if paid within 7 days of the invoice date", or nothing."""
        return payment_terms.skonto_text(self.agreement.skonto_pct, self.agreement.skonto_days)

    @property
    def payment_choices(self) -> list[tuple[str, str]]:
        """Each payment-term option and its price effect ("" for none): ("Prepayment", "−1.00 %")."""
        return [
            (
                payment_terms.days_text(option.days),
                payment_terms.signed_pct(option.price_effect_pct) if option.price_effect_pct else "",
            )
            for option in self.payment_options
        ]


async def buyer_view(session: AsyncSession, company: Company, today: date) -> AgreementView | None:
    """The company's active agreement as its buyers see it (None: there is none today)."""
    standing = await agreements.standing(session, company.id, today)
    if standing is None:
        return None
    agreement = standing.agreement
    price_list_name = None
    if agreement.price_list_id is not None:
        price_list_name = await session.scalar(select(PriceList.name).where(PriceList.id == agreement.price_list_id))
    items = await session.scalars(
        select(AssortmentItem)
        .where(AssortmentItem.agreement_id == agreement.id)
        .options(joinedload(AssortmentItem.category), joinedload(AssortmentItem.product))
        .order_by(AssortmentItem.id)
    )
    names = [name for name in map(_item_name, items) if name]
    closes = await session.scalars(
        select(SettlementClose)
        .where(SettlementClose.company_id == company.id)
        .options(selectinload(SettlementClose.lines))
        .order_by(SettlementClose.starts_on.desc(), SettlementClose.id.desc())
        .limit(CLOSES_SHOWN)
    )
    return AgreementView(
        agreement,
        standing,
        progress_of(standing, company.currency),
        price_list_name,
        list(agreement.payment_options),
        names,
        list(closes),
    )


CLOSES_SHOWN = 8
"""The buyer's agreement page shows this many closed periods (two years of quarters)."""


def _item_name(item: AssortmentItem) -> str:
    if item.category is not None:
        return item.category.name
    return "" if item.product is None else f"{item.product.sku} {item.product.name}"
