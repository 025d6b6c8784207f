"""The unit of work when requests collide: locks taken in one order, and a bounded retry for
the collisions the database still resolves by giving one transaction up.

- `lock_rows` takes the row locks of several rows in ascending id order, so two transactions
  that need the same rows never wait for each other in a circle. On SQLite it takes the
  database's single write lock instead (a write that changes nothing): from then on the
  transaction reads what is committed and nobody else writes, which serialises the same way.
- `retried` (a decorator for service functions that take the session first) runs the function
  again when PostgreSQL chose its transaction as a deadlock victim (SQLSTATE 40P01) or could not
  serialise it (40001), or SQLite stayed locked: the whole transaction is rolled back, the
  objects passed in are loaded again and the function runs once more, at most `ATTEMPTS` times
  in all. Then the user reads `Busy` ("try again"), never a 500. A retried function called from
  another one is not retried on its own: the outermost one starts the transaction over."""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import inspect, select, update
from sqlalchemy.exc import DBAPIError, NoInspectionAvailable
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Conflict
from portal.i18n import gettext

log = logging.getLogger(__name__)

ATTEMPTS = 3
"""Runs of one unit of work, the first included, before the user is asked to try again."""
RETRIED_STATES = frozenset({"40001", "40P01"})
"""PostgreSQL: serialization failure, deadlock detected."""
_SQLITE_LOCKED = ("database is locked", "database table is locked")
_RETRYING = "portal.retrying"

P = ParamSpec("P")
T = TypeVar("T")


def busy_message() -> str:
    return gettext(
        "Other changes to the same records were being saved at that moment. Nothing was saved; please try again."
    )


class Busy(Conflict):
    """The unit of work collided with others `ATTEMPTS` times in a row; nothing was saved."""

    def __init__(self) -> None:
        super().__init__(busy_message())


def is_collision(error: BaseException) -> bool:
    """A database error that says "another transaction was in the way", not "this is wrong"."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in RETRIED_STATES:
        return True
    text = str(error.orig).lower()
    return any(phrase in text for phrase in _SQLITE_LOCKED)


async def lock_rows(session: AsyncSession, model: Any, ids: Collection[int]) -> None:
    """Locks these rows of `model` (which has an integer `id`) until commit, in ascending id order.
    PostgreSQL: FOR NO KEY UPDATE, which waits for other writers of the rows but not for inserts
    that merely refer to them (an order's foreign key to its company)."""
    if not ids:
        return
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(update(model).where(model.id.in_(sorted(ids))).values(id=model.id))
        return
    await session.execute(
        select(model.id).where(model.id.in_(sorted(ids))).order_by(model.id).with_for_update(key_share=True)
    )


def forget(
    session: AsyncSession,
    model: Any,
    ident: int,
    changed: Sequence[str],
    members: tuple[str, Any, str, Sequence[str]] | None = None,
) -> None:
    """After statements changed rows behind the ORM's back: the `changed` attributes of the object
    of `model` with this primary key, if the session holds it, are read again by the next query
    that returns it. `members`: its collection, the collection's model, the foreign key to
    `model` and the attributes changed in them: every such object the session holds is read
    again, too, whether or not the owner is still held. Everything else stays readable."""
    if members is not None:
        collection, member_model, foreign_key, member_changes = members
        for held in list(session.identity_map.values()):
            if isinstance(held, member_model) and inspect(held).dict.get(foreign_key) == ident:
                session.expire(held, list(member_changes))
        changed = [*changed, collection]
    instance = session.identity_map.get(session.identity_key(model, ident))
    if instance is not None:
        session.expire(instance, list(changed))


def _loaded_relationships(instance: object) -> list[str] | None:
    """The relationships of a mapped object that are loaded now, to load again after a rollback;
    None for anything that is not a mapped object."""
    try:
        state = inspect(instance)
    except NoInspectionAvailable:
        return None
    mapper = getattr(state, "mapper", None)
    if mapper is None:
        return None
    return [prop.key for prop in mapper.relationships if prop.key not in state.unloaded]


def _arguments(values: tuple[object, ...]) -> list[object]:
    """The arguments and what lists, tuples and sets among them hold (a cart's `(product, quantity)`
    lines): the mapped objects among them are loaded again after a rollback."""
    found: list[object] = []
    for value in values:
        if isinstance(value, list | tuple | set | frozenset):
            found.extend(_arguments(tuple(value)))
        else:
            found.append(value)
    return found


async def _start_over(session: AsyncSession, kept: list[tuple[object, list[str]]], attempt: int) -> None:
    """Rolls the transaction back and loads the kept objects again, with the relationships they
    had loaded and what those hold (a rollback expires everything, and an async session cannot
    load an expired attribute when it is read)."""
    await session.rollback()
    for instance, relationships in kept:
        if not inspect(instance).persistent:
            continue
        await session.refresh(instance)
        if relationships:
            await session.refresh(instance, relationships)
        for name in relationships:
            value = inspect(instance).dict.get(name)
            for related in value if isinstance(value, list) else [value]:
                if related is not None and inspect(related).expired_attributes:
                    await session.refresh(related)
    await asyncio.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # let the other transaction finish


def retried(
    work: Callable[Concatenate[AsyncSession, P], Awaitable[T]],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[T]]:
    """`work` as the whole unit of work, started over after a collision (see the module)."""

    @functools.wraps(work)
    async def run(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> T:
        if session.info.get(_RETRYING):
            return await work(session, *args, **kwargs)
        kept = [
            (value, relationships)
            for value in _arguments((*args, *kwargs.values()))
            if (relationships := _loaded_relationships(value)) is not None
        ]
        session.info[_RETRYING] = True
        try:
            for attempt in range(ATTEMPTS):
                try:
                    return await work(session, *args, **kwargs)
                except DBAPIError as error:
                    if not is_collision(error):
                        raise
                    log.warning(
                        "%s collided (attempt %d of %d): %s", work.__qualname__, attempt + 1, ATTEMPTS, error.orig
                    )
                    await _start_over(session, kept, attempt)
            raise Busy()
        finally:
            session.info.pop(_RETRYING, None)

    return run
