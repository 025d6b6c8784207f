"""Prices as the admin keeps them: price lists, their rows (quantity breaks valid between two dates)
and contract prices per company.

A price-list row and a contract price are twins: a product, a minimum quantity, a unit price and a
validity, owned by a price list or by a company. One record (`PriceRecord`), one validation
(`price_errors`) and one overlap rule serve both, in forms, CSV imports and the ERP API: two rows of
one owner for the same product and minimum quantity must not be valid on the same day (pricing
could not tell which wins), and the refusal names the other row, its price and validity. A product
that is not sold (inactive) gets no new price. Changing a price never changes a submitted order:
order lines keep the price they were submitted with."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from portal.errors import NotFound, Refused
from portal.i18n import gettext
from portal.models import Company, ContractPrice, PriceList, PriceListItem, Product, User
from portal.services import audit, lookup
from portal.services.catalogue_admin import (
    PRICE_PLACES,
    audit_values,
    correct_the_fields,
    price_error,
    price_text,
    record_many,
)
from portal.services.listing import ListQuery, Page, paginate, searched
from portal.services.master_data import (
    Change,
    Column,
    Outcome,
    Plan,
    PlanRefused,
    Row,
    RowError,
    parse_day,
    parse_decimal,
    parse_int,
)

MAX_MIN_QUANTITY = 1_000_000
LIST_NAME_MAX = 100
LIST_CODE_MAX = 40
CODE_PATTERN = re.compile(r"[A-Za-z0-9\-_.]+")
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


# Price lists.
@dataclass(frozen=True)
class PriceListRecord:
    name: str
    code: str | None = None
    currency: str = "PLN"


def price_list_errors(record: PriceListRecord) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not record.name:
        errors["name"] = gettext("Enter the price list's name.")
    elif len(record.name) > LIST_NAME_MAX:
        errors["name"] = gettext("Use at most %(limit)s characters.") % {"limit": LIST_NAME_MAX}
    if record.code is not None and (len(record.code) > LIST_CODE_MAX or not CODE_PATTERN.fullmatch(record.code)):
        errors["code"] = gettext("A code is up to 40 letters, digits and - _ . without spaces.")
    if not CURRENCY_PATTERN.fullmatch(record.currency):
        errors["currency"] = gettext("Enter a currency code of three capital letters, such as PLN or EUR.")
    return errors


PRICE_LIST_FIELDS = ("name", "code", "currency")


async def save_price_list(
    session: AsyncSession, actor: User | str | None, record: PriceListRecord, price_list_id: int | None = None
) -> PriceList:
    """Creates a price list or changes one; refuses a name or code another list has."""
    code = record.code.strip() if record.code and record.code.strip() else None
    record = replace(record, name=record.name.strip(), code=code, currency=record.currency.strip().upper())
    errors = price_list_errors(record)
    others = select(PriceList.name, PriceList.code).where(PriceList.id != (price_list_id or 0))
    clash = (PriceList.name == record.name) | (func.lower(PriceList.name) == record.name.lower())
    if record.code:
        clash = clash | (PriceList.code == record.code) | (func.lower(PriceList.code) == record.code.lower())
    for name, other_code in (await session.execute(others.where(clash))).tuples():
        if name.lower() == record.name.lower():
            errors.setdefault("name", gettext("Another price list is already called %(name)s.") % {"name": name})
        if record.code and other_code and other_code.lower() == record.code.lower():
            errors.setdefault("code", gettext("Price list %(name)s already has this code.") % {"name": name})
    price_list = await session.get(PriceList, price_list_id) if price_list_id else PriceList()
    if price_list is None:
        raise NotFound()
    if errors:
        raise Refused(correct_the_fields(), errors=errors)
    before = audit.snapshot(price_list, PRICE_LIST_FIELDS) if price_list_id else {}
    price_list.name, price_list.code, price_list.currency = record.name, record.code, record.currency
    session.add(price_list)
    await session.flush()
    changes = audit.changed(before, audit.snapshot(price_list, PRICE_LIST_FIELDS))
    if changes:
        action = "update" if price_list_id else "create"
        audit.record(session, actor, action, "price_list", price_list.id, price_list.name, changes=changes)
    return price_list


@dataclass(frozen=True)
class PriceListRow:
    price_list: PriceList
    items: int
    companies: int


async def price_lists(session: AsyncSession) -> list[PriceListRow]:
    """Every price list by name, with how many rows it has and how many companies buy from it (one query)."""
    items = select(func.count(PriceListItem.id)).where(PriceListItem.price_list_id == PriceList.id).scalar_subquery()
    companies = select(func.count(Company.id)).where(Company.price_list_id == PriceList.id).scalar_subquery()
    rows = await session.execute(select(PriceList, items, companies).order_by(PriceList.name))
    return [PriceListRow(*row) for row in rows.tuples()]


async def price_list_list(session: AsyncSession, query: ListQuery) -> Page[PriceListRow]:
    """A page of price lists, searched by name or code; filter `currency` (a code such as "EUR");
    sorted by `name`, `code`, `items` (its rows) or `companies` (buying from it). Two queries."""
    items = select(func.count(PriceListItem.id)).where(PriceListItem.price_list_id == PriceList.id).scalar_subquery()
    companies = select(func.count(Company.id)).where(Company.price_list_id == PriceList.id).scalar_subquery()
    statement = searched(
        select(PriceList, items, companies), query.search, [PriceList.name.expression, PriceList.code.expression]
    )
    if query.filter("currency"):
        statement = statement.where(PriceList.currency == query.filter("currency"))
    sorts: dict[str, ColumnElement[Any]] = {
        "name": PriceList.name.expression,
        "code": func.coalesce(PriceList.code, ""),  # lists without a code first, on every database
        "items": items,
        "companies": companies,
    }
    found = await paginate(
        session, statement, query, sorts=sorts, default_sort="name", tiebreak=PriceList.id.expression, scalars=False
    )
    return replace(found, rows=[PriceListRow(*row) for row in found.rows])


async def currencies(session: AsyncSession) -> list[str]:
    """The currencies of the price lists, for the list's filter."""
    return list(await session.scalars(select(PriceList.currency).distinct().order_by(PriceList.currency)))


