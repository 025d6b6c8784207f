"""CSV downloads open in Excel without running anything a customer typed."""

from __future__ import annotations

from decimal import Decimal

from portal.web.downloads import csv_download, safe_filename


def test_text_that_looks_like_a_formula_is_made_inert() -> None:
    response = csv_download(
        "x.csv", ["Name", "Amount"], [['=HYPERLINK("http://x")', Decimal("-12.50")], ["@SUM(A1)", "-3"]]
    )
    body = response.content.decode("utf-8-sig")
    assert body.splitlines() == ["Name,Amount", '"\'=HYPERLINK(""http://x"")",-12.50', "'@SUM(A1),-3"]


def test_a_file_name_keeps_only_plain_characters() -> None:
    assert safe_filename("statement-PL9550006006-2026-12-01.csv") == "statement-PL9550006006-2026-12-01.csv"
    assert safe_filename('a"b\r\nc/../ą.csv') == "a-b-c-..-.csv"
    assert safe_filename('"\r\n') == "download.csv"
    assert len(safe_filename("x" * 500)) == 120
    response = csv_download('x"\n.csv', ["A"], [])
    assert response.headers["Content-Disposition"] == 'attachment; filename="x-.csv"'


def test_numbers_in_digits_other_than_ascii_are_text_and_made_inert() -> None:
    body = csv_download("x.csv", ["A"], [["-１２３"], ["-12,50"]]).content.decode("utf-8-sig")
    assert body.splitlines() == ["A", "'-１２３", '"-12,50"']
