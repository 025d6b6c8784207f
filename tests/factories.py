"""Small factories for tests: each makes one valid row, overridable field by field."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Invoice, Product, ProductCategory, Role, User
from portal.services.passwords import hash_password

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


@cache
def password_hash() -> str:
    return hash_password(PASSWORD)


async def make_company(session: AsyncSession, **fields: Any) -> Company:
    number = next(_numbers)
    values: dict[str, Any] = {
        "name": f"Company {number}",
        "tax_id": f"PL{number:010d}",
        "payment_terms_days": 30,
        "credit_limit": Decimal("10000.00"),
        "currency": "PLN",
        "general_discount_pct": Decimal("0.00"),
    }
    values.update(fields)
    company = Company(**values)
    session.add(company)
    await session.flush()
    return company


async def make_user(session: AsyncSession, role: Role = Role.BUYER, **fields: Any) -> User:
    number = next(_numbers)
    values: dict[str, Any] = {
        "email": f"user{number}@example.test",
        "full_name": f"User {number}",
        "password_hash": password_hash(),
        "role": role,
    }
    values.update(fields)
    if role is Role.BUYER and "company_id" not in values:
        values["company_id"] = (await make_company(session)).id
    user = User(**values)
    session.add(user)
    await session.flush()
    return user


async def make_invoice(
    session: AsyncSession,
    company: Company,
    *,
    gross: str,
    paid: str = "0",
    due: date,
    issued: date | None = None,
) -> Invoice:
    invoice = Invoice(
        company_id=company.id,
        number=f"FV/T/{next(_numbers):05d}",
        issue_date=issued or due - timedelta(days=company.payment_terms_days),
        due_date=due,
        currency=company.currency,
        gross_amount=Decimal(gross),
        paid_amount=Decimal(paid),
    )
    session.add(invoice)
    await session.flush()
    return invoice


async def make_product(session: AsyncSession, **fields: Any) -> Product:
    number = next(_numbers)
    category = fields.pop("category", None) or ProductCategory(name=f"Category {number}")
    values: dict[str, Any] = {
        "sku": f"SKU-{number:05d}",
        "name": f"Product {number}",
        "category": category,
        "list_price": Decimal("10.0000"),
        "cost": Decimal("6.0000"),
        "vat_rate": Decimal("23.00"),
    }
    values.update(fields)
    product = Product(**values)
    session.add(product)
    await session.flush()
    return product


def csrf_from(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def sign_in(client: AsyncTestClient, email: str, password: str = PASSWORD) -> Any:
    page = await client.get("/login")
    return await client.post(
        "/login",
        data={"email": email, "password": password, "_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )


def text_of(html: str) -> str:
    """The visible text of a page, whitespace collapsed, for asserting what a user reads."""
    without_tags = unescape(re.sub(r"<[^>]+>", " ", html))
    return re.sub(r"\s+", " ", without_tags.replace("\xa0", " ")).strip()


async def make_price_list(session: AsyncSession, name: str | None = None, currency: str = "PLN") -> Any:
    from portal.models import PriceList

    price_list = PriceList(name=name or f"List {next(_numbers)}", currency=currency)
    session.add(price_list)
    await session.flush()
    return price_list


async def add_list_price(
    session: AsyncSession,
    price_list: Any,
    product: Product,
    price: str,
    min_quantity: int = 1,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> None:
    from portal.models import PriceListItem

    session.add(
        PriceListItem(
            price_list_id=price_list.id,
            product_id=product.id,
            unit_price=Decimal(price),
            min_quantity=min_quantity,
            valid_from=valid_from,
            valid_to=valid_to,
        )
    )
    await session.flush()


async def add_contract_price(
    session: AsyncSession,
    company: Company,
    product: Product,
    price: str,
    min_quantity: int = 1,
    valid_from: date | None = None,
    valid_to: date | None = None,
) -> None:
    from portal.models import ContractPrice

    session.add(
        ContractPrice(
            company_id=company.id,
            product_id=product.id,
            unit_price=Decimal(price),
            min_quantity=min_quantity,
            valid_from=valid_from,
            valid_to=valid_to,
        )
    )
    await session.flush()


async def make_order(
    session: AsyncSession,
    company: Company,
    *,
    gross: str,
    status: Any = None,
    buyer: Any = None,
    flags: list[Any] | None = None,
    submitted_at: Any = None,
    product: Product | None = None,
    quantity: int = 1,
) -> Any:
    """An order as checkout makes it, with one line of `gross` at 0 % VAT (so net = gross)."""
    from datetime import UTC, datetime

    from portal.models import Order, OrderEvent, OrderFlag, OrderLine, OrderStatus

    status = status or OrderStatus.PENDING_APPROVAL
    product = product or await make_product(session)
    amount = Decimal(gross)
    when = submitted_at or datetime.now(UTC)
    order = Order(
        company_id=company.id,
        number=f"ORD-T-{next(_numbers):06d}",
        status=status,
        buyer_id=buyer.id if buyer else None,
        idempotency_key=f"key-{next(_numbers)}",
        requested_delivery_date=date(2026, 12, 1),
        delivery_address="HQ",
        currency=company.currency,
        net_total=amount,
        vat_total=Decimal("0.00"),
        gross_total=amount,
        cost_total=(amount * Decimal("0.7")).quantize(Decimal("0.01")),
        payment_terms_days=company.payment_terms_days,
        submitted_at=when,
        lines=[
            OrderLine(
                company_id=company.id,
                product_id=product.id,
                sku=product.sku,
                name=product.name,
                unit=product.unit,
                quantity=quantity,
                unit_price=(amount / quantity).quantize(Decimal("0.0001")),
                price_source="list_less_discount",
                unit_cost=(amount * Decimal("0.7") / quantity).quantize(Decimal("0.0001")),
                vat_rate=Decimal("0.00"),
                line_net=amount,
            )
        ],
        flags=[
            OrderFlag(company_id=company.id, kind=kind, blocking=kind.blocking, data=data or {})
            for kind, data in (flags or [])
        ],
        events=[
            OrderEvent(
                company_id=company.id,
                at=when,
                actor_id=buyer.id if buyer else None,
                from_status=None,
                to_status=OrderStatus.PENDING_APPROVAL,
            )
        ],
    )
    session.add(order)
    await session.flush()
    return order


async def make_schedule(
    session: AsyncSession,
    company: Company,
    lines: list[tuple[Product, int]],
    *,
    first: date,
    frequency: str = "weekly",
    interval_weeks: int = 1,
    month_day: int | None = None,
    lead_days: int = 2,
    today: date | None = None,
    created_by: Any = None,
    name: str = "Weekly linen",
) -> Any:
    """A schedule saved the way a buyer saves one, starting from `today` (default: the day before `first`)."""
    from portal.models import Address, Frequency
    from portal.services import schedules

    address = Address(
        company_id=company.id, label="Main", street="Street 1", postal_code="00-001", city="Warsaw", is_default=True
    )
    session.add(address)
    await session.flush()
    buyer = created_by or await make_user(session, company_id=company.id)
    form = schedules.ScheduleForm(name, address.id, Frequency(frequency), first, lead_days, interval_weeks, month_day)
    return await schedules.create_schedule(session, buyer, form, lines, today or first - timedelta(days=lead_days + 1))


async def make_api_key(
    session: AsyncSession,
    settings: Any,
    scopes: Any = None,
    *,
    name: str = "ERP",
    expires_on: Any = None,
) -> tuple[Any, str]:
    """An API key (all scopes unless told) made by a new admin, committed; (key, secret)."""
    from portal.services import api_keys

    admin = await make_user(session, Role.ADMIN)
    record = api_keys.KeyRecord(name, frozenset(api_keys.ALL_SCOPES if scopes is None else scopes), expires_on)
    key, secret = await api_keys.create_key(
        session, admin, record, signing_key=settings.secret_key, today=date(2000, 1, 1)
    )
    await session.commit()
    return key, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def make_agreement(
    session: AsyncSession,
    company: Company,
    *,
    tiers: list[tuple[str, str]] | None = None,
    category: ProductCategory | None = None,
    valid_from: date = date(2026, 1, 1),
    **fields: Any,
) -> Any:
    """An active quarterly retrospective agreement; `tiers` are (threshold, rebate %) on all
    products (or on `category`), applying from `valid_from`."""
    from portal.models import Agreement, AgreementStatus, AgreementTier, SettlementPeriod, TierMode

    values: dict[str, Any] = {
        "company_id": company.id,
        "number": f"FA/T/{next(_numbers):05d}",
        "status": AgreementStatus.ACTIVE,
        "valid_from": valid_from,
        "period": SettlementPeriod.QUARTER,
        "tier_mode": TierMode.RETROSPECTIVE,
    }
    values.update(fields)
    agreement = Agreement(
        **values,
        tiers=[
            AgreementTier(
                company_id=company.id,
                applies_from=valid_from,
                category_id=category.id if category else None,
                threshold=Decimal(threshold),
                rebate_pct=Decimal(pct),
            )
            for threshold, pct in tiers or []
        ],
    )
    session.add(agreement)
    await session.flush()
    return agreement


async def make_counted_order(
    session: AsyncSession, company: Company, *, net: str, approved_at: Any, product: Product | None = None
) -> Any:
    """An order of `net` (0 % VAT) approved at `approved_at`: it counts from that moment."""
    from portal.models import OrderEvent, OrderStatus

    order = await make_order(session, company, gross=net, product=product, submitted_at=approved_at)
    order.status = OrderStatus.APPROVED
    order.counted_on = approved_at.astimezone(ZoneInfo("Europe/Warsaw")).date()
    session.add(
        OrderEvent(
            order_id=order.id,
            company_id=company.id,
            at=approved_at,
            from_status=OrderStatus.PENDING_APPROVAL,
            to_status=OrderStatus.APPROVED,
        )
    )
    await session.flush()
    return order
