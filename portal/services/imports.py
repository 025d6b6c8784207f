"""Invoices and payments from the ERP as CSV: every row is checked first and
reported by its row number, then everything is applied in one transaction or
nothing is. Importing the same file again changes nothing: invoices are known by
their number, payments by their reference."""

from __future__ import annotations

import csv
import enum
import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import format_money, gettext
from portal.models import Company, Invoice, Order, OrderStatus, Payment, User
from portal.services.amounts import parse_amount, parse_date
from portal.services.ordering import MoveRefused, move_order

MAX_ROWS = 5000
NUMBER_MAX = 50
REFERENCE_MAX = 100


class ImportKind(enum.StrEnum):
    INVOICES = "invoices"
    PAYMENTS = "payments"


COLUMNS: dict[ImportKind, dict[str, tuple[str, ...]]] = {
    ImportKind.INVOICES: {
        "invoice_number": ("invoice_number", "invoice", "number", "invoice_no"),
        "tax_id": ("tax_id", "company_tax_id", "nip", "vat_id"),
        "issue_date": ("issue_date", "issued", "date_of_issue"),
        "due_date": ("due_date", "due"),
        "gross": ("gross", "gross_amount", "amount"),
        "currency": ("currency",),
        "order_number": ("order_number", "order"),
    },
    ImportKind.PAYMENTS: {
        "invoice_number": ("invoice_number", "invoice", "number", "invoice_no"),
        "paid_on": ("paid_on", "date", "payment_date", "paid"),
        "amount": ("amount", "paid_amount"),
        "reference": ("reference", "payment_reference", "ref"),
    },
}
"""Column → the header names accepted for it (lower case, spaces as underscores)."""
OPTIONAL = {"order_number", "reference"}


class Outcome(enum.StrEnum):
    NEW = "new"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class ImportRow:
    number: int
    """The row's line in the file; the header is row 1."""
    values: dict[str, str]
    errors: list[str] = field(default_factory=list)
    unchanged: bool = False
    summary: str = ""

    @property
    def outcome(self) -> Outcome:
        return Outcome.ERROR if self.errors else Outcome.UNCHANGED if self.unchanged else Outcome.NEW


@dataclass
class ImportReport:
    kind: ImportKind
    rows: list[ImportRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.file_errors and bool(self.rows) and not any(row.errors for row in self.rows)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


class ImportRefused(Exception):
    """Nothing was applied; the report says why, row by row."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("import refused")
        self.report = report


class ImportInterrupted(Exception):
    """Someone else imported or moved the same thing at the same moment; the
    transaction was rolled back and nothing of the file stays."""


def _header_name(text: str) -> str:
    return "_".join(text.strip().strip('"').lower().replace("-", " ").split())


def read_rows(kind: ImportKind, content: bytes, report: ImportReport) -> list[ImportRow]:
    """The file's data rows as column → text; problems with the file itself go to the report."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        report.file_errors.append(gettext("The file is not UTF-8 text. In Excel, save it as “CSV UTF-8”."))
        return []
    lines = text.splitlines()
    header_line = next((line for line in lines if line.strip()), "")
    if not header_line:
        report.file_errors.append(gettext("The file is empty."))
        return []
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader)
    while not any(cell.strip() for cell in header):
        header = next(reader)
    names = [_header_name(cell) for cell in header]
    positions: dict[str, int] = {}
    for column, accepted in COLUMNS[kind].items():
        found = next((index for index, name in enumerate(names) if name in accepted), None)
        if found is not None:
            positions[column] = found
        elif column not in OPTIONAL:
            report.file_errors.append(gettext("Row 1: the header has no column “%(column)s”.") % {"column": column})
    if report.file_errors:
        report.file_errors.append(gettext("Expected columns: %(columns)s.") % {"columns": ", ".join(COLUMNS[kind])})
        return []
    rows: list[ImportRow] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == MAX_ROWS:
            report.file_errors.append(gettext("At most %(max)d rows in one file.") % {"max": MAX_ROWS})
            return []
        values = {column: (cells[index].strip() if index < len(cells) else "") for column, index in positions.items()}
        rows.append(ImportRow(number=reader.line_num, values=values))
    if not rows:
        report.file_errors.append(gettext("The file has a header but no rows."))
    return rows


@dataclass(frozen=True)
class _Invoice:
    row: ImportRow
    company: Company
    number: str
    issue_date: date
    due_date: date
    gross: Decimal
    currency: str
    order: Order | None


@dataclass(frozen=True)
class _Payment:
    row: ImportRow
    invoice: Invoice
    reference: str
    paid_on: date
    amount: Decimal


def _tax_id(text: str) -> str:
    return text.replace(" ", "").replace("-", "").upper()


