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

from sqlalchemy import and_, or_, select
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
    """An order's flags now, with the credit figures the credit flag compared and the company's
    usual quantity of each of its products (median of the earlier order lines)."""

    credit: OrderCredit
    picture: CreditPicture
    flags: list[Flag]
    usual: dict[int, Decimal] = field(default_factory=dict)

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
) -> list[FlagResult]:
    """The flags of each subject, in order, from the current state. `pictures` (by company id) may
    be given when the caller has just read them; otherwise they are read here."""
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
    products = await _products(session, {line.product_id for subject in subjects for line in subject.lines})
    history = await _earlier(session, subjects)
    from portal.services import agreements  # it counts sales by `COUNTED` above: imported here, not at the top

    in_force = await agreements.active_agreements(session, sorted(company_ids), policy.today)
    return [
        _flags(
            subject, pictures[subject.company_id], products, history[index], policy, in_force.get(subject.company_id)
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
    return FlagResult(credit=credit, picture=picture, flags=flags + list(subject.stored), usual=usual)


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


async def _products(session: AsyncSession, product_ids: set[int]) -> dict[int, _Product]:
    """Each product's category and that category's margin floor, in one query."""
    if not product_ids:
        return {}
    rows = await session.execute(
        select(Product.id, Product.category_id, ProductCategory.margin_floor_pct)
        .join(ProductCategory, ProductCategory.id == Product.category_id)
        .where(Product.id.in_(product_ids))
    )
    return {product_id: _Product(category_id, floor) for product_id, category_id, floor in rows}


async def _earlier(session: AsyncSession, subjects: Sequence[FlagSubject]) -> list[_History]:
    """For each subject, the company's orders that count and came before it: for an order, those
    submitted earlier; for one about to be made, all. Two queries for orders, two for new ones."""
    histories = [_History() for _ in subjects]
    waiting = {subject.order_id: index for index, subject in enumerate(subjects) if subject.order_id is not None}
    new = [index for index, subject in enumerate(subjects) if subject.order_id is None]
    products = [line.product_id for subject in subjects for line in subject.lines]
    if waiting:
        this, before = aliased(Order), aliased(Order)
        earlier = and_(
            before.company_id == this.company_id,
            before.status.in_(COUNTED),
            or_(
                before.submitted_at < this.submitted_at,
                and_(before.submitted_at == this.submitted_at, before.id < this.id),
            ),
        )
        ordered = await session.scalars(
            select(this.id).where(this.id.in_(waiting), select(before.id).where(earlier).exists())
        )
        for order_id in ordered:
            histories[waiting[order_id]].any_order = True
        rows = await session.execute(
            select(this.id, OrderLine.product_id, OrderLine.quantity)
            .join(before, earlier)
            .join(OrderLine, OrderLine.order_id == before.id)
            .where(this.id.in_(waiting), OrderLine.product_id.in_(products))
        )
        for order_id, product_id, quantity in rows:
            histories[waiting[order_id]].quantities[product_id].append(quantity)
    if new:
        company_ids = {subjects[index].company_id for index in new}
        ordering = set(
            await session.scalars(
                select(Order.company_id).where(Order.company_id.in_(company_ids), Order.status.in_(COUNTED)).distinct()
            )
        )
        rows = await session.execute(
            select(Order.company_id, OrderLine.product_id, OrderLine.quantity)
            .join(Order, Order.id == OrderLine.order_id)
            .where(Order.company_id.in_(company_ids), Order.status.in_(COUNTED), OrderLine.product_id.in_(products))
        )
        by_company: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for company_id, product_id, quantity in rows:
            by_company[company_id].append((product_id, quantity))
        for index in new:
            company_id = subjects[index].company_id
            histories[index].any_order = company_id in ordering
            for product_id, quantity in by_company[company_id]:
                histories[index].quantities[product_id].append(quantity)
    return histories
