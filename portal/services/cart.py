"""The cart: one per buyer, kept on the server, priced live by the pricing service;
quantities in whole packs; quick order from pasted lines or a CSV file, every line
checked and reported by its number before anything is added.

A cart belongs to a user and a company (`CartOwner`): a buyer's is (buyer, their company); an
account manager taking an order by phone or e-mail keeps one per customer (manager, customer),
apart from the buyers' own carts and from each other. Every query names both.

Every change first claims the cart's row (one statement that makes the cart or gives it a new
checkout key) and then changes its lines by single statements (`INSERT … ON CONFLICT DO UPDATE
SET quantity = quantity + added`, conditional on whole packs): N tabs adding at once add N
times, and the changes of one cart, its checkout included, go one after the other."""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import String, Table, and_, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal import clock
from portal.errors import Refused
from portal.i18n import format_decimal, gettext, ngettext
from portal.models import Cart, CartLine, Company, Product, User
from portal.services import agreements
from portal.services import delivery as terms
from portal.services.agreements import Standing
from portal.services.credit import CreditPicture, OrderCredit, credit_picture, order_credit
from portal.services.pricing import Price, line_net, load_company_prices
from portal.services.totals import Totals, totals
from portal.services.transactions import forget, lock_rows, retried

if TYPE_CHECKING:
    from portal.services.catalog import Availability

MAX_QUANTITY = 1_000_000
QUICK_MAX_LINES = 5_000
"""A quick order takes at most this many lines; more is refused, never cut."""
QUICK_MAX_BYTES = 2_000_000
"""The largest quick-order file (2 MB); pasted text is held to as many characters."""
QUICK_MAX_SIZE = f"{QUICK_MAX_BYTES // 1_000_000} MB"
_sku_type = Product.__table__.c.sku.type
assert isinstance(_sku_type, String) and _sku_type.length is not None
SKU_MAX: int = _sku_type.length


class CartError(Refused):
    """A change to the cart was refused; `message` says why, next to `product_id`'s line."""

    def __init__(self, message: str, product_id: int | None = None) -> None:
        super().__init__(message, "quantity")
        self.product_id = product_id


def quantity_problem(product: Product, quantity: int) -> str | None:
    """Why this quantity cannot be ordered, or None. Never silently rounded."""
    pack = product.pack_size
    if quantity < 1:
        return gettext("Enter a quantity of at least %(min)d.") % {"min": pack}
    if quantity > MAX_QUANTITY:
        return gettext("That is more than one order line can take.")
    if quantity % pack:
        lower, upper = quantity - quantity % pack, quantity - quantity % pack + pack
        if lower:
            return gettext("Sold in packs of %(pack)d: %(lower)d or %(upper)d?") % {
                "pack": pack,
                "lower": lower,
                "upper": upper,
            }
        return gettext("Sold in packs of %(pack)d: %(upper)d?") % {"pack": pack, "upper": upper}
    return None


def parse_quantity(text: str) -> int | None:
    """A whole number as pasted from Excel: "24", " 24 ", "24,00", "24.0" and "1 000" are numbers;
    anything else, digits other than ASCII 0-9 included ("²", "１２"), is None."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "")
    match = re.fullmatch(r"([0-9]{1,9})(?:[.,]0+)?", cleaned)
    return int(match.group(1)) if match else None


def new_checkout_key() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class CartOwner:
    """Whose cart: a user's for a company. A buyer's is `CartOwner.of(buyer)`; staff taking an order
    for a customer keep `CartOwner(staff.id, customer.id)`."""

    user_id: int
    company_id: int

    @classmethod
    def of(cls, owner: Owner) -> CartOwner:
        """A buyer stands for their own cart: (buyer, their company)."""
        if isinstance(owner, CartOwner):
            return owner
        assert owner.company_id is not None, "only a buyer has a cart of their own"
        return cls(owner.id, owner.company_id)


Owner = User | CartOwner
"""A buyer (their own cart) or a `CartOwner`: what every function here takes."""


async def buyer_cart(session: AsyncSession, owner: Owner, *, lock: bool = False) -> Cart:
    """The cart with its lines and their products as committed now, made on first use
    (two first uses at once make one cart). `lock`: the cart's row stays locked until commit, so
    every other change of this cart waits (checkout)."""
    whose = CartOwner.of(owner)
    if lock:
        cart_id = await _cart_id(session, whose)
        await lock_rows(session, Cart, [cart_id])
        forget(session, Cart, cart_id, CART_CHANGES, ("lines", CartLine, "cart_id", ["quantity"]))
    query = (
        select(Cart)
        .where(Cart.user_id == whose.user_id, Cart.company_id == whose.company_id)
        .options(joinedload(Cart.lines).joinedload(CartLine.product))
    )
    cart = (await session.scalars(query)).unique().first()
    if cart is None:
        await _cart_id(session, whose)
        cart = (await session.scalars(query)).unique().first()
    assert cart is not None
    return cart


CARTS = cast(Table, Cart.__table__)
CART_LINES = cast(Table, CartLine.__table__)
CART_CHANGES = ("checkout_key", "updated_at")
"""What `_claim` changes in a cart."""


def _insert(session: AsyncSession, table: Table) -> Any:
    """INSERT … ON CONFLICT for the session's database."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