async def _check_invoices(session: AsyncSession, rows: list[ImportRow]) -> list[_Invoice]:
    tax_ids = {_tax_id(row.values["tax_id"]) for row in rows}
    companies = {c.tax_id: c for c in await session.scalars(select(Company).where(Company.tax_id.in_(tax_ids)))}
    numbers = {row.values["invoice_number"] for row in rows}
    existing = {i.number: i for i in await session.scalars(select(Invoice).where(Invoice.number.in_(numbers)))}
    order_numbers = {row.values.get("order_number", "") for row in rows} - {""}
    orders = {o.number: o for o in await session.scalars(select(Order).where(Order.number.in_(order_numbers)))}

    planned: list[_Invoice] = []
    seen: dict[str, tuple[ImportRow, tuple[object, ...]]] = {}
    for row in rows:
        v, errors = row.values, row.errors
        number = v["invoice_number"]
        if not number:
            errors.append(gettext("No invoice number."))
        elif len(number) > NUMBER_MAX:
            errors.append(gettext("The invoice number is longer than %(max)d characters.") % {"max": NUMBER_MAX})
        company = companies.get(_tax_id(v["tax_id"]))
        if company is None:
            errors.append(gettext("No customer company has the tax id “%(tax_id)s”.") % {"tax_id": v["tax_id"]})
        issue_date, due_date = parse_date(v["issue_date"]), parse_date(v["due_date"])
        if issue_date is None:
            errors.append(gettext("The issue date “%(text)s” is not a date (YYYY-MM-DD).") % {"text": v["issue_date"]})
        if due_date is None:
            errors.append(gettext("The due date “%(text)s” is not a date (YYYY-MM-DD).") % {"text": v["due_date"]})
        if issue_date and due_date and due_date < issue_date:
            errors.append(gettext("The due date is before the issue date."))
        gross = parse_amount(v["gross"])
        if gross is None:
            errors.append(gettext("The gross amount “%(text)s” is not an amount.") % {"text": v["gross"]})
        elif gross < 0:
            errors.append(gettext("The gross amount cannot be negative."))
        currency = v["currency"].upper()
        if company is not None and currency != company.currency:
            errors.append(gettext("The currency %(currency)s is not the company's currency %(expected)s.")
                          % {"currency": currency or "–", "expected": company.currency})
        order = None
        if order_number := v.get("order_number", ""):
            order = orders.get(order_number)
            if order is None or (company is not None and order.company_id != company.id):
                errors.append(gettext("No order %(number)s of this company.") % {"number": order_number})
            elif order.status not in (OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.INVOICED):
                errors.append(gettext("Order %(number)s is %(status)s; only approved orders are invoiced.")
                              % {"number": order_number, "status": order.status.value.replace("_", " ")})
        if errors:
            continue
        assert company is not None and issue_date and due_date and gross is not None
        row.summary = f"{company.name} · {format_money(gross, currency)}"
        figures = (company.id, issue_date, due_date, gross, currency, order_number or None)
        if number in seen:
            first, first_figures = seen[number]
            if first_figures != figures:
                errors.append(gettext("Invoice %(number)s is also in row %(row)d with other figures.")
                              % {"number": number, "row": first.number})
            row.unchanged = True
            continue
        seen[number] = (row, figures)
        if (known := existing.get(number)) is not None:
            stored = (known.company_id, known.issue_date, known.due_date, known.gross_amount, known.currency,
                      known.order_number)
            if stored != figures:
                errors.append(gettext("Invoice %(number)s was imported before with other figures "
                                      "(gross %(gross)s, issued %(issued)s, due %(due)s).")
                              % {"number": number, "gross": format_money(known.gross_amount, known.currency),
                                 "issued": known.issue_date.isoformat(), "due": known.due_date.isoformat()})
            row.unchanged = True
            continue
        planned.append(_Invoice(row, company, number, issue_date, due_date, gross, currency, order))
    return planned


def _derived_reference(values: dict[str, str], occurrence: int) -> str:
    """Without a reference column a payment is known by invoice, date, amount and
    which of its identical rows in the file it is."""
    return f"{values['invoice_number']}|{values['paid_on']}|{values['amount']}|{occurrence}"


