"""The catalogue as the admin keeps it: categories (with their margin floor) and products.

Each kind has one home for its rules, shared by the admin form, the CSV import and the ERP API:
a typed record (`CategoryRecord`, `ProductRecord`), a pure validation function that says what is
wrong with each field (`category_errors`, `product_errors`), and a save function that checks what
needs the database (a name or SKU already taken, a category that does not exist), writes and
audits in the caller's transaction. `PRODUCTS` is the CSV kind (`portal.services.master_data`):
it validates a whole file against the catalogue loaded in one query per table, and writes with
bulk statements (20,000 products in seconds), auditing each new or changed product.

Prices, price lists and contract prices are in `portal.services.prices_admin`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal import clock
from portal.errors import NotFound, Refused
from portal.i18n import format_decimal, gettext
from portal.models import AuditEntry, Company, ContractPrice, PriceList, PriceListItem, Product, ProductCategory, User
from portal.services import audit, lookup
from portal.services.listing import ListQuery, Page, paginate, searched
from portal.services.master_data import (
    Change,
    Column,
    Outcome,
    Plan,
    PlanRefused,
    Row,
    RowError,
    parse_bool,
    parse_decimal,
    parse_int,
)

SKU_MAX = 40
NAME_MAX = 200
DESCRIPTION_MAX = 5000
UNIT_MAX = 10
CATEGORY_NAME_MAX = 100
PACK_SIZE_MAX = 10_000
STOCK_MAX = 10_000_000
MAX_PRICE = Decimal("1000000")
"""No unit price, list price or cost above this: a larger one is a typing mistake (a missing comma)."""
PRICE_PLACES = 4
VAT_RATES = (Decimal("23"), Decimal("8"), Decimal("5"), Decimal("0"))
"""The Polish VAT rates a product may carry."""
SKU_PATTERN = re.compile(r"[A-Za-z0-9\-_./]+")


def correct_the_fields() -> str:
    return gettext("Please correct the marked fields.")


# Shared checks, also used by `prices_admin`.
def price_error(value: Decimal) -> str | None:
    """Why a price cannot be saved, or None: 0 … 1,000,000 with at most four decimals."""
    if value < 0:
        return gettext("A price cannot be negative.")
    if value > MAX_PRICE:
        return gettext("A price above 1,000,000 is surely a typing mistake; check the decimal separator.")
    if -value.as_tuple().exponent > PRICE_PLACES:  # type: ignore[operator]
        return gettext("Use at most 4 decimal places.")
    return None


def price_text(value: Decimal) -> str:
    """A price as exports write it: at least two decimals, up to the four it is stored with."""
    text = f"{value.quantize(Decimal('0.0001')):f}"
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.rstrip('0').ljust(2, '0')}"


def _text(value: str | None) -> str | None:
    return value.strip() if value is not None and value.strip() else None


# Categories.
@dataclass(frozen=True)
class CategoryRecord:
    name: str
    margin_floor_pct: Decimal | None = None


def category_errors(record: CategoryRecord) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not record.name.strip():
        errors["name"] = gettext("Enter the category's name.")
    elif len(record.name.strip()) > CATEGORY_NAME_MAX:
        errors["name"] = gettext("Use at most %(limit)s characters.") % {"limit": CATEGORY_NAME_MAX}
    floor = record.margin_floor_pct
    if floor is not None and not Decimal(0) <= floor <= Decimal(100):
        errors["margin_floor_pct"] = gettext("Enter a margin floor between 0 and 100 %, or leave it empty.")
    elif floor is not None and -floor.as_tuple().exponent > 2:  # type: ignore[operator]
        errors["margin_floor_pct"] = gettext("Use at most 2 decimal places.")
    return errors


CATEGORY_FIELDS = ("name", "margin_floor_pct")


async def save_category(
    session: AsyncSession, actor: User | str | None, record: CategoryRecord, category_id: int | None = None
) -> ProductCategory:
    """Creates a category (`category_id` None) or changes one; refuses a name another category has."""
    record = replace(record, name=record.name.strip())
    errors = category_errors(record)
    taken = await session.scalar(
        select(ProductCategory.id).where(
            (ProductCategory.name == record.name) | (func.lower(ProductCategory.name) == record.name.lower()),
            ProductCategory.id != (category_id or 0),
        )
    )
    if taken is not None and "name" not in errors:
        errors["name"] = gettext("Another category is already called %(name)s.") % {"name": record.name}
    category = await session.get(ProductCategory, category_id) if category_id else ProductCategory()
    if category is None:
        raise NotFound()
    if errors:
        raise Refused(correct_the_fields(), errors=errors)
    before = audit.snapshot(category, CATEGORY_FIELDS) if category_id else {}
    category.name, category.margin_floor_pct = record.name, record.margin_floor_pct
    session.add(category)
    await session.flush()
    changes = audit.changed(before, audit.snapshot(category, CATEGORY_FIELDS))
    action = "update" if category_id else "create"
    if changes:
        audit.record(session, actor, action, "category", category.id, category.name, changes=changes)
    return category


@dataclass(frozen=True)
class CategoryRow:
    category: ProductCategory
    products: int


async def categories(session: AsyncSession) -> list[CategoryRow]:
    """Every category by name, with how many products it holds (one query)."""
    count = select(func.count(Product.id)).where(Product.category_id == ProductCategory.id).scalar_subquery()
    rows = await session.execute(select(ProductCategory, count).order_by(ProductCategory.name))
    return [CategoryRow(category, products) for category, products in rows.all()]


async def category_list(session: AsyncSession, query: ListQuery) -> Page[CategoryRow]:
    """A page of categories, searched by name, sorted by `name`, `margin` (no floor of its own
    first, on every database) or `products` (how many it holds). Two queries."""
    count = select(func.count(Product.id)).where(Product.category_id == ProductCategory.id).scalar_subquery()
    statement = searched(select(ProductCategory, count), query.search, [ProductCategory.name.expression])
    sorts: dict[str, ColumnElement[Any]] = {
        "name": ProductCategory.name.expression,
        "margin": func.coalesce(ProductCategory.margin_floor_pct, -1),
        "products": count,
    }
    found = await paginate(
        session,
        statement,
        query,
        sorts=sorts,
        default_sort="name",
        tiebreak=ProductCategory.id.expression,
        scalars=False,
    )
    return replace(found, rows=[CategoryRow(category, products) for category, products in found.rows])


async def category(session: AsyncSession, category_id: int) -> ProductCategory:
    return await lookup.one(session, ProductCategory, category_id)


# Products.
@dataclass(frozen=True)
class ProductRecord:
    """A product as a form, a CSV row or the API gives it."""

    sku: str
    name: str
    category_id: int
    list_price: Decimal
    cost: Decimal
    vat_rate: Decimal = Decimal("23")
    unit: str = "pcs"
    pack_size: int = 1
    stock: int = 0
    is_active: bool = True
    description: str = ""

    def cleaned(self) -> ProductRecord:
        return replace(
            self,
            sku=self.sku.strip(),
            name=self.name.strip(),
            unit=self.unit.strip(),
            description=self.description.strip(),
        )


def product_errors(record: ProductRecord) -> dict[str, str]:
    """What is wrong with each field of a product, by field; empty when nothing is.
    (Whether the SKU is taken and the category exists needs the database: `save_product`.)"""
    errors: dict[str, str] = {}
    if not record.sku:
        errors["sku"] = gettext("Enter the SKU.")
    elif len(record.sku) > SKU_MAX or not SKU_PATTERN.fullmatch(record.sku):
        errors["sku"] = gettext("A SKU is up to 40 letters, digits and - _ . / without spaces.")
    if not record.name:
        errors["name"] = gettext("Enter the product's name.")
    elif len(record.name) > NAME_MAX:
        errors["name"] = gettext("Use at most %(limit)s characters.") % {"limit": NAME_MAX}
    if len(record.description) > DESCRIPTION_MAX:
        errors["description"] = gettext("Use at most %(limit)s characters.") % {
            "limit": format_decimal(DESCRIPTION_MAX, 0)
        }
    if not record.unit or len(record.unit) > UNIT_MAX:
        errors["unit"] = gettext("Enter the unit (pcs, kg, box…), at most 10 characters.")
    if not 1 <= record.pack_size <= PACK_SIZE_MAX:
        errors["pack_size"] = gettext("The pack size is a whole number from 1 to 10,000.")
    if record.vat_rate not in VAT_RATES:
        errors["vat_rate"] = gettext("The VAT rate is one of 23, 8, 5 or 0 %.")
    for name in ("list_price", "cost"):
        if message := price_error(getattr(record, name)):
            errors[name] = message
    if not 0 <= record.stock <= STOCK_MAX:
        errors["stock"] = gettext("Stock is a whole number from 0 to 10,000,000.")
    return errors


PRODUCT_FIELDS = ("sku", "name", "description", "unit", "pack_size", "vat_rate", "list_price", "cost", "stock")


def product_text(values: Any, category_name: str) -> dict[str, str | None]:
    """A product (or a record) as the audit trail and the import preview show it."""
    text = audit.snapshot(values, PRODUCT_FIELDS)
    text["category"] = category_name
    text["active"] = audit.as_text(values.is_active)
    return text


def product_label(sku: str, name: str) -> str:
    return f"{sku} {name}"


async def save_product(
    session: AsyncSession, actor: User | str | None, record: ProductRecord, product_id: int | None = None
) -> Product:
    """Creates a product (`product_id` None) or changes one; refuses a SKU another product has and a
    category that does not exist. A deactivated product stays on past orders and out of the catalog."""
    record = record.cleaned()
    errors = product_errors(record)
    category = await session.get(ProductCategory, record.category_id)
    if category is None:
        errors["category_id"] = gettext("Choose a category from the list.")
    taken = await session.scalar(select(Product.id).where(Product.sku == record.sku, Product.id != (product_id or 0)))
    if taken is not None and "sku" not in errors:
        errors["sku"] = gettext("Another product already has SKU %(sku)s.") % {"sku": record.sku}
    product = await session.get(Product, product_id, options=[joinedload(Product.category)]) if product_id else None
    if product_id and product is None:
        raise NotFound()
    if errors or category is None:
        raise Refused(correct_the_fields(), errors=errors)
    before = product_text(product, product.category.name) if product else {}
    product = product or Product()
    for name in (*PRODUCT_FIELDS, "is_active", "category_id"):
        setattr(product, name, getattr(record, name))
    product.category = category
    session.add(product)
    await session.flush()
    changes = audit.changed(before, product_text(product, category.name))
    if changes:
        action = "create" if not before else "update"
        audit.record(
            session, actor, action, "product", product.id, product_label(product.sku, product.name), changes=changes
        )
    return product


async def product(session: AsyncSession, product_id: int) -> Product:
    return await lookup.one(session, Product, product_id, joinedload(Product.category))


SORTS: dict[str, Any] = {
    "sku": Product.sku,
    "name": Product.name,
    "list_price": Product.list_price,
    "stock": Product.stock,
}


async def products(session: AsyncSession, query: ListQuery) -> Page[Product]:
    """A page of products, searched by SKU or name; filters `category` (an id), `status` ("active" /
    "inactive") and `stock` ("out": none in stock). Two queries."""
    statement = searched(
        select(Product).options(joinedload(Product.category)),
        query.search,
        [Product.sku.expression, Product.name.expression],
    )
    if query.filter("category"):
        statement = statement.where(Product.category_id == query.filter("category"))
    if query.filter("status") in ("active", "inactive"):
        statement = statement.where(Product.is_active.is_(query.filter("status") == "active"))
    if query.filter("stock") == "out":
        statement = statement.where(Product.stock <= 0)
    if query.filter("unpriced") == "true":
        statement = statement.where(~exists().where(PriceListItem.product_id == Product.id))
    return await paginate(session, statement, query, sorts=SORTS, default_sort="sku", tiebreak=Product.id.expression)


@dataclass(frozen=True)
class ProductDetail:
    product: Product
    list_items: list[tuple[PriceListItem, PriceList]]
    contract_prices: list[tuple[ContractPrice, Company]]
    history: list[AuditEntry]


async def product_detail(session: AsyncSession, product_id: int) -> ProductDetail:
    """A product with every price-list row, contract price and its audit history (four queries)."""
    found = await product(session, product_id)
    items = await session.execute(
        select(PriceListItem, PriceList)
        .join(PriceList, PriceList.id == PriceListItem.price_list_id)
        .where(PriceListItem.product_id == product_id)
        .order_by(PriceList.name, PriceListItem.min_quantity, PriceListItem.valid_from)
    )
    contracts = await session.execute(
        select(ContractPrice, Company)
        .join(Company, Company.id == ContractPrice.company_id)
        .where(ContractPrice.product_id == product_id)
        .order_by(Company.name, ContractPrice.min_quantity, ContractPrice.valid_from)
    )
    history = await audit.history(session, "product", product_id)
    return ProductDetail(found, [(i, p) for i, p in items.tuples()], [(c, co) for c, co in contracts.tuples()], history)


# The CSV kind of products.
def _required(row: Row, name: str, errors: list[tuple[str, str]]) -> str | None:
    value = _text(row.get(name))
    if value is None:
        errors.append((name, gettext("This field is required.")))
    return value


@dataclass
class _Existing:
    id: int
    text: dict[str, str | None]
    record: ProductRecord


@dataclass
class _Planned:
    row: int
    record: ProductRecord
    category_name: str
    existing: _Existing | None
    text: dict[str, str | None] = field(default_factory=dict)


def _product_from_row(
    row: Row, categories_by_name: Mapping[str, tuple[int, str]], existing: _Existing | None
) -> tuple[ProductRecord | None, str, list[tuple[str, str]]]:
    """A CSV row as a record: blank optional cells keep an existing product's value (a file without a
    stock column leaves stock alone) or take the default for a new one."""
    errors: list[tuple[str, str]] = []
    sku, name = _required(row, "sku", errors), _required(row, "name", errors)
    category_cell = _required(row, "category", errors)
    base = existing.record if existing else None
    values: dict[str, Any] = {}
    for field_name in ("vat_rate", "list_price", "cost"):
        cell = _text(row.get(field_name))
        if cell is None:
            if base is None:
                errors.append((field_name, gettext("This field is required.")))
            values[field_name] = getattr(base, field_name) if base is not None else None
            continue
        parsed = parse_decimal(cell, 2 if field_name == "vat_rate" else PRICE_PLACES)
        if parsed is None:
            errors.append((field_name, gettext("Not a number with at most 4 decimals: %(value)s") % {"value": cell}))
        values[field_name] = parsed
    for field_name, _, _ in (("pack_size", 1, PACK_SIZE_MAX), ("stock", 0, STOCK_MAX)):
        cell = _text(row.get(field_name))
        if cell is None:
            values[field_name] = getattr(base, field_name) if base else (1 if field_name == "pack_size" else 0)
        elif (number := parse_int(cell, -(2**31), 2**31 - 1)) is None:
            errors.append((field_name, gettext("Not a whole number: %(value)s") % {"value": cell}))
        else:
            values[field_name] = number
    active_cell = _text(row.get("active"))
    active = parse_bool(active_cell) if active_cell is not None else (base.is_active if base else True)
    if active is None:
        errors.append(("active", gettext("Write yes or no: %(value)s") % {"value": active_cell}))
    category_found = categories_by_name.get(category_cell.lower()) if category_cell else None
    if category_cell and category_found is None:
        message = gettext("There is no category %(name)s; add it on the categories page first.")
        errors.append(("category", message % {"name": category_cell}))
    description = _text(row.get("description"))
    unit = _text(row.get("unit"))
    filled: dict[str, Any] = {key: Decimal(0) if value is None else value for key, value in values.items()}
    record = ProductRecord(
        sku=sku or "",
        name=name or "",
        category_id=category_found[0] if category_found else 0,
        description=description if description is not None else (base.description if base else ""),
        unit=unit if unit is not None else (base.unit if base else "pcs"),
        is_active=bool(active),
        **filled,
    )
    unread = {key for key, _ in errors}
    errors.extend((key, message) for key, message in product_errors(record).items() if key not in unread)
    if errors or category_found is None:
        return None, "", errors
    return record, category_found[1], []


class ProductsKind:
    """Products with stock, upserted by SKU."""

    code = "products"
    columns: Sequence[Column] = (
        Column("sku", ("sku", "indeks")),
        Column("name", ("name", "nazwa")),
        Column("description", ("description", "opis"), required=False),
        Column("unit", ("unit", "jednostka"), required=False),
        Column("pack_size", ("pack_size", "opakowanie"), required=False),
        Column("vat_rate", ("vat_rate", "vat"), numeric=True),
        Column("list_price", ("list_price", "cena_katalogowa"), numeric=True),
        Column("cost", ("cost", "koszt"), numeric=True),
        Column("category", ("category", "kategoria")),
        Column("stock", ("stock", "stan"), required=False),
        Column("active", ("active", "aktywny"), required=False),
    )

    def title(self) -> str:
        return gettext("Products with stock")

    async def _load(self, session: AsyncSession) -> tuple[dict[str, tuple[int, str]], dict[str, _Existing]]:
        categories = {
            name.lower(): (id_, name)
            for id_, name in await session.execute(select(ProductCategory.id, ProductCategory.name))
        }
        names = {id_: name for id_, name in categories.values()}
        existing: dict[str, _Existing] = {}
        columns = [getattr(Product, name) for name in (*PRODUCT_FIELDS, "is_active", "category_id")]
        for id_, *values in await session.execute(select(Product.id, *columns)):
            record = ProductRecord(**dict(zip((*PRODUCT_FIELDS, "is_active", "category_id"), values, strict=True)))
            existing[record.sku] = _Existing(id_, product_text(record, names.get(record.category_id, "")), record)
        return categories, existing

    async def _planned(self, session: AsyncSession, rows: Sequence[Row]) -> tuple[Plan, list[_Planned]]:
        categories, existing = await self._load(session)
        plan, planned, seen = Plan(), [], dict[str, int]()
        for number, row in enumerate(rows, 1):
            sku = _text(row.get("sku"))
            found = existing.get(sku) if sku else None
            record, category_name, errors = _product_from_row(row, categories, found)
            if sku is not None and sku in seen:
                errors.append(("sku", gettext("SKU %(sku)s is also in row %(row)d.") % {"sku": sku, "row": seen[sku]}))
            elif sku is not None:
                seen[sku] = number
            plan.errors.extend(RowError(number, key, message) for key, message in errors)
            if record is None or errors:
                continue
            item = _Planned(number, record, category_name, found, product_text(record, category_name))
            planned.append(item)
            if found is None:
                plan.changes.append(Change(number, record.sku, Outcome.NEW))
            elif changes := audit.changed(found.text, item.text):
                plan.changes.append(Change(number, record.sku, Outcome.CHANGED, changes))
            else:
                plan.changes.append(Change(number, record.sku, Outcome.UNCHANGED))
        return plan, planned

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan:
        plan, _ = await self._planned(session, rows)
        return plan

    async def apply(self, session: AsyncSession, actor: User | str, rows: Sequence[Row], *, today: date) -> Plan:
        plan, planned = await self._planned(session, rows)
        if not plan.ok:
            raise PlanRefused(plan)
        new = [item for item in planned if item.existing is None]
        changed = [item for item in planned if item.existing is not None and item.existing.text != item.text]
        ids: dict[str, int] = {}
        if new:
            statement = insert(Product).returning(Product.id, Product.sku, sort_by_parameter_order=True)
            inserted = await session.execute(statement, [_columns(item.record) for item in new])
            ids = {sku: id_ for id_, sku in inserted.tuples()}
        if changed:
            await session.execute(
                update(Product),
                [{"id": item.existing.id, **_columns(item.record)} for item in changed if item.existing],
            )
        entries = [_entry(actor, "create", ids[item.record.sku], item, {}) for item in new] + [
            _entry(actor, "update", item.existing.id, item, item.existing.text) for item in changed if item.existing
        ]
        await record_many(session, entries)
        return plan

    async def export(self, session: AsyncSession) -> list[dict[str, str]]:
        rows = await session.execute(
            select(Product, ProductCategory.name)
            .join(ProductCategory, ProductCategory.id == Product.category_id)
            .order_by(Product.sku)
        )
        return [
            {
                "sku": p.sku,
                "name": p.name,
                "description": p.description,
                "unit": p.unit,
                "pack_size": str(p.pack_size),
                "vat_rate": audit.as_text(p.vat_rate) or "",
                "list_price": price_text(p.list_price),
                "cost": price_text(p.cost),
                "category": category_name,
                "stock": str(p.stock),
                "active": "yes" if p.is_active else "no",
            }
            for p, category_name in rows.tuples()
        ]


def _columns(record: ProductRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in (*PRODUCT_FIELDS, "is_active", "category_id")}


def _entry(
    actor: User | str, action: str, object_id: int, item: _Planned, before: Mapping[str, str | None]
) -> dict[str, Any]:
    return audit_values(
        actor,
        action,
        "product",
        object_id,
        product_label(item.record.sku, item.record.name),
        audit.changed(before, item.text),
    )


def audit_values(
    actor: User | str | None,
    action: str,
    object_type: str,
    object_id: int | None,
    label: str,
    changes: Mapping[str, list[str | None]],
    company_id: int | None = None,
) -> dict[str, Any]:
    """The values of one audit entry, as `audit.record` builds them, for writing many at once."""
    return {
        "at": clock.now(),
        "actor_id": actor.id if isinstance(actor, User) else None,
        "actor": audit.actor_name(actor)[:254],
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "object_label": label[: audit.LABEL_MAX],
        "company_id": company_id,
        "changes": dict(changes),
        "note": "",
    }


async def record_many(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Many audit entries in one statement (executemany), for an import's thousands of records."""
    if entries:
        await session.execute(insert(AuditEntry), entries)


PRODUCTS = ProductsKind()
