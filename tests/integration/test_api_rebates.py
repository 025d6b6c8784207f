"""The ERP takes the rebates of closed settlement periods as credit notes: it lists those not taken
yet, with a line per scope, acknowledges each once (a repeat says it was acknowledged already and
changes nothing), and an unknown id or a key without the scope is refused with a problem document."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import AgreementTier, ProductCategory, SettlementClose
from portal.services import agreements
from portal.settings import Settings
from tests.factories import bearer, make_agreement, make_api_key, make_company, make_counted_order, make_product

REBATES = "/api/v1/rebates"
TIERS = [("50000.00", "1.50"), ("100000.00", "3.00")]


def at(day: int, month: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=UTC)


async def closed_quarters(session: AsyncSession, engine: AsyncEngine) -> dict[str, Any]:
    """Q3 2026 of two agreements: Alfa 120,000.00 (3 % on all products: 3,600.00, and 2 % on
    cleaning's 30,000.00 from 20,000.00: 600.00); Beta 10,000.00, no tier, no rebate."""
    alfa = await make_company(session, name="Alfa Hurt", tax_id="PL5250001003")
    beta = await make_company(session, name="Beta Sklep")
    cleaning = await make_product(session)
    deal = await make_agreement(session, alfa, tiers=TIERS, valid_from=date(2026, 7, 1), number="FA/2026/001")
    await make_agreement(session, beta, tiers=TIERS, valid_from=date(2026, 7, 1), number="FA/2026/002")
    session.add(
        AgreementTier(
            agreement_id=deal.id,
            company_id=alfa.id,
            applies_from=date(2026, 7, 1),
            category_id=cleaning.category_id,
            threshold=Decimal("20000.00"),
            rebate_pct=Decimal("2.00"),
        )
    )
    await make_counted_order(session, alfa, net="90000.00", approved_at=at(15, 8))
    await make_counted_order(session, alfa, net="30000.00", approved_at=at(1, 9), product=cleaning)
    await make_counted_order(session, beta, net="10000.00", approved_at=at(1, 9))
    await session.commit()
    await agreements.close_due(async_sessionmaker(engine, expire_on_commit=False), date(2026, 10, 2))
    ids = {close.company_id: close.id for close in await session.scalars(select(SettlementClose))}
    category = await session.get(ProductCategory, cleaning.category_id)
    assert category is not None
    return {"alfa": ids[alfa.id], "beta": ids[beta.id], "category": category.name}


async def test_the_erp_lists_acknowledges_once_and_the_list_empties(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, settings: Settings
) -> None:
    closes = await closed_quarters(session, engine)
    _, secret = await make_api_key(session, settings, {"rebates:read", "rebates:write"})
    listed = await client.get(REBATES, params={"exported": "false"}, headers=bearer(secret))
    assert listed.status_code == 200
    body = listed.json()
    assert body["next"] is None
    (rebate,) = body["rebates"]  # Beta's period earned nothing: no credit note
    assert rebate["id"] == closes["alfa"] and rebate["company_tax_id"] == "PL5250001003"
    assert rebate["agreement_number"] == "FA/2026/001" and rebate["currency"] == "PLN"
    assert (rebate["period_start"], rebate["period_end"]) == ("2026-07-01", "2026-09-30")
    assert rebate["turnover"] == "120000.00" and rebate["rebate"] == "4200.00" and rebate["exported_at"] is None
    assert sorted(
        (line["category"] or "", line["turnover"], line["rebate_pct"], line["amount"]) for line in rebate["lines"]
    ) == [
        ("", "120000.00", "3.00", "3600.00"),
        (closes["category"], "30000.00", "2.00", "600.00"),
    ]

    first = await client.post(f"{REBATES}/{closes['alfa']}/acknowledge", headers=bearer(secret))
    assert first.status_code == 200
    assert first.json()["already_acknowledged"] is False and first.json()["exported_at"]
    second = await client.post(f"{REBATES}/{closes['alfa']}/acknowledge", headers=bearer(secret))
    assert second.status_code == 200
    assert second.json() == {**first.json(), "already_acknowledged": True}

    assert (await client.get(REBATES, params={"exported": "false"}, headers=bearer(secret))).json()["rebates"] == []
    taken = (await client.get(REBATES, params={"exported": "true"}, headers=bearer(secret))).json()["rebates"]
    assert [item["id"] for item in taken] == [closes["alfa"]] and taken[0]["exported_at"] == first.json()["exported_at"]
    close = await session.scalar(
        select(SettlementClose).where(SettlementClose.id == closes["alfa"]).execution_options(populate_existing=True)
    )
    assert close is not None and close.exported_at is not None and close.rebate == Decimal("4200.00")


async def test_an_unknown_or_rebate_less_period_is_a_404_problem(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, settings: Settings
) -> None:
    closes = await closed_quarters(session, engine)
    _, secret = await make_api_key(session, settings, {"rebates:write"})
    for close_id in (closes["beta"], 987654, 2**31 - 1, 2**40):
        answer = await client.post(f"{REBATES}/{close_id}/acknowledge", headers=bearer(secret))
        assert answer.status_code == 404, close_id
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_key_without_the_scope_is_refused(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, settings: Settings
) -> None:
    closes = await closed_quarters(session, engine)
    _, secret = await make_api_key(session, settings, {"orders:read", "orders:write"})
    assert (await client.get(REBATES, headers=bearer(secret))).status_code == 403
    refused = await client.post(f"{REBATES}/{closes['alfa']}/acknowledge", headers=bearer(secret))
    assert refused.status_code == 403 and "rebates:write" in refused.json()["detail"]
    assert (await client.get(REBATES)).status_code == 401


async def test_the_list_pages_with_next(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, settings: Settings
) -> None:
    first = await closed_quarters(session, engine)
    company = await make_company(session)
    await make_agreement(session, company, tiers=TIERS, valid_from=date(2026, 7, 1))
    await make_counted_order(session, company, net="60000.00", approved_at=at(2, 9))
    await session.commit()
    await agreements.close_due(async_sessionmaker(engine, expire_on_commit=False), date(2026, 10, 2))
    _, secret = await make_api_key(session, settings, {"rebates:read"})
    page = (await client.get(REBATES, params={"limit": 1}, headers=bearer(secret))).json()
    assert [item["id"] for item in page["rebates"]] == [first["alfa"]] and page["next"] == first["alfa"]
    rest = (await client.get(REBATES, params={"limit": 1, "after": page["next"]}, headers=bearer(secret))).json()
    assert len(rest["rebates"]) == 1 and rest["rebates"][0]["rebate"] == "900.00" and rest["next"] is None
