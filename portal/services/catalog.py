"""The catalog as one company sees it: search, filter, sort by its own price,
paginate; a product with its break table; the company's whole price list.
A page costs a constant number of queries, whatever its size."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal, NamedTuple, get_args

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal.errors import NotFound
from portal.models import Company, Product, ProductCategory, ShoppingList
from portal.services import agreements, lists
from portal.services.pricing import Price, load_company_prices, unit_price_sql


class Sort(enum.StrEnum):
    NAME = "name"
    SKU = "sku"
    PRICE = "price"
    """The company's own price for one unit."""


PerPage = Literal[20, 50, 100]
PER_PAGE_CHOICES: tuple[int, ...] = get_args(PerPage)
MAX_QUERY_LENGTH = 200


class Availability(enum.StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"
    OUT = "out"


class Listed(NamedTuple):
    """A product as a catalog row shows and prices it: a plain row, no ORM object per product."""

    id: int
    sku: str
    name: str
    unit: str
    pack_size: int
    list_price: Decimal
    category_id: int
    stock: int


LISTED = (
    Product.id,
    Product.sku,
    Product.name,
    Product.unit,
    Product.pack_size,
    Product.list_price,
    Product.category_id,
    Product.stock,
)
"""The columns of `Listed`, in its order."""


def availability(product: Product | Listed) -> Availability:
    """Low when fewer than five packs (and fewer than 10 units) are left."""
    if product.stock <= 0:
        return Availability.OUT
    if product.stock < max(10, 5 * product.pack_size):
        return Availability.LOW
    return Availability.IN_STOCK


@dataclass(frozen=True)
class CatalogQuery:
    """What the buyer asked the catalog for; the web layer has typed and bounded each value.
    The search text is read as words: runs of spaces count as one."""

    text: str = ""
    category_id: int | None = None
    sort: Sort = Sort.NAME
    page: int = 1
    per_page: int = PER_PAGE_CHOICES[0]

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", " ".join(self.text.split())[:MAX_QUERY_LENGTH])

    def params(self, **changes: object) -> dict[str, object]:
        """The query as URL parameters, with some changed (for links: next page, another sort)."""
        values: dict[str, object] = {
            "q": self.text,
            "category": self.category_id or "",
            "sort": self.sort.value,
            "page": self.page,
            "per_page": self.per_page,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value not in ("", None)}


@dataclass(frozen=True)
class CatalogRow:
    product: Listed
    price: Price
    availability: Availability


@dataclass(frozen=True)
class CatalogPage:
    query: CatalogQuery
    rows: list[CatalogRow]
    has_next: bool
    categories: list[ProductCategory]
    unknown_category: bool = False
    last_page: int | None = None
    """Set only when the page asked for lies past the end: where the end is."""
    lists: list[tuple[ShoppingList, int]] = field(default_factory=list)
    """The company's shopping lists (with their number of lines), when the reader can add to them."""

    @property
    def first_number(self) -> int:
        return (self.query.page - 1) * self.query.per_page + 1

    @property
    def last_number(self) -> int:
        return self.first_number + len(self.rows) - 1

    @property
    def total(self) -> int | None:
        """Known without counting when this page is the last one."""
        return None if self.has_next else self.first_number - 1 + len(self.rows)


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(query: CatalogQuery, category_known: bool) -> Select:
    statement = select(Product).where(Product.is_active)
    for term in query.text.split():
        pattern = f"%{_escape_like(term)}%"
        statement = statement.where(
            or_(Product.name.ilike(pattern, escape="\\"), Product.sku.ilike(pattern, escape="\\"))
        )
    if query.category_id is not None and category_known:
        statement = statement.where(Product.category_id == query.category_id)
    return statement


def _order(
    query: CatalogQuery, company: Company, day: date, standing: agreements.Standing | None
) -> tuple[ColumnElement[Any] | InstrumentedAttribute[Any], ...]:
    if query.sort is Sort.PRICE:
        return (unit_price_sql(company, day, standing), Product.name, Product.sku)
    if query.sort is Sort.SKU:
        return (Product.sku,)
    return (Product.name, Product.sku)


async def browse(
    session: AsyncSession, company: Company, query: CatalogQuery, day: date, *, with_lists: bool = False
) -> CatalogPage:
    """One page of the catalog in four queries: categories, the agreement's standing (prices
    and their sort depend on a volume tier reached), the page, its prices (and one more for the
    company's lists, `with_lists`). It fetches one row more than it shows to
    know whether a next page exists, instead of counting every match. A category that does
    not exist shows all categories, and says so; a page past the end says where the end is."""
    categories = list(await session.scalars(select(ProductCategory).order_by(ProductCategory.name)))
    category_known = query.category_id is not None and any(c.id == query.category_id for c in categories)
    filtered = _filtered(query, category_known)
    standing = await agreements.standing(session, company.id, day)
    products = [
        Listed._make(row)
        for row in await session.execute(
            filtered.with_only_columns(*LISTED)
            .order_by(*_order(query, company, day, standing))
            .limit(query.per_page + 1)
            .offset((query.page - 1) * query.per_page)
        )
    ]
    has_next = len(products) > query.per_page
    products = products[: query.per_page]
    last_page = None
    if not products and query.page > 1:
        matches = await session.scalar(filtered.with_only_columns(func.count())) or 0
        last_page = max(1, math.ceil(matches / query.per_page))
    prices = await load_company_prices(session, company, day, [p.id for p in products], standing=standing)
    return CatalogPage(
        query=query,
        rows=[CatalogRow(p, prices.price(p), availability(p)) for p in products],
        has_next=has_next,
        categories=categories,
        unknown_category=query.category_id is not None and not category_known,
        last_page=last_page,
        lists=await lists.company_lists(session, company.id) if with_lists else [],
    )


@dataclass(frozen=True)
class ProductDetail:
    product: Product
    price: Price
    breaks: list[Price]
    availability: Availability
    lists: list[tuple[ShoppingList, int]] = field(default_factory=list)


async def product_detail(
    session: AsyncSession, company: Company, product_id: int, day: date, *, with_lists: bool = False
) -> ProductDetail:
    """A product sold today with this company's prices; one that is unknown or no longer sold is `NotFound`."""
    product = await session.scalar(
        select(Product).options(joinedload(Product.category)).where(Product.id == product_id, Product.is_active)
    )
    if product is None:
        raise NotFound()
    prices = await load_company_prices(session, company, day, [product.id])
    return ProductDetail(
        product,
        prices.price(product),
        prices.breaks(product),
        availability(product),
        lists=await lists.company_lists(session, company.id) if with_lists else [],
    )


@dataclass(frozen=True)
class PriceListLine:
    product: Product
    price: Price


async def price_list(session: AsyncSession, company: Company, day: date) -> list[PriceListLine]:
    """Every product sold today with every break of this company's price, by SKU: the 'my price list' download."""
    products = list(await session.scalars(select(Product).where(Product.is_active).order_by(Product.sku)))
    prices = await load_company_prices(session, company, day)
    return [PriceListLine(product, price) for product in products for price in prices.breaks(product)]
