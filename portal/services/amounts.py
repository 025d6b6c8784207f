"""Amounts and dates as people type them and spreadsheets write them: "1 234,50",
"1,234.50", "2026-11-27", "27.11.2026". Anything unclear is refused, never guessed."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

MAX_AMOUNT = Decimal("999999999999.99")
"""The largest amount a NUMERIC(14, 2) column holds."""


def parse_amount(text: str) -> Decimal | None:
    """An amount with at most two decimal places, or None.

    A decimal comma is accepted ("1234,50"); where both a comma and a dot appear, the
    last one is the decimal mark. "1,234" is refused rather than read as 1234 or 1.234."""
    cleaned = text.strip().replace("\u00a0", " ").replace("\u202f", " ")
    if not cleaned:
        return None
    cleaned = cleaned.replace(" ", "").replace("'", "")
    if "," in cleaned or "." in cleaned:
        decimal_mark = cleaned[max(cleaned.rfind(","), cleaned.rfind("."))]
        whole, _, fraction = cleaned.rpartition(decimal_mark)
        grouping = "," if decimal_mark == "." else "."
        if decimal_mark in whole:
            return None
        if grouping in whole and not re.fullmatch(r"[+-]?\d{1,3}(" + re.escape(grouping) + r"\d{3})+", whole):
            return None
        cleaned = whole.replace(grouping, "") + "." + fraction
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", cleaned):
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value != value.quantize(Decimal("0.01")) or abs(value) > MAX_AMOUNT:
        return None
    return value.quantize(Decimal("0.01"))


def parse_date(text: str) -> date | None:
    """A calendar date as ISO 2026-11-27 or as the Polish 27.11.2026; None otherwise."""
    cleaned = text.strip()
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    return None
