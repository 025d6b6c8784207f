"""Master data as CSV files, for every kind of `portal.services.master_data` alike: a file is read
into rows of text (`read`), checked against the database to say what it would change (`check`),
applied all or nothing (`apply_file`), and every record is written back out (`export`) in the
shape an import takes back unchanged.

A file is read as the finance imports read theirs (`portal.services.imports.file_text` and
`records`): UTF-8 with or without a BOM or Windows-1250, comma or semicolon, any line ends; a
UTF-16 or binary file is refused with "save it as CSV UTF-8". The header names the columns in
English or Polish, compared without case, accents, spaces or underscores ("Cena katalogowa" is
"cena_katalogowa"); a column the kind does not know, a column twice or a required column missing
refuses the file, naming it. At most `MAX_FILE_BYTES` and `MAX_ROWS`: a larger file is refused,
never cut. Blank lines are skipped; blank cells are left out of a row.

Rows are numbered as in the file (the header is row 1); the kinds number them by position
among the records, and `Report` turns one into the other.

Applying checks the file again inside the caller's transaction and refuses when what it would
do is not what the check showed (`Plan` fingerprint): the data changed meanwhile, so the admin
checks again. One audit entry records the import as a whole; the kinds record each change."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Conflict, NotFound, Refused
from portal.i18n import format_decimal, gettext
from portal.models import User
from portal.services import audit, imports, master_data
from portal.services.master_data import Change, Column, Kind, Outcome, Plan, Row, RowError

MAX_FILE_BYTES = 10_000_000
"""10 MB, stated on the page: 50,000 rows of 200 characters; 20,000 products take about 3 MB."""
MAX_ROWS = 50_000
ERRORS_SHOWN = 200
"""The report lists this many errors and says how many more there are."""
CHANGES_SHOWN = 20
"""The report shows this many new and changed records (changed ones with old → new)."""
FILE_NAME_MAX = 200

_NEUTRALISED_START = re.compile(r"\A'(?=[ \"]*[=+\-@\t\r])")
_NEUTRALISED_PART = re.compile(r"([,;\r\n])'(?=[ \"]*[=+\-@\t\r])")
"""The apostrophes `portal.web.downloads.csv_cell` puts before what a spreadsheet would run as a
formula; reading takes them away again, so an export imports back unchanged."""
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def header_key(name: str) -> str:
    """A header name as it is compared: no case, accents, quotes, or difference between spaces,
    hyphens and underscores ("Cena katalogowa", "cena_katalogowa", "CENA-KATALOGOWA" are one)."""
    text = name.strip().strip('"').replace("ł", "l").replace("Ł", "L")
    plain = "".join(char for char in unicodedata.normalize("NFKD", text) if not unicodedata.combining(char))
    return "_".join(plain.casefold().replace("-", " ").replace("_", " ").split())


def cell_text(cell: str) -> str:
    """A cell as a row holds it: trimmed, line ends as "\\n", the formula guard of an export undone."""
    text = cell.replace("\r\n", "\n").replace("\r", "\n")
    return _NEUTRALISED_PART.sub(r"\1", _NEUTRALISED_START.sub("", text)).strip()


@dataclass
class Reading:
    """A file read for a kind: its rows (blank cells left out) and the line each starts on."""

    rows: list[Row] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    row_errors: list[RowError] = field(default_factory=list)
    text: str = ""
    """The file as text: what the apply form sends back."""


def _expected(kind: Kind) -> str:
    names = (column.names[0] + ("" if column.required else " " + gettext("(optional)")) for column in kind.columns)
    return gettext("Expected columns: %(columns)s.") % {"columns": ", ".join(names)}


def _header(kind: Kind, cells: list[str], reading: Reading) -> list[Column | None]:
    """The column of each position of the header (None for a blank name at the end)."""
    accepted = {header_key(name): column for column in kind.columns for name in column.names}
    keys = [header_key(cell) for cell in cells]
    while keys and not keys[-1]:
        keys.pop()
    errors = reading.file_errors
    positions: list[Column | None] = []
    unknown: list[str] = []
    for index, key in enumerate(keys):
        column = accepted.get(key)
        if not key:
            errors.append(gettext("Column %(column)d of the header has no name.") % {"column": index + 1})
        elif column is None:
            unknown.append(cells[index].strip()[:60])
        elif column in positions:
            errors.append(gettext("The header has the column “%(column)s” twice.") % {"column": column.names[0]})
        positions.append(column)
    if unknown:
        errors.append(
            gettext("The header has columns this file cannot hold: %(names)s.") % {"names": ", ".join(unknown)}
        )
    for column in kind.columns:
        if column.required and column not in positions:
            errors.append(gettext("The header has no column “%(column)s”.") % {"column": column.names[0]})
    if errors:
        errors.append(_expected(kind))
    return positions


def _rows(records: Sequence[tuple[int, list[str]]], positions: list[Column | None], reading: Reading) -> None:
    for line, cells in records:
        if not any(cell.strip() for cell in cells):
            continue
        if len(reading.rows) == MAX_ROWS:
            reading.file_errors.append(
                gettext("The file has more than %(max)s rows; nothing was read. Split it into smaller files.")
                % {"max": format_decimal(MAX_ROWS, 0)}
            )
            return
        row: dict[str, str] = {}
        for column, cell in zip(positions, cells, strict=False):
            if column is not None and (text := cell_text(cell)):
                row[column.field] = text
        reading.rows.append(row)
        reading.lines.append(line)
        if any(cell.strip() for cell in cells[len(positions) :]):
            reading.row_errors.append(
                RowError(len(reading.rows), "", gettext("The row has more cells than the header has columns."))
            )


def read(kind: Kind, content: bytes | str) -> Reading:
    """The file's rows for `kind`; what is wrong with the file itself goes to `file_errors`, and
    then no row is kept. `content` is the file as uploaded (`MAX_FILE_BYTES + 1` bytes are enough
    to tell it is too large) or its text as it was checked before."""
    reading = Reading()
    text = imports.file_text(content, reading.file_errors, limit=MAX_FILE_BYTES)
    if text is None:
        return reading
    reading.text = text
    try:
        records = list(_limited(imports.records(text)))
    except imports.Unreadable as unreadable:
        reading.file_errors.append(
            gettext("Row %(row)d cannot be read: a quote is not closed, or a field is longer than %(max)s characters.")
            % {"row": unreadable.line, "max": format_decimal(imports.MAX_FIELD_CHARS, 0)}
        )
        return reading
    if not records:
        reading.file_errors.append(
            gettext("The file is empty. Choose a CSV file with a header row and at least one row.")
        )
        return reading
    positions = _header(kind, records[0][1], reading)
    if not reading.file_errors:
        _rows(records[1:], positions, reading)
    if not reading.file_errors and not reading.rows:
        reading.file_errors.append(gettext("The file has a header but no rows."))
    if reading.file_errors:
        reading.rows, reading.lines, reading.row_errors = [], [], []
    return reading


def _limited(records: Iterator[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    """The header and the rows that are not blank, stopping one past the row limit (enough to
    tell the file is too long, without reading millions of lines)."""
    found: list[tuple[int, list[str]]] = []
    for line, cells in records:
        if any(cell.strip() for cell in cells):
            found.append((line, cells))
            if len(found) > MAX_ROWS + 1:
                break
    return found


@dataclass(frozen=True)
class LineError:
    line: int
    """The row in the file (the header is row 1)."""
    column: str
    """The column's header name; "" for the row as a whole."""
    message: str


