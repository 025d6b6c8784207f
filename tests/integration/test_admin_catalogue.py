"""Admin → Catalogue through the browser's requests: categories, products, price lists and their
rows, contract prices. Every form saves and audits, or is refused with 400, each message next to
its field, what was typed kept and nothing saved; only admins open any of it."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    AuditEntry,
    ContractPrice,
    OrderLine,
    OrderStatus,
    PriceListItem,
    Product,
    ProductCategory,
    Role,
)
from portal.services import catalogue_admin
from tests.factories import (
    add_contract_price,
    add_list_price,
    make_company,
    make_order,
    make_price_list,
    make_product,
    make_user,
    sign_in,
    text_of,
)
from tests.queries import counted_statements


async def admin_signed_in(client: AsyncTestClient, session: AsyncSession) -> str:
    """Signs an admin in; answers the CSRF token of the session."""
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    await session.commit()
    assert (await sign_in(client, admin.email)).status_code == 303
    await client.get("/")
    return client.cookies.get("csrftoken") or ""


async def post(client: AsyncTestClient, path: str, csrf: str, **fields: Any) -> Any:
    return await client.post(path, data={"_csrf_token": csrf, **fields}, follow_redirects=False)


def error_of(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


async def linen(session: AsyncSession) -> ProductCategory:
    category = ProductCategory(name="Linen")
    session.add(category)
    await session.flush()
    return category


PRODUCT = {
    "sku": "TWL-1",
    "name": "Bath towel",
    "unit": "pcs",
    "pack_size": "6",
    "vat_rate": "23",
    "list_price": "12,50",
    "cost": "7.1234",
    "stock": "40",
    "is_active": "yes",
}


# Categories.
async def test_an_admin_adds_and_renames_a_category_and_a_duplicate_is_refused(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    csrf = await admin_signed_in(client, session)
    made = await post(client, "/admin/categories", csrf, name="Linen", margin_floor_pct="12.5")
    assert made.status_code == 303
    category = await session.scalar(select(ProductCategory))
    assert category is not None and category.margin_floor_pct == Decimal("12.50")

    again = await post(client, "/admin/categories", csrf, name="linen", margin_floor_pct="101")
    assert again.status_code == 400
    assert error_of(again.text, "name") == "Another category is already called linen."
    assert error_of(again.text, "margin_floor_pct").startswith("Enter a margin floor between 0 and 100")
    assert 'value="linen"' in again.text and await count(session, ProductCategory) == 1

    renamed = await post(client, f"/admin/categories/{category.id}/edit", csrf, name="Bath linen")
    assert renamed.status_code == 303
    page = text_of((await client.get(f"/admin/categories/{category.id}/edit")).text)
    assert "Bath linen" in page and "name : Linen → Bath linen" in page
    assert "Bath linen" in text_of((await client.get("/admin/categories")).text)


# Products.
async def test_an_admin_creates_a_product_edits_it_and_sees_its_history(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    category = await linen(session)
    csrf = await admin_signed_in(client, session)
    assert "New product" in (await client.get("/admin/products/new")).text

    made = await post(client, "/admin/products/new", csrf, category_id=str(category.id), **PRODUCT)
    assert made.status_code == 303
    product = await session.scalar(select(Product))
    assert product is not None and made.headers["location"] == f"/admin/products/{product.id}"
    assert (product.list_price, product.cost, product.pack_size) == (Decimal("12.5"), Decimal("7.1234"), 6)

    form = (await client.get(f"/admin/products/{product.id}/edit")).text
    assert 'value="12.50"' in form and 'value="7.1234"' in form
    changed = {**PRODUCT, "list_price": "13", "is_active": ""}
    edited = await post(client, f"/admin/products/{product.id}/edit", csrf, category_id=str(category.id), **changed)
    assert edited.status_code == 303
    await session.refresh(product)
    assert product.list_price == Decimal("13") and not product.is_active

    page = text_of((await client.get(f"/admin/products/{product.id}")).text)
    assert "list_price : 12.5 → 13" in page and "active : yes → no" in page
    assert "On no price list." in page and "No contract prices." in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"vat_rate": "7"}, "vat_rate", "The VAT rate is one of 23, 8, 5 or 0 %."),
        ({"list_price": "-1"}, "list_price", "A price cannot be negative."),
        ({"cost": "25000000"}, "cost", "A price above 1,000,000 is surely a typing mistake"),
        ({"list_price": "1.23456"}, "list_price", "Enter a price such as 12.50, with at most 4 decimals."),
        ({"cost": "abc"}, "cost", "Enter a price such as 12.50, with at most 4 decimals."),
        ({"pack_size": "0"}, "pack_size", "The pack size is a whole number from 1 to 10,000."),
        ({"pack_size": "²"}, "pack_size", "The pack size is a whole number from 1 to 10,000."),
        ({"stock": "-5"}, "stock", "Stock is a whole number from 0 to 10,000,000."),
        ({"sku": "TWL 1"}, "sku", "A SKU is up to 40 letters, digits and - _ . / without spaces."),
        ({"sku": "OLD-1"}, "sku", "Another product already has SKU OLD-1."),
        ({"name": ""}, "name", "This field is required."),
    ],
)
async def test_a_refused_product_form_says_why_next_to_the_field_and_keeps_what_was_typed(
    client: AsyncTestClient, session: AsyncSession, changes: dict[str, str], field: str, message: str
) -> None:
    category = await linen(session)
    await make_product(session, sku="OLD-1", category=category)
    csrf = await admin_signed_in(client, session)
    refused = await post(client, "/admin/products/new", csrf, category_id=str(category.id), **{**PRODUCT, **changes})
    assert refused.status_code == 400
    assert error_of(refused.text, field).startswith(message)
    assert 'value="Bath towel"' in refused.text or field == "name"
    assert await count(session, Product) == 1


async def test_the_product_list_searches_filters_sorts_and_pages(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    category = await linen(session)
    glass = ProductCategory(name="Glass")
    for n in range(55):
        await make_product(session, sku=f"TWL-{n:02d}", name=f"Towel {n}", category=category, stock=n)
    await make_product(session, sku="GLS-1", name="Tumbler", category=glass, is_active=False, stock=3)
    csrf = await admin_signed_in(client, session)
    assert csrf

    first = text_of((await client.get("/admin/products")).text)
    assert "56 products" in first and "Page 1 of 2" in first and "GLS-1" in first
    searched = text_of((await client.get("/admin/products", params={"q": "tumb"})).text)
    assert "1 product" in searched and "GLS-1" in searched
    inactive = text_of((await client.get("/admin/products", params={"status": "inactive"})).text)
    assert "1 product" in inactive
    out = text_of((await client.get("/admin/products", params={"stock": "out"})).text)
    assert "1 product" in out and "TWL-00" in out
    by_category = text_of((await client.get("/admin/products", params={"category": glass.id})).text)
    assert "1 product" in by_category
    by_stock = (await client.get("/admin/products", params={"sort": "stock", "direction": "desc"})).text
    assert by_stock.index("TWL-54") < by_stock.index("TWL-53")
    for odd in ({"status": "gone"}, {"category": "0"}, {"category": "99999999999999999999"}, {"page": "²"}):
        assert (await client.get("/admin/products", params=odd)).status_code == 400, odd
    assert (await client.get("/admin/contract-prices", params={"customer": "2147483648"})).status_code == 400


# Price lists and their rows.
async def test_an_admin_keeps_a_price_list_and_its_rows(client: AsyncTestClient, session: AsyncSession) -> None:
    category = await linen(session)
    towel = await make_product(session, sku="TWL-1", name="Bath towel", category=category)
    await make_product(session, sku="OLD-1", category=category, is_active=False)
    csrf = await admin_signed_in(client, session)

    made = await post(client, "/admin/price-lists", csrf, name="Standard", code="STD", currency="PLN")
    assert made.status_code == 303
    duplicate = await post(client, "/admin/price-lists", csrf, name="standard", code="std", currency="zł")
    assert duplicate.status_code == 400
    assert error_of(duplicate.text, "name") == "Another price list is already called Standard."
    assert error_of(duplicate.text, "code") == "Price list Standard already has this code."
    assert error_of(duplicate.text, "currency").startswith("Enter a currency code")
    list_id = int(made.headers["location"].rsplit("/", 1)[1])
    items = f"/admin/price-lists/{list_id}/items"

    added = await post(
        client,
        items,
        csrf,
        sku="TWL-1",
        min_quantity="10",
        unit_price="9,5",
        valid_from="2026-01-01",
        valid_to="2026-12-31",
    )
    assert added.status_code == 303
    overlapping = await post(
        client, items, csrf, sku="TWL-1", min_quantity="10", unit_price="9", valid_from="2026-06-01"
    )
    assert overlapping.status_code == 400
    assert error_of(overlapping.text, "valid_from") == (
        "Overlaps another row for the same product and minimum quantity: 9.50, valid from 2026-01-01 to 2026-12-31."
    )
    assert 'value="2026-06-01"' in overlapping.text
    backwards = await post(
        client, items, csrf, sku="TWL-1", unit_price="9", valid_from="2026-06-01", valid_to="2026-05-01"
    )
    assert error_of(backwards.text, "valid_to") == "The validity ends before it starts."
    inactive = await post(client, items, csrf, sku="OLD-1", unit_price="9")
    assert error_of(inactive.text, "sku") == "Product OLD-1 is inactive: it cannot get a new price."
    unknown = await post(client, items, csrf, sku="NOPE", unit_price="9")
    assert error_of(unknown.text, "sku") == "No product has SKU NOPE."
    assert await count(session, PriceListItem) == 1

    item = await session.scalar(select(PriceListItem))
    assert item is not None
    page = text_of((await client.get(f"/admin/price-lists/{list_id}", params={"q": "towel"})).text)
    assert "1 row" in page and "TWL-1" in page
    assert "History" in page and "Price list Standard created" in page
    edited = await post(
        client, f"/admin/price-list-items/{item.id}/edit", csrf, sku="TWL-1", min_quantity="10", unit_price="9.25"
    )
    assert edited.status_code == 303
    await session.refresh(item)
    assert item.unit_price == Decimal("9.25") and item.valid_from is None
    product_page = text_of((await client.get(f"/admin/products/{towel.id}")).text)
    assert "Standard" in product_page
    removed = await post(client, f"/admin/price-list-items/{item.id}/delete", csrf)
    assert removed.status_code == 303 and await count(session, PriceListItem) == 0
    actions = (
        await session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "price_list_item"))
    ).all()
    assert sorted(actions) == ["create", "delete", "update"]


# Contract prices.
async def test_an_admin_keeps_contract_prices_per_company(client: AsyncTestClient, session: AsyncSession) -> None:
    category = await linen(session)
    towel = await make_product(session, sku="TWL-1", category=category)
    bristol = await make_company(session, name="Hotel Bristol")
    other = await make_company(session, name="Cafe Nowy Świat")
    await add_contract_price(session, other, towel, "5.00")
    csrf = await admin_signed_in(client, session)

    added = await post(
        client,
        "/admin/contract-prices",
        csrf,
        company_id=str(bristol.id),
        sku="TWL-1",
        unit_price="7.20",
        valid_from="2026-01-01",
    )
    assert added.status_code == 303
    overlap = await post(
        client,
        "/admin/contract-prices",
        csrf,
        company_id=str(bristol.id),
        sku="TWL-1",
        unit_price="7",
        valid_to="2026-03-01",
    )
    assert overlap.status_code == 400
    assert "7.20, valid from 2026-01-01 with no end" in error_of(overlap.text, "valid_from")
    no_company = await post(client, "/admin/contract-prices", csrf, sku="TWL-1", unit_price="7")
    assert error_of(no_company.text, "company_id") == "Choose a company from the list."
    assert await count(session, ContractPrice) == 2

    filtered = text_of((await client.get("/admin/contract-prices", params={"customer": bristol.id})).text)
    assert "1 contract price" in filtered and "Hotel Bristol" in filtered
    searched = text_of((await client.get("/admin/contract-prices", params={"q": "twl"})).text)
    assert "2 contract prices" in searched

    row = await session.scalar(select(ContractPrice).where(ContractPrice.company_id == bristol.id))
    assert row is not None
    path = f"/admin/contract-prices/{row.id}/edit"
    assert "Hotel Bristol" in (await client.get(path)).text
    edited = await post(
        client, path, csrf, company_id=str(bristol.id), sku="TWL-1", unit_price="6.90", min_quantity="1"
    )
    assert edited.status_code == 303
    await session.refresh(row)
    assert row.unit_price == Decimal("6.9")
    assert (await post(client, f"/admin/contract-prices/{row.id}/delete", csrf)).status_code == 303
    entries = (await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "contract_price"))).all()
    assert {entry.company_id for entry in entries} == {bristol.id} and len(entries) == 3


async def test_changing_a_price_never_changes_a_submitted_order(client: AsyncTestClient, session: AsyncSession) -> None:
    category = await linen(session)
    towel = await make_product(session, sku="TWL-1", category=category, list_price=Decimal("10"))
    company = await make_company(session, name="Hotel Bristol")
    price_list = await make_price_list(session, "Standard")
    await add_list_price(session, price_list, towel, "9.00")
    await add_contract_price(session, company, towel, "8.00")
    order = await make_order(session, company, gross="80.00", product=towel, quantity=10)
    csrf = await admin_signed_in(client, session)
    before = text_of((await client.get(f"/queue/orders/{order.id}")).text)

    product_form = {**PRODUCT, "sku": "TWL-1", "list_price": "99", "category_id": str(category.id)}
    assert (await post(client, f"/admin/products/{towel.id}/edit", csrf, **product_form)).status_code == 303
    item = await session.scalar(select(PriceListItem))
    contract = await session.scalar(select(ContractPrice))
    assert item is not None and contract is not None
    new_item = {"sku": "TWL-1", "unit_price": "55", "min_quantity": "1"}
    assert (await post(client, f"/admin/price-list-items/{item.id}/edit", csrf, **new_item)).status_code == 303
    new_contract = {**new_item, "company_id": str(company.id)}
    assert (await post(client, f"/admin/contract-prices/{contract.id}/edit", csrf, **new_contract)).status_code == 303

    after = text_of((await client.get(f"/queue/orders/{order.id}")).text)
    shown_before, shown_after = before.split("‹ Approval queue", 1)[1], after.split("‹ Approval queue", 1)[1]
    assert shown_after == shown_before and "PLN 8.00" in shown_after
    line = await session.scalar(select(OrderLine).where(OrderLine.order_id == order.id))
    assert line is not None and line.unit_price == Decimal("8.0000") and order.status is OrderStatus.PENDING_APPROVAL


# Who may open it.
def catalogue_routes(ids: dict[str, int]) -> tuple[list[str], list[str]]:
    gets = [
        "/admin/categories",
        f"/admin/categories/{ids['category']}/edit",
        "/admin/products",
        "/admin/products/new",
        f"/admin/products/{ids['product']}",
        f"/admin/products/{ids['product']}/edit",
        "/admin/price-lists",
        f"/admin/price-lists/{ids['price_list']}",
        f"/admin/price-list-items/{ids['item']}/edit",
        "/admin/contract-prices",
        f"/admin/contract-prices/{ids['contract']}/edit",
    ]
    posts = [
        "/admin/categories",
        f"/admin/categories/{ids['category']}/edit",
        "/admin/products/new",
        f"/admin/products/{ids['product']}/edit",
        "/admin/price-lists",
        f"/admin/price-lists/{ids['price_list']}/edit",
        f"/admin/price-lists/{ids['price_list']}/items",
        f"/admin/price-list-items/{ids['item']}/edit",
        f"/admin/price-list-items/{ids['item']}/delete",
        "/admin/contract-prices",
        f"/admin/contract-prices/{ids['contract']}/edit",
        f"/admin/contract-prices/{ids['contract']}/delete",
    ]
    return gets, posts


async def test_buyers_managers_and_finance_get_403_on_every_catalogue_route(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    category = await linen(session)
    towel = await make_product(session, sku="TWL-1", category=category)
    company = await make_company(session)
    price_list = await make_price_list(session, "Standard")
    await add_list_price(session, price_list, towel, "9")
    await add_contract_price(session, company, towel, "8")
    item, contract = await session.scalar(select(PriceListItem)), await session.scalar(select(ContractPrice))
    assert item is not None and contract is not None
    ids = {
        "category": category.id,
        "product": towel.id,
        "price_list": price_list.id,
        "item": item.id,
        "contract": contract.id,
    }
    users = [
        await make_user(session, Role.BUYER, company_id=company.id),
        await make_user(session, Role.ACCOUNT_MANAGER),
        await make_user(session, Role.FINANCE),
    ]
    await session.commit()
    gets, posts = catalogue_routes(ids)
    for user in users:
        client.cookies.clear()
        await sign_in(client, user.email)
        await client.get("/")
        csrf = client.cookies.get("csrftoken") or ""
        for path in gets:
            assert (await client.get(path)).status_code == 403, (user.role, path)
        for path in posts:
            assert (await post(client, path, csrf, name="X", sku="TWL-1", unit_price="1")).status_code == 403, (
                user.role,
                path,
            )
    assert await count(session, AuditEntry) == 0


async def test_a_missing_id_is_404(client: AsyncTestClient, session: AsyncSession) -> None:
    csrf = await admin_signed_in(client, session)
    gets, posts = catalogue_routes(dict.fromkeys(("category", "product", "price_list", "item", "contract"), 999))
    for path in [p for p in gets if "999" in p]:
        assert (await client.get(path)).status_code == 404, path
    form = {
        "name": "X",
        "sku": "A",
        "unit_price": "1",
        "category_id": "1",
        "list_price": "1",
        "cost": "1",
        "company_id": "1",
    }
    for path in [p for p in posts if "999" in p]:
        assert (await post(client, path, csrf, **form)).status_code == 404, path
    assert date.today()  # the pages were read, nothing saved


# The lists of categories and price lists.
def rows_of(html: str, attribute: str) -> list[str]:
    return re.findall(rf'{attribute}="([^"]+)"', html)


async def test_the_category_list_searches_sorts_and_pages_in_a_constant_number_of_queries(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    china = ProductCategory(name="China", margin_floor_pct=Decimal("30"))
    glass = ProductCategory(name="Glass", margin_floor_pct=Decimal("10"))
    for n in range(3):
        await make_product(session, sku=f"GLS-{n}", category=glass)
    await make_product(session, sku="CHN-1", category=china)
    session.add(ProductCategory(name="Linen"))
    await admin_signed_in(client, session)

    def names(params: dict[str, Any]) -> Any:
        return client.get("/admin/categories", params=params)

    assert rows_of((await names({})).text, "data-category") == ["China", "Glass", "Linen"]
    assert rows_of((await names({"q": "LAS"})).text, "data-category") == ["Glass"]
    assert "No category matches." in text_of((await names({"q": "nothing"})).text)
    by_margin = rows_of((await names({"sort": "margin", "direction": "desc"})).text, "data-category")
    assert by_margin == ["China", "Glass", "Linen"]
    assert rows_of((await names({"sort": "products"})).text, "data-category") == ["Linen", "China", "Glass"]
    assert rows_of((await names({"sort": "unknown"})).text, "data-category") == ["China", "Glass", "Linen"]
    for odd in ({"page": "0"}, {"direction": "up"}, {"sort": "Name;--"}):
        assert (await names(odd)).status_code == 400, odd

    with counted_statements(client.app) as few:
        assert (await names({})).status_code == 200
    session.add_all(ProductCategory(name=f"Zone {n:02d}") for n in range(50))
    await session.commit()
    with counted_statements(client.app) as many:
        first = await names({})
    assert len(many) == len(few), many
    assert len(rows_of(first.text, "data-category")) == 50 and "Page 1 of 2" in text_of(first.text)
    second = await names({"page": "2"})
    assert rows_of(second.text, "data-category") == ["Zone 47", "Zone 48", "Zone 49"]
    sorted_second = text_of((await names({"page": "2", "sort": "name", "direction": "desc"})).text)
    assert "Page 2 of 2" in sorted_second and "China" in sorted_second


async def test_the_price_list_list_searches_filters_sorts_and_pages(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    standard = await make_price_list(session, "Standard")
    hotels = await make_price_list(session, "Hotels")
    export = await make_price_list(session, "Export", currency="EUR")
    standard.code, hotels.code, export.code = "STD", "HOT", "EXP-EU"
    product = await make_product(session, sku="TWL-1")
    for quantity in (1, 10):
        await add_list_price(session, hotels, product, "9.00", min_quantity=quantity)
    await add_list_price(session, export, product, "2.00")
    for n in range(3):
        await make_company(session, name=f"Buyer {n}", price_list_id=standard.id)
    await admin_signed_in(client, session)

    def names(params: dict[str, Any]) -> Any:
        return client.get("/admin/price-lists", params=params)

    assert rows_of((await names({})).text, "data-price-list") == ["Export", "Hotels", "Standard"]
    assert rows_of((await names({"q": "std"})).text, "data-price-list") == ["Standard"]
    assert rows_of((await names({"q": "hotel"})).text, "data-price-list") == ["Hotels"]
    assert rows_of((await names({"currency": "EUR"})).text, "data-price-list") == ["Export"]
    assert rows_of((await names({"currency": "pln"})).text, "data-price-list") == ["Hotels", "Standard"]
    assert rows_of((await names({"sort": "code"})).text, "data-price-list") == ["Export", "Hotels", "Standard"]
    by_rows = rows_of((await names({"sort": "items", "direction": "desc"})).text, "data-price-list")
    assert by_rows == ["Hotels", "Export", "Standard"]
    by_companies = rows_of((await names({"sort": "companies", "direction": "desc"})).text, "data-price-list")
    assert by_companies[0] == "Standard"
    for odd in ({"currency": "EURO"}, {"currency": "€"}, {"page": "x"}):
        assert (await names(odd)).status_code == 400, odd

    for n in range(50):
        await make_price_list(session, f"Promo {n:02d}")
    await session.commit()
    first = await names({"currency": "PLN"})
    assert "52 price lists" in text_of(first.text) and "Page 1 of 2" in text_of(first.text)
    second = await names({"currency": "PLN", "page": "2"})
    assert rows_of(second.text, "data-price-list") == ["Promo 49", "Standard"]
    assert "currency=PLN" in second.text


async def test_a_sku_taken_at_the_same_moment_is_a_409_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    category = await linen(session)
    await make_product(session, sku="TWL-1", name="Bath towel", category=category)
    csrf = await admin_signed_in(client, session)

    async def nothing_taken(*_: Any, **__: Any) -> None:
        return None

    original = catalogue_admin.save_product

    async def racing(db: AsyncSession, actor: Any, record: Any, product_id: int | None = None) -> Any:
        """The duplicate check ran before the other request committed: the database's key decides."""
        monkeypatch.setattr(db, "scalar", nothing_taken)
        return await original(db, actor, record, product_id)

    monkeypatch.setattr(catalogue_admin, "save_product", racing)
    answer = await post(client, "/admin/products/new", csrf, **{**PRODUCT, "category_id": str(category.id)})

    assert answer.status_code == 409
    assert "Someone saved the same thing at the same moment" in text_of(answer.text)
    assert 'value="Bath towel"' in answer.text  # the form again, with what was typed
    assert await count(session, Product) == 1
