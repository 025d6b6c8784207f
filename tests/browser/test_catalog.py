"""A buyer finds products as they type, bookmarks the search, reads a product's breaks;
two companies see different prices for the same product, each explained."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_sign_in import sign_in


def test_search_as_you_type_narrows_the_catalog_and_keeps_the_url(page: Page) -> None:
    sign_in(page, "buyer@northwind.example")
    page.get_by_role("link", name="Catalog", exact=True).click()
    rows = page.locator("#catalog-table tbody tr")
    expect(page.locator("#result-count")).to_have_text("Products 1–20")
    expect(rows).to_have_count(20)
    expect(page.get_by_role("link", name="Next ›")).to_be_visible()

    page.get_by_label("Search by SKU or name").press_sequentially("mineral", delay=40)
    expect(page).to_have_url(re.compile(r"q=mineral"))
    expect(rows).to_have_count(3)
    expect(page.locator("#result-count")).to_have_text("3 products")
    for name in rows.locator("td:nth-child(2)").all_inner_texts():
        assert "Mineral" in name

    page.get_by_label("Search by SKU or name").fill("mineral water, large")
    expect(rows).to_have_count(1)

    page.go_back()
    expect(page).to_have_url(re.compile(r"q=mineral$|q=mineral&"))
    expect(rows).to_have_count(3)

    page.reload()  # the URL holds the search: a bookmark shows the same narrowed list
    expect(page.get_by_label("Search by SKU or name")).to_have_value("mineral")
    expect(rows).to_have_count(3)


def test_category_filter_and_price_sort(page: Page) -> None:
    sign_in(page, "buyer@baltic.example")
    page.goto("/catalog")
    page.get_by_label("Category").select_option(label="Dairy")
    expect(page).to_have_url(re.compile(r"category=\d+"))
    expect(page.locator("#result-count")).to_have_text("Products 1–20")
    page.get_by_label("Sort by").select_option("price")
    expect(page).to_have_url(re.compile(r"sort=price"))
    prices = page.locator("#catalog-table tbody td.price").all_inner_texts()
    values = [float(re.sub(r"[^\d.]", "", text.split("contract")[0])) for text in prices]
    assert values == sorted(values)


def test_product_page_shows_the_break_table(page: Page) -> None:
    sign_in(page, "buyer@northwind.example")
    page.goto("/catalog?q=water")
    with_break = page.locator("#catalog-table tbody tr", has=page.locator("td.next-break", has_text="from"))
    with_break.first.locator("td:nth-child(2) a").click()
    expect(page.locator("#break-table tbody tr")).to_have_count(3)
    expect(page.locator("#break-table")).to_contain_text("Price list Wholesale, from")
    expect(page.locator("#price-source")).to_have_text(re.compile(r"^Price list Wholesale"))


def test_two_companies_see_different_prices_each_explained(page: Page) -> None:
    sign_in(page, "buyer@northwind.example")
    page.goto("/catalog?per_page=100")
    contract_row = page.locator("#catalog-table tbody tr", has=page.locator(".badge-contract")).first
    sku = contract_row.get_attribute("data-sku")
    contract_row.locator("td:nth-child(2) a").click()
    expect(page.locator("#price-source")).to_have_text(re.compile(r"^Your contract price"))
    northwind_price = page.locator("#my-price").inner_text()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "buyer@baltic.example")
    page.goto(f"/catalog?q={sku}")
    page.locator(f"tr[data-sku='{sku}'] td:nth-child(2) a").click()
    expect(page.locator("#price-source")).not_to_have_text(re.compile("contract"))
    expect(page.locator("#price-source")).to_have_text(
        re.compile(r"^(Price list Horeca|List price less your 2 % discount)")
    )
    assert page.locator("#my-price").inner_text() != northwind_price


def test_account_manager_answers_a_customers_question(page: Page) -> None:
    sign_in(page, "manager@seller.example")
    page.get_by_role("link", name="Catalog", exact=True).click()
    page.get_by_role("link", name="Baltic Foods").click()
    expect(page.locator("#viewing-as")).to_contain_text("Baltic Foods")
    page.get_by_label("Search by SKU or name").fill("butter")
    expect(page.locator("#catalog-table tbody tr")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"company=\d+"))