OWNER_KEY = ["user_id", "company_id"]
"""The carts' unique key: one cart per user and company."""


async def _cart_id(session: AsyncSession, owner: CartOwner) -> int:
    """The cart, made on first use by one atomic statement."""
    statement = _insert(session, CARTS).values(
        user_id=owner.user_id, company_id=owner.company_id, checkout_key=new_checkout_key(), updated_at=clock.now()
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=OWNER_KEY))
    cart_id = await session.scalar(
        select(Cart.id).where(Cart.user_id == owner.user_id, Cart.company_id == owner.company_id)
    )
    assert cart_id is not None
    return cart_id


async def _claim(session: AsyncSession, owner: Owner) -> int:
    """Before any change of the cart: one statement makes it (first use) or gives it a new checkout
    key, and holds its row until commit, so the changes of one cart go one after the other and a
    checkout form made before them no longer matches."""
    whose = CartOwner.of(owner)
    statement = _insert(session, CARTS).values(
        user_id=whose.user_id, company_id=whose.company_id, checkout_key=new_checkout_key(), updated_at=clock.now()
    )
    statement = statement.on_conflict_do_update(
        index_elements=OWNER_KEY,
        set_={"checkout_key": statement.excluded.checkout_key, "updated_at": statement.excluded.updated_at},
    ).returning(CARTS.c.id)
    cart_id: int = (await session.execute(statement)).scalar_one()
    # what follows changes the lines by statements, too
    forget(session, Cart, cart_id, CART_CHANGES, ("lines", CartLine, "cart_id", ["quantity"]))
    return cart_id


async def _total_problem(session: AsyncSession, cart_id: int, product: Product, quantity: int) -> str:
    """Why the line did not take `quantity`: its total would not be whole packs, or too many."""
    held = await session.scalar(
        select(CartLine.quantity).where(CartLine.cart_id == cart_id, CartLine.product_id == product.id)
    )
    problem = quantity_problem(product, quantity + (held or 0))
    return problem or gettext("That is more than one order line can take.")


async def _add_lines(
    session: AsyncSession, cart_id: int, company_id: int, lines: dict[int, tuple[Product, int]]
) -> set[int]:
    """Adds each quantity to its product's line, or starts the line, in one statement:
    `quantity = quantity + added` where the total is still whole packs and at most
    `MAX_QUANTITY`. Returns the products whose line took the quantity."""
    if not lines:
        return set()
    table = CART_LINES
    rows = [
        {"cart_id": cart_id, "company_id": company_id, "product_id": product_id, "quantity": quantity}
        for product_id, (_, quantity) in sorted(lines.items())
    ]
    statement = _insert(session, table).values(rows)
    total = table.c.quantity + statement.excluded.quantity
    pack = case({product_id: product.pack_size for product_id, (product, _) in lines.items()}, value=table.c.product_id)
    statement = statement.on_conflict_do_update(
        index_elements=["company_id", "cart_id", "product_id"],
        set_={"quantity": total},
        where=and_(total <= MAX_QUANTITY, total % pack == 0),
    ).returning(table.c.product_id)
    return set((await session.execute(statement)).scalars())


async def _sold_product(session: AsyncSession, product_id: int) -> Product:
    product = await session.get(Product, product_id)
    if product is None or not product.is_active:
        raise CartError(gettext("This product is not sold any more."), product_id)
    return product


