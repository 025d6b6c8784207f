"""How a price is chosen: for (company, product, quantity, day) the company's
contract price, else its price-list break, else the list price less its general
discount. Every result says where it came from and what ordering more would cost.
Under a prospective framework agreement, a volume tier reached this settlement period
then takes its rebate % off that price (source: volume tier) for the products it covers.

Loading is batched: one query brings every valid contract and price-list row for
a company and a set of products, and the company's agreement standing costs one small
query more (a few with an active agreement); resolution is then pure and in memory.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import Date, Integer, Select, and_, any_, bindparam, case, func, literal, or_, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement, SQLColumnExpression

from portal.models import Company, ContractPrice, PriceList, PriceListItem, Product

if TYPE_CHECKING:
    from portal.services.agreements import Standing, TierDiscount

UNIT_PRICE_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")


class PriceSource(enum.StrEnum):
    CONTRACT = "contract"
    PRICE_LIST = "price_list"
    LIST_LESS_DISCOUNT = "list_less_discount"
    VOLUME_TIER = "volume_tier"
    """One of the sources above less a prospective agreement's volume tier reached this period."""


LEVELS = (PriceSource.CONTRACT, PriceSource.PRICE_LIST)
"""Levels of negotiated prices, strongest first; the list price less discount comes after them."""


class PriceEntry(NamedTuple):
    """One negotiated row: a contract price or a price-list break, valid on the day it was loaded for.
    A tuple, because a page may load thousands."""

    source: PriceSource
    product_id: int
    unit_price: Decimal
    min_quantity: int
    valid_to: date | None = None


@dataclass(frozen=True)
class NextBreak:
    min_quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class Price:
    product_id: int
    unit_price: Decimal
    currency: str
    source: PriceSource
    min_quantity: int
    """The break reached: the entry's minimum quantity (1 for the list price less discount)."""
    valid_to: date | None = None
    discount_pct: Decimal | None = None
    price_list_name: str | None = None
    next_break: NextBreak | None = None
    tier: TierDiscount | None = None
    """A prospective volume tier in force (source VOLUME_TIER): the price of `base_source` less its %."""
    base_source: PriceSource | None = None

    @property
    def basis(self) -> PriceSource:
        """Where the price came from before a volume tier: contract, price list or list less discount."""
        return self.base_source or self.source

    @property
    def is_contract(self) -> bool:
        return self.basis is PriceSource.CONTRACT

    @property
    def note(self) -> str:
        """What an order line keeps in `price_note`: the price list's name, or a volume tier's `TierNote`."""
        name = (self.price_list_name or "") if self.basis is PriceSource.PRICE_LIST else ""
        if self.tier is None:
            return name
        return TierNote(self.tier.rebate_pct, self.tier.reached_on, self.basis, name).encoded()


@dataclass(frozen=True)
class TierNote:
    """A volume-tier line's `OrderLine.price_note`, data not words: "3.00|2026-11-14|price_list|Gold"
    (the tier's %, the day it was reached, the source it came off, the price list's name if any)."""

    rebate_pct: Decimal
    reached_on: date
    base_source: PriceSource
    price_list_name: str = ""

    def encoded(self) -> str:
        text = f"{self.rebate_pct:.2f}|{self.reached_on.isoformat()}|{self.base_source.value}|{self.price_list_name}"
        return text[:200]

    @classmethod
    def parse(cls, note: str) -> TierNote | None:
        """The note read back; None when it is not one."""
        parts = note.split("|", 3)
        try:
            return cls(Decimal(parts[0]), date.fromisoformat(parts[1]), PriceSource(parts[2]), parts[3])
        except (ArithmeticError, ValueError, IndexError):
            return None


@dataclass(frozen=True)
class PricingTerms:
    """What a company's prices depend on besides the rows: currency, discount, price list."""

    currency: str
    discount_pct: Decimal
    price_list_name: str | None = None


