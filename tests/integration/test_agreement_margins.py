"""Margins after the agreement's terms, for staff: the review page and the quote editor show, next to
the margin, the margin after the expected rebate (the tier the period's turnover is on track for)
and the skonto (assumed taken), with how it is estimated; numbers computed by hand. Without an
agreement nothing changes, and the buyer never sees it."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Order, OrderStatus, Role, TierMode
from portal.services import agreements, quotes
from tests.factories import (
    make_agreement,
    make_company,
    make_counted_order,
    make_order,
    make_product,
    make_user,
    sign_in,
    text_of,
)
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`: day 58 of the 92 of Q4."""
NOTE = (
    "expected rebate: the tier the quarter's turnover is on track for at the pace so far (3 %); "
    "skonto 2 % assumed taken"
)


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    company = await make_company(
        session, name="Northwind Trading", account_manager_id=manager.id, credit_limit=Decimal("100000.00")
    )
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example")
    # 700.00 counted by 27 November: 700 × 92 / 58 = 1,110.34 by the quarter's end, on track for the
    # 3 % tier from 1,000.00 (not reached yet)
    await make_counted_order(session, company, net="700.00", approved_at=datetime(2026, 11, 10, 10, tzinfo=UTC))
    # one pending order of net 1,000.00 and cost 700.00 (the factory's cost is 70 % of the net)
    order = await make_order(session, company, gross="1000.00", buyer=buyer)
    await session.commit()
    return {"manager": manager, "finance": finance, "company": company, "buyer": buyer, "order": order}


async def add_agreement(session: AsyncSession, company: Any, **fields: Any) -> Any:
    agreement = await make_agreement(
        session,
        company,
        number="FA/2026/001",
        tiers=[("1000.00", "3.00"), ("5000.00", "5.00")],
        skonto_pct=Decimal("2.00"),
        skonto_days=7,
        **fields,
    )
    await session.commit()
    return agreement


def cell(html: str, pattern: str) -> str:
    found = re.search(pattern, html, re.S)
    assert found is not None, pattern
    return text_of(found.group(1))


async def test_the_review_page_shows_the_margin_after_the_expected_rebate_and_skonto(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    await add_agreement(session, world["company"])
    standing = await agreements.standing(session, world["company"].id, TODAY)
    assert standing is not None and standing.scopes[0].projected == Decimal("1110.34")
    assert standing.scopes[0].reached is None

    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{world['order'].id}")
    assert page.status_code == 200
    # 1,000.00 − 700.00 − 1,000.00 × (3 % + 2 %) = 250.00, 25.0 % of the net
    line = cell(page.text, r'<td class="num after-terms">(.*?)</td>')
    assert line == "PLN 250.00 (25.0 %)"
    assert cell(page.text, r'<td class="num" id="margin-after-terms">(.*?)</td>') == "PLN 250.00 (25.0 %)"
    row = cell(page.text, r"<tfoot>(.*?)</tfoot>")
    assert "PLN 300.00" in row  # the margin before the terms stays
    note = cell(page.text, r'<p class="muted" id="margin-note">(.*?)</p>')
    assert note == f"Margin after rebate and skonto, estimated for agreement FA/2026/001: {NOTE}."

    # finance reads it too; the buyer's own order page never shows margins
    client.cookies.clear()
    await sign_in(client, world["finance"].email)
    assert "PLN 250.00 (25.0 %)" in text_of((await client.get(f"/queue/orders/{world['order'].id}")).text)
    client.cookies.clear()
    await sign_in(client, world["buyer"].email)
    mine = await client.get(f"/orders/{world['order'].id}")
    assert mine.status_code == 200 and "after rebate" not in mine.text and "250.00" not in mine.text


async def test_a_prospective_agreement_deducts_only_the_skonto(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    await add_agreement(session, world["company"], tier_mode=TierMode.PROSPECTIVE)
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{world['order'].id}")
    # its tiers lower prices instead: 1,000.00 − 700.00 − 1,000.00 × 2 % = 280.00, 28.0 %
    assert cell(page.text, r'<td class="num" id="margin-after-terms">(.*?)</td>') == "PLN 280.00 (28.0 %)"
    assert "no rebate expected: volume tiers lower the prices themselves; skonto 2 % assumed taken" in text_of(
        page.text
    )


async def test_without_an_agreement_the_review_page_is_unchanged(
    client: AsyncTestClient, world: dict[str, Any]
) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{world['order'].id}")
    assert page.status_code == 200
    assert "after-terms" not in page.text and 'id="margin-note"' not in page.text
    assert "Margin after rebate and skonto" not in page.text


async def test_the_review_page_costs_one_standing_however_many_orders_counted(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    await add_agreement(session, world["company"])
    await sign_in(client, world["manager"].email)
    url = f"/queue/orders/{world['order'].id}"
    await client.get(url)
    with counted_statements(client.app) as few:
        assert (await client.get(url)).status_code == 200
    for day in (11, 12, 13):
        await make_counted_order(
            session, world["company"], net="10.00", approved_at=datetime(2026, 11, day, 10, tzinfo=UTC)
        )
    await session.commit()
    with counted_statements(client.app) as many:
        assert (await client.get(url)).status_code == 200
    assert len(many) == len(few)


async def test_the_quote_editor_shows_the_margin_after_the_terms(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    await add_agreement(session, world["company"])
    product = await make_product(session, sku="GLV-1", name="Nitrile gloves", cost=Decimal("7.0000"))
    quote = await quotes.new_offer(session, world["manager"], world["company"].id, title="Gloves", today=TODAY)
    await quotes.add_line(
        session, world["manager"], quote.id, sku="GLV-1", quantity=100, unit_price=Decimal("10.00"), today=TODAY
    )
    await session.commit()
    assert product.category_id is not None

    await sign_in(client, world["manager"].email)
    editor = await client.get(f"/manage/quotes/{quote.id}")
    assert editor.status_code == 200 and 'id="editor-form"' in editor.text
    # 100 × 10.00 = 1,000.00 at a cost of 700.00: 300.00 before, 250.00 (25.0 %) after 3 % + 2 %
    row = cell(editor.text, r'<tr data-line="\d+" data-sku="GLV-1"[^>]*>(.*?)</tr>')
    assert "PLN 300.00" in row and "after rebate and skonto: PLN 250.00 (25.0 %)" in row
    assert cell(editor.text, r'data-figure="margin-after-terms">(.*?)</dd>') == "PLN 250.00 (25.0 %)"
    assert NOTE in cell(editor.text, r'<p class="muted" id="margin-note">(.*?)</p>')


async def test_a_cancelled_counted_order_takes_the_expected_rebate_with_it(
    client: AsyncTestClient, world: dict[str, Any], session: AsyncSession
) -> None:
    """The pace counts only orders that count: without the 700.00 the quarter is on track for no
    tier, and only the skonto comes off: 1,000.00 − 700.00 − 20.00 = 280.00."""
    await add_agreement(session, world["company"])
    counted = list(
        await session.scalars(
            select(Order).where(Order.company_id == world["company"].id, Order.status == OrderStatus.APPROVED)
        )
    )
    assert len(counted) == 1
    counted[0].status = OrderStatus.CANCELLED
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/queue/orders/{world['order'].id}")
    assert cell(page.text, r'<td class="num" id="margin-after-terms">(.*?)</td>') == "PLN 280.00 (28.0 %)"
    assert "(no tier yet); skonto 2 % assumed taken" in text_of(page.text)
