"""CSV downloads as Excel opens them: UTF-8 with a BOM, CRLF line ends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from litestar import Response


def csv_download(filename: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> Response[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
