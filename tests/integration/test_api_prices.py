"""The ERP API's prices: a price list's rows by its code and a company's contract prices by its NIP,
merged or replaced as the request says, all or nothing per call, with every bad row listed,
deleted rows audited, idempotent repeats, and 404 / 403 for an unknown list or company and a key
without the scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import AuditEntry, Company, ContractPrice, PriceList, PriceListItem, Product
from portal.settings import Settings
from tests.factories import (
    add_contract_price,
    add_list_price,
    bearer,
    make_api_key,
    make_company,
    make_price_list,
    make_product,
)

LIST = "/api/v1/price-lists/STANDARD"


def row(sku: str, price: str, **fields: Any) -> dict[str, Any]:
    return {"sku": sku, "unit_price": price, **fields}


@pytest.fixture
async def secret(session: AsyncSession, settings: Settings) -> str:
    _, secret = await make_api_key(session, settings)
    return secret


@pytest.fixture
async def standard(session: AsyncSession) -> PriceList:
    """A price list with code STANDARD and two products, P-1 and P-2."""
    price_list = await make_price_list(session, "Standard")
    price_list.code = "STANDARD"
    await make_product(session, sku="P-1")
    await make_product(session, sku="P-2")
    await session.commit()
    return price_list


async def list_rows(session: AsyncSession, price_list_id: int) -> list[tuple[str, int, date | None, Decimal]]:
    session.expire_all()
    rows = await session.execute(
        select(Product.sku, PriceListItem.min_quantity, PriceListItem.valid_from, PriceListItem.unit_price)
        .join(Product, Product.id == PriceListItem.product_id)
        .where(PriceListItem.price_list_id == price_list_id)
        .order_by(Product.sku, PriceListItem.min_quantity, PriceListItem.valid_from)
    )
    return list(rows.tuples())


async def audited(session: AsyncSession, object_type: str, action: str) -> list[AuditEntry]:
    found = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.object_type == object_type, AuditEntry.action == action)
        .order_by(AuditEntry.id)
    )
    return list(found)


async def test_merge_creates_and_updates_rows_and_keeps_the_rows_not_sent(
    client: AsyncTestClient, session: AsyncSession, secret: str, standard: PriceList
) -> None:
    standard_id = standard.id
    body = {
        "mode": "merge",
        "items": [row("P-1", "9.50"), row("P-1", "8.90", min_quantity=10), row("P-2", "4", valid_from="2026-01-01")],
    }
    created = await client.put(LIST, json=body, headers=bearer(secret))
    assert created.status_code == 200, created.text
    assert created.json() == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "deleted": 0,
        "items": [
            {"key": "STANDARD / P-1 / from 1", "outcome": "new"},
            {"key": "STANDARD / P-1 / from 10", "outcome": "new"},
            {"key": "STANDARD / P-2 / from 1 / 2026-01-01", "outcome": "new"},
        ],
    }

    changed = await client.put(
        "/api/v1/price-lists/standard",  # the code in any case
        json={"mode": "merge", "items": [row("P-1", "9.00"), row("P-1", "8.90", min_quantity=10)]},
        headers=bearer(secret),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["created"], changed.json()["updated"], changed.json()["unchanged"]) == (0, 1, 1)
    assert await list_rows(session, standard_id) == [
        ("P-1", 1, None, Decimal("9.0000")),
        ("P-1", 10, None, Decimal("8.9000")),
        ("P-2", 1, date(2026, 1, 1), Decimal("4.0000")),  # not sent: kept
    ]

    repeat = await client.put(LIST, json=body | {"items": body["items"][1:]}, headers=bearer(secret))
    assert repeat.json()["unchanged"] == 2 and repeat.json()["created"] == repeat.json()["updated"] == 0
    updates = await audited(session, "price_list_item", "update")
    assert len(await audited(session, "price_list_item", "create")) == 3 and len(updates) == 1
    assert updates[0].changes == {"unit_price": ["9.5", "9"]}
    assert updates[0].actor.startswith("API key ERP")


async def test_replace_deletes_the_rows_not_sent_and_audits_each(
    client: AsyncTestClient, session: AsyncSession, secret: str, standard: PriceList
) -> None:
    p1, p2 = (await session.scalars(select(Product).order_by(Product.sku))).all()
    other = await make_price_list(session, "Other")
    standard_id, other_id = standard.id, other.id
    await add_list_price(session, standard, p1, "10.00")
    await add_list_price(session, standard, p1, "9.00", min_quantity=10)
    await add_list_price(session, standard, p2, "5.00", valid_from=date(2026, 1, 1))
    await add_list_price(session, other, p2, "7.00")
    await session.commit()

    # The rows sent overlap the stored P-2 row, which the replacement removes: no conflict.
    body = {"mode": "replace", "items": [row("P-1", "10.50"), row("P-2", "4.80", valid_from="2026-03-01")]}
    merged = await client.put(LIST, json=body | {"mode": "merge"}, headers=bearer(secret))
    assert merged.status_code == 422
    assert [e["pointer"] for e in merged.json()["errors"]] == ["/items/1/valid_from"]

    replaced = await client.put(LIST, json=body, headers=bearer(secret))
    assert replaced.status_code == 200, replaced.text
    assert {k: replaced.json()[k] for k in ("created", "updated", "unchanged", "deleted")} == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "deleted": 2,
    }
    assert await list_rows(session, standard_id) == [
        ("P-1", 1, None, Decimal("10.5000")),
        ("P-2", 1, date(2026, 3, 1), Decimal("4.8000")),
    ]
    assert await list_rows(session, other_id) == [("P-2", 1, None, Decimal("7.0000"))]  # another list: untouched
    deleted = await audited(session, "price_list_item", "delete")
    assert sorted(entry.object_label for entry in deleted) == [
        "STANDARD / P-1 / from 10",
        "STANDARD / P-2 / from 1 / 2026-01-01",
    ]
    assert deleted[0].actor.startswith("API key ERP") and all(e.object_id for e in deleted)
    tier = next(e for e in deleted if e.object_label == "STANDARD / P-1 / from 10")
    assert tier.changes["unit_price"] == ["9", None] and tier.changes["min_quantity"] == ["10", None]

    again = await client.put(LIST, json=body, headers=bearer(secret))
    assert (again.json()["unchanged"], again.json()["deleted"]) == (2, 0)

    merge_nothing = await client.put(LIST, json={"mode": "merge", "items": []}, headers=bearer(secret))
    assert merge_nothing.status_code == 422 and merge_nothing.json()["errors"][0]["pointer"] == "/items"
    emptied = await client.put(LIST, json={"mode": "replace", "items": []}, headers=bearer(secret))
    assert emptied.status_code == 200 and emptied.json()["deleted"] == 2
    assert await list_rows(session, standard_id) == []
    assert len(await audited(session, "price_list_item", "delete")) == 4


async def test_one_bad_item_writes_nothing_and_every_bad_item_is_listed(
    client: AsyncTestClient, session: AsyncSession, secret: str, standard: PriceList
) -> None:
    standard_id = standard.id
    p1 = await session.scalar(select(Product).where(Product.sku == "P-1"))
    assert p1 is not None
    await add_list_price(session, standard, p1, "10.00", min_quantity=5)
    await session.commit()
    items = [row("P-1", "9.00"), row("P-2", "8.00")] * 3
    items[1] = row("NOPE", "8.00")  # refused by the kind: no such product
    items[2] = row("P-2", "-1")  # refused by the schema's pattern
    items[3] = row("P-2", "8.00", min_quantity=0)
    items[4] = row("P-2", "8.00", valid_from="2026-05-01", valid_to="2026-04-01")
    body = {"mode": "replace", "items": items}
    answer = await client.put(LIST, json=body, headers=bearer(secret))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert {e["pointer"] for e in answer.json()["errors"]} == {"/items/2/unit_price", "/items/3/min_quantity"}

    items[2], items[3] = row("P-2", "8.00", min_quantity=2), row("P-2", "8.00", min_quantity=3)
    items[5] = row("P-1", "7.00")
    answer = await client.put(LIST, json=body, headers=bearer(secret))
    assert answer.status_code == 422
    assert [e["pointer"] for e in answer.json()["errors"]] == [
        "/items/1/sku",
        "/items/4/valid_to",
        "/items/5",  # the same row as item 0
    ]
    assert await list_rows(session, standard_id) == [("P-1", 5, None, Decimal("10.0000"))]  # nothing deleted either

    missing_mode = await client.put(LIST, json={"items": [row("P-1", "9.00")]}, headers=bearer(secret))
    assert missing_mode.status_code == 422
    assert [e["pointer"] for e in missing_mode.json()["errors"]] == ["/mode"]


async def test_the_same_idempotency_key_replays_the_stored_answer(
    client: AsyncTestClient, session: AsyncSession, secret: str, standard: PriceList
) -> None:
    standard_id = standard.id
    headers = {**bearer(secret), "Idempotency-Key": "prices-2026-12-06-001"}
    body = {"mode": "replace", "items": [row("P-1", "9.00")]}
    first = await client.put(LIST, json=body, headers=headers)
    assert first.status_code == 200 and first.json()["created"] == 1
    await session.execute(PriceListItem.__table__.update().values(unit_price=Decimal("99")))
    await session.commit()

    again = await client.put(LIST, json=body, headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert await list_rows(session, standard_id) == [("P-1", 1, None, Decimal("99.0000"))]  # not applied twice

    other = await client.put(LIST, json=body | {"mode": "merge"}, headers=headers)
    assert other.status_code == 409 and other.json()["errors"][0]["pointer"] == "Idempotency-Key"


async def test_contract_prices_of_a_company_by_its_nip(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    company = await make_company(session, tax_id="PL5250001003")
    other = await make_company(session)
    kept, gone = await make_product(session, sku="C-1"), await make_product(session, sku="C-2")
    await add_contract_price(session, company, gone, "3.00")
    await add_contract_price(session, other, gone, "3.50")
    await session.commit()
    company_id, other_id = company.id, other.id

    url = "/api/v1/companies/525-000-10-03/contract-prices"  # the NIP as the ERP writes it
    body = {"mode": "replace", "items": [row("C-1", "12.25", valid_to="2026-12-31")]}
    answer = await client.put(url, json=body, headers=bearer(secret))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "deleted": 1,
        "items": [{"key": "PL5250001003 / C-1 / from 1", "outcome": "new"}],
    }
    stored = await session.execute(
        select(ContractPrice.company_id, ContractPrice.product_id, ContractPrice.unit_price, ContractPrice.valid_to)
    )
    assert sorted(stored.tuples()) == sorted(
        [(company_id, kept.id, Decimal("12.2500"), date(2026, 12, 31)), (other_id, gone.id, Decimal("3.5000"), None)]
    )
    deleted = await audited(session, "contract_price", "delete")
    assert [(e.company_id, e.object_label) for e in deleted] == [(company_id, "PL5250001003 / C-2 / from 1")]

    merged = await client.put(
        "/api/v1/companies/PL5250001003/contract-prices",
        json={"mode": "merge", "items": [row("C-2", "2.90"), row("C-1", "12.25", valid_to="2026-12-31")]},
        headers=bearer(secret),
    )
    assert {k: merged.json()[k] for k in ("created", "unchanged", "deleted")} == {
        "created": 1,
        "unchanged": 1,
        "deleted": 0,
    }
    session.expire_all()
    count = select(func.count()).select_from(ContractPrice).where(ContractPrice.company_id == company_id)
    assert await session.scalar(count) == 2


async def test_unknown_lists_and_companies_answer_404_and_a_key_without_the_scope_403(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, secret: str, standard: PriceList
) -> None:
    body = {"mode": "merge", "items": [row("P-1", "9.00")]}
    for url in (
        "/api/v1/price-lists/NO-SUCH-LIST",
        "/api/v1/price-lists/" + "A" * 41,  # longer than any code
        "/api/v1/price-lists/bad%20code",
        "/api/v1/companies/PL9999999999/contract-prices",
        "/api/v1/companies/not-a-nip/contract-prices",
    ):
        answer = await client.put(url, json=body, headers=bearer(secret))
        assert answer.status_code == 404, (url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    unknown = await client.put("/api/v1/price-lists/NO-SUCH-LIST", json=body, headers=bearer(secret))
    assert "NO-SUCH-LIST" in unknown.json()["detail"]

    company = await make_company(session)
    await session.commit()
    _, reader = await make_api_key(session, settings, {"prices:read", "catalogue:write"})
    for url in (LIST, f"/api/v1/companies/{company.tax_id}/contract-prices"):
        answer = await client.put(url, json=body, headers=bearer(reader))
        assert answer.status_code == 403 and "prices:write" in answer.json()["detail"]
    session.expire_all()
    assert await session.scalar(select(func.count()).select_from(PriceListItem)) == 0
    assert await session.scalar(select(func.count()).select_from(ContractPrice)) == 0
    assert await session.scalar(select(func.count()).select_from(Company)) == 1
