"""Logs are JSON lines, one per request, with its id, route, status, duration, user and company;
no password, session id or CSRF token ever appears in them."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal import logs
from portal.services import catalog
from tests.factories import PASSWORD, csrf_from, make_product, make_user, sign_in

REQUEST_FIELDS = {"event", "level", "timestamp", "request_id", "method", "route", "status", "duration_ms"}
Lines = Callable[[], list[str]]


@pytest.fixture
def log_text() -> Iterator[Callable[[], str]]:
    """Everything logged during the test, formatted as the server and the worker format it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.json_formatter())
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))  # the test's own client
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buffer.getvalue
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parsed(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def requests_in(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["event"] == "request"]


async def test_a_sign_in_logs_json_lines_without_any_secret(
    client: AsyncTestClient, session: AsyncSession, log_text: Callable[[], str]
) -> None:
    buyer = await make_user(session, email="nina@northwind.example")
    await session.commit()
    page = await client.get("/login")
    form_token = csrf_from(page.text)
    wrong = "Wrong horse battery 17"
    refused = await client.post("/login", data={"email": buyer.email, "password": wrong, "_csrf_token": form_token})
    assert refused.status_code == 400
    assert (await sign_in(client, buyer.email)).status_code == 303
    assert (await client.get("/dashboard")).status_code == 200

    text = log_text()
    records = parsed(text)
    requests = requests_in(records)
    assert len(requests) == 5  # GET /login, the refused POST, GET /login and POST /login again, /dashboard
    for record in requests:
        assert record.keys() >= REQUEST_FIELDS, record
        assert isinstance(record["duration_ms"], int | float) and record["duration_ms"] >= 0
    assert [(r["method"], r["route"], r["status"]) for r in requests] == [
        ("GET", "/login", 200),
        ("POST", "/login", 400),
        ("GET", "/login", 200),
        ("POST", "/login", 303),
        ("GET", "/dashboard", 200),
    ]
    dashboard = requests[-1]
    assert (dashboard["user_id"], dashboard["company_id"]) == (buyer.id, buyer.company_id)
    assert "user_id" not in requests[0]  # nobody is signed in yet

    cookies = {f"cookie {cookie.name}": cookie.value for cookie in client.cookies.jar}
    assert len(cookies) >= 2  # the session and the CSRF cookie
    secrets = {"password": PASSWORD, "wrong password": wrong, "form CSRF token": form_token, **cookies}
    for name, secret in secrets.items():
        assert secret and secret not in text, f"the {name} is in the logs"
    assert "cookie" not in text.lower() and "x-csrftoken" not in text.lower()


async def test_every_response_names_its_request_id_and_the_log_line_carries_it(
    client: AsyncTestClient, session: AsyncSession, log_text: Callable[[], str]
) -> None:
    first, second, missing = await client.get("/login"), await client.get("/login"), await client.get("/no/such/page")
    ids = [response.headers["x-request-id"] for response in (first, second, missing)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in ids) and len(set(ids)) == 3
    requests = requests_in(parsed(log_text()))
    assert [r["request_id"] for r in requests] == ids
    assert (requests[2]["status"], requests[2]["route"], requests[2]["path"]) == (404, None, "/no/such/page")


async def test_a_route_with_ids_is_logged_by_its_template_not_its_path(
    client: AsyncTestClient, session: AsyncSession, log_text: Callable[[], str]
) -> None:
    buyer = await make_user(session)
    product = await make_product(session)
    await session.commit()
    await sign_in(client, buyer.email)
    assert (await client.get(f"/catalog/products/{product.id}?q=secret-search")).status_code == 200
    line = requests_in(parsed(log_text()))[-1]
    assert line["route"] == "/catalog/products/{product_id}"
    assert "secret-search" not in log_text()  # query strings are not logged


async def test_an_unhandled_error_is_one_json_line_with_its_traceback(
    client: AsyncTestClient, session: AsyncSession, log_text: Callable[[], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer = await make_user(session)
    await session.commit()
    await sign_in(client, buyer.email)

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("the catalog broke")

    monkeypatch.setattr(catalog, "browse", broken)
    response = await client.get("/catalog")
    assert response.status_code == 500
    records = parsed(log_text())
    errors = [r for r in records if "exception" in r]
    assert len(errors) == 1
    assert errors[0]["level"] == "error" and "RuntimeError: the catalog broke" in errors[0]["exception"]
    assert errors[0]["exception"].startswith("Traceback")
    request = requests_in(records)[-1]
    assert request["status"] == 500
    assert errors[0]["request_id"] == request["request_id"] == response.headers["x-request-id"]
    assert errors[0]["user_id"] == buyer.id


def test_a_field_named_like_a_secret_never_reaches_the_line(log_text: Callable[[], str]) -> None:
    logging.getLogger("portal.test").info("signed in", extra={"password": "hunter2", "session_id": "abc", "n": 1})
    logs.log.info("purged", csrf_token="t0k3n", session="s3ss10n", sessions=3)
    first, second = parsed(log_text())
    assert "hunter2" not in json.dumps(first) and "abc" not in json.dumps(first) and first["n"] == 1
    assert "t0k3n" not in json.dumps(second) and "s3ss10n" not in json.dumps(second)
    assert second["sessions"] == 3  # a count of sessions is no secret


async def test_an_api_call_is_logged_with_its_key_and_never_its_secret(
    client: AsyncTestClient, session: AsyncSession, log_text: Callable[[], str]
) -> None:
    from portal.settings import Settings
    from tests.factories import bearer, make_api_key

    settings = Settings.from_env({"PORTAL_ENV": "test"})
    key, secret = await make_api_key(session, settings)
    answer = await client.put("/api/v1/stock", json={"items": [{"sku": "NONE", "quantity": 1}]}, headers=bearer(secret))
    assert answer.status_code == 422
    refused = await client.put("/api/v1/stock", json={"items": []}, headers=bearer("pk_wrong"))
    assert refused.status_code == 401

    text = log_text()
    assert secret not in text and "pk_wrong" not in text
    called, unknown = requests_in(parsed(text))
    assert (called["route"], called["status"], called["key_id"]) == ("/api/v1/stock", 422, key.id)
    assert unknown["status"] == 401 and "key_id" not in unknown
