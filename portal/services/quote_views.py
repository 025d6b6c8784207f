"""What the quote pages read, for buyers and staff alike: a version compared with the one before
it line by line, a version's totals, the thread (internal comments for staff only) and the
quote's timeline. The moves themselves live in `services/quotes.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import and_, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal.errors import NotFound
from portal.models import (
    Cart,
    CartLine,
    Product,
    Quote,
    QuoteComment,
    QuoteEvent,
    QuoteLine,
    QuoteStatus,
    QuoteVersion,
    ShoppingList,
    ShoppingListLine,
    User,
)
from portal.services.pricing import line_net, load_company_prices
from portal.services.quotes import MAX_LINES
from portal.services.totals import Totals, totals


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True)
class LineDiff:
    """One line of a version against the version before it (matched by `line_key`)."""

    change: Change
    line: QuoteLine
    """The line in this version; for a removed line, the line as it was."""
    previous: QuoteLine | None

    @property
    def price_changed(self) -> bool:
        return self.previous is not None and self.previous.unit_price != self.line.unit_price

    @property
    def quantity_changed(self) -> bool:
        return self.previous is not None and self.previous.quantity != self.line.quantity

    @property
    def product_changed(self) -> bool:
        return self.previous is not None and self.previous.product_id != self.line.product_id


def changes_between(previous: QuoteVersion | None, current: QuoteVersion) -> list[LineDiff]:
    """Every line of `current` (added, changed or the same) in its order, then the lines of
    `previous` that `current` no longer has. Without a previous version every line is the same."""
    if previous is None:
        return [LineDiff(Change.SAME, line, None) for line in current.lines]
    before = {line.line_key: line for line in previous.lines}
    result = []
    for line in current.lines:
        old = before.pop(line.line_key, None)
        if old is None:
            result.append(LineDiff(Change.ADDED, line, None))
            continue
        same = (old.unit_price, old.quantity, old.product_id) == (line.unit_price, line.quantity, line.product_id)
        result.append(LineDiff(Change.SAME if same else Change.CHANGED, line, old))
    result.extend(LineDiff(Change.REMOVED, old, old) for old in before.values())
    return result


def line_value(line: QuoteLine) -> Decimal | None:
    """The line's net value at the offered price (None while it has no price)."""
    return line_net(line.unit_price, line.quantity) if line.unit_price is not None else None


def version_totals(version: QuoteVersion) -> Totals:
    """Net, VAT per rate and gross of a version's priced lines, as an order's are computed."""
    return totals(
        (line_net(line.unit_price, line.quantity), line.vat_rate)
        for line in version.lines
        if line.unit_price is not None
    )


async def thread(session: AsyncSession, quote_id: int, *, internal: bool) -> list[QuoteComment]:
    """The quote's comments, oldest first; `internal` (staff) includes the internal ones, which a
    buyer's page never asks for."""
    query = select(QuoteComment).options(joinedload(QuoteComment.author)).where(QuoteComment.quote_id == quote_id)
    if not internal:
        query = query.where(QuoteComment.internal.is_(False))
    return list(await session.scalars(query.order_by(QuoteComment.at, QuoteComment.id)))


async def timeline(session: AsyncSession, quote_id: int) -> list[QuoteEvent]:
    """The quote's moves, oldest first, with who made them."""
    return list(
        await session.scalars(
            select(QuoteEvent)
            .options(joinedload(QuoteEvent.actor))
            .where(QuoteEvent.quote_id == quote_id)
            .order_by(QuoteEvent.at, QuoteEvent.id)
        )
    )


# --- the buyer's pages: the company's quotes, and a request's lines from the cart or a list -------


class QuoteGroup(StrEnum):
    """The buyer's filter of the quote list: still moving, accepted, or over without an order."""

    OPEN = "open"
    ACCEPTED = "accepted"
    CLOSED = "closed"


GROUPS: dict[QuoteGroup, frozenset[QuoteStatus]] = {
    QuoteGroup.OPEN: frozenset({QuoteStatus.REQUESTED, QuoteStatus.SENT, QuoteStatus.CHANGES_REQUESTED}),
    QuoteGroup.ACCEPTED: frozenset({QuoteStatus.ACCEPTED}),
    QuoteGroup.CLOSED: frozenset({QuoteStatus.DECLINED, QuoteStatus.EXPIRED, QuoteStatus.WITHDRAWN}),
}
QUOTES_PER_PAGE = 25


@dataclass(frozen=True)
class QuoteRow:
    quote: Quote
    value: Decimal | None
    """The net value of the sent version; None before a version was sent."""
    currency: str


@dataclass(frozen=True)
class QuotePage:
    rows: list[QuoteRow]
    total: int
    group: QuoteGroup | None
    page: int
    per_page: int = QUOTES_PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def previous_page(self) -> int | None:
        return self.page - 1 if self.page > 1 else None

    @property
    def next_page(self) -> int | None:
        return self.page + 1 if self.page < self.pages else None


