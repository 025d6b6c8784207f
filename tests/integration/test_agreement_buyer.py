"""A framework agreement as its buyers meet it, figures computed by hand: a prospective tier
reached mid-period lowers the prices of its scope from the day the crossing order was approved
(a retrospective one never changes a price); the buyer's progress to the next tier on the home
page and in the cart, with what the cart would add; the "Your agreement" page; and pages that
cost the same statements however much was bought."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import (
    Address,
    Agreement,
    AgreementTier,
    AssortmentItem,
    Company,
    OrderSource,
    OrderStatus,
    PaymentOption,
    Product,
    ProductCategory,
    SettlementClose,
    TierMode,
)
from portal.services import agreements, ordering
from tests.conftest import Clock
from tests.factories import (
    add_list_price,
    csrf_from,
    make_agreement,
    make_company,
    make_counted_order,
    make_order,
    make_price_list,
    make_product,
    make_user,
    sign_in,
    text_of,
)
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock` (27 November 2026, in the fourth quarter)."""


def at(day: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=UTC)


async def buyer_of(session: AsyncSession, company: Company) -> str:
    email = f"buyer{company.id}@agreement.example"
    await make_user(session, company_id=company.id, email=email)
    return email


def price_row(html: str) -> str:
    """The product page's price and its explanation, as text."""
    source = re.search(r'<p id="price-source">(.*?)</p>', html, re.S)
    assert source is not None
    return text_of(source.group(1))