async def price_list(session: AsyncSession, price_list_id: int) -> PriceList:
    return await lookup.one(session, PriceList, price_list_id)


# Rows of prices: price-list items and contract prices.
@dataclass(frozen=True)
class PriceRecord:
    """A price row as a form, a CSV row or the API gives it; the product by its SKU."""

    sku: str
    unit_price: Decimal
    min_quantity: int = 1
    valid_from: date | None = None
    valid_to: date | None = None


def price_errors(record: PriceRecord) -> dict[str, str]:
    """What is wrong with each field of a price row; empty when nothing is."""
    errors: dict[str, str] = {}
    if not record.sku.strip():
        errors["sku"] = gettext("Enter the product's SKU.")
    if message := price_error(record.unit_price):
        errors["unit_price"] = message
    if not 1 <= record.min_quantity <= MAX_MIN_QUANTITY:
        errors["min_quantity"] = gettext("The minimum quantity is a whole number from 1 to 1,000,000.")
    if record.valid_from and record.valid_to and record.valid_to < record.valid_from:
        errors["valid_to"] = gettext("The validity ends before it starts.")
    return errors


def overlaps(a: tuple[date | None, date | None], b: tuple[date | None, date | None]) -> bool:
    """Whether two validities (inclusive; None: open) share a day."""
    return (a[0] is None or b[1] is None or a[0] <= b[1]) and (b[0] is None or a[1] is None or b[0] <= a[1])


def validity_text(valid_from: date | None, valid_to: date | None) -> str:
    if valid_from and valid_to:
        return gettext("valid from %(start)s to %(end)s") % {"start": valid_from, "end": valid_to}
    if valid_from:
        return gettext("valid from %(start)s with no end") % {"start": valid_from}
    if valid_to:
        return gettext("valid until %(end)s") % {"end": valid_to}
    return gettext("valid always")


def overlap_message(unit_price: Decimal, valid_from: date | None, valid_to: date | None, row: int | None = None) -> str:
    """The refusal of an overlapping row, naming the other one."""
    other = {"price": price_text(unit_price), "validity": validity_text(valid_from, valid_to), "row": row}
    if row is not None:
        return (
            gettext(
                "Overlaps row %(row)d of the file (%(price)s, %(validity)s) for the same product and minimum quantity."
            )
            % other
        )
    return gettext("Overlaps another row for the same product and minimum quantity: %(price)s, %(validity)s.") % other


