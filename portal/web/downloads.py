"""CSV downloads as Excel opens them: UTF-8 with a BOM, CRLF line ends, comma-separated, and no
cell a spreadsheet could run as a formula, whichever list separator it splits at.

Excel set to English splits at ",", set to Polish at ";" and then honours quotes only at the start
of a field, so "INV;+5+5" in the middle of a line becomes the formula "+5+5". `csv_cell` is the
one place every download's cells go through:
- text that starts a formula (after any spaces or quotes) gets a leading apostrophe, and so does
  every part that would start one after a ",", ";" or line break inside it ("INV;'+5+5");
- text holding either separator, a quote or a line break is quoted;
- numbers the portal writes itself (Decimal, int) stay numbers, negative ones included: callers
  pass amounts as Decimal, never as formatted text.

Every download comes in two flavours (`Flavour`, `?format=excel|excel_pl`); without the choice,
the one of the reader's language."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Annotated

from litestar import Response
from litestar.params import QueryParameter

from portal.i18n import locale
from portal.services.totals import CENT

STARTS_FORMULA = re.compile(r'[ "]*[=+\-@\t\r]')
"""Spreadsheets skip spaces and a quote before they look for a formula."""
PART_STARTS_FORMULA = re.compile(r'([,;\r\n])(?=[ "]*[=+\-@\t\r])')
"""A separator or line break inside the text, followed by a formula start: a split there makes a cell."""
NEEDS_QUOTES = re.compile(r'[,;"\r\n]')
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
FILENAME_MAX = 120


class Flavour(enum.StrEnum):
    """How a download is written for the Excel that opens it."""

    EXCEL = "excel"
    """Comma, decimal dot: Excel set to English."""
    EXCEL_PL = "excel_pl"
    """Semicolon, decimal comma: Excel set to Polish."""

    @property
    def delimiter(self) -> str:
        return ";" if self is Flavour.EXCEL_PL else ","

    @property
    def decimal_comma(self) -> bool:
        return self is Flavour.EXCEL_PL

    @classmethod
    def chosen(cls, choice: Flavour | None) -> Flavour:
        """The reader's choice; without one, the flavour of the language they read the portal in."""
        if choice is not None:
            return choice
        return cls.EXCEL_PL if locale() == "pl" else cls.EXCEL


FlavourChoice = Annotated[Flavour | None, QueryParameter(name="format")]
"""`?format=excel|excel_pl` on a download route; absent: `Flavour.chosen(None)`."""


def cents(amount: Decimal) -> Decimal:
    """An amount as a download writes it: a number with two decimals ("-12.50")."""
    return amount.quantize(CENT)


def csv_cell(value: object, *, decimal_comma: bool = False) -> str:
    """One cell as it is written to the file (see the module docstring); numbers with a decimal
    comma for a Polish Excel that splits at ";"."""
    if value is None:
        return ""
    if isinstance(value, (Decimal, int)) and not isinstance(value, bool):
        return str(value).replace(".", ",") if decimal_comma else str(value)
    text = PART_STARTS_FORMULA.sub(r"\1'", str(value))
    if STARTS_FORMULA.match(text):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"' if NEEDS_QUOTES.search(text) else text


def safe_filename(name: str) -> str:
    """A file name that cannot break the Content-Disposition header: quotes, line ends, slashes and
    letters outside ASCII (a tax id as typed by an admin) become "-"."""
    return UNSAFE_IN_FILENAME.sub("-", name).strip("-.")[:FILENAME_MAX] or "download.csv"


def csv_download(
    filename: str,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    flavour: Flavour = Flavour.EXCEL,
) -> Response[bytes]:
    """The file as an attachment, written for the Excel `flavour` names."""
    lines = [header, *rows]
    comma = flavour.decimal_comma
    body = "".join(
        flavour.delimiter.join(csv_cell(value, decimal_comma=comma) for value in line) + "\r\n" for line in lines
    )
    return Response(
        ("\ufeff" + body).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe_filename(filename)}"'},
    )
