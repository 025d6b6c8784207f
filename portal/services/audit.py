"""The audit trail of master data: every change an admin (or finance, or an import, or the ERP)
makes to companies, addresses, users, invitations, products, categories, price lists, contract
prices, assignments, covers and notes is one append-only row: who, when, which object, and each
field old → new as text. The database refuses to change or delete a row (migration 0010).

Services call `record` in the transaction of the change itself, so a change and its entry are
saved together or not at all. `snapshot` and `changed` turn objects into the text the trail keeps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import AuditEntry, User

PER_PAGE = 50
LABEL_MAX = 200


def as_text(value: Any) -> str | None:
    """A field's value as the trail keeps it: None stays None; booleans as "yes"/"no"; numbers
    without trailing noise ("12.5000" → "12.5"); dates and times in ISO form."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        return text
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, str | None]:
    """The named fields of an object, as text."""
    return {name: as_text(getattr(obj, name)) for name in fields}


def changed(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> dict[str, list[str | None]]:
    """Each field whose text differs: field → [old, new]. A field only in `after` was None before."""
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


def actor_name(actor: User | str | None) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.email


def record(
    session: AsyncSession,
    actor: User | str | None,
    action: str,
    object_type: str,
    object_id: int | None,
    label: str,
    *,
    company_id: int | None = None,
    changes: Mapping[str, list[str | None]] | None = None,
    note: str = "",
) -> AuditEntry:
    """Adds one entry to the session (it is flushed with the change it describes)."""
    entry = AuditEntry(
        actor_id=actor.id if isinstance(actor, User) else None,
        actor=actor_name(actor)[:254],
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_label=label[:LABEL_MAX],
        company_id=company_id,
        changes=dict(changes or {}),
        note=note,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class AuditFilter:
    """What `/admin/audit` narrows the trail to; every part optional."""

    object_type: str | None = None
    object_id: int | None = None
    company_id: int | None = None
    actor: str | None = None
    """Part of the actor's name (e-mail), case-insensitive."""
    action: str | None = None
    since: date | None = None
    until: date | None = None
    search: str | None = None
    """Part of the object's label."""


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    page: int
    pages: int


def _filtered(wanted: AuditFilter) -> Select[Any]:
    statement = select(AuditEntry)
    if wanted.object_type:
        statement = statement.where(AuditEntry.object_type == wanted.object_type)
    if wanted.object_id is not None:
        statement = statement.where(AuditEntry.object_id == wanted.object_id)
    if wanted.company_id is not None:
        statement = statement.where(AuditEntry.company_id == wanted.company_id)
    if wanted.action:
        statement = statement.where(AuditEntry.action == wanted.action)
    if wanted.actor:
        statement = statement.where(func.lower(AuditEntry.actor).contains(wanted.actor.lower(), autoescape=True))
    if wanted.search:
        statement = statement.where(
            func.lower(AuditEntry.object_label).contains(wanted.search.lower(), autoescape=True)
        )
    if wanted.since is not None:
        statement = statement.where(func.date(AuditEntry.at) >= wanted.since)
    if wanted.until is not None:
        statement = statement.where(func.date(AuditEntry.at) <= wanted.until)
    return statement


async def entries(session: AsyncSession, wanted: AuditFilter, page: int = 1, per_page: int = PER_PAGE) -> AuditPage:
    """One page of the trail, newest first, and how many entries match in all (two queries)."""
    statement = _filtered(wanted)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(
        statement.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(per_page).offset((page - 1) * per_page)
    )
    return AuditPage(list(rows), total, page, max(1, -(-total // per_page)))


async def history(session: AsyncSession, object_type: str, object_id: int, limit: int = 100) -> list[AuditEntry]:
    """One object's own history, newest first (shown on its admin page)."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(rows)


async def company_history(session: AsyncSession, company_id: int, limit: int = 100) -> list[AuditEntry]:
    """Everything recorded about one customer (the company, its addresses, buyers, prices, notes)."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.company_id == company_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(rows)
