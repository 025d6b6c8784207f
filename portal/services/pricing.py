"""How a price is chosen: for (company, product, quantity, day) the company's
contract price, else its price-list break, else the list price less its general
discount. Every result says where it came from and what ordering more would cost.

Loading is batched: one query brings every valid contract and price-list row for
a company and a set of products; resolution is then pure and in memory.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from portal.models import Company, ContractPrice, PriceList, PriceListItem, Product

UNIT_PRICE_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")


class PriceSource(enum.StrEnum):
    CONTRACT = "contract"
    PRICE_LIST = "price_list"
    LIST_LESS_DISCOUNT = "list_less_discount"


LEVELS = (PriceSource.CONTRACT, PriceSource.PRICE_LIST)
"""Levels of negotiated prices, strongest first; the list price less discount comes after them."""


@dataclass(frozen=True)
class PriceEntry:
    """One negotiated row: a contract price or a price-list break, valid on the day it was loaded for."""

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

    @property
    def is_contract(self) -> bool:
        return self.source is PriceSource.CONTRACT


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


def _reached(entries: Iterable[PriceEntry], source: PriceSource, quantity: int) -> PriceEntry | None:
    """The entry of one level that applies: the largest minimum quantity not above the
    quantity; between equal minimum quantities, the lower price, so row order never matters."""
    candidates = [e for e in entries if e.source is source and e.min_quantity <= quantity]
    if not candidates:
        return None
    return min(candidates, key=lambda e: (-e.min_quantity, e.unit_price))


def resolve_price(
    product_id: int, list_price: Decimal, entries: Collection[PriceEntry], quantity: int, terms: PricingTerms
) -> Price:
    """The unit price for this quantity, with its source and the next cheaper break."""
    price = _resolve_without_next(product_id, list_price, entries, quantity, terms)
    for min_quantity in sorted({e.min_quantity for e in entries if e.min_quantity > quantity}):
        cheaper = _resolve_without_next(product_id, list_price, entries, min_quantity, terms)
        if cheaper.unit_price < price.unit_price:
            return _with_next(price, NextBreak(min_quantity, cheaper.unit_price))
    return price


def _with_next(price: Price, next_break: NextBreak) -> Price:
    return Price(**{**price.__dict__, "next_break": next_break})


def _resolve_without_next(
    product_id: int, list_price: Decimal, entries: Collection[PriceEntry], quantity: int, terms: PricingTerms
) -> Price:
    for source in LEVELS:
        entry = _reached(entries, source, quantity)
        if entry is not None:
            return Price(
                product_id=product_id,
                unit_price=entry.unit_price,
                currency=terms.currency,
                source=source,
                min_quantity=entry.min_quantity,
                valid_to=entry.valid_to,
                price_list_name=terms.price_list_name if source is PriceSource.PRICE_LIST else None,
            )
    return Price(
        product_id=product_id,
        unit_price=list_less_discount(list_price, terms.discount_pct),
        currency=terms.currency,
        source=PriceSource.LIST_LESS_DISCOUNT,
        min_quantity=1,
        discount_pct=terms.discount_pct,
    )


def price_breaks(
    product_id: int, list_price: Decimal, entries: Collection[PriceEntry], terms: PricingTerms
) -> list[Price]:
    """The full table of quantity breaks: the price from 1 unit and from every quantity where it drops."""
    table: list[Price] = []
    for quantity in sorted({1, *(e.min_quantity for e in entries)}):
        price = _resolve_without_next(product_id, list_price, entries, quantity, terms)
        if not table or price.unit_price < table[-1].unit_price:
            table.append(price)
    return table


@dataclass(frozen=True)
class CompanyPrices:
    """A company's negotiated rows for a set of products, valid on one day."""

    terms: PricingTerms
    entries: dict[int, list[PriceEntry]]

    def price(self, product: Product, quantity: int = 1) -> Price:
        return resolve_price(product.id, product.list_price, self.entries.get(product.id, []), quantity, self.terms)

    def breaks(self, product: Product) -> list[Price]:
        return price_breaks(product.id, product.list_price, self.entries.get(product.id, []), self.terms)


def valid_on(model: type[ContractPrice] | type[PriceListItem], day: date) -> ColumnElement[bool]:
    """Validity dates are inclusive; an open end is valid for ever."""
    return and_(
        or_(model.valid_from.is_(None), model.valid_from <= day),
        or_(model.valid_to.is_(None), model.valid_to >= day),
    )


async def load_company_prices(
    session: AsyncSession, company: Company, day: date, product_ids: Collection[int] | None = None
) -> CompanyPrices:
    """Every contract and price-list row of this company valid on `day`, for the given
    products (all when None), in one query."""
    contract = select(
        literal(PriceSource.CONTRACT.value).label("source"),
        ContractPrice.product_id,
        ContractPrice.unit_price,
        ContractPrice.min_quantity,
        ContractPrice.valid_to,
    ).where(ContractPrice.company_id == company.id, valid_on(ContractPrice, day))
    price_list = select(
        literal(PriceSource.PRICE_LIST.value).label("source"),
        PriceListItem.product_id,
        PriceListItem.unit_price,
        PriceListItem.min_quantity,
        PriceListItem.valid_to,
    ).where(PriceListItem.price_list_id == company.price_list_id, valid_on(PriceListItem, day))
    if product_ids is not None:
        ids = list(product_ids)
        contract = contract.where(ContractPrice.product_id.in_(ids))
        price_list = price_list.where(PriceListItem.product_id.in_(ids))
    rows = union_all(contract, price_list).subquery()
    query = select(rows.c.source, rows.c.product_id, rows.c.unit_price, rows.c.min_quantity, rows.c.valid_to)
    if company.price_list_id is not None:
        list_name = select(PriceList.name).where(PriceList.id == company.price_list_id).scalar_subquery()
        query = query.add_columns(list_name.label("price_list_name"))
    entries: dict[int, list[PriceEntry]] = defaultdict(list)
    price_list_name: str | None = None
    for row in (await session.execute(query)).all():
        entries[row.product_id].append(
            PriceEntry(
                source=PriceSource(row.source),
                product_id=row.product_id,
                unit_price=Decimal(row.unit_price).quantize(UNIT_PRICE_PLACES),
                min_quantity=row.min_quantity,
                valid_to=row.valid_to,
            )
        )
        price_list_name = getattr(row, "price_list_name", None) or price_list_name
    terms = PricingTerms(
        currency=company.currency, discount_pct=company.general_discount_pct, price_list_name=price_list_name
    )
    return CompanyPrices(terms=terms, entries=dict(entries))



def unit_price_sql(company: Company, day: date) -> ColumnElement[Decimal]:
    """The company's price for one unit of `Product` as SQL: the same rules as
    `resolve_price` at quantity 1, so a catalog can sort by it in the database."""
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
    return func.coalesce(contract, listed, discounted)
