"""Admin → API keys: a key is created with a name, scopes and an optional expiry, its secret shown
once and only its keyed hash kept; it works against the API at once, and once revoked it is
refused at the next call. A refused form comes back with each message next to its field and
nothing saved. Only admins get in."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import ApiKey, AuditEntry, Role
from portal.services import api_keys
from portal.settings import Settings
from tests.factories import bearer, csrf_from, make_api_key, make_user, sign_in, text_of
from tests.queries import counted_statements

PAGE = "/admin/api-keys"
STOCK = "/api/v1/stock"
EMPTY_STOCK: dict[str, Any] = {"items": []}
"""A body the API refuses as invalid (422) once the key is admitted: proof the key works."""


@pytest.fixture
async def admin(session: AsyncSession, frozen_clock: Any) -> Any:
    user = await make_user(session, Role.ADMIN, full_name="Ada Admin", email="admin@seller.example")
    await session.commit()
    return user


async def admin_csrf(client: AsyncTestClient, admin: Any) -> str:
    assert (await sign_in(client, admin.email)).status_code == 303
    return csrf_from((await client.get(PAGE)).text)


async def keys_in_db(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(ApiKey)) or 0


async def test_a_new_key_is_shown_once_kept_only_as_a_hash_and_works_at_once(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, admin: Any
) -> None:
    csrf = await admin_csrf(client, admin)
    created = await client.post(
        PAGE,
        data={"name": "ERP production", "catalogue_read": "1", "catalogue_write": "1", "orders_read": "1",
              "expires_on": "2027-06-30", "_csrf_token": csrf},
    )  # fmt: skip
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    shown = re.search(r'id="api-key-secret">(pk_[A-Za-z0-9_-]+)<', created.text)
    assert shown is not None
    secret = shown.group(1)
    assert "it is shown only this once and cannot be shown again" in text_of(created.text)
    assert "Catalogue and stock: read, write" in text_of(created.text)

    (row,) = (await session.execute(text("SELECT * FROM api_keys"))).all()
    assert not any(secret in str(value) for value in row)
    key = await session.scalar(select(ApiKey))
    assert key is not None and key.name == "ERP production" and key.created_by_id == admin.id
    assert key.secret_hash == api_keys.hash_secret(secret, settings.secret_key)
    assert key.prefix == secret[:10]
    assert key.scope_set == {"catalogue:read", "catalogue:write", "orders:read"}
    assert key.expires_at == datetime(2027, 6, 30, tzinfo=UTC)
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "api_key"))
    assert entry is not None and (entry.action, entry.object_id) == ("create", key.id)

    listed = await client.get(PAGE)
    assert secret not in listed.text and f"{key.prefix}…" in listed.text
    assert 'href="/api/v1/schema/docs"' in listed.text
    assert "not yet" in text_of(listed.text)
    answer = await client.put(STOCK, json=EMPTY_STOCK, headers=bearer(secret))
    assert answer.status_code == 422, answer.text
    listed = await client.get(PAGE)
    assert "not yet" not in text_of(listed.text) and "Active" in text_of(listed.text)


async def test_a_revoked_key_is_refused_at_its_next_call(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, admin: Any
) -> None:
    key, secret = await make_api_key(session, settings, name="Old ERP")
    assert (await client.put(STOCK, json=EMPTY_STOCK, headers=bearer(secret))).status_code == 422
    csrf = await admin_csrf(client, admin)
    without_token = await client.post(f"{PAGE}/{key.id}/revoke")
    assert without_token.status_code == 403
    assert (await client.put(STOCK, json=EMPTY_STOCK, headers=bearer(secret))).status_code == 422

    revoked = await client.post(f"{PAGE}/{key.id}/revoke", data={"_csrf_token": csrf}, follow_redirects=False)
    assert revoked.status_code == 303 and revoked.headers["location"] == PAGE
    refused = await client.put(STOCK, json=EMPTY_STOCK, headers=bearer(secret))
    assert refused.status_code == 401 and refused.json()["detail"] == "The API key was revoked."
    page = await client.get(PAGE)
    assert "The key Old ERP is revoked" in text_of(page.text)
    assert "Revoked" in text_of(page.text) and f"/admin/api-keys/{key.id}/revoke" not in page.text
    entry = await session.scalar(
        select(AuditEntry).where(AuditEntry.object_type == "api_key", AuditEntry.action == "revoke")
    )
    assert entry is not None and entry.object_id == key.id
    missing = await client.post(f"{PAGE}/{2**31 - 1}/revoke", data={"_csrf_token": csrf})
    assert missing.status_code == 404


async def test_the_form_refuses_each_bad_field_next_to_it_and_saves_nothing(
    client: AsyncTestClient, session: AsyncSession, admin: Any
) -> None:
    csrf = await admin_csrf(client, admin)
    no_name = await client.post(PAGE, data={"orders_read": "1", "_csrf_token": csrf})
    assert no_name.status_code == 400
    assert 'id="name-error" role="alert">This field is required.<' in no_name.text
    assert 'id="orders_read" name="orders_read" value="1" aria-label="Orders: read" checked' in no_name.text

    no_scope = await client.post(PAGE, data={"name": "ERP", "_csrf_token": csrf})
    assert no_scope.status_code == 400
    assert 'id="scopes-error" role="alert">Choose at least one thing the key may read or write.<' in no_scope.text
    assert 'value="ERP"' in no_scope.text

    for day, message in (("2026-11-27", "The expiry must be after today."), ("2026-02-30", "This day does not exist.")):
        past = await client.post(PAGE, data={"name": "ERP", "orders_read": "1", "expires_on": day, "_csrf_token": csrf})
        assert past.status_code == 400
        assert f'id="expires_on-error" role="alert">{message}<' in past.text
        assert f'value="{day}"' in past.text
    assert await keys_in_db(session) == 0
    assert 'id="api-key-secret"' not in past.text


async def test_the_list_tells_active_expired_and_revoked_keys_apart_in_a_fixed_number_of_queries(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, admin: Any
) -> None:
    await make_api_key(session, settings, name="Live")
    expired, _ = await make_api_key(session, settings, name="Lapsed")
    expired.expires_at = datetime(2026, 11, 1, tzinfo=UTC)
    revoked, _ = await make_api_key(session, settings, name="Retired")
    revoked.revoked_at = datetime(2026, 11, 20, tzinfo=UTC)
    await session.commit()
    await admin_csrf(client, admin)
    with counted_statements(client.app) as few:
        page = await client.get(PAGE)
    states = dict(re.findall(r'<tr data-api-key="\d+">\s*<td>(\w+)</td>.*?class="badge [\w-]+">(\w+)', page.text, re.S))
    assert states == {"Live": "Active", "Lapsed": "Expired", "Retired": "Revoked"}
    assert page.text.count("/revoke") == 1
    for n in range(5):
        await make_api_key(session, settings, name=f"More {n}")
    with counted_statements(client.app) as many:
        assert (await client.get(PAGE)).status_code == 200
    assert len(many) == len(few), many


@pytest.mark.parametrize("role", [Role.BUYER, Role.ACCOUNT_MANAGER, Role.FINANCE])
async def test_only_admins_get_in(client: AsyncTestClient, session: AsyncSession, role: Role) -> None:
    user = await make_user(session, role, email=f"{role.value}@seller.example")
    await session.commit()
    assert (await sign_in(client, user.email)).status_code == 303
    assert (await client.get(PAGE)).status_code == 403
    csrf = client.cookies.get("csrftoken", "")
    created = await client.post(PAGE, data={"name": "Mine", "orders_read": "1"}, headers={"x-csrftoken": csrf})
    assert created.status_code == 403
    assert await keys_in_db(session) == 0
