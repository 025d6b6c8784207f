"""Signing in and out over HTTP: CSRF on every POST, a new session id at sign-in,
generic refusals, lockout, and no way to be sent off-site after signing in."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Role
from portal.services.accounts import LOCK_AFTER
from tests.conftest import Clock
from tests.factories import PASSWORD, csrf_from, make_user, sign_in, text_of


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
    for _ in range(LOCK_AFTER):
        await sign_in(client, "nina@northwind.example", "nope nope nope")
        frozen_clock.advance(seconds=31)
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
