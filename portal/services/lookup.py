"""One object by its id, or `NotFound`: the answer for a missing thing and for one the user may
not see is the same 404."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from portal.errors import NotFound

T = TypeVar("T", bound=DeclarativeBase)


async def one(session: AsyncSession, model: type[T], object_id: int, *options: Any) -> T:
    found = await session.get(model, object_id, options=list(options) or None)
    if found is None:
        raise NotFound()
    return found
