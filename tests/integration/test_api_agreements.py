"""The ERP API's agreements: a whole agreement upserted by number through the admin's service and
checks (company by NIP, price list by code, categories by name, products by SKU, tier sets by the
period start they apply from), read back, idempotent repeats, each bad value pointed at, the
locked fields of an active agreement, and the scopes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Agreement, AgreementStatus, AgreementTier, AuditEntry, Company, PriceList, ProductCategory
from portal.settings import Settings
from tests.factories import bearer, make_agreement, make_api_key, make_company, make_product

pytestmark = pytest.mark.usefixtures("frozen_clock")

NIP = "PL5260001246"
PATH = "/api/v1/agreements/FA-2026-001"


@pytest.fixture
async def secret(session: AsyncSession, settings: Settings) -> str:
    session.add(PriceList(name="Agreed 2026", code="AGREED", currency="PLN"))
    await make_company(session, name="Hotel Baltic", tax_id=NIP)
    await make_product(session, sku="SKU-BOLT", category=ProductCategory(name="Fasteners"))
    await session.commit()
    _, secret = await make_api_key(session, settings)
    return secret


def whole(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "company_tax_id": "526-000-12-46",
        "valid_from": "2026-10-01",
        "period": "quarter",
        "tier_mode": "retrospective",
        "price_list": "AGREED",
        "special_terms": "Delivery within 48 h.",
        "skonto_pct": "2",
        "skonto_days": 7,
        "payment_options": [{"days": 0, "price_effect_pct": "-1"}, {"days": 60, "price_effect_pct": "1.5"}],
        "categories": ["Fasteners"],
        "skus": ["SKU-BOLT"],
        "tiers": [
            {"applies_from": "2026-10-01", "threshold": "50000", "rebate_pct": "2"},
            {"applies_from": "2026-10-01", "threshold": "100000", "rebate_pct": "3"},
            {"applies_from": "2026-10-01", "threshold": "20000", "rebate_pct": "1", "category": "Fasteners"},
        ],
        "status": "active",
    }
    body.update(changes)
    return body


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_an_agreement_is_upserted_whole_read_back_and_repeated_without_change(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    created = await client.put(PATH, json=whole(), headers={**bearer(secret), "Idempotency-Key": "fa-1"})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["outcome"] == "new"
    assert (body["status"], body["company_tax_id"], body["price_list"]) == ("active", NIP, "AGREED")
    assert body["payment_options"] == [
        {"days": 0, "price_effect_pct": "-1.00"},
        {"days": 60, "price_effect_pct": "1.50"},
    ]
    assert (body["categories"], body["skus"], body["skonto_pct"], body["skonto_days"]) == (
        ["Fasteners"],
        ["SKU-BOLT"],
        "2.00",
        7,
    )
    assert sorted((t["category"] or "", t["threshold"], t["rebate_pct"]) for t in body["tiers"]) == [
        ("", "100000.00", "3.00"),
        ("", "50000.00", "2.00"),
        ("Fasteners", "20000.00", "1.00"),
    ]
    company = (await session.scalars(select(Company).where(Company.tax_id == NIP))).one()
    price_list = (await session.scalars(select(PriceList))).one()
    assert company.price_list_id == price_list.id  # switched on activation

    replayed = await client.put(PATH, json=whole(), headers={**bearer(secret), "Idempotency-Key": "fa-1"})
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json() == body

    read = await client.get(PATH, headers=bearer(secret))
    assert read.status_code == 200
    assert {**read.json(), "outcome": "new"} == body

    again = await client.put(PATH, json=whole(), headers=bearer(secret))
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "unchanged"
    changed = await client.put(PATH, json=whole(special_terms="Delivery within 24 h."), headers=bearer(secret))
    assert changed.json()["outcome"] == "changed"
    assert await count(session, Agreement) == 1
    actions = list(await session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "agreement")))
    assert actions == ["create", "update", "activate", "update"]

    ended = await client.put(PATH, json=whole(status="ended", valid_to="2026-12-31"), headers=bearer(secret))
    assert ended.status_code == 200, ended.text
    assert (ended.json()["status"], ended.json()["valid_to"]) == ("ended", "2026-12-31")


async def test_every_bad_item_is_pointed_at_and_nothing_is_written(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    tiers = [
        {"applies_from": "2026-10-01", "threshold": "50000", "rebate_pct": "3"},
        {"applies_from": "2026-10-01", "threshold": "100000", "rebate_pct": "2"},
        {"applies_from": "2026-10-01", "threshold": "200000", "rebate_pct": "101"},
    ]
    refused = await client.put(
        PATH,
        json=whole(tiers=tiers, skonto_days=None, payment_options=[{"days": 30}, {"days": 30}]),
        headers=bearer(secret),
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    pointers = {item["pointer"]: item["detail"] for item in refused.json()["errors"]}
    assert set(pointers) == {
        "/skonto_days",
        "/payment_options/1/days",
        "/tiers/1/rebate_pct",
        "/tiers/2/rebate_pct",
    }
    assert "Tiers are not increasing" in pointers["/tiers/1/rebate_pct"]
    assert "at most 100 %" in pointers["/tiers/2/rebate_pct"]
    assert await count(session, Agreement) == 0
    trail = select(func.count()).select_from(AuditEntry).where(AuditEntry.object_type == "agreement")
    assert await session.scalar(trail) == 0

    unknown = await client.put(
        PATH, json=whole(categories=["Nails"], company_tax_id="5250001003"), headers=bearer(secret)
    )
    assert unknown.status_code == 422
    assert {item["pointer"] for item in unknown.json()["errors"]} == {"/company_tax_id", "/categories"}

    far = await client.put(PATH, json=whole(valid_from="9999-12-01"), headers=bearer(secret))
    assert far.status_code == 422
    assert far.json()["errors"] == [{"pointer": "/valid_from", "detail": "Enter a date between 2000 and 2100."}]

    decoded = await client.put(PATH, json=whole(valid_to="2026-09-30"), headers=bearer(secret))
    assert decoded.status_code == 422
    assert decoded.json()["errors"] == [{"pointer": "/valid_to", "detail": "The agreement ends before it starts."}]


async def test_an_active_agreement_refuses_draft_only_changes_and_tiers_of_closed_periods(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    company = (await session.scalars(select(Company).where(Company.tax_id == NIP))).one()
    await make_agreement(
        session,
        company,
        number="FA-2026-001",
        tiers=[("50000", "2")],
        closed_through=date(2026, 9, 30),
        skonto_pct=Decimal("2"),
        skonto_days=7,
    )
    await session.commit()
    base = whole(valid_from="2026-01-01", price_list=None, payment_options=[], categories=[], skus=[])
    locked = await client.put(PATH, json={**base, "period": "month"}, headers=bearer(secret))
    assert locked.status_code == 422
    assert locked.json()["errors"] == [
        {"pointer": "/period", "detail": "This can change only while the agreement is a draft."}
    ]
    closed = await client.put(
        PATH,
        json={**base, "tiers": [{"applies_from": "2026-07-01", "threshold": "40000", "rebate_pct": "2"}]},
        headers=bearer(secret),
    )
    assert closed.status_code == 422
    assert closed.json()["errors"][0] == {
        "pointer": "/tiers/0/applies_from",
        "detail": "Period 2026-07-01 – 2026-09-30 is closed; tiers can change from 2026-10-01.",
    }
    opened = await client.put(
        PATH,
        json={**base, "tiers": [{"applies_from": "2026-10-01", "threshold": "40000", "rebate_pct": "2.5"}]},
        headers=bearer(secret),
    )
    assert opened.status_code == 200, opened.text
    rows = await session.execute(select(AgreementTier.applies_from, AgreementTier.rebate_pct).order_by("applies_from"))
    assert list(rows) == [(date(2026, 1, 1), Decimal("2.00")), (date(2026, 10, 1), Decimal("2.50"))]
    status = await session.scalar(select(Agreement.status))
    assert status is AgreementStatus.ACTIVE


async def test_the_agreement_scopes_and_an_unknown_number(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, secret: str
) -> None:
    _, reader = await make_api_key(session, settings, scopes=["agreements:read"], name="Reader")
    assert (await client.put(PATH, json=whole(), headers=bearer(reader))).status_code == 403
    assert (await client.get(PATH, headers=bearer(reader))).status_code == 404
    assert (await client.get("/api/v1/agreements/FA%20X", headers=bearer(reader))).status_code == 404
