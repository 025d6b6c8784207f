"""The ERP API's catalogue: products upserted by SKU and stock levels, all or nothing per call,
with every bad item listed, idempotent repeats, and keys that are refused when they lack the
scope, are revoked or have expired."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import ApiKey, AuditEntry, Product, ProductCategory
from portal.settings import Settings
from tests.factories import bearer, make_api_key, make_product

PRODUCTS = "/api/v1/products"
STOCK = "/api/v1/stock"


def product(sku: str, **fields: Any) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": f"Product {sku}",
        "category": "Fasteners",
        "vat_rate": "23",
        "list_price": "10.50",
        "cost": "6.2500",
        **fields,
    }


@pytest.fixture
async def secret(session: AsyncSession, settings: Settings) -> str:
    session.add(ProductCategory(name="Fasteners"))
    await session.commit()
    _, secret = await make_api_key(session, settings)
    return secret


async def count_products(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Product)) or 0


async def test_products_are_created_then_updated_and_a_repeat_changes_nothing(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    body = {"items": [product("A-1"), product("A-2", unit="box", pack_size=12, active=False)]}
    created = await client.put(PRODUCTS, json=body, headers=bearer(secret))
    assert created.status_code == 200, created.text
    assert created.json()["created"] == 2
    stored = (await session.scalars(select(Product).order_by(Product.sku))).all()
    assert [(p.sku, p.unit, p.pack_size, p.is_active, p.list_price) for p in stored] == [
        ("A-1", "pcs", 1, True, Decimal("10.5000")),
        ("A-2", "box", 12, False, Decimal("10.5000")),
    ]

    changed = await client.put(PRODUCTS, json={"items": [product("A-1", list_price="11.00")]}, headers=bearer(secret))
    assert changed.json() == {
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "items": [{"key": "A-1", "outcome": "changed"}],
    }
    session.expire_all()
    assert (await session.scalar(select(Product.list_price).where(Product.sku == "A-1"))) == Decimal("11.0000")
    assert (await session.scalar(select(Product.pack_size).where(Product.sku == "A-2"))) == 12  # not sent: kept

    repeat = await client.put(PRODUCTS, json={"items": [product("A-1", list_price="11.00")]}, headers=bearer(secret))
    assert repeat.json()["unchanged"] == 1
    entries = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.object_type == "product")
    )
    assert entries == 3  # two created, one changed; the repeat wrote nothing
    actor = await session.scalar(select(AuditEntry.actor).where(AuditEntry.object_type == "product").limit(1))
    assert actor is not None and actor.startswith("API key ERP")


async def test_one_bad_item_writes_nothing_and_every_bad_item_is_listed(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    items = [product(f"OK-{n}") for n in range(50)]
    items[3] = product("BAD-3", list_price="-1")  # refused by the schema's pattern
    items[42] = product("BAD-42", category="No such category")  # refused by the catalogue's rules
    items[44] = {"sku": "BAD-44"}  # name and category missing
    answer = await client.put(PRODUCTS, json={"items": items}, headers=bearer(secret))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    pointers = {error["pointer"] for error in answer.json()["errors"]}
    assert {"/items/3/list_price", "/items/44/name", "/items/44/category"} <= pointers
    assert await count_products(session) == 0

    items[3], items[44] = product("OK-3"), product("OK-44")
    answer = await client.put(PRODUCTS, json={"items": items}, headers=bearer(secret))
    assert answer.status_code == 422
    assert [error["pointer"] for error in answer.json()["errors"]] == ["/items/42/category"]
    assert await count_products(session) == 0


async def test_the_same_idempotency_key_replays_and_another_body_conflicts(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    headers = {**bearer(secret), "Idempotency-Key": "push-2026-12-06-001"}
    first = await client.put(PRODUCTS, json={"items": [product("I-1")]}, headers=headers)
    await session.execute(Product.__table__.update().values(list_price=Decimal("99")))
    await session.commit()
    again = await client.put(PRODUCTS, json={"items": [product("I-1")]}, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    session.expire_all()
    assert await session.scalar(select(Product.list_price)) == Decimal("99.0000")  # not applied twice

    other = await client.put(PRODUCTS, json={"items": [product("I-2")]}, headers=headers)
    assert other.status_code == 409
    assert other.json()["errors"][0]["pointer"] == "Idempotency-Key"
    assert await count_products(session) == 1


async def test_stock_levels_by_sku(client: AsyncTestClient, session: AsyncSession, secret: str) -> None:
    await make_product(session, sku="S-1", stock=5)
    await make_product(session, sku="S-2", stock=7)
    await session.commit()
    answer = await client.put(
        STOCK, json={"items": [{"sku": "S-1", "quantity": 40}, {"sku": "S-2", "quantity": 7}]}, headers=bearer(secret)
    )
    assert answer.json()["updated"] == 1 and answer.json()["unchanged"] == 1
    session.expire_all()
    assert await session.scalar(select(Product.stock).where(Product.sku == "S-1")) == 40

    refused = await client.put(
        STOCK,
        json={"items": [{"sku": "S-1", "quantity": 1}, {"sku": "NOPE", "quantity": 1}, {"sku": "S-2", "quantity": -1}]},
        headers=bearer(secret),
    )
    assert refused.status_code == 422
    assert {e["pointer"] for e in refused.json()["errors"]} == {"/items/2/quantity"}
    refused = await client.put(
        STOCK, json={"items": [{"sku": "S-1", "quantity": 1}, {"sku": "NOPE", "quantity": 1}]}, headers=bearer(secret)
    )
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/items/1/sku"]
    session.expire_all()
    assert await session.scalar(select(Product.stock).where(Product.sku == "S-1")) == 40


async def test_keys_without_the_scope_revoked_or_expired_are_refused(
    client: AsyncTestClient, session: AsyncSession, settings: Settings
) -> None:
    body = {"items": [product("K-1")]}
    assert (await client.put(PRODUCTS, json=body)).status_code == 401
    answer = await client.put(PRODUCTS, json=body, headers=bearer("pk_not-a-key"))
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"

    _, reader = await make_api_key(session, settings, {"catalogue:read", "orders:write"})
    answer = await client.put(PRODUCTS, json=body, headers=bearer(reader))
    assert answer.status_code == 403 and "catalogue:write" in answer.json()["detail"]

    revoked_key, revoked = await make_api_key(session, settings)
    assert (await client.put(PRODUCTS, json=body, headers=bearer(revoked))).status_code != 401
    await session.execute(ApiKey.__table__.update().where(ApiKey.id == revoked_key.id).values(revoked_at=clock.now()))
    await session.commit()
    answer = await client.put(PRODUCTS, json=body, headers=bearer(revoked))
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]

    _, expired = await make_api_key(session, settings, expires_on=date(2020, 1, 1))
    answer = await client.put(PRODUCTS, json=body, headers=bearer(expired))
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]
    assert await count_products(session) == 0


async def test_a_session_cookie_does_not_authenticate_and_csrf_does_not_apply(
    client: AsyncTestClient, secret: str
) -> None:
    client.cookies.set("session", "anything")
    answer = await client.put(PRODUCTS, json={"items": [product("C-1")]}, headers=bearer(secret))
    assert answer.status_code == 200  # no CSRF token needed with a key
    client.cookies.clear()


async def test_limits_answer_413_and_429(client: AsyncTestClient, session: AsyncSession, settings: Settings) -> None:
    key, secret = await make_api_key(session, settings)
    key_id = key.id
    too_large = b'{"items": [' + b" " * 16_000_001 + b"]}"
    answer = await client.put(
        PRODUCTS, content=too_large, headers={**bearer(secret), "content-type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json()["status"] == 413

    await session.execute(
        ApiKey.__table__.update()
        .where(ApiKey.id == key.id)
        .values(window_started_at=clock.now(), window_count=settings.api_rate_per_minute)
    )
    await session.commit()
    answer = await client.put(PRODUCTS, json={"items": [product("R-1")]}, headers=bearer(secret))
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["retry-after"]) <= 61
    session.expire_all()
    assert await session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id)) is not None


async def test_kept_answers_are_forgotten_after_a_week(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    from portal.models import IdempotentResponse
    from portal.services import api_keys

    headers = {**bearer(secret), "Idempotency-Key": "week-old"}
    assert (await client.put(PRODUCTS, json={"items": [product("W-1")]}, headers=headers)).status_code == 200
    kept_at = await session.scalar(select(IdempotentResponse.created_at))
    assert kept_at is not None
    assert await api_keys.forget_responses(session, kept_at + api_keys.REPLAY_KEPT / 2) == 0
    assert await api_keys.forget_responses(session, kept_at + api_keys.REPLAY_KEPT) == 1
    await session.commit()
    other = await client.put(PRODUCTS, json={"items": [product("W-2")]}, headers=headers)
    assert other.status_code == 200 and other.json()["created"] == 1  # the key may be used again