@retried
async def add_to_cart(session: AsyncSession, owner: Owner, product_id: int, quantity: int) -> CartLine:
    """Adds to the line of this product (or starts one); the total must still be whole packs.
    N buyers' tabs adding at once add N times."""
    product = await _sold_product(session, product_id)
    if problem := quantity_problem(product, quantity):
        raise CartError(problem, product_id)
    cart_id = await _claim(session, owner)
    if not await _add_lines(session, cart_id, CartOwner.of(owner).company_id, {product_id: (product, quantity)}):
        raise CartError(await _total_problem(session, cart_id, product, quantity), product_id)
    line = await session.scalar(
        select(CartLine)
        .options(joinedload(CartLine.product))
        .where(CartLine.cart_id == cart_id, CartLine.product_id == product_id)
    )
    assert line is not None
    return line


@retried
async def set_quantity(session: AsyncSession, owner: Owner, product_id: int, quantity: int) -> None:
    """The line's quantity becomes `quantity` (the later of two changes wins)."""
    cart_id = await _claim(session, owner)
    product = await session.scalar(
        select(Product)
        .join(CartLine, CartLine.product_id == Product.id)
        .where(CartLine.cart_id == cart_id, CartLine.product_id == product_id)
    )
    if product is None:
        raise CartError(gettext("This product is no longer in your cart."), product_id)
    if problem := quantity_problem(product, quantity):
        raise CartError(problem, product_id)
    await session.execute(
        update(CartLine).where(CartLine.cart_id == cart_id, CartLine.product_id == product_id).values(quantity=quantity)
    )


@retried
async def remove_line(session: AsyncSession, owner: Owner, product_id: int) -> None:
    """Removes the product's line; one removed meanwhile is just as removed."""
    cart_id = await _claim(session, owner)
    await session.execute(delete(CartLine).where(CartLine.cart_id == cart_id, CartLine.product_id == product_id))


@dataclass(frozen=True)
class CartItem:
    line: CartLine
    price: Price | None
    """None when the product is not sold any more: shown, never ordered."""
    net: Decimal
    backorders: bool = True
    """The company may order beyond the stock on hand (`Company.allow_backorders`)."""

    @property
    def product(self) -> Product:
        return self.line.product

    @property
    def available(self) -> bool:
        return self.price is not None

    @property
    def availability(self) -> Availability:
        """In stock, low or out, by the catalog's rule."""
        # catalog → lists → cart: imported when used, not in a circle
        from portal.services.catalog import availability

        return availability(self.product)

    @property
    def in_stock(self) -> int:
        """Units on hand as the ERP last reported them (never below zero)."""
        return max(self.product.stock, 0)

    @property
    def beyond_stock(self) -> bool:
        """The line asks for more than is on hand."""
        return self.available and self.line.quantity > self.in_stock

    @property
    def stock_refused(self) -> bool:
        """Beyond stock for a company that may not order beyond it: the order cannot be submitted."""
        return self.beyond_stock and not self.backorders

    @property
    def stock_note(self) -> str:
        """What the buyer is told next to a line beyond stock; empty when the stock covers it."""
        if not self.beyond_stock:
            return ""
        if self.backorders:
            if not self.in_stock:
                return gettext("Out of stock: it is delivered when it comes in.")
            note = ngettext(
                "Only %(num)d in stock: the rest is delivered later.",
                "Only %(num)d in stock: the rest is delivered later.",
                self.in_stock,
            )
        elif not self.in_stock:
            return gettext("Out of stock: remove this line to submit the order.")
        elif not self.most_in_stock:
            note = ngettext(
                "Only %(num)d in stock, less than a pack: remove this line to submit the order.",
                "Only %(num)d in stock, less than a pack: remove this line to submit the order.",
                self.in_stock,
            )
        else:
            note = ngettext(
                "Only %(num)d in stock: order at most %(most)d to submit the order.",
                "Only %(num)d in stock: order at most %(most)d to submit the order.",
                self.in_stock,
            )
        return note % {"num": self.in_stock, "most": self.most_in_stock}

    @property
    def most_in_stock(self) -> int:
        """The largest quantity of whole packs the stock on hand covers."""
        return self.in_stock - self.in_stock % self.product.pack_size


