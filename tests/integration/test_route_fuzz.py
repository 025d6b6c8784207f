"""Every route of the app, taken from its route table, answers odd input without a 5xx.

For each path, query and form parameter the test sends generated bad values: huge and
negative numbers, digits that are not ASCII, NUL, 10,000-character strings, dates at the
edges, empty values, wrong types, odd CSV files and junk cookies. It signs in as a role
the route's guard lets in, on the demo data, so the bad values reach the handlers. A new
route is covered without editing this file. Nothing may answer 5xx or log a traceback."""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, get_args, get_origin

import msgspec
import pytest
from litestar import Litestar
from litestar.enums import RequestEncodingType
from litestar.handlers import HTTPRouteHandler
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from portal import demo
from portal.app import create_app
from portal.models import User
from portal.services import api_keys
from portal.settings import PROJECT_ROOT, Settings
from tests.conftest import wipe
from tests.factories import csrf_from

REQUESTS_PER_ROUTE = int(os.environ.get("PORTAL_FUZZ_REQUESTS", "60"))
ROLES = {
    "buyer": "buyer@northwind.example",
    "account_manager": "manager@seller.example",
    "finance": "finance@seller.example",
    "admin": "admin@seller.example",
}
SKIPPED_PATHS = {"/logout", "/account/sign-out-everywhere"}
"""Signing out is sent once at the end, by its own client: it would sign the role out (signing
out everywhere would end every session of the role's user)."""

BAD_NUMBERS = [
    "99999999999999999999",
    "9223372036854775808",
    "9223372036854775807",
    "2147483648",
    "2147483647",
    "-1",
    "0",
    "-99999999999999999999",
    "1e309",
    "nan",
    "inf",
    "-0",
    "1.5",
    "1,5",
    "0x10",
    "+1",
    " 1 ",
    "1_000",
    "99999999999999.99",
    "100000000000000",
    "-0.001",
    "0.00001",
]
BAD_DIGITS = ["²", "１２３", "1²", "١٢٣", "߁", "𝟙𝟚", "Ⅻ"]
BAD_DATES = [
    "9999-12-31",
    "0001-01-01",
    "1999-12-31",
    "2101-01-01",
    "2026-02-30",
    "99999-01-01",
    "2026-13-01",
    "31.12.9999",
    "01.01.0001",
    "2026-1-1",
    "T",
    "2026-12-01T00:00:00",
]
BAD_TEXT = [
    "\x00",
    "a\x00b",
    "1\x00",
    "x" * 10_000,
    "1" * 10_000,
    "",
    " ",
    "\t",
    "\r\n",
    "%00",
    "%",
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
    "[]",
    "{}",
    "true",
    "null",
    "é" * 3000,
    "\u202e",
    "0" * 400,
]
VALID_IDS = [str(n) for n in range(1, 40)]
BAD_VALUES = BAD_NUMBERS + BAD_DIGITS + BAD_DATES + BAD_TEXT


def _csv_cases() -> list[bytes]:
    header = b"invoice_number,tax_id,issue_date,due_date,gross,currency\n"
    return [
        b";;;;\n;;;\n",
        b",,,\n1,2,3\n",
        b"sku;quantity\r1;2\r3;4\r",
        b'sku,quantity\n"' + b"x" * 140_000 + b"\n",
        b"sku,quantity\nA\x00B,1\n",
        b"\x00\x00\x00",
        b"",
        b"\xff\xfe\x00s\x00k\x00u",
        b"sku\n" + b"A,1\n" * 6000,
        header + b"F/1,PL1,9999-12-31,0001-01-01,1e309,PLN\n",
        b"invoice_number,paid_on,amount\nX,2026-01-01,\xb2\n",
        "sku;quantity\nABC;１２３\n".encode(),
        b"\n\n\n",
        b"a" * 3_000_000,
    ]


CSV_CASES = _csv_cases()


def _template_field_names() -> list[str]:
    names: set[str] = set()
    for template in (PROJECT_ROOT / "templates").rglob("*.html"):
        names.update(re.findall(r'\bname="([a-z_]+)"', template.read_text()))
    return sorted(names - {"_csrf_token", "viewport"}) + ["page", "direction", "show", "customer", "signed_out"]


FIELD_NAMES = _template_field_names()


@dataclass
class Route:
    method: str
    path: str
    handler: HTTPRouteHandler
    path_params: list[str]
    roles: list[str]
    multipart: bool
    fields: list[str] = field(default_factory=list)


def _roles_of(handler: HTTPRouteHandler) -> list[str]:
    allowed: list[str] = []
    for guard in handler.resolve_guards():
        name = getattr(getattr(guard, "func", guard), "__name__", "")
        if name.startswith("allow_"):
            allowed = [role for role in ROLES if role in name.removeprefix("allow_")]
    return allowed or list(ROLES)


