"""Shopping lists: the company's memory of what it buys, shared by its buyers.
Lines are changed one at a time, so two buyers editing at once never lose each
other's lines; the later change of the same line wins. "Your usual items" is a
list the order history writes by itself.

Every change of a list first claims its row (`_claim`, one conditional UPDATE) and then changes
lines by single statements (adding is `INSERT … ON CONFLICT DO UPDATE SET quantity = quantity +
added`): N adds at once add N times, and a delete at the same moment goes wholly before or
after, so the loser reads that the list is gone, never a 500.

A refused change raises `ListError` (a `Refused`, with the field it concerns); a list that is
not there, deleted meanwhile or another company's, raises `ListGone` (a `NotFound`)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, Table, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from portal import clock
from portal.errors import NotFound, Refused
from portal.i18n import gettext
from portal.models import (
    Company,
    Order,
    OrderLine,
    Product,
    ShoppingList,
    ShoppingListLine,
    User,
)
from portal.services.cart import MAX_QUANTITY, PutReport, buyer_cart, put_in_cart, quantity_problem
from portal.services.flags import COUNTED
from portal.services.ordering import company_order
from portal.services.pricing import CompanyPrices, Price, line_net, load_company_prices
from portal.services.transactions import forget, retried


def _length(column: ColumnElement[Any]) -> int:
    """The length of a VARCHAR column, so the limits here are the columns' own."""
    kind = column.type
    assert isinstance(kind, String) and kind.length is not None
    return kind.length


NAME_MAX = _length(ShoppingList.__table__.c.name)
NOTE_MAX = _length(ShoppingListLine.__table__.c.note)
DESCRIPTION_MAX = 2000
"""The description column is TEXT; the form keeps it to a paragraph."""
USUAL_MONTHS = 6
USUAL_MIN_MONTHS = 3


class ListError(Refused):
    """A change of a list refused, with the field (and the line) the message belongs next to."""

    def __init__(self, message: str, field: str = "", line_id: int | None = None) -> None:
        super().__init__(message, field)
        self.line_id = line_id


def _gone_message() -> str:
    return gettext("This list no longer exists: another buyer of your company may have deleted it.")


class ListGone(NotFound):
    """The list was deleted, perhaps by another buyer while this one was looking at it; another
    company's list gets the same answer."""

    def __init__(self) -> None:
        super().__init__(_gone_message())


class ListSource(StrEnum):
    """What a new list starts with."""

    EMPTY = "empty"
    CART = "cart"


def _name(name: str, field: str = "name") -> str:
    name = " ".join(name.split())
    if not name:
        raise ListError(gettext("Give the list a name."), field)
    if len(name) > NAME_MAX:
        raise ListError(gettext("Use at most %(limit)s characters.") % {"limit": NAME_MAX}, field)
    return name


async def company_lists(session: AsyncSession, company_id: int) -> list[tuple[ShoppingList, int]]:
    """The company's lists with their number of lines, by name (only this company's lines are counted)."""
    counts = (
        select(ShoppingListLine.list_id, func.count().label("lines"))
        .where(ShoppingListLine.company_id == company_id)
        .group_by(ShoppingListLine.list_id)
        .subquery()
    )
    rows = await session.execute(
        select(ShoppingList, func.coalesce(counts.c.lines, 0))
        .outerjoin(counts, counts.c.list_id == ShoppingList.id)
        .options(joinedload(ShoppingList.updated_by))
        .where(ShoppingList.company_id == company_id)
        .order_by(ShoppingList.name, ShoppingList.id)
    )
    return [(shopping_list, int(lines)) for shopping_list, lines in rows.all()]


async def _find(session: AsyncSession, company_id: int, list_id: int, *, lines: bool = True) -> ShoppingList | None:
    query = select(ShoppingList).where(ShoppingList.id == list_id, ShoppingList.company_id == company_id)
    if lines:
        query = query.options(
            selectinload(ShoppingList.lines).joinedload(ShoppingListLine.product),
            joinedload(ShoppingList.created_by),
            joinedload(ShoppingList.updated_by),
        )
    return await session.scalar(query)


async def _list(session: AsyncSession, company_id: int, list_id: int, *, lines: bool = True) -> ShoppingList:
    shopping_list = await _find(session, company_id, list_id, lines=lines)
    if shopping_list is None:
        raise ListGone()
    return shopping_list


LIST_LINES = cast(Table, ShoppingListLine.__table__)
LINE_CHANGES = ("quantity", "updated_at")
"""What statements change in a list's lines."""


