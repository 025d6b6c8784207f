"""Invoices and payments from the ERP, as CSV or as the API's items (`apply_rows`):
every row is checked first and reported by its row number (each error with its
column), then everything is applied in one transaction or nothing is. Importing
the same file again changes nothing: invoices are known by their number, payments
by their reference, or without one by invoice, date and amount as parsed and their
position among equal rows (`derived_reference`), so the same payments written
another way ("30.11.2026;100,00") are known again.

A file is read only when it is plainly a CSV text: at most `MAX_FILE_BYTES`
(larger files are refused, never cut), UTF-8 (with or without a BOM) or
Windows-1250, no NUL byte, any line ends (CR LF, LF or CR), a header row that
names its columns, quotes that close and no field over `MAX_FIELD_CHARS`.
Everything else is refused with a sentence that says why, and nothing is applied.
Dates lie between 2000 and 2100, amounts within NUMERIC(14,2), digits are ASCII."""

from __future__ import annotations

import csv
import enum
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.errors import Conflict, Refused
from portal.i18n import format_decimal, format_money, gettext
from portal.models import Company, Invoice, Order, OrderStatus, Payment, User
from portal.services import audit, tax_ids
from portal.services.amounts import parse_amount, parse_date
from portal.services.ordering import ERP_INVOICED, MoveRefused, move_order, status_label
from portal.services.totals import CENT

MAX_ROWS = 5000
MAX_FILE_BYTES = 1_000_000
"""1 MB, stated on the import page. A checked file goes back to the server in the apply form; at
this size that form, URL-encoded, stays within what the portal accepts of a form."""
MAX_FIELD_CHARS = 128 * 1024
"""The longest field the csv module reads (its `field_size_limit`); a longer one, or a quote that
never closes, makes the file unreadable."""
NUMBER_MAX = 50
"""`Invoice.number` is String(50)."""
REFERENCE_MAX = 100
"""`Payment.reference` is String(100)."""
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
"""Dates outside these are typing errors; the same bounds as the portal's forms."""
SHOWN_MAX = 60
"""A value quoted in a message is cut to this many characters."""
ENCODINGS = ("utf-8-sig", "cp1250")
"""UTF-8 as Excel's "CSV UTF-8" writes it (with a BOM), else Windows-1250 as a Polish Excel saves plain CSV."""


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
    """The row's line in the file; the header is row 1. Rows from the API are numbered 1, 2, 3…
    in the order of its items."""
    values: dict[str, str]
    """Column (a key of `COLUMNS`) → the text of its cell; an optional column may be left out."""
    errors: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    """The column each of `errors` is about, in step with them."""
    unchanged: bool = False
    summary: str = ""

    def refuse(self, column: str, message: str) -> None:
        self.errors.append(message)
        self.fields.append(column)

    @property
    def outcome(self) -> Outcome:
        return Outcome.ERROR if self.errors else Outcome.UNCHANGED if self.unchanged else Outcome.NEW


@dataclass
class ImportReport:
    kind: ImportKind
    rows: list[ImportRow] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    text: str = ""
    """The file as text, once it could be read: what the apply form sends back."""

    @property
    def ok(self) -> bool:
        return not self.file_errors and bool(self.rows) and not any(row.errors for row in self.rows)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


class ImportRefused(Refused):
    """Nothing was applied; the report says why, row by row: `errors` holds the file's own
    problems under "file" and each bad row's under "row_<number>"."""

    def __init__(self, report: ImportReport) -> None:
        errors = (
            {"file": " ".join(report.file_errors)}
            if report.file_errors
            else {
                f"row_{row.number}": gettext("Row %(row)d: %(errors)s")
                % {"row": row.number, "errors": " ".join(row.errors)}
                for row in report.rows
                if row.errors
            }
        )
        super().__init__(
            gettext("Nothing was imported. Correct the rows and check the file again."), errors=errors or None
        )
        self.report = report


class ImportInterrupted(Conflict):
    """Someone else imported or moved the same thing at the same moment; the
    transaction was rolled back and nothing of the file stays."""

    def __init__(self) -> None:
        super().__init__(
            gettext("The data changed while the file was being imported, so nothing was applied. Check the file again.")
        )


def size_limit(limit: int = MAX_FILE_BYTES) -> str:
    """The file size limit as the import page states it."""
    return gettext("%(size)s MB") % {"size": f"{limit / 1_000_000:g}"}


def _header_name(text: str) -> str:
    return "_".join(text.strip().strip('"').lower().replace("-", " ").split())


def _shown(text: str) -> str:
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1] + "…"


