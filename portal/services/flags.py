"""What the approver must see with an order, each with its numbers, decided by one function,
`order_flags`, from the state of the moment: at submission, whenever the order is shown (queue,
review page) and again inside the transaction that approves it.

Blocking: company on hold, company past due, exceeds available credit (the figures of
`credit.order_credit`, the same the page shows). Warnings: a line below the margin floor (the
company's own floor where set, else its category's, else the global setting), a quantity far above
the company's usual for the product, the company's first order, a line outside the agreed assortment
of the company's framework agreement (blocking where the agreement says so), and what only the moment of
submission could know (a price changed since the schedule was confirmed, a product no longer sold,
a recurring order under the minimum order value), taken from the flags stored then.

The flags stored with an order at submission (`OrderFlag` rows) are its history, "flagged at
submission", never its current truth. `order_flags` takes many orders at once and costs the same
few queries however many there are, so a queue of any length is flagged live."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, and_, cast, literal_column, null, or_, select, union_all
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from portal.models import Agreement, FlagKind, Order, OrderLine, OrderStatus, Product, ProductCategory
from portal.services.credit import CreditPicture, OrderCredit, credit_pictures, credit_use, order_credit
from portal.services.pricing import line_net

UNUSUAL_FACTOR = 3
"""A quantity above this many times the company's median for the product is unusual."""
HISTORY_NEEDED = 2
"""Earlier order lines of the product needed before a quantity can be called unusual."""
COUNTED = (OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.INVOICED)
"""Orders that count as sales (revenue, margin, usual quantities, first order, reorder rhythm):
approved, exported, invoiced. Pending ones count only in exposure; rejected and cancelled never."""
FROM_SUBMISSION = frozenset({FlagKind.PRICE_CHANGED, FlagKind.NOT_SOLD, FlagKind.BELOW_MINIMUM})
"""Flags only the moment of submission could know; later they are read from the stored flags."""


@dataclass(frozen=True)
class Flag:
    kind: FlagKind
    data: dict[str, str]

    @property
    def blocking(self) -> bool:
        return self.kind.blocking


@dataclass(frozen=True)
class Policy:
    """The day and the settings flags are read with: the seller's today, the grace period before
    an overdue invoice makes the company past due, the global margin floor."""

    today: date
    grace_days: int
    margin_floor: Decimal


@dataclass(frozen=True)
class FlagSubject:
    """An order waiting for approval, or the one a checkout (or a recurring delivery) is about to
    make (`order_id` None): its company, gross value (as it uses credit: none when prepaid) and lines."""

    company_id: int
    gross: Decimal
    lines: Sequence[OrderLine]
    order_id: int | None = None
    submitted_at: datetime | None = None
    stored: Sequence[Flag] = ()
    """The flags stored at submission that cannot be computed again (`FROM_SUBMISSION`)."""

    @classmethod
    def of(cls, order: Order) -> FlagSubject:
        """An order waiting for approval, with its lines and stored flags loaded."""
        stored = [Flag(flag.kind, dict(flag.data)) for flag in order.flags if flag.kind in FROM_SUBMISSION]
        gross = credit_use(order.gross_total, prepaid=order.prepaid)
        return cls(order.company_id, gross, order.lines, order.id, order.submitted_at, stored)

    @property
    def waiting(self) -> bool:
        """Already an order waiting for approval, so its gross value is in the company's exposure."""
        return self.order_id is not None


@dataclass(frozen=True)
class FlagResult:
    """An order's flags now, with the credit figures the credit flag compared, the company's
    usual quantity of each of its products (median of the earlier order lines) and their categories."""

    credit: OrderCredit
    picture: CreditPicture
    flags: list[Flag]
    usual: dict[int, Decimal] = field(default_factory=dict)
    categories: dict[int, int] = field(default_factory=dict)
    """The category of each product on the order."""

    @property
    def blockers(self) -> list[Flag]:
        return [flag for flag in self.flags if flag.blocking]

    @property
    def warnings(self) -> list[Flag]:
        return [flag for flag in self.flags if not flag.blocking]


def margin_floor(company_floor: Decimal | None, category_floor: Decimal | None, global_floor: Decimal) -> Decimal:
    """The margin floor of a line: the company's own, else its product category's, else the global setting."""
    if company_floor is not None:
        return company_floor
    return global_floor if category_floor is None else category_floor


def margin_pct(net: Decimal, cost: Decimal) -> Decimal | None:
    if net <= 0:
        return None
    return ((net - cost) * 100 / net).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