@dataclass(frozen=True)
class Twin:
    """What differs between price-list items and contract prices."""

    model: type[PriceListItem] | type[ContractPrice]
    owner: str
    """The owner's column: price_list_id or company_id."""
    object_type: str


ITEMS = Twin(PriceListItem, "price_list_id", "price_list_item")
CONTRACTS = Twin(ContractPrice, "company_id", "contract_price")
PRICE_FIELDS = ("sku", "unit_price", "min_quantity", "valid_from", "valid_to")


def price_row_text(
    sku: str, unit_price: Decimal, min_quantity: int, valid_from: date | None, valid_to: date | None
) -> dict[str, str | None]:
    values = (sku, unit_price, min_quantity, valid_from, valid_to)
    return {name: audit.as_text(value) for name, value in zip(PRICE_FIELDS, values, strict=True)}


def price_row_label(owner: str, sku: str, min_quantity: int, valid_from: date | None) -> str:
    """How the trail and the import preview name a row: "STANDARD / SKU-1 / from 10 / 2026-01-01"."""
    label = f"{owner} / {sku} / from {min_quantity}"
    return label + (f" / {valid_from.isoformat()}" if valid_from else "")


async def _sold_product(session: AsyncSession, sku: str, errors: dict[str, str]) -> Product | None:
    found = await session.scalar(select(Product).where(Product.sku == sku.strip()))
    if found is None:
        errors.setdefault("sku", gettext("No product has SKU %(sku)s.") % {"sku": sku.strip()})
    elif not found.is_active:
        errors.setdefault(
            "sku", gettext("Product %(sku)s is inactive: it cannot get a new price.") % {"sku": found.sku}
        )
    return found


async def _save_price(
    session: AsyncSession,
    actor: User | str | None,
    twin: Twin,
    owner_id: int,
    owner_label: str,
    record: PriceRecord,
    row_id: int | None,
    company_id: int | None,
) -> Any:
    errors = price_errors(record)
    product = await _sold_product(session, record.sku, errors)
    model: Any = twin.model
    row = await session.get(model, row_id) if row_id else model()
    if row is None or (row_id and getattr(row, twin.owner) != owner_id):
        raise NotFound()
    if product is not None and not errors:
        others = await session.scalars(
            select(model).where(
                getattr(model, twin.owner) == owner_id,
                model.product_id == product.id,
                model.min_quantity == record.min_quantity,
                model.id != (row_id or 0),
            )
        )
        for other in others:
            if overlaps((record.valid_from, record.valid_to), (other.valid_from, other.valid_to)):
                errors["valid_from"] = overlap_message(other.unit_price, other.valid_from, other.valid_to)
                break
    if errors or product is None:
        raise Refused(correct_the_fields(), errors=errors)
    before: dict[str, str | None] = {}
    if row_id:
        old_sku = await session.scalar(select(Product.sku).where(Product.id == row.product_id)) or ""
        before = price_row_text(old_sku, row.unit_price, row.min_quantity, row.valid_from, row.valid_to)
    setattr(row, twin.owner, owner_id)
    row.product_id, row.unit_price, row.min_quantity = product.id, record.unit_price, record.min_quantity
    row.valid_from, row.valid_to = record.valid_from, record.valid_to
    session.add(row)
    await session.flush()
    after = price_row_text(product.sku, row.unit_price, row.min_quantity, row.valid_from, row.valid_to)
    if changes := audit.changed(before, after):
        label = price_row_label(owner_label, product.sku, row.min_quantity, row.valid_from)
        action = "update" if row_id else "create"
        audit.record(session, actor, action, twin.object_type, row.id, label, company_id=company_id, changes=changes)
    return row


async def save_price_list_item(
    session: AsyncSession, actor: User | str | None, price_list_id: int, record: PriceRecord, item_id: int | None = None
) -> PriceListItem:
    """Adds a row to a price list (`item_id` None) or changes one of its rows."""
    owner = await price_list(session, price_list_id)
    saved: PriceListItem = await _save_price(session, actor, ITEMS, owner.id, owner.name, record, item_id, None)
    return saved


async def save_contract_price(
    session: AsyncSession,
    actor: User | str | None,
    company_id: int,
    record: PriceRecord,
    contract_price_id: int | None = None,
) -> ContractPrice:
    """Adds a contract price for a company or changes one."""
    company = await session.get(Company, company_id)
    if company is None:
        raise Refused(
            correct_the_fields(), "company_id", errors={"company_id": gettext("Choose a company from the list.")}
        )
    saved: ContractPrice = await _save_price(
        session, actor, CONTRACTS, company.id, company.name, record, contract_price_id, company.id
    )
    return saved