def _body_of(handler: HTTPRouteHandler) -> tuple[bool, list[str]]:
    """Whether the route takes a multipart body, and its declared form fields (if it declares them)."""
    parameter = handler.parsed_fn_signature.parameters.get("data")
    if parameter is None:
        return False, []
    media_type = getattr(parameter.kwarg_definition, "media_type", None)
    multipart = media_type is RequestEncodingType.MULTI_PART
    annotation = parameter.annotation
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return multipart, list(annotation.__struct_fields__)
    return multipart, []


def routes_of(app: Litestar) -> list[Route]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler):
                continue
            for method in sorted(handler.http_methods - {"OPTIONS", "HEAD"}):
                if route.path in SKIPPED_PATHS:
                    continue
                multipart, fields = _body_of(handler)
                found.append(
                    Route(
                        method,
                        route.path,
                        handler,
                        re.findall(r"\{(\w+)", route.path),
                        _roles_of(handler),
                        multipart,
                        fields,
                    )
                )
    return found


def _value(rng: random.Random) -> str:
    return rng.choice(BAD_VALUES) if rng.random() < 0.85 else rng.choice(VALID_IDS)


def _path(route: Route, rng: random.Random) -> str:
    path = route.path
    for name in route.path_params:
        value = rng.choice(VALID_IDS) if rng.random() < 0.5 else rng.choice(BAD_VALUES)
        if "{" + name + ":path}" in path:
            value = rng.choice(["css/portal.css", "%00", "css/%00.css", "..%2f..%2fetc/passwd", "x" * 5000, "vendor"])
        value = value.replace("/", "%2F") if ":path}" not in path else value
        path = re.sub(r"\{" + name + r"(:[a-z]+)?\}", lambda _, value=value: _quote(value), path)
    return path


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="%/") if value else "%20"


def _params(names: list[str], rng: random.Random) -> dict[str, Any]:
    chosen = rng.sample(names, k=min(len(names), rng.randint(1, 8)))
    params: dict[str, Any] = {}
    for name in chosen:
        params[name] = [_value(rng), _value(rng)] if rng.random() < 0.1 else _value(rng)
    return params


@dataclass
class Outcome:
    requests: int = 0
    failures: list[str] = field(default_factory=list)


