"""CSV downloads open in Excel without running anything a customer typed."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from portal.web.downloads import csv_cell, csv_download, safe_filename


def test_text_that_looks_like_a_formula_is_made_inert() -> None:
    response = csv_download(
        "x.csv", ["Name", "Amount"], [['=HYPERLINK("http://x")', Decimal("-12.50")], ["@SUM(A1)", "-3"]]
    )
    body = response.content.decode("utf-8-sig")
    assert body.splitlines() == ["Name,Amount", '"\'=HYPERLINK(""http://x"")",-12.50', "'@SUM(A1),'-3"]


def test_the_portals_own_numbers_stay_numbers() -> None:
    body = csv_download("x.csv", ["A", "B", "C"], [[Decimal("-12.50"), -3, Decimal("0.00")]]).content
    assert body.decode("utf-8-sig").splitlines()[1] == "-12.50,-3,0.00"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("INV;+5+5", '"INV;\'+5+5"'),  # Excel with ";" as its separator would split it into "INV" and "+5+5"
        ("INV,=1+1", '"INV,\'=1+1"'),
        ("x\n=1", '"x\n\'=1"'),  # a line break inside a cell starts a new line where quotes are not honoured
        ("+48 600 100 200", "'+48 600 100 200"),
        ("\t=1", "'\t=1"),
        ("\r=1", "\"'\r'=1\""),
        ('"=1', '"\'""=1"'),
        (" =1+1", "' =1+1"),
        ("-12,50", '"\'-12,50"'),
        ("FV/2026/11/7", "FV/2026/11/7"),
        ('say "hi"', '"say ""hi"""'),
    ],
)
def test_every_text_cell_that_could_start_a_formula_in_either_separator_is_neutralised(cell: str, written: str) -> None:
    assert csv_cell(cell) == written


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_no_cell_starts_a_formula_when_the_file_is_read_with_either_separator(delimiter: str) -> None:
    nasty = ["INV;+5+5", "a;=1", "b,@x", "c;-2", "=1;=2", "x\n=1", "@", "+", "-", ";+1", ",-1", " ;=1", 'q;"=1']
    body = csv_download("x.csv", ["A", "B"], [[value, value] for value in nasty]).content.decode("utf-8-sig")
    for row in csv.reader(io.StringIO(body), delimiter=delimiter):
        for cell in row:
            assert not cell.lstrip(' "').startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_a_file_name_keeps_only_plain_characters() -> None:
    assert safe_filename("statement-PL9550006006-2026-12-01.csv") == "statement-PL9550006006-2026-12-01.csv"
    assert safe_filename('a"b\r\nc/../ą.csv') == "a-b-c-..-.csv"
    assert safe_filename('"\r\n') == "download.csv"
    assert len(safe_filename("x" * 500)) == 120
    response = csv_download('x"\n.csv', ["A"], [])
    assert response.headers["Content-Disposition"] == 'attachment; filename="x-.csv"'


def test_numbers_in_digits_other_than_ascii_are_text_and_made_inert() -> None:
    body = csv_download("x.csv", ["A"], [["-１２３"], ["-12,50"]]).content.decode("utf-8-sig")
    assert body.splitlines() == ["A", "'-１２３", '"\'-12,50"']