def file_text(content: bytes | str, errors: list[str], *, limit: int = MAX_FILE_BYTES) -> str | None:
    """The file as text, or None with the reason added to `errors`. `content` is the file as
    uploaded, or (str) its text as it was checked before, sent back to be applied; at most `limit`
    bytes (characters) of it (the master data imports take larger files)."""
    if len(content) > limit:
        errors.append(
            gettext("The file is larger than %(limit)s; nothing was read. Split it into smaller files.")
            % {"limit": size_limit(limit)}
        )
        return None
    if not content.strip():
        errors.append(gettext("The file is empty. Choose a CSV file with a header row and at least one row."))
        return None
    if (b"\x00" in content) if isinstance(content, bytes) else ("\x00" in content):
        errors.append(gettext("The file contains NUL bytes, so it is not CSV text. In Excel, save it as “CSV UTF-8”."))
        return None
    if isinstance(content, str):
        return content
    if not content.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 would pass as Windows-1250
        for encoding in ENCODINGS:
            try:
                return content.decode(encoding)
            except UnicodeDecodeError:
                continue
    errors.append(gettext("The file is not UTF-8 text. In Excel, save it as “CSV UTF-8”."))
    return None


def _delimiter(text: str) -> str:
    """Semicolon when the header line has more semicolons than commas, as a Polish Excel writes it."""
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    return ";" if header_line.count(";") > header_line.count(",") else ","


def _header_positions(kind: ImportKind, header: list[str], line: int, report: ImportReport) -> dict[str, int]:
    """Where each column is; every header cell must have a name (empty ones at the end are ignored)."""
    names = [_header_name(cell) for cell in header]
    while names and not names[-1]:
        names.pop()
    if not names:
        report.file_errors.append(
            gettext("Row %(row)d: the first line must name the columns, but it has no names.") % {"row": line}
        )
    for index, name in enumerate(names, start=1):
        if not name:
            report.file_errors.append(
                gettext("Row %(row)d: column %(column)d of the header has no name.") % {"row": line, "column": index}
            )
    positions: dict[str, int] = {}
    for column, accepted in COLUMNS[kind].items():
        found = [index for index, name in enumerate(names) if name in accepted]
        if len(found) > 1:
            report.file_errors.append(
                gettext("Row %(row)d: the header has the column “%(column)s” twice.") % {"row": line, "column": column}
            )
        elif found:
            positions[column] = found[0]
        elif column not in OPTIONAL and names:
            report.file_errors.append(
                gettext("Row %(row)d: the header has no column “%(column)s”.") % {"row": line, "column": column}
            )
    if report.file_errors:
        report.file_errors.append(gettext("Expected columns: %(columns)s.") % {"columns": ", ".join(COLUMNS[kind])})
    return positions


class Unreadable(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, its cells) for every line that is not blank (a line of
    separators only is not blank); raises `Unreadable` at a record the csv module cannot read."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise Unreadable(start) from None
        if len(cells) > 1 or (cells and cells[0].strip()):
            yield start, cells


def read_rows(kind: ImportKind, content: bytes | str, report: ImportReport) -> list[ImportRow]:
    """The file's data rows as column → text; problems with the file itself go to the report."""
    text = file_text(content, report.file_errors)
    if text is None:
        return []
    report.text = text
    try:
        return _read(kind, records(text), report)
    except Unreadable as unreadable:
        report.file_errors.append(
            gettext("Row %(row)d cannot be read: a quote is not closed, or a field is longer than %(max)s characters.")
            % {"row": unreadable.line, "max": format_decimal(MAX_FIELD_CHARS, 0)}
        )
        return []


def _read(kind: ImportKind, records: Iterator[tuple[int, list[str]]], report: ImportReport) -> list[ImportRow]:
    """The first line that is not blank is the header; rows of empty cells are skipped."""
    first = next(records, None)
    if first is None:
        report.file_errors.append(
            gettext("The file is empty. Choose a CSV file with a header row and at least one row.")
        )
        return []
    positions = _header_positions(kind, first[1], first[0], report)
    if report.file_errors:
        return []
    rows: list[ImportRow] = []
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) == MAX_ROWS:
            report.file_errors.append(gettext("At most %(max)d rows in one file; split it.") % {"max": MAX_ROWS})
            return []
        values = {column: (cells[index].strip() if index < len(cells) else "") for column, index in positions.items()}
        rows.append(ImportRow(number=line, values=values))
    if not rows:
        report.file_errors.append(gettext("The file has a header but no rows."))
    return rows


