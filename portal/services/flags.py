"""What the approver must see with an order, each with its numbers. Blocking:
exceeds available credit, company past due, company on hold. Warnings: a line
below the margin floor, a quantity far above the company's usual, first order."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, FlagKind, Order, OrderLine, OrderStatus, Product
from portal.services.credit import CreditPicture

UNUSUAL_FACTOR = 3
"""A quantity above this many times the company's median for the product is unusual."""
HISTORY_NEEDED = 2
"""Earlier orders of the product needed before a quantity can be called unusual."""
COUNTED = (OrderStatus.PENDING_APPROVAL, OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.INVOICED)


@dataclass(frozen=True)
class Flag:
    kind: FlagKind
    data: dict[str, str]

    @property
    def blocking(self) -> bool:
        return self.kind.blocking


@dataclass(frozen=True)
class FlaggedLine:
    product: Product
    quantity: int
    net: Decimal
    cost: Decimal


def margin_pct(net: Decimal, cost: Decimal) -> Decimal | None:
    if net <= 0:
        return None
    return ((net - cost) * 100 / net).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def credit_flags(picture: CreditPicture, gross: Decimal) -> list[Flag]:
    """The blocking flags: read again at approval, with the numbers of that moment."""
    flags = []
    if picture.on_hold:
        flags.append(Flag(FlagKind.ON_HOLD, {"reason": picture.company.hold_reason or ""}))
    if picture.past_due:
        flags.append(Flag(FlagKind.PAST_DUE, {"overdue": str(picture.overdue_amount),
                                              "days": str(picture.oldest_overdue_days)}))
    if gross > picture.available_credit:
        flags.append(Flag(FlagKind.EXCEEDS_CREDIT, {
            "available": str(picture.available_credit), "gross": str(gross),
            "shortfall": str(gross - picture.available_credit)}))
    return flags


async def order_flags(
    session: AsyncSession,
    company: Company,
    picture: CreditPicture,
    lines: Sequence[FlaggedLine],
    gross: Decimal,
    global_margin_floor: Decimal,
) -> list[Flag]:
    flags = credit_flags(picture, gross)
    for line in lines:
        floor = line.product.category.margin_floor_pct
        floor = global_margin_floor if floor is None else floor
        pct = margin_pct(line.net, line.cost)
        if pct is not None and pct < floor:
            flags.append(Flag(FlagKind.BELOW_MARGIN_FLOOR, {"sku": line.product.sku, "margin_pct": str(pct),
                                                            "floor_pct": str(floor)}))

    history: dict[int, list[int]] = defaultdict(list)
    rows = await session.execute(
        select(OrderLine.product_id, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .where(Order.company_id == company.id, Order.status.in_(COUNTED),
               OrderLine.product_id.in_([line.product.id for line in lines]))
    )
    for product_id, quantity in rows:
        history[product_id].append(quantity)
    for line in lines:
        earlier = history.get(line.product.id, [])
        if len(earlier) >= HISTORY_NEEDED:
            usual = statistics.median(earlier)
            if line.quantity > UNUSUAL_FACTOR * usual:
                flags.append(Flag(FlagKind.UNUSUAL_QUANTITY, {"sku": line.product.sku, "quantity": str(line.quantity),
                                                              "usual": str(usual)}))

    earlier_order = await session.scalar(
        select(Order.id).where(Order.company_id == company.id, Order.status.in_(COUNTED)).limit(1)
    )
    if earlier_order is None:
        flags.append(Flag(FlagKind.FIRST_ORDER, {}))
    return flags