async def _delete_price(
    session: AsyncSession, actor: User | str | None, twin: Twin, row_id: int, owner_label: str, company_id: int | None
) -> None:
    model: Any = twin.model
    row = await session.get(model, row_id)
    if row is None:
        raise NotFound()
    sku = await session.scalar(select(Product.sku).where(Product.id == row.product_id)) or ""
    before = price_row_text(sku, row.unit_price, row.min_quantity, row.valid_from, row.valid_to)
    label = price_row_label(owner_label, sku, row.min_quantity, row.valid_from)
    await session.delete(row)
    await session.flush()
    changes = {name: [value, None] for name, value in before.items() if value is not None}
    audit.record(session, actor, "delete", twin.object_type, row_id, label, company_id=company_id, changes=changes)


async def delete_price_list_item(session: AsyncSession, actor: User | str | None, item_id: int) -> int:
    """Removes a row from its price list; answers the list's id."""
    item = await price_list_item(session, item_id)
    owner = await price_list(session, item.price_list_id)
    await _delete_price(session, actor, ITEMS, item_id, owner.name, None)
    return owner.id


async def delete_contract_price(session: AsyncSession, actor: User | str | None, contract_price_id: int) -> None:
    row = await contract_price(session, contract_price_id)
    company = await session.get(Company, row.company_id)
    await _delete_price(session, actor, CONTRACTS, contract_price_id, company.name if company else "", row.company_id)


async def price_list_item(session: AsyncSession, item_id: int) -> PriceListItem:
    return await lookup.one(session, PriceListItem, item_id)


async def contract_price(session: AsyncSession, contract_price_id: int) -> ContractPrice:
    return await lookup.one(session, ContractPrice, contract_price_id)


async def sku_of(session: AsyncSession, product_id: int) -> str:
    return await session.scalar(select(Product.sku).where(Product.id == product_id)) or ""


ITEM_SORTS: dict[str, Any] = {
    "sku": Product.sku,
    "name": Product.name,
    "min_quantity": PriceListItem.min_quantity,
    "unit_price": PriceListItem.unit_price,
    "valid_from": PriceListItem.valid_from,
}


async def price_list_items(session: AsyncSession, price_list_id: int, query: ListQuery) -> Page[Any]:
    """A page of one price list's rows, searched by SKU or product name: rows of (item, product). Two queries."""
    statement: Any = (
        select(PriceListItem, Product)
        .join(Product, Product.id == PriceListItem.product_id)
        .where(PriceListItem.price_list_id == price_list_id)
    )
    statement = searched(statement, query.search, [Product.sku.expression, Product.name.expression])
    return await paginate(
        session,
        statement,
        query,
        sorts=ITEM_SORTS,
        default_sort="sku",
        tiebreak=PriceListItem.id.expression,
        scalars=False,
    )


CONTRACT_SORTS: dict[str, Any] = {
    "company": Company.name,
    "sku": Product.sku,
    "min_quantity": ContractPrice.min_quantity,
    "unit_price": ContractPrice.unit_price,
    "valid_from": ContractPrice.valid_from,
}


async def contract_prices(session: AsyncSession, query: ListQuery) -> Page[Any]:
    """A page of contract prices, filtered by `customer` (a company id), searched by SKU or product name:
    rows of (contract price, product, company). Two queries."""
    statement: Any = (
        select(ContractPrice, Product, Company)
        .join(Product, Product.id == ContractPrice.product_id)
        .join(Company, Company.id == ContractPrice.company_id)
    )
    if query.filter("customer"):
        statement = statement.where(ContractPrice.company_id == query.filter("customer"))
    statement = searched(statement, query.search, [Product.sku.expression, Product.name.expression])
    return await paginate(
        session,
        statement,
        query,
        sorts=CONTRACT_SORTS,
        default_sort="company",
        tiebreak=ContractPrice.id.expression,
        scalars=False,
    )


async def company_choices(session: AsyncSession) -> list[tuple[int, str, str]]:
    """Every company as (id, name, tax id), by name, for choosing one."""
    rows = await session.execute(select(Company.id, Company.name, Company.tax_id).order_by(Company.name, Company.id))
    return [tuple(row) for row in rows.tuples()]  # type: ignore[misc]


