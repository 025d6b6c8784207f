"""`PUT /api/v1/invoices`, `PUT /api/v1/payments` and `POST /api/v1/orders/{number}/invoice`: the
ERP's accounting documents through the finance imports' own checks and writes
(`portal.services.imports.apply_rows`), so a rule changed once holds for the CSV files and the API.

Invoices are known by their number, payments by the ERP's reference (required here): sending one
again with the same figures is "unchanged", with other figures it is refused with a pointer at
the item. An order's invoice is an invoice with the order's number, so posting it moves the order
approved → exported → invoiced as an imported invoice does; an order in any other state answers
409 (the order's state, not the request's values, is in the way)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, post, put
from litestar.params import JSONBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound
from portal.i18n import gettext, ngettext
from portal.models import ApiKey, Company, Invoice, Order
from portal.services import api_keys, imports
from portal.services.imports import ImportKind, ImportRefused, ImportReport, ImportRow, Outcome
from portal.services.totals import CENT
from portal.web.api import bulk
from portal.web.api.access import CallingKey, DbSession, Today
from portal.web.api.once import IdempotencyKey, once
from portal.web.api.problems import ApiProblem, ProblemItem, responses
from portal.web.api.types import ORDER_NUMBER_MAX, ORDER_NUMBER_PATTERN, Amount, OrderNumberInPath, TaxId

MAX_ITEMS = imports.MAX_ROWS
TRIMMED = r"^[^\s\x00](?:[^\x00]*[^\s\x00])?$"
"""Text with no NUL and no spaces around it (a CSV cell is read trimmed)."""

InvoiceNumber = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=imports.NUMBER_MAX, pattern=TRIMMED, examples=["FV/2026/11/0001"]),
]
OrderNumber = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=ORDER_NUMBER_MAX, pattern=ORDER_NUMBER_PATTERN, examples=["ORD-2026-000123"]),
]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", description="The company's currency.", examples=["PLN"])]
Reference = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=imports.REFERENCE_MAX,
        pattern=TRIMMED,
        description="The ERP's reference of the payment: what knows the payment again.",
        examples=["BANK/2026/11/0042"],
    ),
]


class InvoiceIn(msgspec.Struct):
    """An invoice, known by its number, of the customer company with the tax id."""

    number: InvoiceNumber
    tax_id: TaxId
    issue_date: date
    due_date: date
    gross: Amount
    currency: Currency
    order_number: OrderNumber | None = None
    """The portal order the invoice is for: it moves on to invoiced."""


class InvoicesIn(msgspec.Struct):
    items: Annotated[list[InvoiceIn], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class PaymentIn(msgspec.Struct):
    """A payment of an invoice, known by its reference."""

    invoice_number: InvoiceNumber
    paid_on: date
    amount: Amount
    reference: Reference


class PaymentsIn(msgspec.Struct):
    items: Annotated[list[PaymentIn], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class DocumentOutcome(msgspec.Struct):
    key: str
    """The invoice's number, the payment's reference."""
    outcome: Literal["new", "unchanged"]


class DocumentsResult(msgspec.Struct):
    """What a call did: counts, and each item's outcome in the order sent."""

    created: int
    unchanged: int
    items: list[DocumentOutcome]


class OrderInvoiceIn(msgspec.Struct):
    """The invoice of an order; the company is the order's."""

    invoice_number: InvoiceNumber
    issue_date: date
    due_date: date
    gross: Amount
    currency: Currency


class OrderInvoiced(msgspec.Struct):
    """The order and the invoice linked to it; the same answer when the same invoice is posted again."""

    order_number: str
    status: str
    invoice_number: str
    tax_id: str
    issue_date: date
    due_date: date
    gross: str
    currency: str


def refused_items(report: ImportReport, pointer: Callable[[ImportRow, str], str]) -> list[ProblemItem]:
    """Each error of each row, pointed at by `pointer(row, column)`."""
    return [
        ProblemItem(pointer(row, column), message)
        for row in report.rows
        for column, message in zip(row.fields, row.errors, strict=True)
    ]


def at_item(renamed: Mapping[str, str]) -> Callable[[ImportRow, str], str]:
    """Row n → `/items/<n - 1>/<field>`, the import's columns `renamed` to the request's fields."""
    return lambda row, column: f"/items/{row.number - 1}/{renamed.get(column, column)}"


def refusal(refused: ImportRefused, pointer: Callable[[ImportRow, str], str]) -> ApiProblem:
    errors = refused_items(refused.report, pointer) or [ProblemItem("", refused.message)]
    detail = ngettext(
        "%(count)d problem in the request; nothing was written.",
        "%(count)d problems in the request; nothing was written.",
        len(errors),
    )
    return ApiProblem(422, detail % {"count": len(errors)}, errors)


