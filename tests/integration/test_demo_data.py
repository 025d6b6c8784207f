"""Demo data: loaded once into an empty database, sized for a demo, and every
demo login lands on its role's home page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import demo
from portal.models import (
    ApiKey,
    Company,
    ContractPrice,
    Invoice,
    PriceList,
    PriceListItem,
    Product,
    ProductCategory,
    User,
)
from portal.services import api_keys
from portal.services.credit import credit_pictures
from tests.factories import bearer, make_company, sign_in, text_of

TODAY = date(2026, 11, 27)


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def demo_loaded(session: AsyncSession) -> AsyncSession:
    await demo.load_demo_data(session, TODAY)
    await session.commit()
    return session


async def test_demo_data_is_sized_for_a_demo(demo_loaded: AsyncSession) -> None:
    session = demo_loaded
    assert await count(session, Company) >= 6
    assert 280 <= await count(session, Product) <= 320
    assert await count(session, ProductCategory) == 10
    assert 2 <= await count(session, PriceList) <= 3
    assert await count(session, PriceListItem) > 300
    assert await count(session, ContractPrice) > 0
    vat_rates = set(await session.scalars(select(Product.vat_rate).distinct()))
    assert vat_rates == {Decimal("23.00"), Decimal("8.00"), Decimal("5.00")}
    terms = set(await session.scalars(select(Company.payment_terms_days).distinct()))
    assert {14, 30, 60} <= terms


async def test_demo_companies_tell_the_credit_stories(demo_loaded: AsyncSession) -> None:
    pictures = await credit_pictures(demo_loaded, today=TODAY, grace_days=7)
    assert [p.company.name for p in pictures if p.on_hold] == ["Carpathia Catering"]
    assert "Mazovia Office Supplies" in [p.company.name for p in pictures if p.past_due]
    northwind = next(p for p in pictures if p.company.name == "Northwind Trading")
    assert northwind.overdue_amount > 0 and not northwind.past_due  # 3 days overdue, within grace
    paid = await demo_loaded.scalar(
        select(func.count()).select_from(Invoice).where(Invoice.paid_amount == Invoice.gross_amount)
    )
    assert paid and paid > 20
    managers = {p.company.account_manager.email for p in pictures if p.company.account_manager}
    assert managers == {"manager@seller.example", "manager2@seller.example"}


async def test_demo_data_goes_only_into_an_empty_database(demo_loaded: AsyncSession) -> None:
    with pytest.raises(demo.DemoDataRefused):
        await demo.load_demo_data(demo_loaded, TODAY)
    assert await count(demo_loaded, User) == len(demo.STAFF) + sum(len(c.buyers) for c in demo.COMPANIES)


async def test_demo_data_never_goes_over_real_data(session: AsyncSession) -> None:
    await make_company(session, name="A real customer")
    with pytest.raises(demo.DemoDataRefused):
        await demo.load_demo_data(session, TODAY)
    assert await count(session, Product) == 0


DEMO_HOMES = [
    ("buyer@northwind.example", "/dashboard", "Northwind Trading"),
    ("buyer2@northwind.example", "/dashboard", "Northwind Trading"),
    ("buyer@baltic.example", "/dashboard", "Baltic Foods"),
    ("manager@seller.example", "/manager", "My customers"),
    ("manager2@seller.example", "/manager", "My customers"),
    ("finance@seller.example", "/finance", "Credit overview"),
    ("admin@seller.example", "/admin", "Administration"),
]


@pytest.mark.parametrize(("email", "home", "heading"), DEMO_HOMES)
async def test_every_demo_login_lands_on_its_home(
    demo_loaded: AsyncSession, client: AsyncTestClient, email: str, home: str, heading: str
) -> None:
    response = await sign_in(client, email, demo.DEMO_PASSWORD)
    assert (response.status_code, response.headers["location"]) == (303, home)
    page = await client.get(home)
    assert page.status_code == 200
    assert f"<h1>{heading}</h1>" in page.text
    assert "Sign out" in text_of(page.text)


async def test_the_demo_shows_what_admins_keep(demo_loaded: AsyncSession) -> None:
    from portal.models import AccessToken, AuditEntry

    silesia = await demo_loaded.scalar(select(Company).where(Company.name == "Silesia Build"))
    assert silesia is not None and silesia.delivery_weekdays == "24" and silesia.min_order_value == Decimal("500.00")
    assert await demo_loaded.scalar(select(Company.auto_approve).where(Company.name == "Warta Clinics"))
    assert set(await demo_loaded.scalars(select(PriceList.code))) == {"WHOLESALE", "HORECA", "KEY"}
    assert await count(demo_loaded, AccessToken) == 1
    assert await count(demo_loaded, AuditEntry) >= 3


async def test_the_demo_erp_key_has_every_scope_and_works(session: AsyncSession, client: AsyncTestClient) -> None:
    secret = await demo.load_demo_data(session, TODAY)
    await session.commit()
    (key,) = (await session.scalars(select(ApiKey))).all()
    assert key.name == "ERP (demo)" and key.scope_set == set(api_keys.ALL_SCOPES)
    creator = await session.get(User, key.created_by_id)
    assert creator is not None and creator.email == "admin@seller.example"
    assert secret.startswith("pk_") and key.prefix == secret[:10] and secret not in key.secret_hash
    answer = await client.put("/api/v1/stock", json={"items": []}, headers=bearer(secret))
    assert answer.status_code == 422, answer.text
