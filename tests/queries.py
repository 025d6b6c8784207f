"""Counting the SQL statements an HTTP request costs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar import Litestar
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


@contextmanager
def counted_statements(app: Litestar) -> Iterator[list[str]]:
    statements: list[str] = []
    (engine,) = [value.sync_engine for value in app.state.dict().values() if isinstance(value, AsyncEngine)]

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
