"""CSV files of master data, for any kind: odd files are refused with a sentence that says why,
headers are matched in English or Polish, rows are numbered as in the file, a check writes
nothing, applying is all or nothing with one audit entry, and an export imports back unchanged.

The kinds are tested by their own modules; here a small kind over product categories
(`CategoryKind`, also used by the page tests) stands for any of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Conflict, NotFound, Refused
from portal.models import ProductCategory, Role, User
from portal.services import audit, master_data, master_import
from portal.services.master_data import Change, Column, Outcome, Plan, Row, RowError, parse_decimal
from portal.web.downloads import csv_cell
from tests.factories import make_user

TODAY = date(2026, 12, 1)


class CategoryKind:
    """Product categories with their margin floor: the smallest kind there is."""

    code = "categories"
    columns: Sequence[Column] = (
        Column("name", ("name", "nazwa")),
        Column("margin_floor_pct", ("margin_floor_pct", "Minimalna marża %"), required=False, numeric=True),
    )

    def title(self) -> str:
        return "Product categories"

    async def _plan(self, session: AsyncSession, rows: Sequence[Row]) -> tuple[Plan, list[tuple[str, Decimal | None]]]:
        existing = {c.name: c for c in await session.scalars(select(ProductCategory))}
        plan, values = Plan(), []
        for position, row in enumerate(rows, start=1):
            name = row.get("name", "")
            margin = parse_decimal(row["margin_floor_pct"], 2) if "margin_floor_pct" in row else None
            errors = len(plan.errors)
            if not name:
                plan.errors.append(RowError(position, "name", "A name is required."))
            if "margin_floor_pct" in row and (margin is None or not -100 <= margin <= 100):
                plan.errors.append(RowError(position, "margin_floor_pct", "The margin is not a percentage."))
            if len(plan.errors) > errors:
                continue
            values.append((name, margin))
            known = existing.get(name)
            if known is None:
                plan.changes.append(Change(position, name, Outcome.NEW))
                continue
            old, new = audit.as_text(known.margin_floor_pct), audit.as_text(margin)
            outcome = Outcome.UNCHANGED if old == new else Outcome.CHANGED
            fields: dict[str, list[str | None]] = {} if old == new else {"margin_floor_pct": [old, new]}
            plan.changes.append(Change(position, name, outcome, fields))
        return plan, values

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan:
        return (await self._plan(session, rows))[0]

    async def apply(self, session: AsyncSession, actor: User, rows: Sequence[Row], *, today: date) -> Plan:
        plan, values = await self._plan(session, rows)
        if not plan.ok:
            raise Refused("The file has errors.")
        existing = {c.name: c for c in await session.scalars(select(ProductCategory))}
        for change, (name, margin) in zip(plan.changes, values, strict=True):
            if change.outcome is Outcome.NEW:
                session.add(ProductCategory(name=name, margin_floor_pct=margin))
            elif change.outcome is Outcome.CHANGED:
                existing[name].margin_floor_pct = margin
            if change.outcome is not Outcome.UNCHANGED:
                audit.record(session, actor, change.outcome.value, "category", None, name, changes=change.fields)
        await session.flush()
        return plan

    async def export(self, session: AsyncSession) -> list[dict[str, str]]:
        categories = await session.scalars(select(ProductCategory).order_by(ProductCategory.name))
        return [
            {"name": c.name} | ({"margin_floor_pct": str(c.margin_floor_pct)} if c.margin_floor_pct is not None else {})
            for c in categories
        ]


@pytest.fixture
def categories(monkeypatch: pytest.MonkeyPatch) -> CategoryKind:
    kind = CategoryKind()
    monkeypatch.setattr(master_data, "kinds", lambda: {kind.code: kind})
    return kind


@pytest.fixture
async def admin(session: AsyncSession) -> User:
    user = await make_user(session, Role.ADMIN)
    await session.commit()
    return user


def read(content: bytes | str) -> master_import.Reading:
    return master_import.read(CategoryKind(), content)


def csv(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


# Reading files.
@pytest.mark.parametrize(
    "content",
    [
        csv("name,margin_floor_pct", "Tools,12.5", "Paint,"),
        csv("name;margin_floor_pct", "Tools;12,5", "Paint;"),
        csv("name,margin_floor_pct", "Tools,12.5", "Paint,", encoding="utf-8-sig"),
        b"name;margin_floor_pct\nTools;12,5\n\n;\nPaint",
    ],
    ids=["comma", "semicolon", "bom", "lf-and-blank-lines"],
)
def test_a_file_is_read_with_or_without_a_bom_at_commas_or_semicolons(content: bytes) -> None:
    reading = read(content)
    assert reading.file_errors == []
    assert [dict(row) for row in reading.rows] in (
        [{"name": "Tools", "margin_floor_pct": "12.5"}, {"name": "Paint"}],
        [{"name": "Tools", "margin_floor_pct": "12,5"}, {"name": "Paint"}],
    )


def test_blank_lines_are_skipped_and_rows_keep_their_line_in_the_file() -> None:
    reading = read(b"name\n\nTools\n\n\nPaint\n")
    assert reading.lines == [3, 6]


@pytest.mark.parametrize(
    "header",
    ["Nazwa;Minimalna marża %", "NAZWA;minimalna_marza_%", " nazwa ; MINIMALNA-MARŻA % ", '"Name";"Margin floor pct"'],
)
def test_headers_match_in_english_or_polish_without_case_accents_or_spacing(header: str) -> None:
    reading = read(csv(header, "Narzędzia;7,5"))
    assert reading.file_errors == []
    assert reading.rows == [{"name": "Narzędzia", "margin_floor_pct": "7,5"}]


def test_a_windows_1250_file_from_a_polish_excel_is_read() -> None:
    reading = read(csv("Nazwa;Minimalna marża %", "Łożyska;7,5", encoding="cp1250"))
    assert reading.rows == [{"name": "Łożyska", "margin_floor_pct": "7,5"}]


def test_a_missing_required_column_is_named() -> None:
    reading = read(csv("margin_floor_pct", "12"))
    assert reading.rows == []
    assert "The header has no column “name”." in reading.file_errors
    assert "Expected columns: name, margin_floor_pct (optional)." in reading.file_errors


def test_an_unknown_column_is_reported_not_dropped() -> None:
    reading = read(csv("name,margin,colour", "Tools,12,red"))
    assert reading.rows == []
    assert "The header has columns this file cannot hold: margin, colour." in reading.file_errors


def test_a_column_named_twice_is_refused() -> None:
    reading = read(csv("name,nazwa", "Tools,Narzędzia"))
    assert "The header has the column “name” twice." in reading.file_errors


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("name\nTools\n".encode("utf-16"), "CSV UTF-8"),
        ("name\nTools\n".encode("utf-16-le"), "CSV UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "CSV UTF-8"),
        (b"name\nTo\x00ols\n", "NUL"),
        (b"name\n\x81\x83\x88\x90\x98\n", "CSV UTF-8"),
        (b"", "empty"),
        (b"\r\n \r\n", "empty"),
        (b"name\n", "no rows"),
        (b'name\n"Tools\n', "quote is not closed"),
    ],
    ids=["utf-16", "utf-16-no-bom", "binary", "nul", "undecodable", "empty", "blank", "header-only", "open-quote"],
)
def test_odd_files_are_refused_with_a_reason(content: bytes, says: str) -> None:
    reading = read(content)
    assert reading.rows == []
    assert says in " ".join(reading.file_errors)


def test_a_file_over_the_size_limit_is_refused_not_cut() -> None:
    content = b"name\n" + b"x" * master_import.MAX_FILE_BYTES
    reading = read(content)
    assert reading.rows == []
    assert reading.file_errors == ["The file is larger than 10 MB; nothing was read. Split it into smaller files."]


def test_more_rows_than_the_limit_are_refused_not_cut() -> None:
    fits = "name\n" + "".join(f"c{n}\n" for n in range(master_import.MAX_ROWS))
    assert len(read(fits).rows) == master_import.MAX_ROWS
    reading = read(fits + "one more\n")
    assert reading.rows == []
    assert reading.file_errors == ["The file has more than 50,000 rows; nothing was read. Split it into smaller files."]


def test_blank_cells_are_left_out_and_cells_are_trimmed() -> None:
    reading = read(csv("name,margin_floor_pct", "  Tools  ,   ", ' "Paint" ,"5"'))
    assert reading.rows == [{"name": "Tools"}, {"name": '"Paint"', "margin_floor_pct": "5"}]


def test_cells_beyond_the_header_are_a_row_error() -> None:
    reading = read(csv("name", "Tools,12", "Paint,,"))
    assert [(error.row, error.message) for error in reading.row_errors] == [
        (1, "The row has more cells than the header has columns.")
    ]


def test_the_formula_guard_of_an_export_is_undone_when_read() -> None:
    for text in ["=1+2", "-5", "+48 600", "@home", "a;+b", "plain", "x,=y"]:
        assert master_import.cell_text(csv_cell(text).strip('"').replace('""', '"')) == text


# Checking.
async def test_a_check_says_what_would_change_and_writes_nothing(
    session: AsyncSession, categories: CategoryKind
) -> None:
    session.add_all([ProductCategory(name="Tools", margin_floor_pct=Decimal("10.00")), ProductCategory(name="Paint")])
    await session.commit()
    content = csv("nazwa;minimalna marża %", "Tools;12,5", "Paint;", "Glue;3")
    report = await master_import.check(session, "categories", content, today=TODAY)
    assert report.ok
    assert (report.count("new"), report.count("changed"), report.count("unchanged")) == (1, 1, 1)
    [changed, new] = report.changes()
    assert (changed.line, changed.change.key, changed.fields) == (2, "Tools", [("margin_floor_pct", "10", "12.5")])
    assert (new.line, new.change.key, new.change.outcome) == (4, "Glue", Outcome.NEW)
    assert len((await session.scalars(select(ProductCategory))).all()) == 2


async def test_errors_carry_the_row_number_of_the_file(session: AsyncSession, categories: CategoryKind) -> None:
    content = csv("name,margin_floor_pct", "Tools,12", "", ",5", "Paint,lots")
    report = await master_import.check(session, "categories", content, today=TODAY)
    assert not report.ok
    assert [(e.line, e.column, e.message) for e in report.errors()] == [
        (4, "name", "A name is required."),
        (5, "margin_floor_pct", "The margin is not a percentage."),
    ]


async def test_ten_thousand_bad_rows_show_the_first_200_and_the_count(
    session: AsyncSession, categories: CategoryKind
) -> None:
    content = ("name,margin_floor_pct\n" + "".join(f"c{n},bad\n" for n in range(10_000))).encode()
    report = await master_import.check(session, "categories", content, today=TODAY)
    shown = report.errors()
    assert len(shown) == 200 and (shown[0].line, shown[-1].line) == (2, 201)
    assert (report.error_count, report.more_errors) == (10_000, 9_800)


async def test_no_file_or_an_unknown_kind_is_refused_at_its_field(
    session: AsyncSession, categories: CategoryKind
) -> None:
    with pytest.raises(Refused) as no_file:
        await master_import.check(session, "categories", None, today=TODAY)
    assert no_file.value.field == "file"
    with pytest.raises(Refused) as unknown:
        await master_import.check(session, "planets", b"name\nMars\n", today=TODAY)
    assert unknown.value.field == "kind"


# Applying.
async def test_applying_writes_everything_records_the_import_and_twice_changes_nothing(
    session: AsyncSession, categories: CategoryKind, admin: User
) -> None:
    text = "name;margin_floor_pct\nTools;12,5\nPaint;\n"
    checked = await master_import.check(session, "categories", text, today=TODAY)
    report = await master_import.apply_file(
        session, admin, "categories", text, file_name="cats.csv", expected=checked.fingerprint, today=TODAY
    )
    await session.commit()
    assert master_import.imported(report) == "Imported: 2 new, 0 changed, 0 unchanged."
    stored = {c.name: c.margin_floor_pct for c in await session.scalars(select(ProductCategory))}
    assert stored == {"Tools": Decimal("12.50"), "Paint": None}
    [entry] = (await audit.entries(session, audit.AuditFilter(object_type="import"))).entries
    assert (entry.action, entry.actor_id, entry.object_label) == ("import", admin.id, "cats.csv")
    assert entry.note == '{"kind": "categories", "file": "cats.csv", "new": 2, "changed": 0, "unchanged": 0}'

    again = await master_import.check(session, "categories", text, today=TODAY)
    second = await master_import.apply_file(
        session, admin, "categories", text, file_name="cats.csv", expected=again.fingerprint, today=TODAY
    )
    assert master_import.imported(second) == "Imported: 0 new, 0 changed, 2 unchanged."


async def test_applying_refuses_when_the_data_changed_since_the_check(
    session: AsyncSession, categories: CategoryKind, admin: User
) -> None:
    text = "name,margin_floor_pct\nTools,12.5\n"
    checked = await master_import.check(session, "categories", text, today=TODAY)
    session.add(ProductCategory(name="Tools", margin_floor_pct=Decimal("3.00")))
    await session.commit()
    with pytest.raises(Conflict):
        await master_import.apply_file(
            session, admin, "categories", text, file_name="", expected=checked.fingerprint, today=TODAY
        )


async def test_a_file_with_errors_is_refused_whole(
    session: AsyncSession, categories: CategoryKind, admin: User
) -> None:
    with pytest.raises(Refused):
        await master_import.apply_file(
            session,
            admin,
            "categories",
            "name,margin_floor_pct\nTools,1\nPaint,x\n",
            file_name="",
            expected="",
            today=TODAY,
        )
    with pytest.raises(Refused):
        await master_import.apply_file(
            session, admin, "categories", "name\nTools,extra\n", file_name="", expected="", today=TODAY
        )
    await session.rollback()
    assert (await session.scalars(select(ProductCategory))).all() == []


# Exporting.
async def test_an_export_writes_the_first_header_names_and_numbers_as_numbers(
    session: AsyncSession, categories: CategoryKind
) -> None:
    session.add_all([ProductCategory(name="=Tools", margin_floor_pct=Decimal("-2.50")), ProductCategory(name="Paint")])
    await session.commit()
    export = await master_import.export(session, "categories", today=TODAY)
    assert export.header == ["name", "margin_floor_pct"]
    assert export.rows == [["=Tools", Decimal("-2.50")], ["Paint", ""]]
    assert export.filename == "categories-2026-12-01.csv"
    with pytest.raises(NotFound):
        await master_import.export(session, "planets", today=TODAY)