async def _claim(session: AsyncSession, user: User, list_id: int, **changes: str) -> bool:
    """Before any change of a list: one statement marks it changed by `user` (with `changes` to
    its own columns) and holds its row until commit, so a delete at the same moment goes before
    or after, never in between. False when the list is not there (deleted meanwhile)."""
    result = await session.execute(
        update(ShoppingList)
        .where(ShoppingList.id == list_id, ShoppingList.company_id == (user.company_id or 0))
        .values(updated_by_id=user.id, updated_at=clock.now(), **changes)
        .execution_options(synchronize_session=False)
    )
    # what follows changes the lines by statements, too
    forget(
        session,
        ShoppingList,
        list_id,
        ["updated_by_id", "updated_at", *changes],
        ("lines", ShoppingListLine, "list_id", LINE_CHANGES),
    )
    return bool(getattr(result, "rowcount", 0))


async def create_list(
    session: AsyncSession,
    user: User,
    name: str,
    description: str = "",
    lines: dict[int, int] | None = None,
    *,
    today: date,
    name_field: str = "name",
) -> ShoppingList:
    """A new list, empty or with (product id → quantity) lines priced as of today."""
    company = user.company
    assert company is not None
    shopping_list = ShoppingList(
        company_id=company.id,
        name=_name(name, name_field),
        description=description.strip()[:DESCRIPTION_MAX],
        created_by_id=user.id,
        updated_by_id=user.id,
        lines=[],
    )
    if lines:
        products = {p.id: p for p in await session.scalars(select(Product).where(Product.id.in_(list(lines))))}
        prices = await load_company_prices(session, company, today, list(products))
        for product_id, quantity in lines.items():
            product = products[product_id]
            shopping_list.lines.append(
                ShoppingListLine(
                    company_id=company.id,
                    product_id=product_id,
                    quantity=quantity,
                    product=product,
                    price_when_added=prices.price(product, quantity).unit_price,
                )
            )
    session.add(shopping_list)
    await session.flush()
    return shopping_list


@retried
async def new_list(
    session: AsyncSession, user: User, name: str, description: str, source: ListSource, *, today: date
) -> ShoppingList:
    """The "new list" form: an empty list, or one with what is in the buyer's cart."""
    if source is ListSource.CART:
        return await list_from_cart(session, user, name, description, today=today)
    return await create_list(session, user, name, description, today=today)


@retried
async def list_from_cart(
    session: AsyncSession, user: User, name: str, description: str = "", *, today: date
) -> ShoppingList:
    cart = await buyer_cart(session, user)
    if not cart.lines:
        raise ListError(gettext("Your cart is empty."), "source")
    return await create_list(
        session, user, name, description, lines={line.product_id: line.quantity for line in cart.lines}, today=today
    )


@retried
async def list_from_order(session: AsyncSession, user: User, order_id: int, name: str, *, today: date) -> ShoppingList:
    order = await company_order(session, user.company_id or 0, order_id)
    if order is None:
        raise NotFound()
    lines: dict[int, int] = {}
    for line in order.lines:
        lines[line.product_id] = lines.get(line.product_id, 0) + line.quantity
    return await create_list(
        session, user, name or gettext("From order %(number)s") % {"number": order.number}, lines=lines, today=today
    )


@retried
async def rename_list(session: AsyncSession, user: User, list_id: int, name: str, description: str) -> ShoppingList:
    """The later of two renames wins; a list deleted meanwhile is `ListGone`."""
    changes = {"name": _name(name), "description": description.strip()[:DESCRIPTION_MAX]}
    if not await _claim(session, user, list_id, **changes):
        raise ListGone()
    return await _list(session, user.company_id or 0, list_id, lines=False)


@retried
async def duplicate_list(session: AsyncSession, user: User, list_id: int) -> ShoppingList:
    original = await _list(session, user.company_id or 0, list_id)
    copy = ShoppingList(
        company_id=original.company_id,
        name=_name((gettext("Copy of %(name)s") % {"name": original.name})[:NAME_MAX]),
        description=original.description,
        created_by_id=user.id,
        updated_by_id=user.id,
        lines=[
            ShoppingListLine(
                company_id=line.company_id,
                product_id=line.product_id,
                quantity=line.quantity,
                note=line.note,
                price_when_added=line.price_when_added,
            )
            for line in original.lines
        ],
    )
    session.add(copy)
    await session.flush()
    return copy


@retried
async def delete_list(session: AsyncSession, user: User, list_id: int) -> str:
    """Deletes the list and its lines, returning its name; one deleted meanwhile is `ListGone`.
    The list's row goes first, so a change waiting for it finds the list gone."""
    name = await session.scalar(
        delete(ShoppingList)
        .where(ShoppingList.id == list_id, ShoppingList.company_id == (user.company_id or 0))
        .returning(ShoppingList.name)
        .execution_options(synchronize_session="fetch")
    )
    if name is None:
        raise ListGone()
    await session.execute(
        delete(ShoppingListLine)
        .where(ShoppingListLine.list_id == list_id)
        .execution_options(synchronize_session="fetch")
    )
    return name


