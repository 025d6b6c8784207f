"""The agreed assortment over HTTP: a line outside what the company's framework agreement covers is
flagged with the line named — a warning the approver confirms, or a blocker that refuses approval
where the agreement says so — computed again whenever the order is shown, kept as history from
submission, and for the whole queue in the same statements however many companies have agreements."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Address,
    AssortmentItem,
    Company,
    FlagKind,
    Order,
    OrderSource,
    OrderStatus,
    ProductCategory,
    Role,
)
from portal.services import ordering
from tests.factories import csrf_from, make_agreement, make_company, make_order, make_product, make_user, sign_in
from tests.factories import text_of as page_text
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""


async def agreed(session: AsyncSession, company: Company, *, number: str, blocking: bool = False, **listed: Any) -> Any:
    """An agreement covering the `category` and the `product` given."""
    agreement = await make_agreement(session, company, number=number, assortment_blocking=blocking)
    if category := listed.get("category"):
        session.add(AssortmentItem(agreement_id=agreement.id, company_id=company.id, category_id=category.id))
    if product := listed.get("product"):
        session.add(AssortmentItem(agreement_id=agreement.id, company_id=company.id, product_id=product.id))
    await session.flush()
    return agreement


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    company = await make_company(
        session, name="Northwind Trading", account_manager_id=manager.id, credit_limit=Decimal("100000.00")
    )
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    linen = ProductCategory(name="Linen")
    towels = await make_product(session, sku="TWL-1", name="Bath towel", category=linen)
    soap = await make_product(session, sku="SOAP-1", name="Hand soap")
    chair = await make_product(session, sku="CHR-1", name="Office chair")
    await make_order(
        session, company, gross="80.00", status=OrderStatus.INVOICED, submitted_at=datetime(2026, 1, 5, tzinfo=UTC)
    )  # not the first order
    await session.commit()
    return {
        "manager": manager,
        "company": company,
        "buyer": buyer,
        "linen": linen,
        "towels": towels,
        "soap": soap,
        "chair": chair,
    }


async def review(client: AsyncTestClient, order: Order) -> Any:
    return await client.get(f"/queue/orders/{order.id}")


async def approve(client: AsyncTestClient, order: Order, csrf: str, **extra: str) -> Any:
    return await client.post(
        f"/queue/orders/{order.id}/approve", data={"_csrf_token": csrf, **extra}, follow_redirects=False
    )


async def status_of(session: AsyncSession, order: Order) -> OrderStatus:
    status = await session.scalar(
        select(Order.status).where(Order.id == order.id).execution_options(populate_existing=True)
    )
    assert status is not None
    return status


async def test_a_line_outside_the_assortment_is_a_warning_naming_the_line(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    await agreed(session, world["company"], number="FA/2026/001", category=world["linen"], product=world["soap"])
    outside = await make_order(session, world["company"], gross="300.00", product=world["chair"])
    await session.commit()
    await sign_in(client, world["manager"].email)

    page = await review(client, outside)
    assert page.status_code == 200
    warnings = re.search(r'<div class="banner banner-warning" id="warnings">.*?</div>', page.text, re.S)
    assert warnings is not None
    assert 'data-flag="outside_agreement"' in warnings.group(0)
    assert "Outside the agreement FA/2026/001: CHR-1 Office chair" in page_text(warnings.group(0))
    assert 'id="blockers"' not in page.text and 'id="approve-form"' in page.text

    csrf = csrf_from(page.text)
    unconfirmed = await approve(client, outside, csrf)
    assert unconfirmed.status_code == 400 and "Confirm that you have reviewed the warnings." in page_text(
        unconfirmed.text
    )
    assert await status_of(session, outside) is OrderStatus.PENDING_APPROVAL
    confirmed = await approve(client, outside, csrf, confirm_warnings="yes")
    assert confirmed.status_code == 303
    assert await status_of(session, outside) is OrderStatus.APPROVED


async def test_a_blocking_assortment_refuses_approval_with_the_blocker_shown(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    await agreed(session, world["company"], number="FA/2026/002", blocking=True, product=world["soap"])
    outside = await make_order(session, world["company"], gross="300.00", product=world["towels"])
    await session.commit()
    await sign_in(client, world["manager"].email)

    page = await review(client, outside)
    blockers = re.search(r'<div class="banner banner-blocking" id="blockers".*?</div>', page.text, re.S)
    assert blockers is not None
    assert 'data-flag="outside_agreement_blocking"' in blockers.group(0)
    assert "Outside the agreement FA/2026/002: TWL-1 Bath towel" in page_text(blockers.group(0))
    assert 'id="approve-form"' not in page.text

    refused = await approve(client, outside, csrf_from(page.text), confirm_warnings="yes")
    assert refused.status_code == 409
    assert "This order cannot be approved now." in page_text(refused.text)
    assert "Outside the agreement FA/2026/002: TWL-1 Bath towel" in page_text(refused.text)
    assert await status_of(session, outside) is OrderStatus.PENDING_APPROVAL

    # the queue shows it too, and its filter finds it; bulk approval passes it over
    queue = await client.get("/queue", params={"flag": "outside_agreement_blocking"})
    assert outside.number in queue.text
    assert outside.number not in (await client.get("/queue", params={"flag": "outside_agreement"})).text


async def test_lines_the_assortment_covers_and_agreements_without_one_raise_nothing(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    other = await make_company(session, name="Contoso", account_manager_id=world["manager"].id)
    await agreed(session, world["company"], number="FA/2026/003", blocking=True, category=world["linen"])
    await make_agreement(session, other, number="FA/2026/004", assortment_blocking=True)  # no assortment: all
    in_category = await make_order(session, world["company"], gross="100.00", product=world["towels"])
    anything = await make_order(session, other, gross="100.00", product=world["chair"])
    await session.commit()
    await sign_in(client, world["manager"].email)
    for order in (in_category, anything):
        page = await review(client, order)
        assert "Outside the agreement" not in page.text, order.number


async def test_the_flag_is_kept_from_submission_and_computed_again_from_the_current_agreement(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    agreement = await agreed(session, world["company"], number="FA/2026/005", product=world["soap"])
    address = Address(company_id=world["company"].id, label="HQ", street="1 Main", postal_code="00-001", city="Warsaw")
    session.add(address)
    await session.flush()
    order = await ordering.place_order(
        session,
        world["company"],
        [(world["soap"], 2), (world["chair"], 1)],
        today=TODAY,
        grace_days=7,
        margin_floor=Decimal("0"),
        buyer=world["buyer"],
        key="outside-1",
        source=OrderSource.PORTAL,
        delivery=date(2026, 12, 2),
        address=address,
    )
    await session.commit()
    stored = [(flag.kind, flag.data) for flag in order.flags if flag.kind is FlagKind.OUTSIDE_AGREEMENT]
    assert stored == [
        (FlagKind.OUTSIDE_AGREEMENT, {"agreement": "FA/2026/005", "sku": "CHR-1", "name": "Office chair"})
    ]

    # the agreement now covers the chair too: the live flag is gone, the history stays
    session.add(AssortmentItem(agreement_id=agreement.id, company_id=world["company"].id, product_id=world["chair"].id))
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await review(client, order)
    history = re.search(r'<section class="card" id="submitted-flags">.*?</section>', page.text, re.S)
    assert history is not None and "Outside the agreement FA/2026/005: CHR-1 Office chair" in page_text(
        history.group(0)
    )
    decision = re.search(r'<section class="card decision" id="decision-box">.*?</section>', page.text, re.S)
    assert decision is not None and "Outside the agreement" not in decision.group(0)


async def test_the_queue_flags_every_company_in_the_same_statements(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    await agreed(session, world["company"], number="FA/2026/010", product=world["soap"])
    await make_order(session, world["company"], gross="50.00", product=world["chair"])
    await session.commit()
    await sign_in(client, world["manager"].email)
    await client.get("/queue")
    with counted_statements(client.app) as short:
        assert (await client.get("/queue")).status_code == 200

    for index in range(4):
        other = await make_company(session, name=f"Firm {index}", account_manager_id=world["manager"].id)
        await make_order(
            session, other, gross="10.00", status=OrderStatus.INVOICED, submitted_at=datetime(2026, 1, 5, tzinfo=UTC)
        )
        await agreed(session, other, number=f"FA/2026/02{index}", blocking=index % 2 == 0, product=world["soap"])
        for _ in range(3):
            await make_order(session, other, gross="50.00", product=world["chair"])
    await session.commit()
    with counted_statements(client.app) as long:
        page = await client.get("/queue")
    assert page.text.count("<tr data-order=") == 13
    assert page_text(page.text).count("Outside the agreement FA/2026/0") == 13
    assert len(long) == len(short)
