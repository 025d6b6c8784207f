"""The ERP API's companies: upserted by NIP with their addresses (matched by label), all or nothing
per call with every problem listed, idempotent repeats, scopes; and credit limits set through the
credit ledger with the source ERP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, AuditEntry, Company, CreditEvent, OutboxMessage, PriceList, Role, User
from portal.settings import Settings
from tests.factories import bearer, make_api_key, make_company, make_user, sign_in, text_of

COMPANIES = "/api/v1/companies"
HOTEL, BISTRO, CANTEEN = "PL5260001246", "PL5250001003", "PL7770000005"


def address(label: str, **fields: Any) -> dict[str, Any]:
    return {"label": label, "street": f"{label} Street 1", "postal_code": "00-950", "city": "Warszawa", **fields}


def credit_limit_path(tax_id: str) -> str:
    return f"{COMPANIES}/{tax_id}/credit-limit"


@pytest.fixture
async def secret(session: AsyncSession, settings: Settings) -> str:
    session.add(PriceList(name="Wholesale", code="WHOLESALE", currency="PLN"))
    await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.test", full_name="Anna Manager")
    await session.commit()
    _, secret = await make_api_key(session, settings)
    return secret


async def addresses_of(session: AsyncSession, tax_id: str) -> list[tuple[str, str, bool]]:
    rows = await session.execute(
        select(Address.label, Address.street, Address.is_default)
        .join(Company, Company.id == Address.company_id)
        .where(Company.tax_id == tax_id)
        .order_by(Address.id)
    )
    return [(label, street, default) for label, street, default in rows]


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_companies_are_created_with_addresses_then_updated_by_nip(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    hotel = {
        "tax_id": "526-000-12-46",
        "name": "Hotel Baltic",
        "payment_terms_days": 14,
        "price_list": "WHOLESALE",
        "general_discount_pct": "5.5",
        "po_number_required": True,
        "margin_floor_pct": "12",
        "account_manager_email": "ANNA@seller.test",
        "delivery_weekdays": "135",
        "order_cutoff": "14:30",
        "min_order_value": "300.00",
        "addresses": [address("Warehouse"), address("Kitchen")],
    }
    created = await client.put(
        COMPANIES, json={"items": [hotel, {"tax_id": BISTRO, "name": "Bistro"}]}, headers=bearer(secret)
    )
    assert created.status_code == 200, created.text
    assert created.json() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "items": [{"key": HOTEL, "outcome": "new"}, {"key": BISTRO, "outcome": "new"}],
    }
    stored = await session.scalar(select(Company).where(Company.tax_id == HOTEL))
    manager = await session.scalar(select(User).where(User.email == "anna@seller.test"))
    assert stored is not None and manager is not None
    manager_id = manager.id
    assert (stored.name, stored.payment_terms_days, stored.general_discount_pct, stored.po_number_required) == (
        "Hotel Baltic",
        14,
        Decimal("5.50"),
        True,
    )
    assert (stored.account_manager_id, stored.delivery_weekdays, str(stored.order_cutoff)) == (
        manager_id,
        "135",
        "14:30:00",
    )
    assert await addresses_of(session, HOTEL) == [
        ("Warehouse", "Warehouse Street 1", True),  # the first address is the default
        ("Kitchen", "Kitchen Street 1", False),
    ]
    assert await addresses_of(session, BISTRO) == []

    update = {
        "tax_id": HOTEL,
        "payment_terms_days": 30,
        "margin_floor_pct": None,
        "addresses": [
            address("warehouse", street="Portowa 7"),
            address("Terrace", postal_code="80-001", city="Gdańsk", default=True),
        ],
    }
    changed = await client.put(COMPANIES, json={"items": [update]}, headers=bearer(secret))
    assert changed.json() == {
        "created": 0,
        "updated": 1,
        "unchanged": 0,
        "items": [{"key": HOTEL, "outcome": "changed"}],
    }
    session.expire_all()
    stored = await session.scalar(select(Company).where(Company.tax_id == HOTEL))
    assert stored is not None
    assert (stored.payment_terms_days, stored.margin_floor_pct) == (30, None)  # sent: changed; null: emptied
    assert (stored.name, stored.general_discount_pct, stored.account_manager_id) == (
        "Hotel Baltic",
        Decimal("5.50"),
        manager_id,
    )  # left out: kept
    assert stored.price_list_id is not None
    assert await addresses_of(session, HOTEL) == [
        ("warehouse", "Portowa 7", False),  # matched by its label, whatever the case
        ("Kitchen", "Kitchen Street 1", False),  # not sent: left as it was
        ("Terrace", "Terrace Street 1", True),  # new, and the default now
    ]
    actors = set(await session.scalars(select(AuditEntry.actor).where(AuditEntry.object_type == "address")))
    assert len(actors) == 1 and actors.pop().startswith("API key ERP")

    # Only an address changes: the company counts as changed; the same call again changes nothing.
    only_address = {"tax_id": BISTRO, "addresses": [address("Bar")]}
    answer = await client.put(COMPANIES, json={"items": [only_address]}, headers=bearer(secret))
    assert answer.json()["items"] == [{"key": BISTRO, "outcome": "changed"}]
    again = await client.put(COMPANIES, json={"items": [only_address]}, headers=bearer(secret))
    assert again.json()["items"] == [{"key": BISTRO, "outcome": "unchanged"}]
    assert await addresses_of(session, BISTRO) == [("Bar", "Bar Street 1", True)]


async def test_the_same_idempotency_key_replays_the_answer_without_writing_again(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    headers = {**bearer(secret), "Idempotency-Key": "companies-2026-12-06-1"}
    body = {"items": [{"tax_id": HOTEL, "name": "Hotel Baltic", "addresses": [address("Warehouse")]}]}
    first = await client.put(COMPANIES, json=body, headers=headers)
    assert first.status_code == 200
    entries = await count(session, AuditEntry)

    again = await client.put(COMPANIES, json=body, headers=headers)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert (
        again.json()
        == first.json()
        == {
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "items": [{"key": HOTEL, "outcome": "new"}],
        }
    )
    assert await count(session, AuditEntry) == entries
    assert await count(session, Address) == 1

    other = await client.put(COMPANIES, json={"items": [{"tax_id": BISTRO, "name": "Bistro"}]}, headers=headers)
    assert other.status_code == 409
    assert await count(session, Company) == 1


async def test_one_bad_company_or_address_writes_nothing_and_every_problem_is_listed(
    client: AsyncTestClient, session: AsyncSession, secret: str
) -> None:
    items = [
        {
            "tax_id": HOTEL,
            "name": "Hotel Baltic",
            "addresses": [address("Warehouse"), address("Kitchen", postal_code="123")],
        },
        {"tax_id": "PL5260001247", "name": "Bad checksum"},
        {"tax_id": CANTEEN, "name": "Canteen", "account_manager_email": "nobody@seller.test", "price_list": "NOPE"},
        {
            "tax_id": BISTRO,
            "name": "Bistro",
            "addresses": [address("Bar", default=True), address("BAR"), address("Cellar", default=True)],
        },
    ]
    entries = await count(session, AuditEntry)
    answer = await client.put(COMPANIES, json={"items": items}, headers=bearer(secret))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [error["pointer"] for error in answer.json()["errors"]] == [
        "/items/0/addresses/1/postal_code",
        "/items/1/tax_id",
        "/items/2/price_list",
        "/items/2/account_manager_email",
        "/items/3/addresses/1/label",
        "/items/3/addresses/2/default",
    ]
    messages = {error["pointer"]: error["detail"] for error in answer.json()["errors"]}
    assert messages["/items/2/account_manager_email"] == "No account manager has this e-mail."
    assert messages["/items/0/addresses/1/postal_code"] == "A Polish postal code reads NN-NNN, e.g. 00-950."
    assert (await count(session, Company), await count(session, Address), await count(session, AuditEntry)) == (
        0,
        0,
        entries,
    )

    # Good companies with one bad address: still nothing, not even the companies.
    items = [items[0], {"tax_id": BISTRO, "name": "Bistro"}]
    answer = await client.put(COMPANIES, json={"items": items}, headers=bearer(secret))
    assert [error["pointer"] for error in answer.json()["errors"]] == ["/items/0/addresses/1/postal_code"]
    assert await count(session, Company) == 0

    # Values the schema refuses are listed with the same pointers.
    items = [
        {"tax_id": HOTEL, "name": "Hotel", "addresses": [address("Warehouse", country_code="POL"), {"label": "X"}]}
    ]
    answer = await client.put(COMPANIES, json={"items": items}, headers=bearer(secret))
    assert answer.status_code == 422
    assert {"/items/0/addresses/0/country_code", "/items/0/addresses/1/street"} <= {
        error["pointer"] for error in answer.json()["errors"]
    }
    assert await count(session, Company) == 0


async def test_a_key_without_the_scope_is_refused(
    client: AsyncTestClient, session: AsyncSession, settings: Settings
) -> None:
    await make_company(session, tax_id=HOTEL)
    await session.commit()
    _, credit_only = await make_api_key(session, settings, {"credit:write", "companies:read"})
    answer = await client.put(
        COMPANIES, json={"items": [{"tax_id": BISTRO, "name": "Bistro"}]}, headers=bearer(credit_only)
    )
    assert answer.status_code == 403 and "companies:write" in answer.json()["detail"]

    _, companies_only = await make_api_key(session, settings, {"companies:write"})
    body = {"credit_limit": "1.00", "reason": "Review"}
    answer = await client.post(credit_limit_path(HOTEL), json=body, headers=bearer(companies_only))
    assert answer.status_code == 403 and "credit:write" in answer.json()["detail"]
    assert await count(session, Company) == 1 and await count(session, CreditEvent) == 0


async def test_a_credit_limit_from_the_erp_goes_through_the_ledger(
    client: AsyncTestClient, session: AsyncSession, settings: Settings
) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(
        session, name="Hotel Baltic", tax_id=HOTEL, credit_limit=Decimal("10000.00"), account_manager_id=manager.id
    )
    company_id = company.id
    buyer = await make_user(session, company_id=company_id)
    finance = await make_user(session, Role.FINANCE)
    await session.commit()
    _, secret = await make_api_key(session, settings, {"credit:write"})
    body = {"credit_limit": "15000", "reason": "Approved by the board", "customer_message": "Your limit was raised."}

    answer = await client.post(credit_limit_path("526-000-12-46"), json=body, headers=bearer(secret))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "tax_id": HOTEL,
        "credit_limit": "15000.00",
        "previous_limit": "10000.00",
        "changed": True,
    }
    event = await session.scalar(select(CreditEvent))
    assert event is not None
    assert (event.source, event.actor_id, event.reason, event.customer_message) == (
        "erp",
        None,
        "Approved by the board",
        "Your limit was raised.",
    )
    assert (event.old_limit, event.new_limit) == (Decimal("10000.00"), Decimal("15000.00"))
    assert await session.scalar(select(Company.credit_limit).where(Company.id == company_id)) == Decimal("15000.00")
    told = set(await session.scalars(select(OutboxMessage.recipient)))
    assert {manager.email, buyer.email} <= told

    same = await client.post(credit_limit_path(HOTEL), json={**body, "reason": "Sent again"}, headers=bearer(secret))
    assert same.status_code == 200
    assert same.json() == {"tax_id": HOTEL, "credit_limit": "15000.00", "previous_limit": "15000.00", "changed": False}
    assert await count(session, CreditEvent) == 1

    assert (await client.post(credit_limit_path(BISTRO), json=body, headers=bearer(secret))).status_code == 404
    assert (await client.post(credit_limit_path("not-a-nip"), json=body, headers=bearer(secret))).status_code == 404

    await sign_in(client, finance.email)
    page = text_of((await client.get(f"/finance/companies/{company_id}")).text)
    assert "Limit PLN 10,000.00 → PLN 15,000.00 · " in page and " · ERP Approved by the board" in page
