"""`GET /api/v1/orders` and `POST /api/v1/orders/{number}/export`: the ERP pulls approved orders
page by page and acknowledges each one it has taken (approved → exported), through
`portal.services.order_export`, the description of an order the admin's order CSV uses too."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

import msgspec
from litestar import Request, Response, get, post
from litestar.params import QueryParameter

from portal.i18n import gettext
from portal.models import OrderStatus
from portal.services import api_keys, order_export
from portal.services.order_export import Acknowledgement, ErpOrder, ErpPage
from portal.web.api.access import CallingKey, DbSession
from portal.web.api.once import IdempotencyKey, once
from portal.web.api.problems import ApiProblem, ProblemItem, responses
from portal.web.api.types import OrderNumberInPath

Cursor = Annotated[
    str,
    QueryParameter(
        max_length=16,
        pattern=r"^[A-Za-z0-9_-]{0,16}$",
        description="The `next` of the page before; leave it out for the first page.",
    ),
]
PageSize = Annotated[
    int,
    QueryParameter(ge=1, le=order_export.PAGE_MAX, description=f"Orders per page, 1–{order_export.PAGE_MAX}."),
]
ListedStatus = Literal["approved", "exported", "invoiced"]
TakenStatus = Literal["exported", "invoiced"]

Money = Annotated[
    str,
    msgspec.Meta(pattern=r"^-?[0-9]{1,12}\.[0-9]{2}$", description="An amount with 2 decimals.", examples=["123.00"]),
]
UnitPrice = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^-?[0-9]{1,10}\.[0-9]{4}$", description="A unit price with 4 decimals.", examples=["12.5000"]
    ),
]
Rate = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9]{1,3}\.[0-9]{2}$", description="A VAT rate in percent.", examples=["23.00"])
]


class LineOut(msgspec.Struct):
    sku: str
    name: str
    unit: str
    quantity: int
    unit_price: UnitPrice
    """Net, per unit."""
    vat_rate: Rate
    line_net: Money


class OrderOut(msgspec.Struct):
    """An order as the ERP books it."""

    number: str
    status: ListedStatus
    company_name: str
    company_tax_id: str
    buyer_email: str | None
    po_number: str | None
    """The buyer's own purchase order number, if they gave one."""
    requested_delivery_date: date
    delivery_address: str
    """The address as it was at submission, in lines: label, street, postal code and city, country."""
    delivery_address_id: int | None
    currency: str
    net_total: Money
    vat_total: Money
    gross_total: Money
    delivery_fee: Money
    """Net; included in `net_total`."""
    delivery_fee_vat_rate: Rate
    payment_terms_days: int
    submitted_at: datetime
    approved_at: datetime | None
    note: str
    lines: list[LineOut]


class OrdersOut(msgspec.Struct):
    orders: list[OrderOut]
    next: str | None
    """The cursor of the next page (send it as `after`); null on the last page."""


class ExportedOut(msgspec.Struct):
    number: str
    status: TakenStatus
    exported_at: datetime | None
    """When the order was first acknowledged."""


def _text(amount: Decimal) -> str:
    return format(amount, "f")


def order_out(order: ErpOrder) -> OrderOut:
    return OrderOut(
        number=order.number,
        status=cast(ListedStatus, order.status.value),
        company_name=order.company_name,
        company_tax_id=order.company_tax_id,
        buyer_email=order.buyer_email,
        po_number=order.po_number,
        requested_delivery_date=order.requested_delivery_date,
        delivery_address=order.delivery_address,
        delivery_address_id=order.delivery_address_id,
        currency=order.currency,
        net_total=_text(order.net_total),
        vat_total=_text(order.vat_total),
        gross_total=_text(order.gross_total),
        delivery_fee=_text(order.delivery_fee),
        delivery_fee_vat_rate=_text(order.delivery_fee_vat_rate),
        payment_terms_days=order.payment_terms_days,
        submitted_at=order.submitted_at,
        approved_at=order.approved_at,
        note=order.note,
        lines=[
            LineOut(
                sku=line.sku,
                name=line.name,
                unit=line.unit,
                quantity=line.quantity,
                unit_price=_text(line.unit_price),
                vat_rate=_text(line.vat_rate),
                line_net=_text(line.line_net),
            )
            for line in order.lines
        ],
    )


def page_out(page: ErpPage) -> OrdersOut:
    return OrdersOut(orders=[order_out(order) for order in page.orders], next=page.next)


def exported_out(done: Acknowledgement) -> ExportedOut:
    return ExportedOut(number=done.number, status=cast(TakenStatus, done.status.value), exported_at=done.exported_at)


def after_id(cursor: str) -> int:
    """The id a cursor stands for (0 without one); a cursor the portal did not make is refused."""
    if not cursor:
        return 0
    found = order_export.after_id(cursor)
    if found is None:
        raise ApiProblem(
            422,
            gettext("The request has invalid values; nothing was written."),
            [ProblemItem("after", gettext("Send the `next` of the page before, as it was given."))],
        )
    return found


@get(
    "/orders",
    opt={"scope": "orders:read"},
    responses=responses(),
    summary="Pull orders page by page",
    description="Orders in one status (approved by default: those waiting to be taken), oldest first, with "
    "their lines, company, delivery date and address. Follow `next` as `after` until it is null. "
    "Acknowledged orders leave the approved list, so a new pull starts without `after`.",
)
async def list_orders(
    db_session: DbSession,
    status: Annotated[ListedStatus, QueryParameter(description="Which orders: approved, exported or invoiced.")] = (
        "approved"
    ),
    after: Cursor = "",
    limit: PageSize = order_export.PAGE_DEFAULT,
) -> Response[OrdersOut]:
    page = await order_export.orders_page(db_session, OrderStatus(status), after=after_id(after), limit=limit)
    return Response(page_out(page))


@post(
    "/orders/{number:str}/export",
    opt={"scope": "orders:write"},
    status_code=200,
    responses=responses(404, 409),
    summary="Acknowledge an order as taken",
    description="Moves an approved order to exported. Acknowledging an order taken already answers the same "
    "again and changes nothing; an order not approved (waiting, rejected, cancelled) answers 409.",
)
async def export_order(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    key: CallingKey,
    number: OrderNumberInPath,
    idempotency_key: IdempotencyKey = "",
) -> Response[ExportedOut]:
    label = api_keys.actor_label(key)

    async def work() -> ExportedOut:
        return exported_out(await order_export.acknowledge(db_session, number, label))

    return await once(request, db_session, key, idempotency_key, work)


ROUTES = [list_orders, export_order]
