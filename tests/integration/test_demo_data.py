"""Demo data: loaded once into an empty database, sized for a demo, and every
demo login lands on its role's home page."""

from __future__ import annotations

from datetime import date, timedelta
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


async def test_the_demo_shows_quotes_in_every_state(demo_loaded: AsyncSession) -> None:
    from sqlalchemy.orm import selectinload

    from portal.models import FlagKind, MessageStatus, Order, OrderStatus, OutboxMessage, Quote, QuoteStatus
    from portal.services import quote_views, quotes

    session = demo_loaded
    nina = await session.scalar(select(User).where(User.email == "buyer@northwind.example"))
    anna = await session.scalar(select(User).where(User.email == "manager@seller.example"))
    assert nina is not None and anna is not None
    listed = list(
        await session.scalars(select(Quote).options(selectinload(Quote.company)).order_by(Quote.created_at, Quote.id))
    )
    northwind = {q.status: q for q in listed if q.company_id == nina.company_id}
    assert set(northwind) == {QuoteStatus.SENT, QuoteStatus.REQUESTED, QuoteStatus.ACCEPTED}
    assert [q.company.name for q in listed if q.status is QuoteStatus.DECLINED] == ["Baltic Foods"]
    assert all(q.number.startswith(f"Q-{TODAY.year}-") or q.number.startswith(f"Q-{TODAY.year - 1}-") for q in listed)

    sent = [q for q in listed if q.company_id == nina.company_id and q.status is QuoteStatus.SENT]
    negotiated = next(q for q in sent if q.sent_version == 2)
    seen = await quotes.buyer_quote(session, nina, negotiated.id)
    changes = quote_views.changes_between(quotes.sent_of(seen, 1), quotes.sent_of(seen, 2))  # type: ignore[arg-type]
    assert {d.change for d in changes} == set(quote_views.Change)
    assert [e.to_status for e in await quote_views.timeline(session, negotiated.id)] == [
        QuoteStatus.REQUESTED,
        QuoteStatus.SENT,
        QuoteStatus.CHANGES_REQUESTED,
        QuoteStatus.SENT,
    ]
    buyers_thread = await quote_views.thread(session, negotiated.id, internal=False)
    staff_thread = await quote_views.thread(session, negotiated.id, internal=True)
    assert len(staff_thread) == len(buyers_thread) + 1 and not any(c.internal for c in buyers_thread)
    assert seen.valid_until is not None and seen.valid_until > TODAY

    expiring = next(q for q in sent if q.sent_version == 1)
    assert expiring.requested_by_id is None and expiring.valid_until is not None
    assert TODAY <= expiring.valid_until <= TODAY + timedelta(days=quotes.REMIND_DAYS)
    assert quotes.draft_of(await quotes.staff_quote(session, anna, northwind[QuoteStatus.REQUESTED].id, TODAY))

    order = await session.scalar(
        select(Order).options(selectinload(Order.flags)).where(Order.quote_id == northwind[QuoteStatus.ACCEPTED].id)
    )
    assert order is not None and order.quote_version == 1 and order.submitted_at.date() < TODAY
    # Northwind is over its credit limit: the quote's order waits for approval with that blocker shown.
    assert order.status is OrderStatus.PENDING_APPROVAL
    assert [flag.kind for flag in order.flags if flag.blocking] == [FlagKind.EXCEEDS_CREDIT]
    pending = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.link.like("%/quotes/%"), OutboxMessage.status == MessageStatus.PENDING)
    )
    assert pending == 0  # the story's e-mails went out on their days
