"""The contract every kind of master data keeps, so a form, a CSV import and an API call go
through one validation and one upsert: companies, users (invitations), products with stock,
price list items and contract prices.

A kind (`Kind`) names its columns (English and Polish header names), and from rows of text
(one dict per row, keyed by `Column.field`, blank cells left out) it can:
- `plan`: validate every row and say what applying would change (new / changed with old → new /
  unchanged), writing nothing;
- `apply`: the same validation, then every change in the caller's transaction, each audited;
  any error refuses the whole batch (`Refused`) and nothing is written;
- `export`: every record as rows of text, the same shape an import takes back unchanged.

The CSV machinery (`portal.services.master_import`) reads files into such rows and back; the
admin forms build one row from their typed fields; the ERP API builds rows from JSON."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.i18n import ngettext
from portal.models import User
from portal.services import amounts

Row = Mapping[str, str]
"""One record as text: field → cell; a blank cell is left out."""


class Outcome(enum.StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Column:
    field: str
    names: tuple[str, ...]
    """Header names accepted, compared case-insensitively; the first is written by exports."""
    required: bool = True
    numeric: bool = False
    """A number written with a decimal dot ("12.5000"): the Polish export writes it with a comma."""


@dataclass(frozen=True)
class RowError:
    row: int
    """The position of the row among the records (1 = the first record after the header)."""
    field: str
    """The field the message is about; "" for the row as a whole."""
    message: str


@dataclass(frozen=True)
class Change:
    row: int
    key: str
    """How a person names the record: a NIP, an e-mail, a SKU, "STANDARD / SKU-1 / from 10"."""
    outcome: Outcome
    fields: dict[str, list[str | None]] = field(default_factory=dict)
    """For a changed record: field → [old, new], as text."""


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def count(self, outcome: Outcome) -> int:
        return sum(1 for change in self.changes if change.outcome is outcome)


class PlanRefused(Refused):
    """A batch refused by its checks: nothing was written; `plan.errors` says what is wrong, row by row."""

    def __init__(self, plan: Plan) -> None:
        first = plan.errors[0]
        super().__init__(
            ngettext(
                "%(num)d problem (in row %(row)d: %(message)s); nothing was imported.",
                "%(num)d problems (the first in row %(row)d: %(message)s); nothing was imported.",
                len(plan.errors),
            )
            % {"num": len(plan.errors), "row": first.row, "message": first.message}
        )
        self.plan = plan


class Kind(Protocol):
    code: str
    """"companies", "users", "products", "stock", "price_list_items", "contract_prices"."""
    columns: Sequence[Column]

    def title(self) -> str:
        """What the file holds, in the reader's language."""
        ...

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan: ...

    async def apply(self, session: AsyncSession, actor: User | str, rows: Sequence[Row], *, today: date) -> Plan:
        """Raises `PlanRefused` (nothing written) when any row has an error."""
        ...

    async def export(self, session: AsyncSession) -> list[dict[str, str]]: ...


def kinds() -> dict[str, Kind]:
    """Every kind that can be imported and exported, by code, in the order the admin pages list them."""
    found: list[Kind] = []
    from portal.services.companies_admin import COMPANIES

    found.append(COMPANIES)
    from portal.services.people import UsersKind

    found.append(UsersKind())
    from portal.services.catalogue_admin import PRODUCTS
    from portal.services.prices_admin import CONTRACT_PRICES, PRICE_LIST_ITEMS
    from portal.services.stock import STOCK

    found.extend([PRODUCTS, STOCK, PRICE_LIST_ITEMS, CONTRACT_PRICES])
    return {kind.code: kind for kind in found}


# Reading cells: one parser per kind of value, shared by every kind (and by the API's text fields).
TRUE_WORDS = frozenset({"1", "yes", "y", "true", "tak", "t", "x"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "nie", "f"})


def parse_bool(text: str) -> bool | None:
    """yes/no, tak/nie, true/false, 1/0 (any case); None if it is none of them."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def parse_decimal(text: str, places: int) -> Decimal | None:
    """A number with at most `places` decimals, a decimal comma or dot, spaces as thousands
    separators ("1 234,5"); None if unclear or too large for NUMERIC(14, places)."""
    cleaned = text.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if not re.fullmatch(r"-?[0-9]{1,12}([.,][0-9]+)?", cleaned):
        return None
    value = Decimal(cleaned.replace(",", "."))
    if value != value.quantize(Decimal(1).scaleb(-places)):
        return None
    return value


def parse_int(text: str, low: int, high: int) -> int | None:
    """A whole number in ASCII digits between `low` and `high`, or None."""
    cleaned = text.strip()
    if not re.fullmatch(r"-?[0-9]{1,10}", cleaned):
        return None
    value = int(cleaned)
    return value if low <= value <= high else None


def parse_day(text: str) -> date | None:
    """2026-12-01 or 01.12.2026, between 2000 and 2100; None otherwise."""
    parsed = amounts.parse_date(text)
    if parsed is None or not date(2000, 1, 1) <= parsed <= date(2100, 12, 31):
        return None
    return parsed