# The CSV kinds of price rows.
def tax_id_key(text: str) -> str:
    """A tax id as compared: letters and digits only, upper case, without the PL prefix."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    return cleaned.removeprefix("PL")


Key = tuple[int, int, int, date | None]
"""owner, product, minimum quantity, valid from."""


@dataclass
class _Stored:
    id: int
    key: Key
    unit_price: Decimal
    valid_to: date | None
    sku: str


@dataclass
class _Dropped:
    """A stored row that a replacing batch does not name."""

    row: _Stored
    owner_label: str


DELETE_CHUNK = 500
"""Rows deleted per statement (SQLite bounds the parameters of one statement)."""


@dataclass
class _FileRow:
    row: int
    key: Key
    unit_price: Decimal
    valid_to: date | None
    sku: str
    owner_label: str
    stored: _Stored | None = None


def _cell(row: Row, name: str) -> str | None:
    value = row.get(name)
    return value.strip() if value is not None and value.strip() else None


class PricesKind(ABC):
    """Rows of prices (price-list items or contract prices), upserted by (owner, product, minimum
    quantity, valid from)."""

    code: str
    columns: Sequence[Column]
    twin: Twin
    owner_field: str

    @abstractmethod
    def title(self) -> str:
        """Each kind of price row says it."""

    @abstractmethod
    async def _owners(self, session: AsyncSession) -> dict[str, tuple[int, str]]:
        """Each kind of price row says it."""

    @abstractmethod
    def _owner_key(self, text: str) -> str:
        """Each kind of price row says it."""

    @abstractmethod
    def _unknown_owner(self, text: str) -> str:
        """Each kind of price row says it."""

    @abstractmethod
    async def _owner_names(self, session: AsyncSession) -> dict[int, str]:
        """Each kind of price row says it."""

    async def _stored(self, session: AsyncSession) -> dict[Key, _Stored]:
        model: Any = self.twin.model
        owner = getattr(model, self.twin.owner)
        rows = await session.execute(
            select(
                model.id,
                owner,
                model.product_id,
                model.min_quantity,
                model.valid_from,
                model.unit_price,
                model.valid_to,
                Product.sku,
            ).join(Product, Product.id == model.product_id)
        )
        stored = {}
        for id_, owner_id, product_id, quantity, valid_from, unit_price, valid_to, sku in rows.tuples():
            key = (owner_id, product_id, quantity, valid_from)
            stored[key] = _Stored(id_, key, unit_price, valid_to, sku)
        return stored

    async def owner(self, session: AsyncSession, text: str) -> int | None:
        """The id of the price list or company `text` names, as a row's owner cell names it; None if none."""
        found = (await self._owners(session)).get(self._owner_key(text))
        return found[0] if found else None

    def replacing(self, owners: Collection[int]) -> ReplacingPrices:
        """This kind, making the rows of `owners` exactly the batch's (see `ReplacingPrices`)."""
        return ReplacingPrices(self, owners)

    async def _planned(
        self, session: AsyncSession, rows: Sequence[Row], replacing: Collection[int] = ()
    ) -> tuple[Plan, list[_FileRow], list[_Dropped]]:
        """The plan, the valid rows of the batch, and the stored rows of the `replacing` owners that
        the batch does not name (they are to be deleted, so they overlap nothing)."""
        owners = await self._owners(session)
        products = {
            sku: (id_, active)
            for id_, sku, active in await session.execute(select(Product.id, Product.sku, Product.is_active))
        }
        stored = await self._stored(session)
        plan, found, seen = Plan(), [], dict[Key, int]()
        for number, row in enumerate(rows, 1):
            errors: list[tuple[str, str]] = []
            parsed = self._parse(row, owners, products, errors)
            if parsed is not None and parsed.key in seen:
                errors.append(
                    (
                        "",
                        gettext("The same row (list or company, SKU, quantity, start) is also row %(row)d.")
                        % {"row": seen[parsed.key]},
                    )
                )
            plan.errors.extend(RowError(number, key, message) for key, message in errors)
            if parsed is None or errors:
                continue
            seen[parsed.key] = number
            parsed.row, parsed.stored = number, stored.get(parsed.key)
            found.append(parsed)
        labels = {id_: label for id_, label in owners.values()}
        dropped = [
            _Dropped(row, labels.get(key[0], ""))
            for key, row in stored.items()
            if key[0] in replacing and key not in seen
        ]
        kept = {key: row for key, row in stored.items() if key[0] not in replacing or key in seen}
        plan.errors.extend(self._overlaps(found, kept))
        plan.errors.sort(key=lambda error: error.row)
        for item in found:
            key_text = self._key_text(item)
            if item.stored is None:
                plan.changes.append(Change(item.row, key_text, Outcome.NEW))
            elif changes := audit.changed(
                _compared(item.stored.unit_price, item.stored.valid_to), _compared(item.unit_price, item.valid_to)
            ):
                plan.changes.append(Change(item.row, key_text, Outcome.CHANGED, changes))
            else:
                plan.changes.append(Change(item.row, key_text, Outcome.UNCHANGED))
        return plan, found, dropped

    def _key_text(self, item: _FileRow) -> str:
        return price_row_label(item.owner_label, item.sku, item.key[2], item.key[3])

    def _parse(
        self,
        row: Row,
        owners: Mapping[str, tuple[int, str]],
        products: Mapping[str, tuple[int, bool]],
        errors: list[tuple[str, str]],
    ) -> _FileRow | None:
        owner_cell, sku = _cell(row, self.owner_field), _cell(row, "sku")
        owner = owners.get(self._owner_key(owner_cell)) if owner_cell else None
        if owner_cell is None:
            errors.append((self.owner_field, gettext("This field is required.")))
        elif owner is None:
            errors.append((self.owner_field, self._unknown_owner(owner_cell)))
        product = products.get(sku) if sku else None
        if sku is None:
            errors.append(("sku", gettext("This field is required.")))
        elif product is None:
            errors.append(("sku", gettext("No product has SKU %(sku)s.") % {"sku": sku}))
        elif not product[1]:
            errors.append(("sku", gettext("Product %(sku)s is inactive: it cannot get a new price.") % {"sku": sku}))
        price_cell = _cell(row, "unit_price")
        unit_price = parse_decimal(price_cell, PRICE_PLACES) if price_cell else None
        if price_cell is None:
            errors.append(("unit_price", gettext("This field is required.")))
        elif unit_price is None:
            errors.append(
                ("unit_price", gettext("Not a number with at most 4 decimals: %(value)s") % {"value": price_cell})
            )
        quantity_cell = _cell(row, "min_quantity")
        quantity = parse_int(quantity_cell, -(2**31), 2**31 - 1) if quantity_cell else 1
        if quantity is None:
            errors.append(("min_quantity", gettext("Not a whole number: %(value)s") % {"value": quantity_cell}))
        days: dict[str, date | None] = {}
        for name in ("valid_from", "valid_to"):
            cell = _cell(row, name)
            days[name] = parse_day(cell) if cell else None
            if cell and days[name] is None:
                errors.append((name, gettext("Not a date (2026-12-01 or 01.12.2026): %(value)s") % {"value": cell}))
        if errors or owner is None or product is None or sku is None or unit_price is None or quantity is None:
            return None
        record = PriceRecord(sku, unit_price, quantity, days["valid_from"], days["valid_to"])
        errors.extend(price_errors(record).items())
        key = (owner[0], product[0], quantity, record.valid_from)
        return _FileRow(0, key, unit_price, record.valid_to, sku, owner[1])

    def _overlaps(self, found: Iterable[_FileRow], stored: Mapping[Key, _Stored]) -> list[RowError]:
        """Each file row that would be valid on the same day as another row of its owner, product and
        minimum quantity (stored, unless the file replaces it, or in the file): sorted by start, each
        row is compared with the one reaching furthest before it."""
        groups: dict[tuple[int, int, int], list[_FileRow | _Stored]] = defaultdict(list)
        replaced = set()
        for item in found:
            groups[item.key[:3]].append(item)
            replaced.add(item.key)
        touched = set(groups)
        for key, row in stored.items():
            if key[:3] in touched and key not in replaced:
                groups[key[:3]].append(row)
        errors = []
        for rows in groups.values():
            if len(rows) < 2:
                continue
            rows.sort(key=lambda r: (r.key[3] or date.min, isinstance(r, _FileRow)))
            furthest = rows[0]
            for current in rows[1:]:
                start, reach = current.key[3], furthest.valid_to
                if start is None or reach is None or start <= reach:
                    culprit, other = (current, furthest) if isinstance(current, _FileRow) else (furthest, current)
                    if isinstance(culprit, _FileRow):
                        number = other.row if isinstance(other, _FileRow) else None
                        message = overlap_message(other.unit_price, other.key[3], other.valid_to, number)
                        errors.append(RowError(culprit.row, "valid_from", message))
                if furthest.valid_to is not None and (current.valid_to is None or current.valid_to > furthest.valid_to):
                    furthest = current
        return errors

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan:
        plan, _, _ = await self._planned(session, rows)
        return plan

    async def apply(self, session: AsyncSession, actor: User | str, rows: Sequence[Row], *, today: date) -> Plan:
        plan, _ = await self._write(session, actor, rows, ())
        return plan

    async def _write(
        self, session: AsyncSession, actor: User | str, rows: Sequence[Row], replacing: Collection[int]
    ) -> tuple[Plan, int]:
        """Upserts every row or none, and deletes the rows of the `replacing` owners the batch does not
        name; answers the plan and how many rows were deleted. Every change is audited."""
        plan, found, dropped = await self._planned(session, rows, replacing)
        if not plan.ok:
            raise PlanRefused(plan)
        model: Any = self.twin.model
        ids_dropped = [item.row.id for item in dropped]
        for start in range(0, len(ids_dropped), DELETE_CHUNK):
            await session.execute(delete(model).where(model.id.in_(ids_dropped[start : start + DELETE_CHUNK])))
        new = [item for item in found if item.stored is None]
        changed = [
            item
            for item in found
            if item.stored and (item.stored.unit_price, item.stored.valid_to) != (item.unit_price, item.valid_to)
        ]
        ids: list[int] = []
        if new:
            statement = insert(model).returning(model.id, sort_by_parameter_order=True)
            ids = list((await session.execute(statement, [self._values(item) for item in new])).scalars())
        if changed:
            await session.execute(
                update(model),
                [
                    {"id": item.stored.id, "unit_price": item.unit_price, "valid_to": item.valid_to}
                    for item in changed
                    if item.stored
                ],
            )
        entries = [self._entry(actor, "create", id_, item) for id_, item in zip(ids, new, strict=True)]
        entries += [self._entry(actor, "update", item.stored.id, item) for item in changed if item.stored]
        entries += [self._deleted_entry(actor, item) for item in dropped]
        await record_many(session, entries)
        return plan, len(dropped)

    def _values(self, item: _FileRow) -> dict[str, Any]:
        owner_id, product_id, quantity, valid_from = item.key
        return {
            self.twin.owner: owner_id,
            "product_id": product_id,
            "min_quantity": quantity,
            "valid_from": valid_from,
            "unit_price": item.unit_price,
            "valid_to": item.valid_to,
        }

    def _entry(self, actor: User | str, action: str, object_id: int, item: _FileRow) -> dict[str, Any]:
        after = price_row_text(item.sku, item.unit_price, item.key[2], item.key[3], item.valid_to)
        stored = item.stored
        before = (
            price_row_text(stored.sku, stored.unit_price, item.key[2], item.key[3], stored.valid_to) if stored else {}
        )
        company_id = item.key[0] if self.twin is CONTRACTS else None
        label = self._key_text(item)
        return audit_values(
            actor, action, self.twin.object_type, object_id, label, audit.changed(before, after), company_id
        )

    def _deleted_entry(self, actor: User | str, dropped: _Dropped) -> dict[str, Any]:
        row = dropped.row
        owner_id, _, quantity, valid_from = row.key
        before = price_row_text(row.sku, row.unit_price, quantity, valid_from, row.valid_to)
        changes = {name: [value, None] for name, value in before.items() if value is not None}
        label = price_row_label(dropped.owner_label, row.sku, quantity, valid_from)
        company_id = owner_id if self.twin is CONTRACTS else None
        return audit_values(actor, "delete", self.twin.object_type, row.id, label, changes, company_id)

    async def export(self, session: AsyncSession) -> list[dict[str, str]]:
        names = await self._owner_names(session)
        stored = sorted(
            (await self._stored(session)).values(),
            key=lambda s: (names.get(s.key[0], ""), s.sku, s.key[2], s.key[3] or date.min),
        )
        return [
            {
                self.owner_field: names.get(row.key[0], ""),
                "sku": row.sku,
                "min_quantity": str(row.key[2]),
                "unit_price": price_text(row.unit_price),
                "valid_from": row.key[3].isoformat() if row.key[3] else "",
                "valid_to": row.valid_to.isoformat() if row.valid_to else "",
            }
            for row in stored
        ]