async def order_flags(
    session: AsyncSession,
    subjects: Sequence[FlagSubject],
    policy: Policy,
    *,
    pictures: Mapping[int, CreditPicture] | None = None,
    agreements: Mapping[int, Agreement | None] | None = None,
) -> list[FlagResult]:
    """The flags of each subject, in order, from the current state. `pictures` and `agreements`
    (the active agreement with its assortment, None for none; both by company id) may be given when
    the caller has just read them; otherwise they are read here."""
    if not subjects:
        return []
    company_ids = {subject.company_id for subject in subjects}
    if pictures is None or not company_ids <= pictures.keys():
        pictures = {
            picture.company.id: picture
            for picture in await credit_pictures(
                session, today=policy.today, grace_days=policy.grace_days, company_ids=company_ids
            )
        }
    products, history = await _facts(session, subjects)
    if agreements is None or not company_ids <= agreements.keys():
        from portal.services import agreements as terms  # it counts sales by `COUNTED` above: imported here

        agreements = await terms.active_agreements(session, sorted(company_ids), policy.today)
    return [
        _flags(
            subject, pictures[subject.company_id], products, history[index], policy, agreements.get(subject.company_id)
        )
        for index, subject in enumerate(subjects)
    ]


@dataclass
class _History:
    """A subject's company's earlier orders: whether there is one, and the quantities of its products."""

    any_order: bool = False
    quantities: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))


def _flags(
    subject: FlagSubject,
    picture: CreditPicture,
    products: Mapping[int, _Product],
    history: _History,
    policy: Policy,
    agreement: Agreement | None,
) -> FlagResult:
    credit = order_credit(picture, subject.gross, pending=subject.waiting)
    flags = []
    if picture.on_hold:
        flags.append(Flag(FlagKind.ON_HOLD, {"reason": picture.company.hold_reason or ""}))
    if picture.past_due:
        flags.append(
            Flag(FlagKind.PAST_DUE, {"overdue": str(picture.overdue_amount), "days": str(picture.oldest_overdue_days)})
        )
    if credit.exceeds:
        flags.append(
            Flag(
                FlagKind.EXCEEDS_CREDIT,
                {
                    "available": str(credit.available_before),
                    "gross": str(credit.gross),
                    "shortfall": str(credit.shortfall),
                },
            )
        )
    for line in subject.lines:
        product = products.get(line.product_id)
        category_floor = product.margin_floor if product is not None else None
        floor = margin_floor(picture.company.margin_floor_pct, category_floor, policy.margin_floor)
        pct = margin_pct(line.line_net, line_net(line.unit_cost, line.quantity))
        if pct is not None and pct < floor:
            flags.append(
                Flag(FlagKind.BELOW_MARGIN_FLOOR, {"sku": line.sku, "margin_pct": str(pct), "floor_pct": str(floor)})
            )
    flags += _outside_agreement(subject, agreement, products)
    usual = {}
    for line in subject.lines:
        earlier = history.quantities.get(line.product_id, [])
        if earlier:
            usual[line.product_id] = Decimal(str(statistics.median(earlier)))
        if len(earlier) >= HISTORY_NEEDED and line.quantity > UNUSUAL_FACTOR * statistics.median(earlier):
            flags.append(
                Flag(
                    FlagKind.UNUSUAL_QUANTITY,
                    {"sku": line.sku, "quantity": str(line.quantity), "usual": str(statistics.median(earlier))},
                )
            )
    if not history.any_order:
        flags.append(Flag(FlagKind.FIRST_ORDER, {}))
    categories = {
        line.product_id: products[line.product_id].category_id for line in subject.lines if line.product_id in products
    }
    return FlagResult(
        credit=credit, picture=picture, flags=flags + list(subject.stored), usual=usual, categories=categories
    )


def _outside_agreement(
    subject: FlagSubject, agreement: Agreement | None, products: Mapping[int, _Product]
) -> list[Flag]:
    """A flag naming each line outside the agreed assortment of the company's agreement in force
    (`agreements.in_assortment`): a warning, or a blocker where the agreement says so."""
    if agreement is None or not agreement.assortment:
        return []
    from portal.services.agreements import in_assortment  # see `order_flags`

    kind = FlagKind.OUTSIDE_AGREEMENT_BLOCKING if agreement.assortment_blocking else FlagKind.OUTSIDE_AGREEMENT
    return [
        Flag(kind, {"agreement": agreement.number, "sku": line.sku, "name": line.name})
        for line in subject.lines
        if not in_assortment(agreement, line.product_id, _category_of(products, line.product_id))
    ]


def _category_of(products: Mapping[int, _Product], product_id: int) -> int | None:
    product = products.get(product_id)
    return product.category_id if product is not None else None


@dataclass(frozen=True)
class _Product:
    category_id: int
    margin_floor: Decimal | None
    """Its category's margin floor; None where the category leaves it to the global setting."""