async def _check_payments(session: AsyncSession, rows: list[ImportRow], today: date, lock: bool) -> list[_Payment]:
    numbers = {row.values["invoice_number"] for row in rows}
    query = select(Invoice).where(Invoice.number.in_(numbers)).order_by(Invoice.id)
    if lock:
        query = query.with_for_update()
    invoices = {i.number: i for i in await session.scalars(query.execution_options(populate_existing=True))}
    occurrences: dict[tuple[str, str, str], int] = {}
    for row in rows:
        if not row.values.get("reference"):
            key = (row.values["invoice_number"], row.values["paid_on"], row.values["amount"])
            occurrences[key] = occurrences.get(key, 0) + 1
            row.values["reference"] = _derived_reference(row.values, occurrences[key])
    references = {row.values["reference"] for row in rows}
    existing = {p.reference: p for p in await session.scalars(select(Payment).where(Payment.reference.in_(references)))}

    planned: list[_Payment] = []
    balances = {invoice.id: invoice.balance for invoice in invoices.values()}
    seen: dict[str, tuple[ImportRow, tuple[object, ...]]] = {}
    for row in rows:
        v, errors = row.values, row.errors
        invoice = invoices.get(v["invoice_number"])
        if invoice is None:
            errors.append(gettext("No invoice %(number)s; import the invoice first.") % {"number": v["invoice_number"] or "–"})
        paid_on = parse_date(v["paid_on"])
        if paid_on is None:
            errors.append(gettext("The payment date “%(text)s” is not a date (YYYY-MM-DD).") % {"text": v["paid_on"]})
        elif paid_on > today:
            errors.append(gettext("The payment date %(date)s is in the future.") % {"date": paid_on.isoformat()})
        amount = parse_amount(v["amount"])
        if amount is None:
            errors.append(gettext("The amount “%(text)s” is not an amount.") % {"text": v["amount"]})
        elif amount <= 0:
            errors.append(gettext("The amount must be more than zero."))
        reference = v["reference"]
        if len(reference) > REFERENCE_MAX:
            errors.append(gettext("The reference is longer than %(max)d characters.") % {"max": REFERENCE_MAX})
        if errors:
            continue
        assert invoice is not None and paid_on is not None and amount is not None
        row.summary = f"{invoice.number} · {format_money(amount, invoice.currency)}"
        figures = (invoice.id, paid_on, amount)
        if reference in seen:
            first, first_figures = seen[reference]
            if first_figures != figures:
                errors.append(gettext("The reference %(reference)s is also in row %(row)d for another payment.")
                              % {"reference": reference, "row": first.number})
            row.unchanged = True
            continue
        seen[reference] = (row, figures)
        if (known := existing.get(reference)) is not None:
            if (known.invoice_id, known.paid_on, known.amount) != figures:
                errors.append(gettext("The reference %(reference)s was imported before for another payment.")
                              % {"reference": reference})
            row.unchanged = True
            continue
        if amount > balances[invoice.id]:
            errors.append(gettext("The payment of %(amount)s exceeds the balance %(balance)s of invoice %(number)s.")
                          % {"amount": format_money(amount, invoice.currency),
                             "balance": format_money(balances[invoice.id], invoice.currency), "number": invoice.number})
            continue
        balances[invoice.id] -= amount
        planned.append(_Payment(row, invoice, reference, paid_on, amount))
    return planned


async def _check(
    session: AsyncSession, kind: ImportKind, content: bytes, today: date, lock: bool
) -> tuple[ImportReport, list[_Invoice] | list[_Payment]]:
    report = ImportReport(kind)
    rows = read_rows(kind, content, report)
    report.rows = rows
    if report.file_errors:
        return report, []
    if kind is ImportKind.INVOICES:
        return report, await _check_invoices(session, rows)
    return report, await _check_payments(session, rows, today, lock)


async def check_import(session: AsyncSession, kind: ImportKind, content: bytes, *, today: date) -> ImportReport:
    """What importing the file would do, row by row; nothing is written."""
    report, _ = await _check(session, kind, content, today, lock=False)
    return report


async def apply_import(
    session: AsyncSession, kind: ImportKind, content: bytes, actor: User, *, today: date
) -> ImportReport:
    """Checks the file again and applies every new row, or raises `ImportRefused`
    having written nothing. The caller commits."""
    report, planned = await _check(session, kind, content, today, lock=True)
    if not report.ok:
        raise ImportRefused(report)
    try:
        if kind is ImportKind.INVOICES:
            await _apply_invoices(session, planned, actor)  # type: ignore[arg-type]
        else:
            await _apply_payments(session, planned)  # type: ignore[arg-type]
    except (IntegrityError, MoveRefused):
        await session.rollback()
        raise ImportInterrupted() from None
    return report


async def _apply_invoices(session: AsyncSession, planned: list[_Invoice], actor: User) -> None:
    session.add_all(
        Invoice(company_id=item.company.id, number=item.number, issue_date=item.issue_date, due_date=item.due_date,
                currency=item.currency, gross_amount=item.gross, paid_amount=Decimal("0.00"),
                order_number=item.order.number if item.order else None)
        for item in planned
    )
    await session.flush()
    moved: set[int] = set()
    for item in planned:
        order = item.order
        if order is None or order.id in moved or order.status is OrderStatus.INVOICED:
            continue
        moved.add(order.id)
        reason = gettext("Invoice %(number)s from the ERP") % {"number": item.number}
        if order.status is OrderStatus.APPROVED:
            await move_order(session, order.id, OrderStatus.EXPORTED, actor, reason, expected_from=OrderStatus.APPROVED)
        await move_order(session, order.id, OrderStatus.INVOICED, actor, reason, expected_from=OrderStatus.EXPORTED)


async def _apply_payments(session: AsyncSession, planned: list[_Payment]) -> None:
    now = clock.now()
    for item in planned:
        session.add(Payment(company_id=item.invoice.company_id, invoice_id=item.invoice.id, reference=item.reference,
                            paid_on=item.paid_on, amount=item.amount, recorded_at=now))
        item.invoice.paid_amount += item.amount
    await session.flush()
