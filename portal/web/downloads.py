"""CSV downloads as Excel opens them: UTF-8 with a BOM, CRLF line ends."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

from litestar import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?[0-9]+([.,][0-9]+)?")
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
FILENAME_MAX = 120


def _inert(value: object) -> object:
    """Text that a spreadsheet would run as a formula (a company named "=HYPERLINK(…)")
    is written with a leading apostrophe; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_filename(name: str) -> str:
    """A file name that cannot break the Content-Disposition header: quotes, line ends, slashes and
    letters outside ASCII (a tax id as typed by an admin) become "-"."""
    return UNSAFE_IN_FILENAME.sub("-", name).strip("-.")[:FILENAME_MAX] or "download.csv"


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_inert(value) for value in row] for row in rows)
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe_filename(filename)}"'},
    )