async def _cookies_of(client: AsyncTestClient, email: str | None) -> dict[str, str]:
    """The cookies of a signed-in role (or of an anonymous visitor with a CSRF cookie)."""
    client.cookies.clear()
    page = await client.get("/login")
    if email is not None:
        response = await client.post(
            "/login",
            data={"email": email, "password": "portal-demo", "_csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    return dict(client.cookies)


API_SECRETS: list[str] = []
"""The secret of a key with every scope, made on the demo data, so odd input reaches the API's handlers."""


@pytest.fixture
async def demo_app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Litestar]:
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        await demo.load_demo_data(session, date.today())
        admin = await session.scalar(select(User).where(User.email == ROLES["admin"]))
        assert admin is not None
        record = api_keys.KeyRecord("fuzz", frozenset(api_keys.ALL_SCOPES), None)
        _, secret = await api_keys.create_key(
            session, admin, record, signing_key=settings.secret_key, today=date.today()
        )
        API_SECRETS[:] = [secret]
        await session.commit()
    yield create_app(
        Settings.from_env(
            {
                "PORTAL_DATABASE_URL": settings.database_url,
                "PORTAL_ENV": "test",
                "PORTAL_DEFAULT_LOCALE": "en",
                "PORTAL_API_RATE_PER_MINUTE": "1000000",
            }
        )
    )
    await wipe(engine)


def _json_value(annotation: Any, rng: random.Random, depth: int = 0) -> Any:
    """An odd JSON value for a body field: a bad scalar mostly; for a list of structs, a list of odd
    objects of the struct; for a struct, an odd object."""
    struct = _struct_in(annotation)
    if struct is not None and depth < 3:
        fields = msgspec.structs.fields(struct)
        value = {f.encode_name: _json_value(f.type, rng, depth + 1) for f in fields if rng.random() < 0.8}
        return [value for _ in range(rng.randint(0, 3))] if _is_list(annotation) else value
    return rng.choice(
        [_value(rng), int(rng.choice(["0", "-1", "2147483648", "99999999999999999999"])), None, True, [], {}, 1.5e308]
    )


def _is_list(annotation: Any) -> bool:
    base = get_args(annotation)[0] if get_origin(annotation) is Annotated else annotation
    return get_origin(base) is list


def _struct_in(annotation: Any) -> Any:
    """The struct a field holds (itself, in a list, or in an Optional), if any."""
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        return annotation
    for argument in get_args(annotation):
        if (found := _struct_in(argument)) is not None:
            return found
    return None


async def _send_api(client: AsyncTestClient, route: Route, rng: random.Random, path: str) -> Any:
    """An API call: mostly with the key, with odd JSON built from the route's body struct."""
    secret = API_SECRETS[0] if rng.random() < 0.9 else rng.choice(["", "x", "a" * 300, "\x00"])
    headers = {"authorization": f"Bearer {secret}"}
    if rng.random() < 0.2:
        headers["idempotency-key"] = rng.choice(["k1", "k2", "with space", "x" * 300, ""])
    query = _params(FIELD_NAMES + ["status", "after", "limit"], rng) if rng.random() < 0.5 else {}
    if route.method == "GET":
        return await client.get(path, params=query, headers=headers)
    parameter = route.handler.parsed_fn_signature.parameters.get("data")
    body = _json_value(parameter.annotation, rng) if parameter is not None else {}
    if rng.random() < 0.1:
        return await client.request(
            route.method, path, headers={**headers, "content-type": "application/json"}, content=b'{"items": [1,'
        )
    return await client.request(route.method, path, params=query, headers=headers, json=body)


async def _send(client: AsyncTestClient, route: Route, rng: random.Random, jar: dict[str, str]) -> Any:
    """One request with bad values; the role's cookies go in the header, sometimes with a junk cookie."""
    client.cookies.clear()
    path = _path(route, rng)
    if route.path.startswith("/api/v1/") and not route.path.startswith("/api/v1/schema"):
        return await _send_api(client, route, rng, path)
    csrf = jar.get("csrftoken", "")
    query = _params(FIELD_NAMES, rng) if rng.random() < 0.5 or route.method == "GET" else {}
    headers = {"x-csrftoken": csrf} if route.method != "GET" else {}
    if rng.random() < 0.1:
        headers["hx-request"] = "true"
    cookies = [f"{name}={value}" for name, value in jar.items()]
    if rng.random() < 0.05:
        cookies.append("junk=" + rng.choice(["%00", "\x7f", "a" * 5000, "%C3%A9", "%ff", '"']))
    headers["cookie"] = "; ".join(cookies)
    if route.method == "GET":
        return await client.get(path, params=query, headers=headers)
    form = _params(route.fields or FIELD_NAMES, rng)
    if route.multipart:
        files = {"file": ("import.csv", rng.choice(CSV_CASES), "text/csv")} if rng.random() < 0.7 else None
        return await client.post(
            path,
            params=query,
            headers=headers,
            data={k: v if isinstance(v, str) else v[0] for k, v in form.items()},
            files=files,
        )
    return await client.request(route.method, path, params=query, headers=headers, data=form)


async def test_no_route_answers_5xx_to_odd_input(demo_app: Litestar, caplog: pytest.LogCaptureFixture) -> None:
    routes = routes_of(demo_app)
    assert len(routes) > 60
    outcome = Outcome()
    rng = random.Random(20261201)
    caplog.set_level(logging.ERROR)
    only = os.environ.get("PORTAL_FUZZ_ONLY")
    async with AsyncTestClient(demo_app, base_url="http://portal.test") as client:
        jars = {role: await _cookies_of(client, email) for role, email in [*ROLES.items(), ("anonymous", None)]}
        for route in [r for r in routes if not only or only == r.path]:
            started = time.monotonic()
            for n in range(REQUESTS_PER_ROUTE):
                role = "anonymous" if route.path == "/login" else route.roles[n % len(route.roles)]
                outcome.requests += 1
                try:
                    response = await _send(client, route, rng, jars[role])
                except Exception as crash:  # the app let an error escape while answering: a 5xx for a client
                    outcome.failures.append(f"{route.method} {route.path} as {role}: {type(crash).__name__}")
                    continue
                if response.status_code >= 500:
                    outcome.failures.append(f"{route.method} {route.path} as {role}: {response.status_code}")
            if os.environ.get("PORTAL_FUZZ_VERBOSE"):
                print(f"{route.method} {route.path}: {time.monotonic() - started:.1f}s", flush=True)
        client.cookies.clear()  # the buyer's session, not a new sign-in: /login's fuzz used up this address's attempts
        jar = jars["buyer"]
        cookie = "; ".join(f"{name}={value}" for name, value in jar.items())
        response = await client.post(
            "/logout", data={"x": "\x00"}, headers={"x-csrftoken": jar.get("csrftoken", ""), "cookie": cookie}
        )
        assert response.status_code < 500
    tracebacks = [record.getMessage() for record in caplog.records if record.exc_info]
    summary = [f"{count} × {failure}" for failure, count in sorted(Counter(outcome.failures).items())]
    print(f"\nroute fuzz: {len(routes)} routes, {outcome.requests} requests, {len(outcome.failures)} answered 5xx")
    assert not summary, f"{len(outcome.failures)} of {outcome.requests} requests answered 5xx:\n" + "\n".join(summary)
    assert not tracebacks, tracebacks[:5]
    assert outcome.requests >= (1 if only else len(routes)) * REQUESTS_PER_ROUTE
