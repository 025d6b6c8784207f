"""The catalog as one company sees it: search, filter, sort by its own price,
paginate; a product with its break table; the company's whole price list.
A page costs a constant number of queries, whatever its size."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal.models import Company, Product, ProductCategory
from portal.services.pricing import Price, load_company_prices, unit_price_sql

SORTS = ("name", "sku", "price")
PER_PAGE_CHOICES = (20, 50, 100)
MAX_QUERY_LENGTH = 100


class Availability(enum.StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"
    OUT = "out"


def availability(product: Product) -> Availability:
    """Low when fewer than five packs (and fewer than 10 units) are left."""
    if product.stock <= 0:
        return Availability.OUT
    if product.stock < max(10, 5 * product.pack_size):
        return Availability.LOW
    return Availability.IN_STOCK


def _positive_int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 9:
        return None
    number = int(value)
    return number if number > 0 else None


@dataclass(frozen=True)
class CatalogQuery:
    text: str = ""
    category_id: int | None = None
    sort: str = "name"
    page: int = 1
    per_page: int = PER_PAGE_CHOICES[0]
    category_given: bool = False

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> CatalogQuery:
        """Whatever the address bar holds: nonsense falls back to defaults, never to an error."""
        text = " ".join(str(params.get("q", "")).split())[:MAX_QUERY_LENGTH]
        category_raw = str(params.get("category", "")).strip()
        sort = str(params.get("sort", "name"))
        per_page = _positive_int(params.get("per_page"))
        return cls(
            text=text,
            category_id=_positive_int(category_raw),
            sort=sort if sort in SORTS else "name",
            page=_positive_int(params.get("page")) or 1,
            per_page=per_page if per_page in PER_PAGE_CHOICES else PER_PAGE_CHOICES[0],
            category_given=bool(category_raw),
        )

    def params(self, **changes: object) -> dict[str, object]:
        """The query as URL parameters, with some changed (for links: next page, another sort)."""
        values: dict[str, object] = {
            "q": self.text, "category": self.category_id or "", "sort": self.sort, "page": self.page,
            "per_page": self.per_page,
        }
        values.update(changes)
        return {key: value for key, value in values.items() if value not in ("", None)}


@dataclass(frozen=True)
class CatalogRow:
    product: Product
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
        statement = statement.where(or_(Product.name.ilike(pattern, escape="\\"), Product.sku.ilike(pattern, escape="\\")))
    if query.category_id is not None and category_known:
        statement = statement.where(Product.category_id == query.category_id)
    return statement


def _order(query: CatalogQuery, company: Company, day: date) -> tuple[ColumnElement, ...]:
    if query.sort == "price":
        return (unit_price_sql(company, day), Product.name, Product.sku)
    if query.sort == "sku":
        return (Product.sku,)
    return (Product.name, Product.sku)


async def browse(session: AsyncSession, company: Company, query: CatalogQuery, day: date) -> CatalogPage:
    """One page of the catalog in three queries: categories, the page, its prices. It
    fetches one row more than it shows to know whether a next page exists, instead of
    counting every match."""
    categories = list(await session.scalars(select(ProductCategory).order_by(ProductCategory.name)))
    category_known = query.category_id is not None and any(c.id == query.category_id for c in categories)
    filtered = _filtered(query, category_known)
    products = list(
        await session.scalars(
            filtered.order_by(*_order(query, company, day))
            .limit(query.per_page + 1)
            .offset((query.page - 1) * query.per_page)
        )
    )
    has_next = len(products) > query.per_page
    products = products[: query.per_page]
    last_page = None
    if not products and query.page > 1:
        matches = await session.scalar(filtered.with_only_columns(func.count())) or 0
        last_page = max(1, math.ceil(matches / query.per_page))
    prices = await load_company_prices(session, company, day, [p.id for p in products])
    return CatalogPage(
        query=query,
        rows=[CatalogRow(p, prices.price(p), availability(p)) for p in products],
        has_next=has_next,
        categories=categories,
        unknown_category=query.category_given and not category_known,
        last_page=last_page,
    )


@dataclass(frozen=True)
class ProductDetail:
    product: Product
    price: Price
    breaks: list[Price]
    availability: Availability


async def product_detail(session: AsyncSession, company: Company, product_id: int, day: date) -> ProductDetail | None:
    """A product sold today with this company's prices; None for one that is unknown or no longer sold."""
    product = await session.scalar(
        select(Product).options(joinedload(Product.category)).where(Product.id == product_id, Product.is_active)
    )
    if product is None:
        return None
    prices = await load_company_prices(session, company, day, [product.id])
    return ProductDetail(product, prices.price(product), prices.breaks(product), availability(product))


@dataclass(frozen=True)
class PriceListLine:
    product: Product
    price: Price


async def price_list(session: AsyncSession, company: Company, day: date) -> list[PriceListLine]:
    """Every product sold today with every break of this company's price, by SKU: the 'my price list' download."""
    products = list(await session.scalars(select(Product).where(Product.is_active).order_by(Product.sku)))
    prices = await load_company_prices(session, company, day)
    return [PriceListLine(product, price) for product in products for price in prices.breaks(product)]
