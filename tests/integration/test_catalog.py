"""The catalog as each company sees it, over HTTP."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import Company, Product, ProductCategory, Role
from tests.conftest import backend
from tests.factories import (
    add_contract_price,
    add_list_price,
    make_company,
    make_price_list,
    make_product,
    make_user,
    sign_in,
    text_of,
)
from tests.queries import counted_statements


def seller_today() -> date:
    from zoneinfo import ZoneInfo

    return clock.today(ZoneInfo("Europe/Warsaw"))


def row_of(html: str, sku: str) -> str:
    return text_of(html.split(f'data-sku="{sku}"')[1].split("</tr>")[0])


def skus_in(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('data-sku="')[1:]]


@pytest.fixture
async def shop(session: AsyncSession) -> dict:
    """Two companies, one product they both buy at different prices, a few others."""
    wholesale = await make_price_list(session, "Wholesale")
    northwind = await make_company(session, name="Northwind Trading", price_list_id=wholesale.id)
    baltic = await make_company(session, name="Baltic Foods", general_discount_pct=Decimal("5.00"))
    drinks = ProductCategory(name="Beverages")
    cleaning = ProductCategory(name="Cleaning")
    water = await make_product(
        session,
        sku="BEV-001",
        name="Mineral water 1.5 l",
        category=drinks,
        list_price=Decimal("2.0000"),
        pack_size=6,
        stock=600,
    )
    juice = await make_product(
        session, sku="BEV-002", name="Orange juice", category=drinks, list_price=Decimal("5.0000"), stock=4
    )
    soap = await make_product(
        session, sku="CLN-001", name="Hand soap 5 l", category=cleaning, list_price=Decimal("30.0000"), stock=0
    )
    await make_product(session, sku="BEV-999", name="Discontinued water", category=drinks, is_active=False)
    await add_contract_price(session, northwind, water, "1.50", valid_to=date(2027, 3, 31))
    await add_list_price(session, wholesale, juice, "4.80")
    await add_list_price(session, wholesale, juice, "4.50", min_quantity=50)
    northwind_buyer = await make_user(session, company_id=northwind.id, email="nina@northwind.example")
    baltic_buyer = await make_user(session, company_id=baltic.id, email="bart@baltic.example")
    await session.commit()
    return {
        "northwind": northwind,
        "baltic": baltic,
        "water": water,
        "juice": juice,
        "soap": soap,
        "northwind_buyer": northwind_buyer,
        "baltic_buyer": baltic_buyer,
        "beverages": drinks,
    }


async def test_two_companies_see_their_own_price_for_the_same_product(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    northwind = (await client.get("/catalog")).text
    assert "PLN 1.50 contract" in row_of(northwind, "BEV-001")
    assert "from 50 pcs: 4.50" in row_of(northwind, "BEV-002")
    product = text_of((await client.get(f"/catalog/products/{shop['water'].id}")).text)
    assert "Your contract price, valid until 31 Mar 2027" in product

    client.cookies.clear()
    await sign_in(client, "bart@baltic.example")
    baltic = (await client.get("/catalog")).text
    assert "PLN 1.90" in row_of(baltic, "BEV-001") and "contract" not in row_of(baltic, "BEV-001")
    product = text_of((await client.get(f"/catalog/products/{shop['water'].id}")).text)
    assert "List price less your 5 % discount" in product


async def test_rows_show_unit_pack_and_stock(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    html = (await client.get("/catalog")).text
    assert "pcs, pack of 6" in row_of(html, "BEV-001") and "In stock" in row_of(html, "BEV-001")
    assert "Low stock" in row_of(html, "BEV-002")
    assert "Out of stock" in row_of(html, "CLN-001")


async def test_inactive_products_are_not_shown_to_buyers(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await sign_in(client, "nina@northwind.example")
    assert "BEV-999" not in (await client.get("/catalog?q=water")).text
    from sqlalchemy import select

    inactive = await session.scalar(select(Product).where(Product.sku == "BEV-999"))
    assert (await client.get(f"/catalog/products/{inactive.id}")).status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("q=water", ["BEV-001"]),
        ("q=WATER+1.5", ["BEV-001"]),
        ("q=bev-00", ["BEV-001", "BEV-002"]),
        ("q=soap+juice", []),
        ("q=%25", []),
        ("q=_", []),
        ("sort=sku", ["BEV-001", "BEV-002", "CLN-001"]),
        ("sort=price", ["BEV-001", "BEV-002", "CLN-001"]),
    ],
)
async def test_search_and_sort(client: AsyncTestClient, shop: dict, params: str, expected: list[str]) -> None:
    await sign_in(client, "nina@northwind.example")
    assert skus_in((await client.get(f"/catalog?{params}")).text) == expected


async def test_sort_by_my_price_follows_each_companys_prices(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    await add_contract_price(session, shop["northwind"], shop["soap"], "0.10")
    await session.commit()
    await sign_in(client, "nina@northwind.example")
    assert skus_in((await client.get("/catalog?sort=price")).text) == ["CLN-001", "BEV-001", "BEV-002"]


async def test_category_filter_and_bad_input_never_break_the_page(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    beverages = await client.get(f"/catalog?category={shop['beverages'].id}")
    assert skus_in(beverages.text) == ["BEV-001", "BEV-002"]

    unknown = await client.get("/catalog?category=987654")
    assert "That category does not exist; showing all categories." in text_of(unknown.text)
    assert len(skus_in(unknown.text)) == 3

    for absurd, says in [
        ("page=-3", "page: Enter at least 1."),
        ("page=abc", "page: Enter a whole number"),
        ("page=²", "page: Enter a whole number"),
        ("page=99999999999999999999", "page:"),
        ("per_page=7", "per_page:"),
        ("sort=drop+table", "sort:"),
        ("category=x", "category: Enter a whole number"),
        ("category=0", "category: Enter at least 1."),
        ("q=" + "z" * 5000, "q: Use at most 200 characters."),
        ("q=a%00b", "q: This text contains a character that cannot be saved."),
    ]:
        response = await client.get(f"/catalog?{absurd}")
        assert response.status_code == 400, absurd
        assert says in text_of(response.text), absurd
    assert (await client.get("/catalog?q=" + "z" * 200 + "&per_page=50&sort=sku")).status_code == 200

    beyond = await client.get("/catalog?page=5")
    assert "Page 5 does not exist." in text_of(beyond.text)
    assert "Go to the last page (1)" in text_of(beyond.text)


async def test_pagination(client: AsyncTestClient, session: AsyncSession, shop: dict) -> None:
    for number in range(22):
        await make_product(session, sku=f"PAG-{number:03d}", name=f"Paged item {number:03d}")
    await session.commit()
    await sign_in(client, "nina@northwind.example")
    first = (await client.get("/catalog?q=paged")).text
    second = (await client.get("/catalog?q=paged&page=2")).text
    assert len(skus_in(first)) == 20 and skus_in(second) == ["PAG-020", "PAG-021"]
    assert "Page 1" in text_of(first) and "Products 1–20" in text_of(first)
    assert "Products 21–22 of 22" in text_of(second)
    assert 'href="/catalog?q=paged&amp;sort=name&amp;page=2&amp;per_page=20"' in first


async def test_htmx_gets_the_results_fragment_and_history_gets_the_page(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    fragment = await client.get("/catalog?q=juice", headers={"hx-request": "true"})
    assert "<html" not in fragment.text and skus_in(fragment.text) == ["BEV-002"]
    assert fragment.headers["vary"] == "HX-Request"
    restored = await client.get(
        "/catalog?q=juice", headers={"hx-request": "true", "hx-history-restore-request": "true"}
    )
    assert "<html" in restored.text and 'value="juice"' in restored.text


async def test_price_list_csv_opens_in_excel(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    response = await client.get("/catalog/price-list.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="price-list-' in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["SKU", "Name", "Unit", "Min qty", "Net unit price", "Currency", "Valid to", "Source"]
    assert [
        "BEV-001",
        "Mineral water 1.5 l",
        "pcs",
        "1",
        "1.5000",
        "PLN",
        "2027-03-31",
        "Your contract price, valid until 31 Mar 2027",
    ] in rows
    assert ["BEV-002", "Orange juice", "pcs", "50", "4.5000", "PLN", "", "Price list Wholesale, from 50 pcs"] in rows
    assert not any(row[0] == "BEV-999" for row in rows)


async def test_buyer_cannot_look_through_another_company(client: AsyncTestClient, shop: dict) -> None:
    await sign_in(client, "nina@northwind.example")
    other = shop["baltic"].id
    html = (await client.get(f"/catalog?company={other}")).text
    assert "PLN 1.50" in row_of(html, "BEV-001")  # still Northwind's own contract price
    assert "Baltic" not in html
    csv_text = (await client.get(f"/catalog/price-list.csv?company={other}")).content.decode("utf-8-sig")
    assert "1.5000" in csv_text


async def test_account_manager_views_assigned_customers_only(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    northwind: Company = shop["northwind"]
    northwind.account_manager_id = manager.id
    session.add(northwind)
    await session.commit()
    await sign_in(client, manager.email)

    picker = await client.get("/catalog")
    assert "Northwind Trading" in picker.text and "Baltic Foods" not in picker.text

    as_northwind = await client.get(f"/catalog?company={northwind.id}")
    assert "You are viewing the catalog as Northwind Trading sees it." in text_of(as_northwind.text)
    assert "PLN 1.50 contract" in row_of(as_northwind.text, "BEV-001")
    assert f"/catalog/products/{shop['water'].id}?company={northwind.id}" in as_northwind.text

    for path in ["/catalog", f"/catalog/products/{shop['water'].id}", "/catalog/price-list.csv"]:
        response = await client.get(f"{path}?company={shop['baltic'].id}")
        assert response.status_code == 404, path
        assert "Baltic" not in response.text
        assert (await client.get(f"{path}?company=987654")).status_code == 404, path
        for bad in ["abc", "0", "-1", "99999999999", "１２３", "²"]:
            assert (await client.get(f"{path}?company={bad}")).status_code == 400, (path, bad)
    for path in [f"/catalog/products/{shop['water'].id}", "/catalog/price-list.csv"]:
        assert (await client.get(path)).status_code == 404, path  # no customer chosen: nothing to show


async def test_admin_views_any_customer_and_finance_has_no_catalog(
    client: AsyncTestClient, session: AsyncSession, shop: dict
) -> None:
    admin = await make_user(session, Role.ADMIN)
    finance = await make_user(session, Role.FINANCE)
    await session.commit()
    await sign_in(client, admin.email)
    assert "PLN 1.90" in row_of((await client.get(f"/catalog?company={shop['baltic'].id}")).text, "BEV-001")
    client.cookies.clear()
    await sign_in(client, finance.email)
    assert (await client.get(f"/catalog?company={shop['baltic'].id}")).status_code == 403


@pytest.mark.parametrize("per_page", [20, 100])
async def test_catalog_page_costs_a_few_queries_whatever_its_size(
    client: AsyncTestClient, session: AsyncSession, per_page: int
) -> None:
    price_list = await make_price_list(session)
    company = await make_company(session, price_list_id=price_list.id)
    await make_user(session, company_id=company.id, email="count@buyer.example")
    category = ProductCategory(name="Bulk")
    for number in range(per_page):
        product = await make_product(session, category=category, sku=f"Q-{number:04d}")
        await add_list_price(session, price_list, product, "9.00")
        await add_list_price(session, price_list, product, "8.00", min_quantity=10)
        if number % 3 == 0:
            await add_contract_price(session, company, product, "7.00", valid_to=seller_today() + timedelta(days=9))
    await session.commit()
    await sign_in(client, "count@buyer.example")

    with counted_statements(client.app) as statements:
        page = await client.get(f"/catalog?per_page={per_page}&sort=price")
    assert len(skus_in(page.text)) == per_page
    assert len(statements) == 6, statements  # session with its user, categories, the agreement, products, prices, lists


@pytest.mark.skipif(
    backend() != "postgresql", reason="trigram indexes are PostgreSQL's (SQLite needs none at its size)"
)
async def test_the_catalog_search_can_be_served_by_the_trigram_indexes(session: AsyncSession) -> None:
    """Any part of a name or SKU, in any case (`ILIKE '%…%'`), is found through an index; on a
    table this small the planner would rather read it whole, so it is told not to."""
    category = ProductCategory(name="Bulk")
    for number in range(20):
        await make_product(session, category=category, sku=f"T-{number:04d}", name=f"Plain item {number}")
    await session.commit()
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL enable_indexscan = off"))  # nor walk the name's b-tree whole
    plan = "\n".join(
        row
        for (row,) in await session.execute(
            text(
                "EXPLAIN SELECT id FROM products WHERE is_active"
                " AND (name ILIKE '%quartz%' OR sku ILIKE '%quartz%') ORDER BY name, sku LIMIT 21"
            )
        )
    )
    assert "ix_trgm_products_name" in plan and "ix_trgm_products_sku" in plan, plan
