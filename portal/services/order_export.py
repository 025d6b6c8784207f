"""An order as the ERP takes it: the one description of an approved order that the API's order pull
and the admin's order CSV both serve, and the ERP's acknowledgement that it has taken one
(approved → exported).

- `orders_page` reads one page of orders in a given status in a constant number of queries
  (orders with company and buyer, their lines, their approval times), ordered by id; the page
  after it starts past an opaque cursor (`cursor_of` / `after_id`), so a page never repeats or
  skips an order, whatever is approved meanwhile.
- `acknowledge` moves an approved order to exported with `ordering.move_order`; an order already
  exported (or invoiced since) gives the same answer again and nothing changes, so the ERP may
  repeat it safely. The order's row is locked first: of two acknowledgements at the same moment,
  one moves it and the other finds it moved.
- `approved_export` is the CSV of the approved orders not yet exported, one row per order line.
  Downloading it changes no order: the ERP acknowledges each order through the API."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from portal.errors import Conflict, NotFound
from portal.i18n import gettext
from portal.models import Order, OrderEvent, OrderStatus
from portal.services.master_import import Export
from portal.services.ordering import ERP_TAKEN, move_order, status_label
from portal.services.totals import CENT
from portal.services.transactions import lock_rows, retried

FOR_ERP = (OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.INVOICED)
"""The statuses the ERP reads orders in: waiting to be taken, taken, invoiced."""
TAKEN = (OrderStatus.EXPORTED, OrderStatus.INVOICED)
PAGE_DEFAULT = 100
PAGE_MAX = 500
ID_MAX = 2**31 - 1
UNIT_PRICE = Decimal("0.0001")
_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class ErpLine:
    sku: str
    name: str
    unit: str
    quantity: int
    unit_price: Decimal
    vat_rate: Decimal
    line_net: Decimal


@dataclass(frozen=True)
class ErpOrder:
    """What the ERP needs to book an order; amounts with 2 decimals, unit prices with 4."""

    number: str
    status: OrderStatus
    company_name: str
    company_tax_id: str
    buyer_email: str | None
    """None for an order nobody placed by hand (a recurring delivery whose buyer left)."""
    po_number: str | None
    requested_delivery_date: date
    delivery_address: str
    """The address as it was at submission, in lines."""
    delivery_address_id: int | None
    currency: str
    net_total: Decimal
    vat_total: Decimal
    gross_total: Decimal
    delivery_fee: Decimal
    """Net, included in `net_total`, taxed at `delivery_fee_vat_rate`."""
    delivery_fee_vat_rate: Decimal
    payment_terms_days: int
    submitted_at: datetime
    approved_at: datetime | None
    """When the order was approved (by a person or automatically); None if no event says so."""
    note: str
    lines: list[ErpLine]


@dataclass(frozen=True)
class ErpPage:
    orders: list[ErpOrder]
    next: str | None
    """The cursor of the page after this one; None on the last page."""


@dataclass(frozen=True)
class Acknowledgement:
    number: str
    status: OrderStatus
    exported_at: datetime | None
    """When the order was first taken; None only for an order invoiced without being exported."""


class NotExportable(Conflict):
    """The order is not approved (nor taken already): it waits, was rejected or cancelled."""


def cursor_of(order_id: int) -> str:
    """The cursor after the order with this id: opaque to the ERP (base64url, no padding)."""
    return base64.urlsafe_b64encode(str(order_id).encode()).decode().rstrip("=")


def after_id(cursor: str) -> int | None:
    """The id a cursor of `cursor_of` stands for; None for anything the portal did not make."""
    if not _CURSOR.fullmatch(cursor):
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not re.fullmatch(r"[0-9]{1,10}", text) or int(text) > ID_MAX or cursor_of(int(text)) != cursor:
        return None
    return int(text)


def _erp_order(order: Order, approved_at: datetime | None) -> ErpOrder:
    return ErpOrder(
        number=order.number,
        status=order.status,
        company_name=order.company.name,
        company_tax_id=order.company.tax_id,
        buyer_email=order.buyer.email if order.buyer else None,
        po_number=order.po_number,
        requested_delivery_date=order.requested_delivery_date,
        delivery_address=order.delivery_address,
        delivery_address_id=order.delivery_address_id,
        currency=order.currency,
        net_total=order.net_total.quantize(CENT),
        vat_total=order.vat_total.quantize(CENT),
        gross_total=order.gross_total.quantize(CENT),
        delivery_fee=order.delivery_fee.quantize(CENT),
        delivery_fee_vat_rate=order.delivery_fee_vat_rate.quantize(CENT),
        payment_terms_days=order.payment_terms_days,
        submitted_at=order.submitted_at.astimezone(UTC),
        approved_at=approved_at.astimezone(UTC) if approved_at else None,
        note=order.note,
        lines=[
            ErpLine(
                sku=line.sku,
                name=line.name,
                unit=line.unit,
                quantity=line.quantity,
                unit_price=line.unit_price.quantize(UNIT_PRICE),
                vat_rate=line.vat_rate.quantize(CENT),
                line_net=line.line_net.quantize(CENT),
            )
            for line in order.lines
        ],
    )


async def _approval_times(session: AsyncSession, order_ids: list[int]) -> dict[int, datetime]:
    """Each order's move to approved (the last one, should there be several), in one query."""
    if not order_ids:
        return {}
    rows = await session.execute(
        select(OrderEvent.order_id, OrderEvent.at)
        .where(OrderEvent.order_id.in_(order_ids), OrderEvent.to_status == OrderStatus.APPROVED)
        .order_by(OrderEvent.id)
    )
    return {order_id: at for order_id, at in rows.tuples()}