class BeyondStock(Refused):
    """Lines ask for more than is in stock and the company may not order beyond it; each line's
    message is under `line-<product id>`, naming the quantity available."""

    def __init__(self, items: list[CartItem]) -> None:
        message = gettext("Some lines ask for more than is in stock. Lower them or remove them, then submit again.")
        errors = {"cart": message} | {f"line-{item.product.id}": item.stock_note for item in items}
        super().__init__(message, "cart", errors=errors)


async def check_stock(session: AsyncSession, items: list[CartItem]) -> None:
    """Refuses (`BeyondStock`) lines beyond the stock on hand, as the database holds it now in this
    transaction (the products are read again in one query), unless the company allows backorders."""
    if not items or all(item.backorders for item in items):
        return
    ids = [item.product.id for item in items]
    await session.execute(select(Product).where(Product.id.in_(ids)).execution_options(populate_existing=True))
    if refused := [item for item in items if item.stock_refused]:
        raise BeyondStock(refused)


@dataclass(frozen=True)
class PricedCart:
    cart: Cart
    items: list[CartItem]
    totals: Totals
    picture: CreditPicture
    """The company's credit picture now."""
    credit: OrderCredit
    """The cart as an order against that picture: available before, after, whether it exceeds."""
    errors: dict[int, str] = field(default_factory=dict)
    """Refusals to show next to lines, by product id."""
    entered: dict[int, str] = field(default_factory=dict)
    """What the buyer typed into a refused line, by product id, shown again in its field."""
    delivery_fee: Decimal = Decimal("0.00")
    """The net delivery fee the order would carry (in `totals`, VAT at `delivery.FEE_VAT_RATE`)."""
    free_delivery_missing: Decimal = Decimal("0.00")
    """How much more (net) would make the delivery free; 0: free already, or no threshold."""
    shortfall: Decimal = Decimal("0.00")
    """How much (net) is missing to the company's minimum order value; 0: it can be submitted."""
    standing: Standing | None = None
    """Where the company's agreement stands today, as the prices read it (none: no agreement)."""

    @property
    def fee_vat_rate(self) -> Decimal:
        return terms.FEE_VAT_RATE

    @property
    def minimum_message(self) -> str:
        """Why the cart cannot be submitted yet, while under the minimum order value; else empty."""
        return terms.minimum_message(self.picture.company, self.shortfall) if self.shortfall else ""

    @property
    def orderable(self) -> list[CartItem]:
        return [item for item in self.items if item.available]

    @property
    def stray_errors(self) -> list[str]:
        """Refusals about a line that is not (any more) in the cart: shown above the lines."""
        lines = {item.product.id for item in self.items}
        return [message for product_id, message in self.errors.items() if product_id not in lines]

    @property
    def stock_refused(self) -> list[CartItem]:
        """Lines beyond stock that keep the order from being submitted (no backorders)."""
        return [item for item in self.orderable if item.stock_refused]

    @property
    def warn_high_utilisation(self) -> bool:
        """Over 80 % of the limit is used already, though this order still fits: say so."""
        return self.picture.highly_utilised and not self.credit.exceeds


async def priced_cart(
    session: AsyncSession,
    user: User,
    company: Company,
    *,
    today: date,
    grace_days: int,
    errors: dict[int, str] | None = None,
    entered: dict[int, str] | None = None,
    cart: Cart | None = None,
) -> PricedCart:
    """The cart `user` keeps for `company` (a buyer's own, or staff's for a customer) at today's
    prices, with the delivery fee (`services/delivery.py`), VAT per rate, totals, what is missing
    to the minimum order, and the credit picture before and after."""
    cart = cart or await buyer_cart(session, CartOwner(user.id, company.id))
    standing = await agreements.standing(session, company.id, today)
    prices = await load_company_prices(
        session, company, today, [line.product_id for line in cart.lines], standing=standing
    )
    items = []
    backorders = company.allow_backorders
    for line in cart.lines:
        if line.product.is_active:
            price = prices.price(line.product, line.quantity)
            items.append(CartItem(line, price, line_net(price.unit_price, line.quantity), backorders))
        else:
            items.append(CartItem(line, None, Decimal("0.00"), backorders))
    charged = [(item.net, item.product.vat_rate) for item in items if item.available]
    products_net = sum((net for net, _ in charged), Decimal("0.00"))
    fee = terms.delivery_fee(company, products_net) if charged else Decimal("0.00")
    cart_totals = totals([*charged, *([(fee, terms.FEE_VAT_RATE)] if fee else [])])
    picture = await credit_picture(session, company.id, today=today, grace_days=grace_days)
    return PricedCart(
        standing=standing,
        cart=cart,
        items=items,
        totals=cart_totals,
        picture=picture,
        credit=order_credit(picture, cart_totals.gross, pending=False),
        errors=errors or {},
        entered=entered or {},
        delivery_fee=fee,
        free_delivery_missing=terms.free_delivery_missing(company, products_net),
        shortfall=terms.shortfall(company, products_net),
    )