@retried
async def add_to_list(
    session: AsyncSession,
    user: User,
    product_id: int,
    quantity: int,
    list_id: int | None,
    new_name: str = "",
    *,
    today: date,
) -> ShoppingList:
    """The catalog's "add to list": to the chosen list, or to a new one named `new_name`. A
    chosen list deleted meanwhile is a refusal of that choice, said next to it."""
    if list_id is None:
        list_id = (await create_list(session, user, new_name, today=today, name_field="new_name")).id
    elif not await _claim(session, user, list_id):
        raise ListError(_gone_message(), "list_id")
    await _add_line(session, user, list_id, product_id, quantity, today=today)
    return await _list(session, user.company_id or 0, list_id)


@retried
async def add_product(
    session: AsyncSession, user: User, list_id: int, product_id: int, quantity: int, *, today: date
) -> ShoppingList:
    """Adds to the product's line of the list (or starts one), in whole packs; returns the list."""
    if not await _claim(session, user, list_id):
        raise ListGone()
    await _add_line(session, user, list_id, product_id, quantity, today=today)
    return await _list(session, user.company_id or 0, list_id)


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LIST_LINES)


async def _add_line(
    session: AsyncSession, user: User, list_id: int, product_id: int, quantity: int, *, today: date
) -> None:
    """One statement adds `quantity` to the product's line of the (claimed) list or starts the line:
    N adds at once add N times. The total stays whole packs and within `MAX_QUANTITY`."""
    product = await session.get(Product, product_id)
    if product is None or not product.is_active:
        raise ListError(gettext("This product is not sold any more."), "product_id")
    if problem := quantity_problem(product, quantity):
        raise ListError(problem, "quantity")
    company = user.company
    assert company is not None
    prices = await load_company_prices(session, company, today, [product_id])
    table = LIST_LINES
    now = clock.now()
    statement = _insert(session).values(
        list_id=list_id,
        company_id=company.id,
        product_id=product_id,
        quantity=quantity,
        note="",
        price_when_added=prices.price(product, quantity).unit_price,
        updated_at=now,
    )
    total = table.c.quantity + statement.excluded.quantity
    statement = statement.on_conflict_do_update(
        index_elements=["company_id", "list_id", "product_id"],
        set_={"quantity": total, "updated_at": statement.excluded.updated_at},
        where=and_(total <= MAX_QUANTITY, total % product.pack_size == 0),
    ).returning(table.c.id)
    if (await session.execute(statement)).first() is None:
        held = await session.scalar(
            select(ShoppingListLine.quantity).where(
                ShoppingListLine.list_id == list_id, ShoppingListLine.product_id == product_id
            )
        )
        problem = quantity_problem(product, quantity + (held or 0))
        raise ListError(problem or gettext("That is more than one order line can take."), "quantity")


async def _line(session: AsyncSession, user: User, list_id: int, line_id: int) -> ShoppingListLine | None:
    """The line of the (claimed) list as it is now, with its product; None when it was removed meanwhile."""
    if not await _claim(session, user, list_id):
        raise ListGone()
    return await session.scalar(
        select(ShoppingListLine)
        .options(joinedload(ShoppingListLine.product))
        .where(ShoppingListLine.id == line_id, ShoppingListLine.list_id == list_id)
    )


@retried
async def change_line(
    session: AsyncSession, user: User, list_id: int, line_id: int, quantity: int, note: str
) -> ShoppingListLine:
    """One line's quantity and note; the other lines are not touched, so concurrent edits of
    other lines all survive, and the later change of this line wins."""
    line = await _line(session, user, list_id, line_id)
    if line is None:
        raise ListError(gettext("This line was removed meanwhile."), "line", line_id)
    if problem := quantity_problem(line.product, quantity):
        raise ListError(problem, "quantity", line_id)
    if len(note.strip()) > NOTE_MAX:
        raise ListError(gettext("Use at most %(limit)s characters.") % {"limit": NOTE_MAX}, "note", line_id)
    line.quantity, line.note, line.updated_at = quantity, note.strip(), clock.now()
    await session.flush()
    return line


@retried
async def remove_line(session: AsyncSession, user: User, list_id: int, line_id: int) -> None:
    """Removes the line; one removed meanwhile by another buyer is just as removed."""
    if not await _claim(session, user, list_id):
        raise ListGone()
    await session.execute(
        delete(ShoppingListLine)
        .where(ShoppingListLine.id == line_id, ShoppingListLine.list_id == list_id)
        .execution_options(synchronize_session="fetch")
    )