async def orders_page(
    session: AsyncSession, status: OrderStatus, *, after: int = 0, limit: int = PAGE_DEFAULT
) -> ErpPage:
    """Up to `limit` orders in `status` with an id above `after`, by id, in three queries."""
    if status not in FOR_ERP:
        raise ValueError(f"the ERP does not read {status} orders")
    limit = max(1, min(limit, PAGE_MAX))
    found = list(
        await session.scalars(
            select(Order)
            .options(joinedload(Order.company), joinedload(Order.buyer), selectinload(Order.lines))
            .where(Order.status == status, Order.id > after)
            .order_by(Order.id)
            .limit(limit + 1)
        )
    )
    orders = found[:limit]
    approved = await _approval_times(session, [order.id for order in orders])
    return ErpPage(
        orders=[_erp_order(order, approved.get(order.id)) for order in orders],
        next=cursor_of(orders[-1].id) if len(found) > limit else None,
    )


async def every_order(session: AsyncSession, status: OrderStatus) -> list[ErpOrder]:
    """Every order in `status`, read a full page at a time."""
    orders: list[ErpOrder] = []
    after = 0
    while True:
        page = await orders_page(session, status, after=after, limit=PAGE_MAX)
        orders.extend(page.orders)
        if page.next is None:
            return orders
        following = after_id(page.next)
        assert following is not None, "a cursor the portal made reads back"
        after = following


CSV_HEADER = [
    "number",
    "status",
    "company_name",
    "company_tax_id",
    "buyer_email",
    "po_number",
    "requested_delivery_date",
    "delivery_address",
    "delivery_address_id",
    "currency",
    "net_total",
    "vat_total",
    "gross_total",
    "delivery_fee",
    "delivery_fee_vat_rate",
    "payment_terms_days",
    "submitted_at",
    "approved_at",
    "note",
    "line_sku",
    "line_name",
    "line_unit",
    "line_quantity",
    "line_unit_price",
    "line_vat_rate",
    "line_net",
]
"""The API's field names; a line's fields start with `line_`."""


def utc_text(moment: datetime | None) -> str:
    """A moment as ISO 8601 in UTC with a "Z", as the API's JSON writes it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""


def csv_rows(orders: list[ErpOrder]) -> list[list[str | Decimal]]:
    """One row per order line, the order's fields repeated on each; numbers stay `Decimal`."""
    rows: list[list[str | Decimal]] = []
    for order in orders:
        head: list[str | Decimal] = [
            order.number,
            order.status.value,
            order.company_name,
            order.company_tax_id,
            order.buyer_email or "",
            order.po_number or "",
            order.requested_delivery_date.isoformat(),
            order.delivery_address,
            str(order.delivery_address_id) if order.delivery_address_id is not None else "",
            order.currency,
            order.net_total,
            order.vat_total,
            order.gross_total,
            order.delivery_fee,
            order.delivery_fee_vat_rate,
            Decimal(order.payment_terms_days),
            utc_text(order.submitted_at),
            utc_text(order.approved_at),
            order.note,
        ]
        for line in order.lines:
            rows.append(
                [
                    *head,
                    line.sku,
                    line.name,
                    line.unit,
                    Decimal(line.quantity),
                    line.unit_price,
                    line.vat_rate,
                    line.line_net,
                ]
            )
    return rows


async def approved_export(session: AsyncSession, *, today: date) -> Export:
    """The approved orders the ERP has not taken yet, as a CSV's header and rows. Reading them
    changes nothing."""
    orders = await every_order(session, OrderStatus.APPROVED)
    return Export(list(CSV_HEADER), csv_rows(orders), f"orders-approved-{today.isoformat()}.csv")


async def _acknowledgement(session: AsyncSession, order_id: int) -> Acknowledgement:
    number, status = (await session.execute(select(Order.number, Order.status).where(Order.id == order_id))).one()
    exported_at = await session.scalar(
        select(OrderEvent.at)
        .where(OrderEvent.order_id == order_id, OrderEvent.to_status == OrderStatus.EXPORTED)
        .order_by(OrderEvent.id)
        .limit(1)
    )
    return Acknowledgement(number, status, exported_at.astimezone(UTC) if exported_at else None)


@retried
async def acknowledge(session: AsyncSession, number: str, actor_label: str) -> Acknowledgement:
    """The ERP has taken order `number`: approved → exported, recorded with no user as the actor
    and the key named in the reason. Taken already: the same answer, nothing changed. Any other
    status is `NotExportable`; an unknown number `NotFound`."""
    order_id = await session.scalar(select(Order.id).where(Order.number == number))
    if order_id is None:
        raise NotFound(gettext("No order has the number %(number)s.") % {"number": number})
    await lock_rows(session, Order, [order_id])
    status = await session.scalar(select(Order.status).where(Order.id == order_id))
    if status is OrderStatus.APPROVED:
        reason = ERP_TAKEN + actor_label
        await move_order(session, order_id, OrderStatus.EXPORTED, None, reason, expected_from=OrderStatus.APPROVED)
    elif status not in TAKEN:
        raise NotExportable(
            gettext(
                "Order %(number)s has the status “%(status)s”; only an approved order can be exported."
                " Nothing was changed."
            )
            % {"number": number, "status": status_label(status) if status else ""}
        )
    return await _acknowledgement(session, order_id)