@dataclass(frozen=True)
class ShownChange:
    line: int
    change: Change
    fields: list[tuple[str, str | None, str | None]]
    """(column name, old, new) of a changed record."""


@dataclass
class Report:
    """What a file would change (after a check) or changed (after applying)."""

    kind: Kind
    reading: Reading
    plan: Plan = field(default_factory=Plan)

    @property
    def file_errors(self) -> list[str]:
        return self.reading.file_errors

    @property
    def text(self) -> str:
        return self.reading.text

    @property
    def ok(self) -> bool:
        return not self.file_errors and not self.reading.row_errors and self.plan.ok and bool(self.reading.rows)

    def count(self, outcome: str) -> int:
        return self.plan.count(Outcome(outcome))

    def _line(self, row: int) -> int:
        return self.reading.lines[row - 1] if 1 <= row <= len(self.reading.lines) else 0

    def _column(self, name: str) -> str:
        return next((column.names[0] for column in self.kind.columns if column.field == name), name)

    @property
    def error_count(self) -> int:
        return len(self.reading.row_errors) + len(self.plan.errors)

    def errors(self) -> list[LineError]:
        """The first `ERRORS_SHOWN` row errors, in the order of the file."""
        every = sorted([*self.reading.row_errors, *self.plan.errors], key=lambda error: error.row)
        return [
            LineError(self._line(error.row), self._column(error.field) if error.field else "", error.message)
            for error in every[:ERRORS_SHOWN]
        ]

    @property
    def more_errors(self) -> int:
        return max(0, self.error_count - ERRORS_SHOWN)

    def changes(self) -> list[ShownChange]:
        """The first `CHANGES_SHOWN` new or changed records."""
        shown = [change for change in self.plan.changes if change.outcome is not Outcome.UNCHANGED][:CHANGES_SHOWN]
        return [
            ShownChange(
                self._line(change.row),
                change,
                [(self._column(name), pair[0], pair[1]) for name, pair in change.fields.items()],
            )
            for change in shown
        ]

    @property
    def fingerprint(self) -> str:
        """What applying would do, as a digest: the apply form sends it back, and applying refuses
        when the data changed so that the file would now do something else."""
        changes = [
            [change.row, change.key, change.outcome.value, sorted(change.fields.items())]
            for change in self.plan.changes
        ]
        return hashlib.sha256(json.dumps(changes, ensure_ascii=False).encode()).hexdigest()


