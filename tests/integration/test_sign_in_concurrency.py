"""Failed sign-ins truly at the same moment, against a real server with two worker processes on
PostgreSQL: no 500, and the burst gets no more passwords checked than a patient attacker would.

Each answer that reads "Wrong email or password." had its password checked; the other refusals
(slow down, locked) were given without checking. The throttle row of the (account, address)
pair counts the attempts reserved before a check, so it must agree with those answers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import LoginThrottle
from portal.services.accounts import FREE_ATTEMPTS, PAIR
from tests.conftest import backend
from tests.factories import make_user, text_of
from tests.live_server import csrf_of, live_server

pytestmark = [
    pytest.mark.postgresql_only,
    pytest.mark.skipif(backend() != "postgresql", reason="concurrent writers need PostgreSQL and a real server"),
]

BURST = 20
EMAIL = "nina@northwind.example"


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(database_url, tmp_path_factory.mktemp("server"), workers=2) as base_url:
        yield base_url


async def test_a_burst_of_wrong_passwords_checks_at_most_the_free_attempts(session: AsyncSession, server: str) -> None:
    await make_user(session, email=EMAIL)
    await session.commit()

    async with httpx.AsyncClient(base_url=server, timeout=60) as client:
        token = csrf_of((await client.get("/login")).text)
        form = {"email": EMAIL, "password": "not the password", "_csrf_token": token}
        responses = await asyncio.gather(*(client.post("/login", data=form) for _ in range(BURST)))

    statuses = Counter(response.status_code for response in responses)
    checked = sum("Wrong email or password." in text_of(response.text) for response in responses)
    print(f"\nburst of {BURST}: statuses {dict(statuses)}, passwords checked {checked}")
    assert not [response for response in responses if response.status_code >= 500], statuses
    assert set(statuses) == {400}
    assert 1 <= checked <= FREE_ATTEMPTS
    pair = await session.scalar(select(LoginThrottle).where(LoginThrottle.scope == PAIR, LoginThrottle.email == EMAIL))
    assert pair is not None and pair.failed_count == checked