async def write_documents(
    session: AsyncSession,
    kind: ImportKind,
    key: ApiKey,
    values: list[dict[str, str]],
    *,
    today: date,
    renamed: Mapping[str, str],
) -> DocumentsResult:
    rows = [ImportRow(number, row) for number, row in enumerate(values, start=1)]
    try:
        report = await imports.apply_rows(session, kind, rows, api_keys.actor_label(key), today=today)
    except ImportRefused as refused:
        raise refusal(refused, at_item(renamed)) from None
    name = "invoice_number" if kind is ImportKind.INVOICES else "reference"
    return DocumentsResult(
        created=report.count(Outcome.NEW),
        unchanged=report.count(Outcome.UNCHANGED),
        items=[
            DocumentOutcome(row.values[name], "unchanged" if row.outcome is Outcome.UNCHANGED else "new")
            for row in report.rows
        ],
    )


@put(
    "/invoices",
    opt={"scope": "invoices:write"},
    responses=responses(409, 413),
    summary="Record invoices by number",
    description="Up to 5,000 invoices per call, all or none. An invoice sent again with the same figures is "
    "unchanged; with other figures it is refused. An invoice naming an order moves the order to invoiced.",
)
async def put_invoices(
    request: Request[Any, Any, Any],
    data: JSONBody[InvoicesIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[DocumentsResult]:
    renamed = {"invoice_number": "number"}
    rows = [bulk.row_of(item, {"number": "invoice_number"}) for item in data.items]
    return await once(
        request,
        db_session,
        key,
        idempotency_key,
        lambda: write_documents(db_session, ImportKind.INVOICES, key, rows, today=today, renamed=renamed),
    )


@put(
    "/payments",
    opt={"scope": "invoices:write"},
    responses=responses(409, 413),
    summary="Record payments by reference",
    description="Up to 5,000 payments per call, all or none. A payment is known by the ERP's reference: sent "
    "again with the same figures it is unchanged, with other figures refused. A payment may not exceed what is "
    "left to pay on its invoice.",
)
async def put_payments(
    request: Request[Any, Any, Any],
    data: JSONBody[PaymentsIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[DocumentsResult]:
    rows = [bulk.row_of(item) for item in data.items]
    return await once(
        request,
        db_session,
        key,
        idempotency_key,
        lambda: write_documents(db_session, ImportKind.PAYMENTS, key, rows, today=today, renamed={}),
    )


def _in_body(row: ImportRow, column: str) -> str:
    """An order invoice's errors: the body's fields; the company and the order are the path's."""
    return "" if column in ("tax_id", "order_number") else f"/{column}"


def _amount_text(amount: Decimal) -> str:
    return format(amount.quantize(CENT), "f")


async def invoice_order(
    session: AsyncSession, key: ApiKey, number: str, data: OrderInvoiceIn, *, today: date
) -> OrderInvoiced:
    order = await session.scalar(select(Order).where(Order.number == number))
    if order is None:
        raise NotFound(gettext("No order %(number)s.") % {"number": number})
    company = await session.get(Company, order.company_id)
    assert company is not None
    row = ImportRow(
        1,
        {
            "invoice_number": data.invoice_number,
            "tax_id": company.tax_id,
            "issue_date": data.issue_date.isoformat(),
            "due_date": data.due_date.isoformat(),
            "gross": data.gross,
            "currency": data.currency,
            "order_number": order.number,
        },
    )
    try:
        await imports.apply_rows(session, ImportKind.INVOICES, [row], api_keys.actor_label(key), today=today)
    except ImportRefused as refused:
        about_order = [
            message for column, message in zip(row.fields, row.errors, strict=True) if column == "order_number"
        ]
        if about_order:
            raise ApiProblem(409, about_order[0], refused_items(refused.report, _in_body)) from None
        raise refusal(refused, _in_body) from None
    invoice = await session.scalar(select(Invoice).where(Invoice.number == data.invoice_number))
    assert invoice is not None
    return OrderInvoiced(
        order_number=order.number,
        status=order.status.value,
        invoice_number=invoice.number,
        tax_id=company.tax_id,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        gross=_amount_text(invoice.gross_amount),
        currency=invoice.currency,
    )


@post(
    "/orders/{number:str}/invoice",
    opt={"scope": "invoices:write"},
    status_code=200,
    responses=responses(404, 409, 413),
    summary="Invoice an order",
    description="Records the order's invoice (for the order's company) and moves an approved or exported order "
    "to invoiced. Posting the same invoice again answers 200 with the same body; an invoice number already used "
    "with other figures is refused (422); an order that is not approved, exported or invoiced answers 409.",
)
async def post_order_invoice(
    request: Request[Any, Any, Any],
    number: OrderNumberInPath,
    data: JSONBody[OrderInvoiceIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[OrderInvoiced]:
    return await once(
        request,
        db_session,
        key,
        idempotency_key,
        lambda: invoice_order(db_session, key, number, data, today=today),
    )


ROUTES = [put_invoices, put_payments, post_order_invoice]