_PRODUCT, _ORDERED, _QUANTITY = "product", "ordered", "quantity"
_COMPANY_ORDERED, _COMPANY_QUANTITY = "company_ordered", "company_quantity"
"""The kinds of row `_facts` reads: a product; an order's (or a company's) earlier counted order, a
quantity on one."""
_Rows = Select[*tuple[Any, ...]]


async def _facts(session: AsyncSession, subjects: Sequence[FlagSubject]) -> tuple[dict[int, _Product], list[_History]]:
    """What the flags read besides the credit pictures and the agreements, in one statement: each
    product's category and that category's margin floor, and for each subject the company's orders
    that count and came before it (for an order, those submitted earlier; for one about to be made,
    all): whether there is one, and the quantities of the subjects' products on them."""
    product_ids = sorted({line.product_id for subject in subjects for line in subject.lines})
    waiting = {subject.order_id: index for index, subject in enumerate(subjects) if subject.order_id is not None}
    new = [index for index, subject in enumerate(subjects) if subject.order_id is None]
    parts: list[_Rows] = [_product_rows(product_ids)] if product_ids else []
    if waiting:
        parts += _earlier_than_orders(sorted(waiting), product_ids)
    if new:
        parts += _earlier_for_companies(sorted({subjects[index].company_id for index in new}), product_ids)
    if not parts:
        return {}, [_History() for _ in subjects]
    products: dict[int, _Product] = {}
    by_order: dict[int, _History] = defaultdict(_History)
    by_company: dict[int, _History] = defaultdict(_History)
    rows: Result[str, int, int, int, Decimal | None] = await session.execute(union_all(*parts))
    for kind, key, product_id, number, floor in rows:
        if kind == _PRODUCT:
            products[product_id] = _Product(number, floor)
            continue
        history = (by_order if kind in (_ORDERED, _QUANTITY) else by_company)[key]
        if kind in (_ORDERED, _COMPANY_ORDERED):
            history.any_order = True
        else:
            history.quantities[product_id].append(number)
    histories = []
    for subject in subjects:
        if subject.order_id is not None:
            histories.append(by_order[subject.order_id])
        else:
            histories.append(_copy(by_company[subject.company_id]))
    return products, histories


def _copy(history: _History) -> _History:
    """A new subject's own copy of its company's history (two carts of one company share none)."""
    copied = _History(history.any_order)
    for product_id, quantities in history.quantities.items():
        copied.quantities[product_id] = list(quantities)
    return copied


def _kind(name: str) -> ColumnElement[str]:
    return literal_column(f"'{name}'", String)


def _product_rows(product_ids: Sequence[int]) -> _Rows:
    """Each product's category and that category's margin floor."""
    return (
        select(
            _kind(_PRODUCT),
            cast(null(), Integer),
            Product.id,
            Product.category_id,
            ProductCategory.margin_floor_pct,
        )
        .join(ProductCategory, ProductCategory.id == Product.category_id)
        .where(Product.id.in_(product_ids))
    )


def _earlier_than_orders(order_ids: Sequence[int], product_ids: Sequence[int]) -> list[_Rows]:
    """Per waiting order: a row if its company has a counted order submitted before it, and the
    quantities of the given products on those orders."""
    this, before = aliased(Order), aliased(Order)
    earlier = and_(
        before.company_id == this.company_id,
        before.status.in_(COUNTED),
        or_(
            before.submitted_at < this.submitted_at,
            and_(before.submitted_at == this.submitted_at, before.id < this.id),
        ),
    )
    ordered = select(_kind(_ORDERED), this.id, null(), null(), null()).where(
        this.id.in_(order_ids), select(before.id).where(earlier).exists()
    )
    quantities = (
        select(_kind(_QUANTITY), this.id, OrderLine.product_id, OrderLine.quantity, null())
        .join(before, earlier)
        .join(OrderLine, OrderLine.order_id == before.id)
        .where(this.id.in_(order_ids), OrderLine.product_id.in_(product_ids))
    )
    return [ordered, quantities] if product_ids else [ordered]


def _earlier_for_companies(company_ids: Sequence[int], product_ids: Sequence[int]) -> list[_Rows]:
    """Per company (of an order about to be made): a row if it has a counted order, and the
    quantities of the given products on its counted orders."""
    ordered = (
        select(_kind(_COMPANY_ORDERED), Order.company_id, null(), null(), null())
        .where(Order.company_id.in_(company_ids), Order.status.in_(COUNTED))
        .group_by(Order.company_id)
    )
    quantities = (
        select(_kind(_COMPANY_QUANTITY), Order.company_id, OrderLine.product_id, OrderLine.quantity, null())
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.company_id.in_(company_ids), Order.status.in_(COUNTED), OrderLine.product_id.in_(product_ids))
    )
    return [ordered, quantities] if product_ids else [ordered]
