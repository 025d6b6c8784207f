"""Signing in and out over HTTP: CSRF on every POST, a new session id and a new CSRF token at
sign-in, generic refusals, slow-down and lockout, no way to be sent off-site after signing in;
session lifetimes (absolute and idle); changing the password and signing out everywhere."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from passlib.context import CryptContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.app import create_app
from portal.models import Role, WebSession
from portal.services import passwords
from portal.services.accounts import ACCOUNT_LOCK_AFTER, wait_after
from portal.settings import Settings
from tests import factories
from tests.conftest import Clock
from tests.factories import PASSWORD, csrf_from, make_user, sign_in, text_of

CHEAP = CryptContext(schemes=["argon2"], deprecated="auto", argon2__memory_cost=512, argon2__rounds=1)


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many sign-ins: a cheap argon2 cost keeps the tests fast (the rules do not depend on it)."""
    cheap_hash = CHEAP.hash(PASSWORD)
    monkeypatch.setattr(passwords, "_context", CHEAP)
    monkeypatch.setattr(factories, "password_hash", lambda: cheap_hash)


@pytest.fixture
async def buyer(session: AsyncSession):  # type: ignore[no-untyped-def]
    user = await make_user(session, email="nina@northwind.example")
    await session.commit()
    return user


async def test_signed_out_visitor_is_sent_to_sign_in_and_back(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/dashboard", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/dashboard")

    page = await client.get("/login?next=/dashboard")
    signed_in = await client.post(
        "/login",
        data={
            "email": "nina@northwind.example",
            "password": PASSWORD,
            "next": "/dashboard",
            "_csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert signed_in.headers["location"] == "/dashboard"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
async def test_sign_in_never_redirects_off_site(client: AsyncTestClient, buyer, target: str) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "email": "nina@northwind.example",
            "password": PASSWORD,
            "next": target,
            "_csrf_token": csrf_from(page.text),
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/dashboard"


async def test_wrong_password_and_unknown_email_read_the_same(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    wrong = await sign_in(client, "nina@northwind.example", "nope nope nope")
    unknown = await sign_in(client, "nobody@northwind.example", "nope nope nope")
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong email or password." in text_of(wrong.text)
    assert "Wrong email or password." in text_of(unknown.text)
    assert 'value="nina@northwind.example"' in wrong.text  # the typed address is kept
    assert "session" not in wrong.cookies


async def test_a_10000_character_address_shows_the_form_again_with_the_message_by_the_field(
    client: AsyncTestClient,
    session: AsyncSession,
    buyer,  # type: ignore[no-untyped-def]
) -> None:
    from sqlalchemy import func, select

    from portal.models import LoginThrottle

    page = await client.get("/login?next=/catalog")
    address = "n" * 10_000 + "@northwind.example"
    response = await client.post(
        "/login",
        data={"email": address, "password": PASSWORD, "next": "/catalog", "_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 400
    field_error = response.text.split('id="email-error"')[1].split("</p>")[0]
    assert "Use at most 254 characters." in field_error
    assert f'value="{address}"' in response.text  # what was typed is kept
    assert 'name="next" value="/catalog"' in response.text
    assert "session" not in response.cookies
    assert await session.scalar(select(func.count()).select_from(LoginThrottle)) == 0


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": ""}, "email", "This field is required."),
        ({"password": ""}, "password", "This field is required."),
        ({"password": "p" * 1001}, "password", "Use at most 1,000 characters."),
        ({"email": "nina\x00@northwind.example"}, "email", "This text contains a character that cannot be saved."),
    ],
)
async def test_a_bad_sign_in_field_is_refused_next_to_it(
    client: AsyncTestClient,
    buyer,
    fields: dict,
    field: str,
    message: str,  # type: ignore[no-untyped-def]
) -> None:
    page = await client.get("/login")
    data = {"email": "nina@northwind.example", "password": PASSWORD, "_csrf_token": csrf_from(page.text), **fields}
    response = await client.post("/login", data=data, follow_redirects=False)
    assert response.status_code == 400
    assert message in text_of(response.text.split(f'id="{field}-error"')[1].split("</p>")[0])


async def test_a_long_or_foreign_next_page_is_never_followed(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    assert (await client.get("/login?next=/" + "x" * 600)).status_code == 400
    page = await client.get("/login?next=https://evil.example/")
    assert 'name="next" value=""' in page.text


async def test_repeated_failures_lock_sign_in_with_a_message(
    client: AsyncTestClient,
    buyer,
    frozen_clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    for attempt in range(ACCOUNT_LOCK_AFTER):
        wrong = await sign_in(client, "nina@northwind.example", "nope nope nope")
        assert "Wrong email or password." in text_of(wrong.text)
        frozen_clock.advance(seconds=wait_after(attempt + 1).total_seconds())
    locked = await sign_in(client, "nina@northwind.example", PASSWORD)
    assert locked.status_code == 400
    assert "locked" in text_of(locked.text)
    assert (await client.get("/dashboard", follow_redirects=False)).status_code == 303


async def test_quick_retries_are_slowed_down(client: AsyncTestClient, buyer, frozen_clock: Clock) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await sign_in(client, "nina@northwind.example", "nope nope nope")
    slowed = await sign_in(client, "nina@northwind.example", PASSWORD)
    assert "wait a few seconds" in text_of(slowed.text)
    frozen_clock.advance(seconds=30)
    assert (await sign_in(client, "nina@northwind.example", PASSWORD)).status_code == 303


async def test_inactive_user_cannot_sign_in(client: AsyncTestClient, session: AsyncSession) -> None:
    await make_user(session, email="gone@northwind.example", is_active=False)
    await session.commit()
    response = await sign_in(client, "gone@northwind.example")
    assert response.status_code == 400
    assert "Wrong email or password." in text_of(response.text)


async def test_session_id_changes_at_sign_in_and_the_old_one_dies(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    await make_user(session, Role.FINANCE, email="finance@seller.example")
    await make_user(session, Role.ADMIN, email="admin@seller.example")
    await session.commit()

    await sign_in(client, "finance@seller.example")
    first = client.cookies["session"]
    await sign_in(client, "admin@seller.example")
    second = client.cookies["session"]
    assert first != second

    client.cookies.set("session", first)
    assert (await client.get("/finance", follow_redirects=False)).status_code == 303
    client.cookies.set("session", second)
    assert (await client.get("/admin")).status_code == 200


async def test_deactivated_user_is_signed_out_at_the_next_request(
    client: AsyncTestClient,
    session: AsyncSession,
    buyer,  # type: ignore[no-untyped-def]
) -> None:
    await sign_in(client, "nina@northwind.example")
    assert (await client.get("/dashboard")).status_code == 200
    buyer.is_active = False
    await session.commit()
    assert (await client.get("/dashboard", follow_redirects=False)).status_code == 303


async def test_post_without_csrf_token_is_refused(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    await client.get("/login")
    response = await client.post("/login", data={"email": "nina@northwind.example", "password": PASSWORD})
    assert response.status_code == 403

    await sign_in(client, "nina@northwind.example")
    assert (await client.post("/logout", follow_redirects=False)).status_code == 403
    assert (await client.get("/dashboard")).status_code == 200  # still signed in


async def test_htmx_sends_the_token_in_a_header(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, "nina@northwind.example")
    page = await client.get("/dashboard")
    token = csrf_from(page.text)
    assert f'"x-csrftoken": "{token}"' in page.text
    response = await client.post(
        "/logout", headers={"x-csrftoken": token, "hx-request": "true"}, follow_redirects=False
    )
    assert response.status_code == 303


async def test_sign_out_ends_the_session(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    await sign_in(client, "nina@northwind.example")
    old_session = client.cookies["session"]
    page = await client.get("/dashboard")
    response = await client.post("/logout", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.headers["location"] == "/login?signed_out=true"
    assert "You have been signed out." in text_of((await client.get("/login?signed_out=true")).text)

    client.cookies.set("session", old_session)
    assert (await client.get("/dashboard", follow_redirects=False)).status_code == 303


async def test_anonymous_pages_write_no_session(client: AsyncTestClient, session: AsyncSession) -> None:
    from sqlalchemy import func, select

    from portal.models import WebSession

    for _ in range(3):
        await client.get("/login")
    assert await session.scalar(select(func.count()).select_from(WebSession)) == 0


SHORT_LIVED = {"session_absolute_seconds": 3600, "session_idle_seconds": 1200}
"""An hour from sign-in at most, 20 minutes idle."""


@pytest.fixture
async def short_client(settings: Settings, session: AsyncSession) -> AsyncIterator[AsyncTestClient]:
    app = create_app(dataclasses.replace(settings, **SHORT_LIVED))
    async with AsyncTestClient(app, base_url="http://portal.test") as test_client:
        yield test_client


async def expect_expired(client: AsyncTestClient) -> None:
    response = await client.get("/dashboard", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/dashboard")
    page = await client.get("/login?next=/dashboard")
    assert "Your session expired: please sign in again." in text_of(page.text)
    assert (await client.get("/dashboard", follow_redirects=False)).status_code == 303


async def test_a_session_ends_an_hour_after_sign_in_however_busy(
    short_client: AsyncTestClient,
    buyer,
    frozen_clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    assert (await sign_in(short_client, "nina@northwind.example")).status_code == 303
    for _ in range(5):
        frozen_clock.advance(minutes=11)
        assert (await short_client.get("/dashboard")).status_code == 200
    frozen_clock.advance(minutes=6)  # 61 minutes after signing in, 6 after the last page
    await expect_expired(short_client)


async def test_a_session_left_idle_ends_while_a_used_one_goes_on(
    short_client: AsyncTestClient,
    buyer,
    frozen_clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    await sign_in(short_client, "nina@northwind.example")
    frozen_clock.advance(minutes=19)
    assert (await short_client.get("/dashboard")).status_code == 200
    frozen_clock.advance(minutes=19)  # 38 minutes after signing in, 19 after the last page
    assert (await short_client.get("/dashboard")).status_code == 200
    frozen_clock.advance(minutes=21)
    await expect_expired(short_client)


async def test_the_last_seen_moment_is_written_at_most_once_a_minute(
    client: AsyncTestClient,
    session: AsyncSession,
    buyer,
    frozen_clock: Clock,  # type: ignore[no-untyped-def]
) -> None:
    async def stored() -> bytes:
        await session.rollback()  # a fresh snapshot
        values = list(await session.scalars(select(WebSession.value)))
        assert len(values) == 1
        return values[0]

    await sign_in(client, "nina@northwind.example")
    await client.get("/dashboard")
    first = await stored()
    frozen_clock.advance(seconds=30)
    await client.get("/dashboard")
    assert await stored() == first
    frozen_clock.advance(seconds=31)
    await client.get("/dashboard")
    assert await stored() != first


async def test_signing_in_gives_a_new_csrf_token(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    page = await client.get("/login")
    before = client.cookies["csrftoken"]
    response = await client.post(
        "/login",
        data={"email": "nina@northwind.example", "password": PASSWORD, "_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert any(header.startswith("csrftoken=") for header in response.headers.get_list("set-cookie"))
    assert client.cookies["csrftoken"] != before
    stale = await client.post("/logout", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert stale.status_code == 403  # the token from before signing in no longer works
    dashboard = await client.get("/dashboard")
    assert csrf_from(dashboard.text) != csrf_from(page.text)
    signed_out = await client.post("/logout", data={"_csrf_token": csrf_from(dashboard.text)}, follow_redirects=False)
    assert signed_out.status_code == 303


async def test_in_production_the_session_cookie_is_host_only(settings: Settings, buyer) -> None:  # type: ignore[no-untyped-def]
    production = dataclasses.replace(settings, env="production", secret_key="s" * 40)
    async with AsyncTestClient(create_app(production), base_url="https://portal.test") as test_client:
        response = await sign_in(test_client, "nina@northwind.example")
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("__Host-session="))
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"secure", "path", "httponly"} <= attributes and "domain" not in attributes
        assert "Path=/;" in cookie + ";"
        assert "session" not in test_client.cookies
        assert (await test_client.get("/dashboard")).status_code == 200


async def two_sessions(client: AsyncTestClient, email: str) -> tuple[str, str]:
    """Two sign-ins of one user (two devices); the client is left on the second."""
    await sign_in(client, email)
    first = client.cookies["session"]
    client.cookies.delete("session")
    await sign_in(client, email)
    return first, client.cookies["session"]


async def test_changing_the_password_ends_the_other_sessions(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    other, this = await two_sessions(client, "nina@northwind.example")
    dashboard = await client.get("/dashboard")
    assert 'href="/account/password"' in dashboard.text
    page = await client.get("/account/password")
    token = csrf_from(page.text)
    form = {
        "current_password": "not my password",
        "new_password": "a new password",
        "repeat_password": "a new password",
    }

    wrong = await client.post("/account/password", data={**form, "_csrf_token": token}, follow_redirects=False)
    assert wrong.status_code == 400
    field = wrong.text.split('id="current_password-error"')[1].split("</p>")[0]
    assert "This is not your current password." in text_of(field)
    assert "not my password" not in wrong.text and "a new password" not in wrong.text  # never shown again

    differ = await client.post(
        "/account/password",
        data={**form, "current_password": PASSWORD, "repeat_password": "a new passwort", "_csrf_token": token},
        follow_redirects=False,
    )
    assert "The two new passwords are not the same." in differ.text.split('id="repeat_password-error"')[1]

    changed = await client.post(
        "/account/password", data={**form, "current_password": PASSWORD, "_csrf_token": token}, follow_redirects=False
    )
    assert (changed.status_code, changed.headers["location"]) == (303, "/account/password")
    assert client.cookies["session"] != this  # this session goes on under a new id
    assert "Your password is changed." in text_of((await client.get("/account/password")).text)
    assert (await client.get("/dashboard")).status_code == 200

    for dead in (other, this):
        client.cookies.set("session", dead)
        assert (await client.get("/dashboard", follow_redirects=False)).status_code == 303
    client.cookies.delete("session")
    assert (await sign_in(client, "nina@northwind.example", "a new password")).status_code == 303


async def test_sign_out_everywhere_ends_every_session_this_one_included(client: AsyncTestClient, buyer) -> None:  # type: ignore[no-untyped-def]
    other, this = await two_sessions(client, "nina@northwind.example")
    page = await client.get("/account/password")
    response = await client.post(
        "/account/sign-out-everywhere", data={"_csrf_token": csrf_from(page.text)}, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (303, "/login?signed_out=true")
    for dead in (other, this):
        client.cookies.set("session", dead)
        assert (await client.get("/dashboard", follow_redirects=False)).status_code == 303
    client.cookies.delete("session")
    assert (await sign_in(client, "nina@northwind.example")).status_code == 303  # signing in again works
