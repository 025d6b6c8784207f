"""Bulk writes of master data through the kinds the admin forms and CSV imports use
(`portal.services.master_data`): JSON items become rows of text, the kind validates them all
and applies them all or none, and its row errors become pointers into the request
(`/items/<n>/<field>`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import ApiKey
from portal.services import api_keys
from portal.services.master_data import Kind, Outcome, Plan, PlanRefused
from portal.web.api.problems import ItemsRefused
from portal.web.api.types import BulkResult, ItemOutcome


def cell(value: Any) -> str | None:
    """A JSON value as the text a CSV cell would hold; None for a field not sent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def row_of(item: msgspec.Struct, renamed: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """An item as a kind's row: field → text, fields not sent left out (the kind keeps what is stored)."""
    row = {
        (renamed or {}).get(name, name): text
        for name in item.__struct_fields__
        if (text := cell(getattr(item, name))) is not None
    }
    row.update(extra)
    return row


def result_of(plan: Plan) -> BulkResult:
    return BulkResult(
        created=plan.count(Outcome.NEW),
        updated=plan.count(Outcome.CHANGED),
        unchanged=plan.count(Outcome.UNCHANGED),
        items=[ItemOutcome(change.key, change.outcome.value) for change in plan.changes],
    )


async def write(
    session: AsyncSession,
    kind: Kind,
    key: ApiKey,
    rows: Iterable[Mapping[str, str]],
    *,
    today: date,
    prefix: str = "/items",
    renamed: Mapping[str, str] | None = None,
) -> BulkResult:
    """Applies every row or none: `ItemsRefused` points at each bad item (row n at `<prefix>/<n - 1>`,
    the kind's field names `renamed` to the request's)."""
    try:
        plan = await kind.apply(session, api_keys.actor_label(key), list(rows), today=today)
    except PlanRefused as refused:
        raise ItemsRefused(refused, prefix, renamed) from None
    return result_of(plan)