def _amount(text: str) -> Decimal | None:
    """An amount in ASCII digits ("１２３" is refused), spaces allowed as thousands separators."""
    plain = text.replace("\u00a0", " ").replace("\u202f", " ")
    return parse_amount(plain) if plain.isascii() else None


def _date(text: str, not_a_date: str, row: ImportRow, column: str) -> date | None:
    """A date in ASCII digits between `FIRST_DAY` and `LAST_DAY` (9999-12-31 is a typing error);
    otherwise None, with `not_a_date` (a sentence with %(text)s) or the range as the row's error
    in `column`."""
    parsed = parse_date(text) if text.isascii() else None
    if parsed is None:
        row.refuse(column, not_a_date % {"text": _shown(text)})
    elif not FIRST_DAY <= parsed <= LAST_DAY:
        row.refuse(
            column,
            gettext("The date %(date)s is not between %(first)d and %(last)d.")
            % {"date": _shown(text), "first": FIRST_DAY.year, "last": LAST_DAY.year},
        )
        return None
    return parsed


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


async def _check_invoices(session: AsyncSession, rows: list[ImportRow]) -> list[_Invoice]:
    wanted = {tax_ids.normalise(row.values["tax_id"]) for row in rows}
    companies = {c.tax_id: c for c in await session.scalars(select(Company).where(Company.tax_id.in_(wanted)))}
    numbers = {row.values["invoice_number"] for row in rows}
    existing = {i.number: i for i in await session.scalars(select(Invoice).where(Invoice.number.in_(numbers)))}
    order_numbers = {row.values.get("order_number", "") for row in rows} - {""}
    orders = {o.number: o for o in await session.scalars(select(Order).where(Order.number.in_(order_numbers)))}

    planned: list[_Invoice] = []
    seen: dict[str, tuple[ImportRow, tuple[object, ...]]] = {}
    for row in rows:
        v = row.values
        number = v["invoice_number"]
        if not number:
            row.refuse("invoice_number", gettext("No invoice number."))
        elif len(number) > NUMBER_MAX:
            row.refuse(
                "invoice_number", gettext("The invoice number is longer than %(max)d characters.") % {"max": NUMBER_MAX}
            )
        company = companies.get(tax_ids.normalise(v["tax_id"]))
        if company is None:
            row.refuse(
                "tax_id", gettext("No customer company has the tax id “%(tax_id)s”.") % {"tax_id": _shown(v["tax_id"])}
            )
        issue_date = _date(
            v["issue_date"], gettext("The issue date “%(text)s” is not a date (YYYY-MM-DD)."), row, "issue_date"
        )
        due_date = _date(v["due_date"], gettext("The due date “%(text)s” is not a date (YYYY-MM-DD)."), row, "due_date")
        if issue_date and due_date and due_date < issue_date:
            row.refuse("due_date", gettext("The due date is before the issue date."))
        gross = _amount(v["gross"])
        if gross is None:
            row.refuse("gross", gettext("The gross amount “%(text)s” is not an amount.") % {"text": _shown(v["gross"])})
        elif gross < 0:
            row.refuse("gross", gettext("The gross amount cannot be negative."))
        currency = v["currency"].upper()
        if company is not None and currency != company.currency:
            row.refuse(
                "currency",
                gettext("The currency %(currency)s is not the company's currency %(expected)s.")
                % {"currency": _shown(currency) or "–", "expected": company.currency},
            )
        order = None
        if order_number := v.get("order_number", ""):
            order = orders.get(order_number)
            if order is None or (company is not None and order.company_id != company.id):
                row.refuse(
                    "order_number", gettext("No order %(number)s of this company.") % {"number": _shown(order_number)}
                )
            elif order.status not in (OrderStatus.APPROVED, OrderStatus.EXPORTED, OrderStatus.INVOICED):
                row.refuse(
                    "order_number",
                    gettext("Order %(number)s has the status “%(status)s”; only approved orders are invoiced.")
                    % {"number": order_number, "status": status_label(order.status)},
                )
        if row.errors:
            continue
        assert company is not None and issue_date and due_date and gross is not None
        row.summary = f"{company.name} · {format_money(gross, currency)}"
        figures = (company.id, issue_date, due_date, gross, currency, order_number or None)
        if number in seen:
            first, first_figures = seen[number]
            if first_figures != figures:
                row.refuse(
                    "invoice_number",
                    gettext("Invoice %(number)s is also in row %(row)d with other figures.")
                    % {"number": number, "row": first.number},
                )
            row.unchanged = True
            continue
        seen[number] = (row, figures)
        if (known := existing.get(number)) is not None:
            stored = (
                known.company_id,
                known.issue_date,
                known.due_date,
                known.gross_amount,
                known.currency,
                known.order_number,
            )
            if stored != figures:
                row.refuse(
                    "invoice_number",
                    gettext(
                        "Invoice %(number)s was imported before with other figures "
                        "(gross %(gross)s, issued %(issued)s, due %(due)s)."
                    )
                    % {
                        "number": number,
                        "gross": format_money(known.gross_amount, known.currency),
                        "issued": known.issue_date.isoformat(),
                        "due": known.due_date.isoformat(),
                    },
                )
            row.unchanged = True
            continue
        planned.append(_Invoice(row, company, number, issue_date, due_date, gross, currency, order))
    return planned