def find(code: str) -> Kind | None:
    return master_data.kinds().get(code)


def _kind(code: str) -> Kind:
    kind = find(code)
    if kind is None:
        raise Refused(gettext("Choose what the file holds."), "kind")
    return kind


async def check(session: AsyncSession, code: str, content: bytes | str | None, *, today: date) -> Report:
    """What importing the file as `code` would change, row by row; nothing is written. `content`
    None: no file was chosen."""
    kind = _kind(code)
    if content is None:
        raise Refused(gettext("Choose a CSV file."), "file")
    reading = read(kind, content)
    report = Report(kind, reading)
    if reading.rows:
        report.plan = await kind.plan(session, reading.rows, today=today)
    return report


async def apply_file(
    session: AsyncSession,
    actor: User,
    code: str,
    content: str,
    *,
    file_name: str,
    expected: str,
    today: date,
) -> Report:
    """Checks the file again and applies it through the kind, all or nothing, with one audit entry
    for the import. Refused when the file has errors now; a `Conflict` when it would now change
    something other than the check showed (`expected`, the check's fingerprint). The caller commits;
    a refusal is rolled back."""
    kind = _kind(code)
    reading = read(kind, content)
    if reading.file_errors or reading.row_errors:
        errors = {"file": " ".join(reading.file_errors)} if reading.file_errors else None
        raise Refused(gettext("Nothing was imported. Correct the file and check it again."), errors=errors)
    try:
        report = Report(kind, reading, await kind.apply(session, actor, reading.rows, today=today))
    except IntegrityError:
        await session.rollback()
        raise Conflict(_changed_meanwhile()) from None
    if expected and report.fingerprint != expected:
        raise Conflict(_changed_meanwhile())
    counts = {outcome.value: report.count(outcome) for outcome in Outcome}
    note = json.dumps({"kind": kind.code, "file": file_name[:FILE_NAME_MAX], **counts}, ensure_ascii=False)
    audit.record(session, actor, "import", "import", None, file_name or kind.code, note=note)
    await session.flush()
    return report


def _changed_meanwhile() -> str:
    return gettext(
        "The data changed since the file was checked, so nothing was imported. The check below is as it stands now."
    )


def imported(report: Report) -> str:
    return gettext("Imported: %(new)s new, %(changed)s changed, %(unchanged)s unchanged.") % {
        outcome.value: format_decimal(report.count(outcome), 0) for outcome in Outcome
    }


@dataclass(frozen=True)
class Export:
    header: list[str]
    rows: list[list[str | Decimal]]
    """Text, or a `Decimal` in a numeric column (so a Polish export writes it with a comma)."""
    filename: str


def _exported(column: Column, text: str) -> str | Decimal:
    return Decimal(text) if column.numeric and _NUMBER.fullmatch(text) else text


async def export(session: AsyncSession, code: str, *, today: date) -> Export:
    """Every record of the kind `code` with the first (English) header names: the file an import
    takes back unchanged. An unknown kind is `NotFound`."""
    kind = find(code)
    if kind is None:
        raise NotFound()
    records = await kind.export(session)
    rows = [[_exported(column, record.get(column.field, "")) for column in kind.columns] for record in records]
    return Export([column.names[0] for column in kind.columns], rows, f"{kind.code}-{today.isoformat()}.csv")