@dataclass(frozen=True)
class ListItem:
    line: ShoppingListLine
    price: Price | None
    """Today's price for the line's quantity; None when the product is not sold any more."""
    net: Decimal

    @property
    def product(self) -> Product:
        return self.line.product

    @property
    def price_changed(self) -> bool:
        return (
            self.price is not None
            and self.line.price_when_added is not None
            and self.price.unit_price != self.line.price_when_added
        )


@dataclass(frozen=True)
class PricedList:
    shopping_list: ShoppingList
    items: list[ListItem]
    total: Decimal


def _priced(lines: list[ShoppingListLine], prices: CompanyPrices) -> list[ListItem]:
    items = []
    for line in lines:
        if line.product.is_active:
            price = prices.price(line.product, line.quantity)
            items.append(ListItem(line, price, line_net(price.unit_price, line.quantity)))
        else:
            items.append(ListItem(line, None, Decimal("0.00")))
    return items


async def priced_list(session: AsyncSession, company: Company, list_id: int, today: date) -> PricedList:
    """The list at today's prices for this company, with its total."""
    shopping_list = await _list(session, company.id, list_id)
    prices = await load_company_prices(session, company, today, [line.product_id for line in shopping_list.lines])
    items = _priced(shopping_list.lines, prices)
    return PricedList(shopping_list, items, sum((item.net for item in items), Decimal("0.00")))


@retried
async def list_to_cart(session: AsyncSession, user: User, list_id: int, line_ids: list[int] | None = None) -> PutReport:
    """All lines, or the chosen ones, into the cart (priced there at today's prices). The list stays as it is."""
    shopping_list = await _list(session, user.company_id or 0, list_id)
    lines = [line for line in shopping_list.lines if line_ids is None or line.id in line_ids]
    if not lines:
        raise ListError(gettext("Choose at least one line."), "line_ids")
    return await put_in_cart(session, user, [(line.product, line.quantity) for line in lines])


@dataclass(frozen=True)
class UsualItem:
    product: Product
    quantity: int
    months: int
    price: Price | None = None


async def usual_items(session: AsyncSession, company: Company, today: date, zone: ZoneInfo) -> list[UsualItem]:
    """Products the company ordered in at least 3 of the last 6 months, with their median
    quantity (rounded up to whole packs); worked out afresh on every view."""
    first_month = today.replace(day=1)
    for _ in range(USUAL_MONTHS - 1):
        first_month = (first_month - timedelta(days=1)).replace(day=1)
    rows = await session.execute(
        select(OrderLine.product_id, OrderLine.quantity, Order.submitted_at)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.company_id == company.id,
            Order.status.in_(COUNTED),
            Order.submitted_at >= datetime.combine(first_month, time(), zone),
        )
    )
    months: dict[int, set[tuple[int, int]]] = defaultdict(set)
    quantities: dict[int, list[int]] = defaultdict(list)
    for product_id, quantity, submitted_at in rows:
        local = submitted_at.astimezone(zone)
        months[product_id].add((local.year, local.month))
        quantities[product_id].append(quantity)
    chosen = [pid for pid, seen in months.items() if len(seen) >= USUAL_MIN_MONTHS]
    products = (
        {
            p.id: p
            for p in await session.scalars(
                select(Product).where(Product.id.in_(chosen), Product.is_active).order_by(Product.name)
            )
        }
        if chosen
        else {}
    )
    prices = await load_company_prices(session, company, today, list(products))
    items = []
    for product in sorted(products.values(), key=lambda p: p.name):
        median = statistics.median(quantities[product.id])
        quantity = max(product.pack_size, math.ceil(median / product.pack_size) * product.pack_size)
        items.append(UsualItem(product, quantity, len(months[product.id]), prices.price(product, quantity)))
    return items


@retried
async def usual_to_cart(session: AsyncSession, user: User, today: date, zone: ZoneInfo) -> PutReport:
    company = user.company
    assert company is not None
    items = await usual_items(session, company, today, zone)
    if not items:
        raise ListError(gettext("There are no usual items yet."))
    return await put_in_cart(session, user, [(item.product, item.quantity) for item in items])


@retried
async def save_usual(session: AsyncSession, user: User, name: str, today: date, zone: ZoneInfo) -> ShoppingList:
    """The usual items as a list of their own, named `name` ("Usual items" when left blank)."""
    company = user.company
    assert company is not None
    items = await usual_items(session, company, today, zone)
    if not items:
        raise ListError(gettext("There are no usual items yet."))
    return await create_list(
        session, user, name or gettext("Usual items"), lines={i.product.id: i.quantity for i in items}, today=today
    )