@dataclass
class QuickRow:
    number: int
    text: str
    sku: str = ""
    quantity: int | None = None
    error: str | None = None
    product: Product | None = None


@dataclass(frozen=True)
class QuickOrderReport:
    rows: list[QuickRow]
    lines: dict[int, int]
    """What would be added: product id → quantity (repeated SKUs summed)."""
    products: dict[int, Product]
    text: str = ""
    """The lines as checked (a file's decoded text), sent again when the buyer confirms."""

    @property
    def has_errors(self) -> bool:
        return any(row.error for row in self.rows)

    @property
    def skipped(self) -> int:
        return sum(1 for row in self.rows if row.error)


_LINE_ENDS = re.compile(r"\r\n|\r|\n")
"""Windows, old Mac (CR only) and Unix line ends: a line is what the buyer sees as one."""
_SEPARATORS = re.compile(r"[\t;,]+|\s+")
_EDGES = "\t;, \"'\ufeff"
"""Around a line or a cell: separators of empty cells, quotes, a byte order mark."""
_HEADER_WORDS = {"sku", "index", "product", "code", "symbol", "indeks", "kod"}
_SHOWN = 200
"""Characters of a line shown back in the report."""


def _trim(text: str) -> str:
    previous = None
    while previous != text:
        previous, text = text, text.strip().strip(_EDGES)
    return text


def _split(line: str) -> tuple[str, str] | None:
    """SKU and quantity from one pasted line: tabs, semicolons, commas or spaces between them;
    None for a line with nothing in it but separators. Empty cells are skipped. With tabs or
    semicolons the quantity is the last cell, so "24,00" from a Polish Excel keeps its comma."""
    stripped = _trim(line)
    if not stripped:
        return None
    for separator in ("\t", ";"):
        if separator in stripped:
            cells = [cell for cell in (_trim(cell) for cell in stripped.split(separator)) if cell]
            if not cells:
                return None
            return (cells[0], cells[-1]) if len(cells) >= 2 else (cells[0], "")
    parts = _SEPARATORS.split(stripped, maxsplit=1)
    return (_trim(parts[0]), _trim(parts[1])) if len(parts) == 2 else (parts[0], "")


def quick_order_text(content: bytes) -> str:
    """A quick-order file as text: Excel saves CSV as UTF-8 (with or without BOM) or, in Poland,
    as Windows-1250, and "Unicode text" as UTF-16. Larger than `QUICK_MAX_BYTES` is refused."""
    if len(content) > QUICK_MAX_BYTES:
        raise Refused(
            gettext("This file is larger than %(size)s. Split it into smaller files.") % {"size": QUICK_MAX_SIZE},
            "file",
        )
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1250", errors="replace")


def _quick_lines(text: str, field: str) -> list[str]:
    lines = _LINE_ENDS.split(text)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > QUICK_MAX_LINES:
        raise Refused(
            gettext("A quick order takes at most %(max)s lines; this one has %(count)s. Split it and check each part.")
            % {"max": format_decimal(QUICK_MAX_LINES, 0), "count": format_decimal(len(lines), 0)},
            field,
        )
    return lines