def derived_reference(invoice_number: str, paid_on: date, amount: Decimal, occurrence: int) -> str:
    """Without a reference column a payment is known by its invoice, date and amount as parsed
    (never as typed: "30.11.2026;100,00" and "2026-11-30,100.00" are one payment) and which of
    its equal rows in the file it is: `1|…`, `2|…` for two equal payments on one day."""
    return f"{invoice_number}|{paid_on.isoformat()}|{amount.quantize(CENT)}|{occurrence}"


def _identity(values: dict[str, str]) -> tuple[str, date, Decimal] | None:
    """The parsed values a payment without a reference is known by; None when they do not parse
    (the row is refused then, with the reason)."""
    paid_on = parse_date(values["paid_on"]) if values["paid_on"].isascii() else None
    amount = _amount(values["amount"])
    if paid_on is None or amount is None:
        return None
    return values["invoice_number"], paid_on, amount


async def _check_payments(session: AsyncSession, rows: list[ImportRow], today: date, lock: bool) -> list[_Payment]:
    numbers = {row.values["invoice_number"] for row in rows}
    query = select(Invoice).where(Invoice.number.in_(numbers)).order_by(Invoice.id)
    if lock:
        query = query.with_for_update()
    invoices = {i.number: i for i in await session.scalars(query.execution_options(populate_existing=True))}
    occurrences: dict[tuple[str, date, Decimal], int] = {}
    for row in rows:
        if not row.values.get("reference") and (identity := _identity(row.values)) is not None:
            occurrences[identity] = occurrences.get(identity, 0) + 1
            row.values["reference"] = derived_reference(*identity, occurrences[identity])
    references = {row.values.get("reference", "") for row in rows} - {""}
    existing = {p.reference: p for p in await session.scalars(select(Payment).where(Payment.reference.in_(references)))}

    planned: list[_Payment] = []
    balances = {invoice.id: invoice.balance for invoice in invoices.values()}
    seen: dict[str, tuple[ImportRow, tuple[object, ...]]] = {}
    for row in rows:
        v = row.values
        invoice = invoices.get(v["invoice_number"])
        if invoice is None:
            row.refuse(
                "invoice_number",
                gettext("No invoice %(number)s; import the invoice first.")
                % {"number": _shown(v["invoice_number"]) or "–"},
            )
        paid_on = _date(
            v["paid_on"], gettext("The payment date “%(text)s” is not a date (YYYY-MM-DD)."), row, "paid_on"
        )
        if paid_on is not None and paid_on > today:
            row.refuse(
                "paid_on", gettext("The payment date %(date)s is in the future.") % {"date": paid_on.isoformat()}
            )
        amount = _amount(v["amount"])
        if amount is None:
            row.refuse("amount", gettext("The amount “%(text)s” is not an amount.") % {"text": _shown(v["amount"])})
        elif amount <= 0:
            row.refuse("amount", gettext("The amount must be more than zero."))
        reference = v.get("reference", "")
        if len(reference) > REFERENCE_MAX:
            row.refuse(
                "reference", gettext("The reference is longer than %(max)d characters.") % {"max": REFERENCE_MAX}
            )
        if row.errors:
            continue
        assert invoice is not None and paid_on is not None and amount is not None
        row.summary = f"{invoice.number} · {format_money(amount, invoice.currency)}"
        figures = (invoice.id, paid_on, amount)
        if reference in seen:
            first, first_figures = seen[reference]
            if first_figures != figures:
                row.refuse(
                    "reference",
                    gettext("The reference %(reference)s is also in row %(row)d for another payment.")
                    % {"reference": _shown(reference), "row": first.number},
                )
            row.unchanged = True
            continue
        seen[reference] = (row, figures)
        if (known := existing.get(reference)) is not None:
            if (known.invoice_id, known.paid_on, known.amount) != figures:
                row.refuse(
                    "reference",
                    gettext("The reference %(reference)s was imported before for another payment.")
                    % {"reference": reference},
                )
            row.unchanged = True
            continue
        if amount > balances[invoice.id]:
            row.refuse(
                "amount",
                gettext("The payment of %(amount)s exceeds the balance %(balance)s of invoice %(number)s.")
                % {
                    "amount": format_money(amount, invoice.currency),
                    "balance": format_money(balances[invoice.id], invoice.currency),
                    "number": invoice.number,
                },
            )
            continue
        balances[invoice.id] -= amount
        planned.append(_Payment(row, invoice, reference, paid_on, amount))
    return planned