def line_net(unit_price: Decimal, quantity: int) -> Decimal:
    """Unit price × quantity, rounded half-up to the cent."""
    return (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def list_less_discount(list_price: Decimal, discount_pct: Decimal) -> Decimal:
    return (list_price * (100 - discount_pct) / 100).quantize(UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP)


def _best_by_quantity(entries: Iterable[PriceEntry], source: PriceSource) -> list[PriceEntry]:
    """One entry per minimum quantity of one level, ascending; between entries with the
    same minimum quantity the lower price wins, so row order never matters."""
    best: dict[int, PriceEntry] = {}
    for entry in entries:
        if entry.source is source:
            known = best.get(entry.min_quantity)
            if known is None or entry.unit_price < known.unit_price:
                best[entry.min_quantity] = entry
    return [best[quantity] for quantity in sorted(best)]


@dataclass(frozen=True)
class PriceLadder:
    """A product's unit price as a step function of quantity: from each quantity where a
    negotiated row starts to apply, the row that wins there (None: list price less
    discount). Built once per product, read many times."""

    product_id: int
    terms: PricingTerms
    fallback: Decimal
    quantities: list[int]
    reached: list[PriceEntry | None]
    unit_prices: list[Decimal]
    tier: TierDiscount | None = None

    @classmethod
    def build(
        cls,
        product_id: int,
        list_price: Decimal,
        entries: Collection[PriceEntry],
        terms: PricingTerms,
        tier: TierDiscount | None = None,
    ) -> PriceLadder:
        levels = []
        for source in LEVELS:
            rows = _best_by_quantity(entries, source)
            levels.append((rows, [row.min_quantity for row in rows]))
        fallback = list_less_discount(list_price, terms.discount_pct)
        quantities = sorted({1, *(entry.min_quantity for entry in entries)})
        reached: list[PriceEntry | None] = []
        for quantity in quantities:
            winner = None
            for rows, starts in levels:
                index = bisect_right(starts, quantity) - 1
                if index >= 0:
                    winner = rows[index]
                    break
            reached.append(winner)
        unit_prices = [fallback if entry is None else entry.unit_price for entry in reached]
        if tier is not None:
            unit_prices = [list_less_discount(unit_price, tier.rebate_pct) for unit_price in unit_prices]
        return cls(product_id, terms, fallback, quantities, reached, unit_prices, tier)

    def _price(self, index: int, next_break: NextBreak | None = None) -> Price:
        entry, terms, tier = self.reached[index], self.terms, self.tier
        source = PriceSource.LIST_LESS_DISCOUNT if entry is None else entry.source
        return Price(
            self.product_id,
            self.unit_prices[index],
            terms.currency,
            source if tier is None else PriceSource.VOLUME_TIER,
            1 if entry is None else entry.min_quantity,
            valid_to=None if entry is None else entry.valid_to,
            discount_pct=terms.discount_pct if entry is None else None,
            price_list_name=terms.price_list_name if source is PriceSource.PRICE_LIST else None,
            next_break=next_break,
            tier=tier,
            base_source=None if tier is None else source,
        )

    def price(self, quantity: int) -> Price:
        """The unit price for this quantity, with the next quantity that would cost less."""
        index = max(bisect_right(self.quantities, quantity) - 1, 0)
        current = self.unit_prices[index]
        for later in range(index + 1, len(self.unit_prices)):
            if self.unit_prices[later] < current:
                return self._price(index, NextBreak(self.quantities[later], self.unit_prices[later]))
        return self._price(index)

    def breaks(self) -> list[Price]:
        """The full table of quantity breaks: from 1 unit and from every quantity where the price drops."""
        table: list[Price] = []
        for index, unit_price in enumerate(self.unit_prices):
            if not table or unit_price < table[-1].unit_price:
                table.append(self._price(index))
        return table


def resolve_price(
    product_id: int, list_price: Decimal, entries: Collection[PriceEntry], quantity: int, terms: PricingTerms
) -> Price:
    """The unit price for (product, quantity): contract, else price list, else list price less discount."""
    return PriceLadder.build(product_id, list_price, entries, terms).price(quantity)


def price_breaks(
    product_id: int, list_price: Decimal, entries: Collection[PriceEntry], terms: PricingTerms
) -> list[Price]:
    return PriceLadder.build(product_id, list_price, entries, terms).breaks()


class Priced(Protocol):
    """What pricing reads of a product: a `Product`, or a plain row of the catalog's."""

    @property
    def id(self) -> int: ...
    @property
    def category_id(self) -> int: ...
    @property
    def list_price(self) -> Decimal: ...


@dataclass(frozen=True)
class CompanyPrices:
    """A company's negotiated rows for a set of products, valid on one day, and where its
    agreement stands that day (a prospective tier reached lowers the prices of its scope)."""

    terms: PricingTerms
    entries: dict[int, list[PriceEntry]]
    standing: Standing | None = None
    _ladders: dict[int, PriceLadder] = field(default_factory=dict, compare=False, repr=False)

    def tier_discount(self, category_id: int) -> TierDiscount | None:
        return None if self.standing is None else self.standing.tier_discount(category_id)

    def ladder(self, product: Priced) -> PriceLadder:
        ladder = self._ladders.get(product.id)
        if ladder is None:
            entries = self.entries.get(product.id, [])
            tier = self.tier_discount(product.category_id)
            ladder = PriceLadder.build(product.id, product.list_price, entries, self.terms, tier)
            self._ladders[product.id] = ladder
        return ladder

    def price(self, product: Priced, quantity: int = 1) -> Price:
        return self.ladder(product).price(quantity)

    def breaks(self, product: Priced) -> list[Price]:
        return self.ladder(product).breaks()


def valid_on(model: type[ContractPrice] | type[PriceListItem], day: date | ColumnElement[date]) -> ColumnElement[bool]:
    """Validity dates are inclusive; an open end is valid for ever."""
    return and_(
        or_(model.valid_from.is_(None), model.valid_from <= day),
        or_(model.valid_to.is_(None), model.valid_to >= day),
    )


class Unloaded(enum.Enum):
    UNLOADED = "unloaded"


UNLOADED = Unloaded.UNLOADED
"""`load_company_prices(standing=...)` not given: it loads the standing itself."""


async def load_company_prices(
    session: AsyncSession,
    company: Company,
    day: date,
    product_ids: Collection[int] | None = None,
    *,
    standing: Standing | None | Unloaded = UNLOADED,
) -> CompanyPrices:
    """Every contract and price-list row of this company valid on `day`, for the given
    products (all when None), in one query; and the company's agreement standing on `day`
    (`agreements.standing`: one query without an agreement), unless the caller has it."""
    if standing is UNLOADED:
        from portal.services import agreements  # agreements → flags → pricing: imported when used

        wanted = product_ids is None or len(product_ids) > 0
        standing = await agreements.standing(session, company.id, day) if wanted else None
    query = _prices_query(session.get_bind().dialect.name, product_ids is not None, company.price_list_id is not None)
    parameters: dict[str, object] = {"company_id": company.id, "price_list_id": company.price_list_id, "day": day}
    if product_ids is not None:
        parameters["product_ids"] = list(product_ids)
    entries: dict[int, list[PriceEntry]] = defaultdict(list)
    price_list_name: str | None = None
    sources = {source.value: source for source in PriceSource}
    for row in (await session.execute(query, parameters)).tuples():
        source, product_id, unit_price, min_quantity, valid_to = row[:5]
        entries[product_id].append(PriceEntry(sources[source], product_id, unit_price, min_quantity, valid_to))
        price_list_name = (row[5] if len(row) > 5 else None) or price_list_name
    terms = PricingTerms(
        currency=company.currency, discount_pct=company.general_discount_pct, price_list_name=price_list_name
    )
    return CompanyPrices(terms=terms, entries=dict(entries), standing=standing)


@cache
def _prices_query(dialect: str, by_product: bool, with_list: bool) -> Select[Any]:
    """The rows `load_company_prices` reads, built once per shape (building costs more than
    running it); the company, its price list, the day and the products are bound at each call.
    The products go to PostgreSQL as one array parameter, so a thousand ids make one short
    statement that the driver prepares once, not a thousand parameters."""
    day = bindparam("day", type_=Date)
    contract = select(
        literal(PriceSource.CONTRACT.value).label("source"),
        ContractPrice.product_id,
        ContractPrice.unit_price,
        ContractPrice.min_quantity,
        ContractPrice.valid_to,
    ).where(ContractPrice.company_id == bindparam("company_id"), valid_on(ContractPrice, day))
    price_list = select(
        literal(PriceSource.PRICE_LIST.value).label("source"),
        PriceListItem.product_id,
        PriceListItem.unit_price,
        PriceListItem.min_quantity,
        PriceListItem.valid_to,
    ).where(PriceListItem.price_list_id == bindparam("price_list_id"), valid_on(PriceListItem, day))
    if by_product:
        contract = contract.where(_one_of(dialect, ContractPrice.product_id))
        price_list = price_list.where(_one_of(dialect, PriceListItem.product_id))
    rows = union_all(contract, price_list).subquery()
    query = select(rows.c.source, rows.c.product_id, rows.c.unit_price, rows.c.min_quantity, rows.c.valid_to)
    if with_list:
        list_name = select(PriceList.name).where(PriceList.id == bindparam("price_list_id")).scalar_subquery()
        query = query.add_columns(list_name.label("price_list_name"))
    return query


def _one_of(dialect: str, column: SQLColumnExpression[int]) -> ColumnElement[bool]:
    """`column IN :product_ids`: on PostgreSQL one array parameter, elsewhere an expanding list."""
    if dialect == "postgresql":
        return column == any_(bindparam("product_ids", type_=ARRAY(Integer)))
    return column.in_(bindparam("product_ids", expanding=True))


def unit_price_sql(company: Company, day: date, standing: Standing | None = None) -> ColumnElement[Decimal]:
    """The company's price for one unit of `Product` as SQL: the same rules as
    `resolve_price` at quantity 1, less a prospective volume tier reached (`standing`, as
    `CompanyPrices` applies it), so a catalog can sort by it in the database."""
    contract = (
        select(func.min(ContractPrice.unit_price))
        .where(
            ContractPrice.company_id == company.id,
            ContractPrice.product_id == Product.id,
            ContractPrice.min_quantity <= 1,
            valid_on(ContractPrice, day),
        )
        .scalar_subquery()
    )
    listed = (
        select(func.min(PriceListItem.unit_price))
        .where(
            PriceListItem.price_list_id == company.price_list_id,
            PriceListItem.product_id == Product.id,
            PriceListItem.min_quantity <= 1,
            valid_on(PriceListItem, day),
        )
        .scalar_subquery()
    )
    discounted = Product.list_price * (100 - literal(company.general_discount_pct)) / 100
    resolved = func.coalesce(contract, listed, discounted)
    tier_pct = _tier_pct_sql(standing)
    return resolved if tier_pct is None else resolved * (100 - tier_pct) / 100


def _tier_pct_sql(standing: Standing | None) -> ColumnElement[Decimal] | None:
    """The volume tier % in force for `Product`'s category as SQL (None: no tier anywhere)."""
    if standing is None or not standing.prospective:
        return None
    everywhere = max(
        (scope.reached.rebate_pct for scope in standing.scopes if scope.category_id is None and scope.reached),
        default=Decimal(0),
    )
    by_category = {}
    for scope in standing.scopes:
        tier = standing.tier_discount(scope.category_id) if scope.category_id is not None else None
        if tier is not None:
            by_category[scope.category_id] = tier.rebate_pct
    if not everywhere and not by_category:
        return None
    if not by_category:
        return literal(everywhere)
    return case(by_category, value=Product.category_id, else_=literal(everywhere))