def _quick_row(number: int, raw: str) -> QuickRow | None:
    split = _split(raw)
    if split is None:
        return None
    sku, quantity_text = split
    if number == 1 and sku.lower() in _HEADER_WORDS:
        return None
    shown = raw.strip()
    row = QuickRow(number=number, text=shown[:_SHOWN] + ("…" if len(shown) > _SHOWN else ""), sku=sku)
    if "\x00" in raw or not sku.isprintable():
        row.sku, row.error = "", gettext("This line contains a character that cannot be read.")
        return row
    if len(sku) > SKU_MAX:
        row.sku, row.error = "", gettext("Unknown SKU.")
        return row
    row.quantity = parse_quantity(quantity_text)
    if row.quantity is None:
        row.error = gettext("The quantity must be a whole number.") if quantity_text else gettext("No quantity.")
    return row


async def products_by_sku(session: AsyncSession, skus: set[str]) -> dict[str, Product]:
    """The products of these SKUs, sold or not, keyed by upper-case SKU: SKUs are typed in any case."""
    wanted = {sku.upper() for sku in skus}
    if not wanted:
        return {}
    return {p.sku.upper(): p for p in await session.scalars(select(Product).where(func.upper(Product.sku).in_(wanted)))}


async def check_quick_order(session: AsyncSession, text: str, file: bytes | None = None) -> QuickOrderReport:
    """Every pasted line (or every line of the file, when one is given) checked first, numbered
    as the buyer sees them; nothing is added here. Over `QUICK_MAX_LINES` lines is refused."""
    field = "file" if file else "text"
    if file:
        text = quick_order_text(file)
    rows = [row for number, raw in enumerate(_quick_lines(text, field), start=1) if (row := _quick_row(number, raw))]

    found = await products_by_sku(session, {row.sku for row in rows if row.sku})
    summed: OrderedDict[int, int] = OrderedDict()
    for row in rows:
        row.product = found.get(row.sku.upper()) if row.sku else None
        if row.product is None:
            row.error = row.error or gettext("Unknown SKU.")
        elif not row.product.is_active:
            row.error = row.error or gettext("This product is not sold any more.")
        if row.error is None and row.product is not None and row.quantity is not None:
            summed[row.product.id] = summed.get(row.product.id, 0) + row.quantity

    lines: dict[int, int] = {}
    products = {row.product.id: row.product for row in rows if row.product is not None}
    for product_id, quantity in summed.items():
        problem = quantity_problem(products[product_id], quantity)
        if problem is None:
            lines[product_id] = quantity
            continue
        for row in rows:
            if row.product is not None and row.product.id == product_id and row.error is None:
                row.error = (
                    problem
                    if row.quantity == quantity
                    else gettext("Together %(total)d: %(problem)s") % {"total": quantity, "problem": problem}
                )
    return QuickOrderReport(rows=rows, lines=lines, products=products, text=text)


@retried
async def add_quick_order(session: AsyncSession, owner: Owner, text: str) -> QuickOrderReport:
    """Adds the valid lines of the pasted text, checked again now; the rest is left out."""
    report = await check_quick_order(session, text)
    await put_in_cart(session, owner, [(report.products[pid], quantity) for pid, quantity in report.lines.items()])
    return report


@dataclass(frozen=True)
class PutReport:
    added: list[str]
    """SKUs added."""
    skipped: list[str]
    """Why each of the others was left out."""


@retried
async def put_in_cart(session: AsyncSession, owner: Owner, wanted: list[tuple[Product, int]]) -> PutReport:
    """Many lines into the cart at once (from a list, a past order, a paste), in one statement:
    each is added to the product's line or starts one; a product not sold any more, a quantity
    that is not whole packs, or a line that would pass `MAX_QUANTITY`, is left out and said."""
    cart_id = await _claim(session, owner)
    skipped: list[str] = []
    lines: dict[int, tuple[Product, int]] = {}
    for product, quantity in wanted:
        if not product.is_active:
            skipped.append(gettext("%(sku)s is not sold any more.") % {"sku": product.sku})
        elif problem := quantity_problem(product, quantity):
            skipped.append(f"{product.sku}: {problem}")
        else:
            lines[product.id] = (product, quantity + lines.get(product.id, (product, 0))[1])
    taken = await _add_lines(session, cart_id, CartOwner.of(owner).company_id, lines)
    added = [product.sku for product_id, (product, _) in lines.items() if product_id in taken]
    for product_id, (product, quantity) in lines.items():
        if product_id not in taken:
            skipped.append(f"{product.sku}: {await _total_problem(session, cart_id, product, quantity)}")
    return PutReport(added, skipped)