async def _checked(
    session: AsyncSession, report: ImportReport, today: date, *, lock: bool
) -> tuple[list[_Invoice], list[_Payment]]:
    """Checks every row of the report, marking each with its errors or as unchanged; what is to
    be written (invoices, payments)."""
    if report.file_errors:
        return [], []
    if report.kind is ImportKind.INVOICES:
        return await _check_invoices(session, report.rows), []
    return [], await _check_payments(session, report.rows, today, lock)


async def check_import(session: AsyncSession, kind: ImportKind, content: bytes | str, *, today: date) -> ImportReport:
    """What importing the file would do, row by row; nothing is written. `content` is the file as
    uploaded (bytes, at most `MAX_FILE_BYTES + 1` of them is enough to tell it is too large) or
    its text as checked before."""
    report = ImportReport(kind)
    report.rows = read_rows(kind, content, report)
    await _checked(session, report, today, lock=False)
    return report


async def apply_import(
    session: AsyncSession, kind: ImportKind, content: bytes | str, actor: User, *, today: date
) -> ImportReport:
    """Checks the file again and applies every new row, or raises `ImportRefused` having
    written nothing (`ImportInterrupted` when someone else got there first). The caller commits."""
    report = ImportReport(kind)
    report.rows = read_rows(kind, content, report)
    return await _apply(session, report, actor, today)


async def apply_rows(
    session: AsyncSession, kind: ImportKind, rows: list[ImportRow], actor: User | str, *, today: date
) -> ImportReport:
    """The rows of a file already read (from the ERP API's JSON), through the same checks and
    writes as a file: every new row applied, or `ImportRefused` with each row's errors and their
    columns, having written nothing. `actor` is a person or what names an API key."""
    return await _apply(session, ImportReport(kind, rows=rows), actor, today)


async def _apply(session: AsyncSession, report: ImportReport, actor: User | str, today: date) -> ImportReport:
    invoices, payments = await _checked(session, report, today, lock=True)
    if not report.ok:
        raise ImportRefused(report)
    try:
        await _apply_invoices(session, invoices, actor)
        await _apply_payments(session, payments)
    except (IntegrityError, MoveRefused):
        await session.rollback()
        raise ImportInterrupted() from None
    counts = {outcome.value: report.count(outcome) for outcome in Outcome}
    audit.record(
        session, actor, "import", "import", None, report.kind.value, changes={}, note=json.dumps(counts, sort_keys=True)
    )
    await session.flush()
    return report


async def _apply_invoices(session: AsyncSession, planned: list[_Invoice], actor: User | str) -> None:
    """New invoices, and each order they name moved on to invoiced (by the person, or with the
    API key named in the reason)."""
    if not planned:
        return
    session.add_all(
        Invoice(
            company_id=item.company.id,
            number=item.number,
            issue_date=item.issue_date,
            due_date=item.due_date,
            currency=item.currency,
            gross_amount=item.gross,
            paid_amount=Decimal("0.00"),
            order_number=item.order.number if item.order else None,
        )
        for item in planned
    )
    await session.flush()
    moved: set[int] = set()
    for item in planned:
        order = item.order
        if order is None or order.id in moved or order.status is OrderStatus.INVOICED:
            continue
        moved.add(order.id)
        by = actor if isinstance(actor, User) else None
        reason = ERP_INVOICED + item.number + ("" if isinstance(actor, User) else f"|{actor}")
        if order.status is OrderStatus.APPROVED:
            await move_order(session, order.id, OrderStatus.EXPORTED, by, reason, expected_from=OrderStatus.APPROVED)
        await move_order(session, order.id, OrderStatus.INVOICED, by, reason, expected_from=OrderStatus.EXPORTED)


async def _apply_payments(session: AsyncSession, planned: list[_Payment]) -> None:
    now = clock.now()
    for item in planned:
        session.add(
            Payment(
                company_id=item.invoice.company_id,
                invoice_id=item.invoice.id,
                reference=item.reference,
                paid_on=item.paid_on,
                amount=item.amount,
                recorded_at=now,
            )
        )
        item.invoice.paid_amount += item.amount
    await session.flush()
