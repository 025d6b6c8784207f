"""Who is asking: the stored session, its user with their company, and what the navigation shows
for them (an agreement link, the queue's count, the colleagues they cover today), read in one
statement at the start of every request (`web/sessions.py`), so no page pays for them again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Date, Integer, Select, Text, and_, bindparam, cast, func, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal.models import Deputy, User, WebSession
from portal.services import approvals, buyer_agreement, covers


@dataclass(frozen=True)
class Visitor:
    data: bytes
    """The stored session, as the session store keeps it (serialized)."""
    user: User | None
    """The active user the session names, if any."""
    has_agreement: bool
    queue_count: int


def _session_user_id(dialect: str) -> ColumnElement[int]:
    """SQL: the `user_id` inside the stored session (JSON, as Litestar's session backend writes it)."""
    if dialect == "postgresql":
        return cast(cast(func.convert_from(WebSession.value, "UTF8"), JSONB)["user_id"].astext, Integer)
    return func.json_extract(cast(WebSession.value, Text), "$.user_id")


@cache
def _statement(dialect: str, namespace: str | None) -> Select[Any]:
    """Built once per database and namespace (building it costs more than running it); the key,
    the moment and the day are bound at each call."""
    today = bindparam("today", type_=Date)
    absent = covers.absent_colleagues(User.id, today).with_only_columns(
        func.aggregate_strings(cast(Deputy.manager_id, Text), ",")
    )
    return (
        select(
            WebSession.value,
            User,
            buyer_agreement.in_force(User.company_id, today),
            approvals.pending_count_column(today),
            absent.scalar_subquery(),
        )
        .outerjoin(User, and_(User.id == _session_user_id(dialect), User.is_active))
        .options(joinedload(User.company))
        .where(
            WebSession.key == bindparam("key"),
            WebSession.namespace == namespace,
            or_(WebSession.expires_at.is_(None), WebSession.expires_at > bindparam("now")),
        )
    )


async def visitor(session: AsyncSession, key: str, namespace: str | None, now: datetime, today: date) -> Visitor | None:
    """The session stored under `key` (unexpired) with its user, or None when there is none."""
    statement = _statement(session.get_bind().dialect.name, namespace)
    found = (await session.execute(statement, {"key": key, "now": now, "today": today})).first()
    if found is None:
        return None
    data, user, has_agreement, queue_count, absent_ids = found.tuple()
    if user is not None:
        covers.remember_covered(session, user.id, today, (int(part) for part in (absent_ids or "").split(",") if part))
    return Visitor(data, user, bool(has_agreement), int(queue_count or 0))
