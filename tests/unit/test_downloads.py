"""CSV downloads open in Excel without running anything a customer typed."""

from __future__ import annotations

from decimal import Decimal

from portal.web.downloads import csv_download


def test_text_that_looks_like_a_formula_is_made_inert() -> None:
    response = csv_download("x.csv", ["Name", "Amount"], [["=HYPERLINK(\"http://x\")", Decimal("-12.50")], ["@SUM(A1)", "-3"]])
    body = response.content.decode("utf-8-sig")
    assert body.splitlines() == ["Name,Amount", "\"'=HYPERLINK(\"\"http://x\"\")\",-12.50", "'@SUM(A1),-3"]