class ReplacingPrices:
    """A kind of price rows that makes its owners' rows exactly the batch: the stored rows of
    `owners` that the batch does not name by (product, minimum quantity, valid from) are deleted in
    the same transaction, each audited, and they do not count as overlapping the batch's rows (the
    batch replaces them). The ERP API's "replace" mode uses it; any import can, as any other kind."""

    def __init__(self, kind: PricesKind, owners: Collection[int]) -> None:
        self.kind = kind
        self.owners = frozenset(owners)
        self.code = kind.code
        self.columns = kind.columns
        self.deleted = 0
        """How many rows the last `plan` would delete, or the last `apply` deleted."""

    def title(self) -> str:
        return self.kind.title()

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan:
        plan, _, dropped = await self.kind._planned(session, rows, self.owners)
        self.deleted = len(dropped)
        return plan

    async def apply(self, session: AsyncSession, actor: User | str, rows: Sequence[Row], *, today: date) -> Plan:
        plan, self.deleted = await self.kind._write(session, actor, rows, self.owners)
        return plan

    async def export(self, session: AsyncSession) -> list[dict[str, str]]:
        return await self.kind.export(session)


def _compared(unit_price: Decimal, valid_to: date | None) -> dict[str, str | None]:
    return {"unit_price": audit.as_text(unit_price), "valid_to": audit.as_text(valid_to)}


