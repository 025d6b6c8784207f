"""Test databases built by running the migrations: SQLite by default, PostgreSQL
when PORTAL_TEST_BACKEND=postgresql (a fresh database that is dropped afterwards)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from portal import clock, i18n, migrate
from portal.app import create_app
from portal.models import Base
from portal.settings import Settings

if TYPE_CHECKING:
    from tests.smtp import SmtpServer

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def backend() -> str:
    return os.environ.get("PORTAL_TEST_BACKEND", "sqlite")


def postgres_admin_url() -> str:
    return os.environ.get("PORTAL_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def _postgres_admin(sql: str) -> None:
    import psycopg

    admin = make_url(postgres_admin_url())
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql)


@pytest.fixture(autouse=True, scope="session")
def english_by_default() -> None:
    """Tests read English unless they ask for Polish (a browser's Accept-Language, a user's choice)."""
    i18n.configure("en")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend() == "postgresql":
        name = f"portal_test_{secrets.token_hex(4)}"
        _postgres_admin(f'CREATE DATABASE "{name}"')
        url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
        try:
            migrate.upgrade(url)
            yield url
        finally:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path: Path = tmp_path_factory.mktemp("db") / "portal.db"
        url = f"sqlite+aiosqlite:///{path}"
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings.from_env({"PORTAL_DATABASE_URL": database_url, "PORTAL_ENV": "test", "PORTAL_DEFAULT_LOCALE": "en"})


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    yield engine
    await engine.dispose()


async def wipe(engine: AsyncEngine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)] + ["web_sessions"]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            # The append-only triggers refuse DELETE; between tests they step aside.
            triggers = (
                await connection.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
            ).all()
            for name, _ in triggers:
                await connection.execute(text(f'DROP TRIGGER "{name}"'))
            await connection.execute(text("PRAGMA foreign_keys=OFF"))
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))
            for _, sql in triggers:
                await connection.execute(text(sql))


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on a database that is empty at the start of every test."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        try:
            yield session
        finally:
            await session.rollback()
    await wipe(engine)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Litestar:
    """The portal, built once: building it checks every route's signature (about a second), and each
    test's client starts and stops it afresh (its lifespan) on a database emptied between tests."""
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar, session: AsyncSession) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app, base_url="http://portal.test") as test_client:
        yield test_client


class Clock:
    """Moves the portal's clock in tests."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.moment += timedelta(**delta)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(clock, "now", fake)
    return fake


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a free port, stopped after the test."""
    from tests.smtp import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()