async def test_a_prospective_tier_lowers_prices_from_the_day_an_approved_order_crosses_it(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    gold = await make_price_list(session, name="Gold")
    company = await make_company(session, price_list_id=gold.id, general_discount_pct=Decimal("10.00"))
    paper = await make_product(session, sku="PAP-1", list_price=Decimal("100.0000"), stock=50)
    await add_list_price(session, gold, paper, "80.0000")
    soap = await make_product(session, sku="SOAP-1", list_price=Decimal("50.0000"), stock=50)
    await make_agreement(session, company, tiers=[("10000.00", "3.00")], tier_mode=TierMode.PROSPECTIVE)
    await make_counted_order(session, company, net="9000.00", approved_at=at(3))
    crossing = await make_order(session, company, gross="1000.00")
    email = await buyer_of(session, company)
    await session.commit()
    await sign_in(client, email)

    before = (await client.get(f"/catalog/products/{paper.id}")).text
    assert "PLN 80.00" in text_of(before) and price_row(before) == "Price list Gold"
    assert "volume tier" not in text_of((await client.get(f"/catalog/products/{soap.id}")).text)

    await ordering.move_order(session, crossing.id, OrderStatus.APPROVED, None, today=TODAY)  # 9,000 + 1,000 = 10,000
    await session.commit()

    after = (await client.get(f"/catalog/products/{paper.id}")).text
    # 80.0000 less 3 % = 77.6000; the list price 50.0000 less 10 % = 45.0000, less 3 % = 43.6500
    assert "PLN 77.60" in text_of(after) and "PLN 80.00" not in text_of(after)
    assert price_row(after) == "Price list Gold less volume tier 3 % reached on 27 Nov 2026"
    soap_page = (await client.get(f"/catalog/products/{soap.id}")).text
    assert "PLN 43.65" in text_of(soap_page)
    assert price_row(soap_page) == "List price less your 10 % discount less volume tier 3 % reached on 27 Nov 2026"

    address = Address(company_id=company.id, label="HQ", street="Prosta 1", postal_code="00-001", city="Warszawa")
    session.add(address)
    await session.flush()
    order = await ordering.place_order(
        session,
        company,
        [(paper, 2), (soap, 1)],
        today=TODAY,
        grace_days=7,
        margin_floor=Decimal("0"),
        buyer=None,
        key="tier-1",
        source=OrderSource.PORTAL,
        delivery=date(2026, 12, 2),
        address=address,
    )
    await session.commit()
    lines = {line.sku: line for line in order.lines}
    assert (lines["PAP-1"].unit_price, lines["PAP-1"].line_net) == (Decimal("77.6000"), Decimal("155.20"))
    assert (lines["PAP-1"].price_source, lines["PAP-1"].price_note) == (
        "volume_tier",
        "3.00|2026-11-27|price_list|Gold",
    )
    assert (lines["SOAP-1"].price_source, lines["SOAP-1"].price_note) == (
        "volume_tier",
        "3.00|2026-11-27|list_less_discount|",
    )
    assert order.net_total == Decimal("198.85")  # 155.20 + 43.65


async def test_a_category_tier_lowers_only_that_category_and_the_price_sort_agrees(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    company = await make_company(session)
    paper_category, soap_category = ProductCategory(name="Paper"), ProductCategory(name="Soap")
    paper = await make_product(session, sku="PAP-1", category=paper_category, list_price=Decimal("50.0000"))
    soap = await make_product(session, sku="SOAP-1", category=soap_category, list_price=Decimal("49.5000"))
    await make_agreement(
        session, company, tiers=[("5000.00", "2.00")], category=paper_category, tier_mode=TierMode.PROSPECTIVE
    )
    await make_counted_order(session, company, net="6000.00", approved_at=at(5), product=paper)
    await make_counted_order(session, company, net="9000.00", approved_at=at(6), product=soap)  # not the tier's scope
    email = await buyer_of(session, company)
    await session.commit()
    await sign_in(client, email)

    # paper 50.0000 less 2 % = 49.0000, below the soap's 49.5000 (no tier for soap)
    assert "PLN 49.00" in text_of((await client.get(f"/catalog/products/{paper.id}")).text)
    soap_page = (await client.get(f"/catalog/products/{soap.id}")).text
    assert "PLN 49.50" in text_of(soap_page) and "volume tier" not in text_of(soap_page)
    listed = (await client.get("/catalog?sort=price")).text
    assert listed.index("PAP-1") < listed.index("SOAP-1")


async def test_a_retrospective_agreement_never_changes_a_price(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    company = await make_company(session)
    product = await make_product(session, list_price=Decimal("100.0000"))
    await make_agreement(session, company, tiers=[("10000.00", "3.00")])
    await make_counted_order(session, company, net="20000.00", approved_at=at(3))
    email = await buyer_of(session, company)
    await session.commit()
    await sign_in(client, email)

    page = (await client.get(f"/catalog/products/{product.id}")).text
    assert "PLN 100.00" in text_of(page) and price_row(page) == "List price"


async def progress_world(session: AsyncSession) -> tuple[Company, Product, str]:
    """Quarterly retrospective tiers: all products 50,000 → 1.5 %, 100,000 → 3 %; Paper
    20,000 → 2 %, 40,000 → 4 %. Counted: 60,000 of soap on 10 October, 22,340 of paper on 3 November."""
    company = await make_company(session, credit_limit=Decimal("1000000.00"))
    paper_category = ProductCategory(name="Paper")
    paper = await make_product(
        session, sku="PAP-9", category=paper_category, list_price=Decimal("7660.0000"), stock=100
    )
    soap = await make_product(session, sku="SOAP-9")
    agreement = await make_agreement(session, company, tiers=[("50000.00", "1.50"), ("100000.00", "3.00")])
    for threshold, pct in (("20000.00", "2.00"), ("40000.00", "4.00")):
        session.add(
            AgreementTier(
                agreement_id=agreement.id,
                company_id=company.id,
                applies_from=agreement.valid_from,
                category_id=paper.category_id,
                threshold=Decimal(threshold),
                rebate_pct=Decimal(pct),
            )
        )
    await make_counted_order(session, company, net="60000.00", approved_at=at(10, month=10), product=soap)
    await make_counted_order(session, company, net="22340.00", approved_at=at(3), product=paper)
    email = await buyer_of(session, company)
    await session.commit()
    return company, paper, email


def progress_text(html: str) -> str:
    found = re.search(r'<section class="card" id="tier-progress">(.*?)</section>', html, re.S)
    assert found is not None, "no progress on the page"
    return text_of(found.group(1))


async def test_the_buyer_sees_the_progress_to_the_next_tier_at_home_and_what_the_cart_adds(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    _, paper, email = await progress_world(session)
    await sign_in(client, email)

    home = progress_text((await client.get("/dashboard")).text)
    # all products: 60,000 + 22,340 = 82,340; 100,000 − 82,340 = 17,660. Paper: 40,000 − 22,340 = 17,660
    assert "PLN 82,340.00 of PLN 100,000.00 this quarter — PLN 17,660.00 more for 3 %" in home
    assert "1.50 % reached on 10 Oct 2026" in home
    assert "Paper: PLN 22,340.00 of PLN 40,000.00 this quarter — PLN 17,660.00 more for 4 %" in home
    assert "2 % reached on 3 Nov 2026" in home
    assert "paid back as a rebate after the quarter ends" in home
    assert "With this cart" not in home

    catalog = (await client.get("/catalog")).text
    added = await client.post(
        "/cart/add",
        data={"product_id": str(paper.id), "quantity": "1", "next": "/catalog", "_csrf_token": csrf_from(catalog)},
        follow_redirects=False,
    )
    assert added.status_code == 303
    cart = progress_text((await client.get("/cart")).text)
    # the cart adds 7,660.00: 82,340 + 7,660 = 90,000 (10,000 to 3 %); paper 22,340 + 7,660 = 30,000 (10,000 to 4 %)
    assert "PLN 82,340.00 of PLN 100,000.00 this quarter — PLN 17,660.00 more for 3 %" in cart
    assert "With this cart: PLN 90,000.00 — PLN 10,000.00 more for 3 %" in cart
    assert "With this cart: PLN 30,000.00 — PLN 10,000.00 more for 4 %" in cart

    page = (await client.get("/cart")).text
    changed = await client.post(
        f"/cart/lines/{paper.id}", data={"quantity": "3", "_csrf_token": csrf_from(page)}, follow_redirects=False
    )
    assert changed.status_code == 303
    cart = progress_text((await client.get("/cart")).text)
    # 3 × 7,660 = 22,980: 82,340 + 22,980 = 105,320 ≥ 100,000; paper 45,320 ≥ 40,000
    assert "This cart reaches 3 %" in cart and "This cart reaches 4 %" in cart
    assert "With this cart" not in cart


async def test_at_the_top_tier_the_buyer_reads_which_tier_and_since_when(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    company = await make_company(session)
    await make_agreement(
        session, company, tiers=[("1000.00", "2.00"), ("5000.00", "4.50")], tier_mode=TierMode.PROSPECTIVE
    )
    await make_counted_order(session, company, net="3000.00", approved_at=at(2))
    await make_counted_order(session, company, net="2500.00", approved_at=at(12))
    email = await buyer_of(session, company)
    await session.commit()
    await sign_in(client, email)

    home = progress_text((await client.get("/dashboard")).text)
    assert "PLN 5,500.00 this quarter — the top tier, 4.50 %, reached on 12 Nov 2026" in home
    assert "Reaching a tier lowers your prices for the rest of the quarter." in home


async def test_the_agreement_page_shows_the_terms_a_buyer_may_read(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    company, paper, email = await progress_world(session)
    agreement = await make_agreement(
        session,
        await make_company(session),
        valid_from=date(2026, 1, 1),
    )  # another company's: never shown
    ours = (await session.scalars(select(Agreement).where(Agreement.company_id == company.id))).one()
    ours.skonto_pct, ours.skonto_days, ours.special_terms = Decimal("2.00"), 7, "Deliveries to the back door."
    ours.valid_to = date(2027, 12, 31)
    session.add_all(
        [
            PaymentOption(agreement_id=ours.id, company_id=company.id, days=0, price_effect_pct=Decimal("-1.00")),
            PaymentOption(agreement_id=ours.id, company_id=company.id, days=60, price_effect_pct=Decimal("1.00")),
            AssortmentItem(agreement_id=ours.id, company_id=company.id, category_id=paper.category_id),
        ]
    )
    await session.commit()
    await sign_in(client, email)

    response = await client.get("/agreement")
    assert response.status_code == 200
    page = text_of(response.text)
    assert f"Agreement {ours.number}" in page and agreement.number not in page
    assert "1 Jan 2026 to 31 Dec 2027" in page and "Quarter" in page
    assert "1 Oct 2026 to 31 Dec 2026" in page  # the current period
    assert "All products PLN 50,000.00 1.50 %" in page and "Paper PLN 40,000.00 4 %" in page
    assert "PLN 82,340.00 of PLN 100,000.00 this quarter" in page
    assert "2.00 % early-payment discount if paid within 7 days of the invoice date" in page
    assert "Prepayment −1.00 %" in page and "60 days +1.00 %" in page
    assert "Paper" in text_of(response.text.split('id="agreement-assortment"')[1])
    assert "Deliveries to the back door." in page
    assert "cost" not in page.lower() and "margin" not in page.lower()
    assert 'id="nav-agreement"' in response.text


async def test_a_buyer_without_an_agreement_is_told_so_and_has_no_link(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    company = await make_company(session, name="Plain Shop")
    await make_agreement(session, company, valid_from=date(2027, 1, 1))  # not in force yet
    email = await buyer_of(session, company)
    await session.commit()
    await sign_in(client, email)

    response = await client.get("/agreement")
    assert response.status_code == 200
    assert "Plain Shop has no framework agreement in force today." in text_of(response.text)
    home = (await client.get("/dashboard")).text
    assert 'id="nav-agreement"' not in home and 'id="tier-progress"' not in home


async def test_the_buyer_pages_cost_the_same_statements_however_much_was_bought(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Clock
) -> None:
    company, paper, email = await progress_world(session)
    await sign_in(client, email)

    async def statements_for(path: str) -> int:
        with counted_statements(client.app) as statements:
            assert (await client.get(path)).status_code == 200
        return len(statements)

    assert (await client.get("/cart")).status_code == 200  # the first visit makes the cart
    before = {path: await statements_for(path) for path in ("/dashboard", "/agreement", "/cart")}
    for day in range(4, 20):
        await make_counted_order(session, company, net="10.00", approved_at=at(day), product=paper)
    await session.commit()
    after = {path: await statements_for(path) for path in ("/dashboard", "/agreement", "/cart")}
    assert before == after, after
    # the session with its user (and whether an agreement is in force), the agreement, its tiers (with
    # their categories), payment options and assortment, the period's sales, the assortment's names, the closed periods
    assert after["/agreement"] == 8


async def test_the_agreement_page_lists_the_closed_periods_and_their_rebates(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine, frozen_clock: Clock
) -> None:
    """Q3: 55,000.00 of soap reaches the all-products tier of 50,000 (1.5 %): a rebate of 825.00,
    paper's scope nothing. Q1 and Q2 closed with nothing bought."""
    company, _, email = await progress_world(session)
    soap = (await session.scalars(select(Product).where(Product.sku == "SOAP-9"))).one()
    await make_counted_order(session, company, net="55000.00", approved_at=at(15, month=8), product=soap)
    other = await make_company(session)
    await make_agreement(session, other, tiers=[("1.00", "9.00")])
    await make_counted_order(session, other, net="777.00", approved_at=at(15, month=8))
    await session.commit()
    closed = await agreements.close_due(async_sessionmaker(engine, expire_on_commit=False), TODAY)
    assert len(closed.closed) == 6  # Q1–Q3 of both companies
    await sign_in(client, email)

    section = (await client.get("/agreement")).text.split('id="agreement-closes"')[1].split("</section>")[0]
    rows = [text_of(row) for row in section.split("<tr data-close=")[1:]]
    assert rows[0].startswith('"2026-07-01"> 1 Jul 2026 to 30 Sep 2026 PLN 55,000.00')
    assert "All products: 1.50 %" in rows[0] and "Paper: none" in rows[0]
    assert "PLN 825.00 being prepared" in rows[0]
    assert len(rows) == 3 and "PLN 0.00 —" in rows[2] and "777" not in section and "69.93" not in section

    q3 = (
        await session.scalars(
            select(SettlementClose).where(SettlementClose.company_id == company.id, SettlementClose.rebate > 0)
        )
    ).one()
    await agreements.acknowledge_close(session, q3.id)
    await session.commit()
    section = (await client.get("/agreement")).text.split('id="agreement-closes"')[1]
    assert "PLN 825.00 issued by the ERP" in text_of(section)