def _price_columns(owner: Column) -> tuple[Column, ...]:
    return (
        owner,
        Column("sku", ("sku", "indeks")),
        Column("min_quantity", ("min_quantity", "ilosc_od"), required=False),
        Column("unit_price", ("unit_price", "cena"), numeric=True),
        Column("valid_from", ("valid_from", "od"), required=False),
        Column("valid_to", ("valid_to", "do"), required=False),
    )


class PriceListItemsKind(PricesKind):
    code = "price_list_items"
    columns: Sequence[Column] = _price_columns(Column("price_list", ("price_list", "cennik")))
    twin = ITEMS
    owner_field = "price_list"

    def title(self) -> str:
        return gettext("Price list items")

    async def _owners(self, session: AsyncSession) -> dict[str, tuple[int, str]]:
        """A list by its code or, failing that, its name (either case)."""
        lists = (await session.execute(select(PriceList.id, PriceList.name, PriceList.code))).tuples().all()
        owners = {name.lower(): (id_, code or name) for id_, name, code in lists}
        owners.update({code.lower(): (id_, code) for id_, _, code in lists if code})
        return owners

    def _owner_key(self, text: str) -> str:
        return text.strip().lower()

    def _unknown_owner(self, text: str) -> str:
        return gettext("No price list has the code or name %(name)s.") % {"name": text}

    async def _owner_names(self, session: AsyncSession) -> dict[int, str]:
        return {
            id_: code or name
            for id_, name, code in await session.execute(select(PriceList.id, PriceList.name, PriceList.code))
        }


class ContractPricesKind(PricesKind):
    code = "contract_prices"
    columns: Sequence[Column] = _price_columns(Column("tax_id", ("tax_id", "nip")))
    twin = CONTRACTS
    owner_field = "tax_id"

    def title(self) -> str:
        return gettext("Contract prices")

    async def _owners(self, session: AsyncSession) -> dict[str, tuple[int, str]]:
        companies = await session.execute(select(Company.id, Company.tax_id))
        return {tax_id_key(tax_id): (id_, tax_id) for id_, tax_id in companies.tuples()}

    def _owner_key(self, text: str) -> str:
        return tax_id_key(text)

    def _unknown_owner(self, text: str) -> str:
        return gettext("No company has the tax id %(tax_id)s.") % {"tax_id": text}

    async def _owner_names(self, session: AsyncSession) -> dict[int, str]:
        return {id_: tax_id for id_, tax_id in await session.execute(select(Company.id, Company.tax_id))}


PRICE_LIST_ITEMS = PriceListItemsKind()
CONTRACT_PRICES = ContractPricesKind()