def _buyer_sees() -> ColumnElement[bool]:
    """`quotes.visible_to_buyer` as SQL: not the manager's unsent offer, nor one withdrawn unsent."""
    unsent_offer = and_(Quote.requested_by_id.is_(None), Quote.sent_version == 0)
    return and_(Quote.status != QuoteStatus.DRAFT, not_(and_(Quote.status == QuoteStatus.WITHDRAWN, unsent_offer)))


async def company_quotes(
    session: AsyncSession, company_id: int, group: QuoteGroup | None = None, page: int = 1
) -> QuotePage:
    """The quotes of a company its buyers see, newest first, with the net value of each one's sent
    version: three queries whatever the page holds (the page with its total, the sent lines)."""
    query = select(Quote).where(Quote.company_id == company_id, _buyer_sees())
    if group is not None:
        query = query.where(Quote.status.in_(GROUPS[group]))
    rows = (
        await session.execute(
            query.add_columns(func.count().over().label("total"))
            .options(joinedload(Quote.requested_by))
            .order_by(Quote.created_at.desc(), Quote.id.desc())
            .limit(QUOTES_PER_PAGE)
            .offset((page - 1) * QUOTES_PER_PAGE)
        )
    ).all()
    found: list[Quote] = [row[0] for row in rows]
    sent = (
        await session.execute(
            select(QuoteVersion.quote_id, QuoteVersion.currency, QuoteLine.unit_price, QuoteLine.quantity)
            .join(QuoteLine, QuoteLine.version_id == QuoteVersion.id)
            .join(Quote, Quote.id == QuoteVersion.quote_id)
            .where(QuoteVersion.quote_id.in_([q.id for q in found]), QuoteVersion.number == Quote.sent_version)
        )
        if found
        else None
    )
    values: dict[int, Decimal] = {}
    currencies: dict[int, str] = {}
    for quote_id, currency, unit_price, quantity in sent.all() if sent is not None else []:
        currencies[quote_id] = currency
        if unit_price is not None:
            values[quote_id] = values.get(quote_id, Decimal("0.00")) + line_net(unit_price, quantity)
    return QuotePage(
        rows=[
            QuoteRow(
                q,
                values.get(q.id, Decimal("0.00")) if q.sent_version else None,
                currencies.get(q.id, ""),
            )
            for q in found
        ],
        total=rows[0].total if rows else 0,
        group=group,
        page=page,
    )


class QuoteSource(StrEnum):
    """Where a quote request's lines start from."""

    CART = "cart"
    LIST = "list"


@dataclass(frozen=True)
class DraftLine:
    product: Product
    quantity: int
    today_price: Decimal | None
    """The company's unit price today, for the buyer to set a target against."""


@dataclass(frozen=True)
class RequestDraft:
    """What a new quote request shows: the lines of the cart or list (neither is changed)."""

    source: QuoteSource
    source_id: int | None
    name: str
    """The list's name (the request's suggested title), or "" for the cart."""
    lines: list[DraftLine]
    more: int
    """Lines beyond what one quote can hold, left off the form."""


async def request_draft(
    session: AsyncSession, buyer: User, source: QuoteSource, source_id: int | None, today: date
) -> RequestDraft:
    """A request's starting lines from the buyer's cart or one of the company's lists, priced at
    today's prices; another company's list (or none named) is `NotFound`. Nothing is changed: a
    buyer without a cart yet gets no cart made here."""
    company = buyer.company
    if company is None:
        raise NotFound()
    name = ""
    if source is QuoteSource.LIST:
        found = await session.scalar(
            select(ShoppingList).where(ShoppingList.id == source_id, ShoppingList.company_id == company.id)
        )
        if found is None:
            raise NotFound()
        name = found.name
        lines_query = (
            select(ShoppingListLine.product_id, ShoppingListLine.quantity)
            .where(ShoppingListLine.list_id == found.id)
            .order_by(ShoppingListLine.id)
        )
    else:
        source_id = None
        lines_query = (
            select(CartLine.product_id, CartLine.quantity)
            .join(Cart, Cart.id == CartLine.cart_id)
            .where(Cart.user_id == buyer.id, Cart.company_id == company.id)
            .order_by(CartLine.id)
        )
    wanted = [(product_id, quantity) for product_id, quantity in (await session.execute(lines_query)).all()]
    kept, more = wanted[:MAX_LINES], max(len(wanted) - MAX_LINES, 0)
    products = {
        p.id: p
        for p in await session.scalars(
            select(Product).options(joinedload(Product.category)).where(Product.id.in_([pid for pid, _ in kept]))
        )
    }
    prices = await load_company_prices(session, company, today, list(products)) if products else None
    lines = [
        DraftLine(
            products[pid],
            quantity,
            prices.price(products[pid], quantity).unit_price if prices and products[pid].is_active else None,
        )
        for pid, quantity in kept
    ]
    return RequestDraft(source, source_id, name, lines, more)
