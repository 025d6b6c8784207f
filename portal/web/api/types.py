"""The value types of API bodies, bounded so the framework refuses what no column holds before a
service runs. Money and percentages are decimal strings ("12.5000"), never binary floats; the
services parse them with the same parsers the CSV imports use."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar.params import PathParameter

NO_NUL = r"^[^\x00]*$"

Price = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,7}(\.[0-9]{1,4})?$",
        description="A unit price, a decimal string with at most 4 decimals.",
        examples=["12.5000"],
    ),
]
Amount = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
        description="An amount, a decimal string with at most 2 decimals.",
        examples=["1230.00"],
    ),
]
Percent = Annotated[
    str,
    msgspec.Meta(pattern=r"^[0-9]{1,3}(\.[0-9]{1,2})?$", description="A percentage, 0–100.", examples=["23"]),
]
Sku = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9\-_./]+$", examples=["SKU-1001"])]
TAX_ID_PATTERN = r"^(PL)?[0-9 -]{10,13}$"
TaxId = Annotated[
    str,
    msgspec.Meta(
        min_length=10,
        max_length=16,
        pattern=TAX_ID_PATTERN,
        description="A Polish NIP, with or without PL, dashes or spaces.",
        examples=["PL5250001003"],
    ),
]


def text(max_length: int, min_length: int = 0) -> object:
    """A text field's bounds: its column's length, no NUL."""
    return msgspec.Meta(min_length=min_length, max_length=max_length, pattern=NO_NUL)


OutcomeName = Literal["new", "changed", "unchanged"]


class ItemOutcome(msgspec.Struct):
    key: str
    """How the item is named: a SKU, a NIP, "STANDARD / SKU-1 / from 10"."""
    outcome: OutcomeName


class BulkResult(msgspec.Struct):
    """What a bulk write did: counts, and each item's outcome in the order sent."""

    created: int
    updated: int
    unchanged: int
    items: list[ItemOutcome]


# Path parameters: a value outside them names nothing (404).
ORDER_NUMBER_MAX = 30
"""`Order.number` is String(30); the portal numbers orders `ORD-2026-000123`."""
ORDER_NUMBER_PATTERN = r"^[A-Za-z0-9\-/]+$"
OrderNumberInPath = Annotated[
    str,
    PathParameter(
        min_length=1,
        max_length=ORDER_NUMBER_MAX,
        pattern=ORDER_NUMBER_PATTERN,
        description="The order's number, e.g. ORD-2026-000123.",
    ),
]
TaxIdInPath = Annotated[
    str,
    PathParameter(
        min_length=10,
        max_length=16,
        pattern=TAX_ID_PATTERN,
        description="The company's NIP, with or without PL, dashes or spaces.",
    ),
]
