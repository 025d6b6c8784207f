"""A buyer makes a list from a past order, corrects a quantity, orders from it; a
second buyer of the company finds and uses the same list; usual items are there."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_sign_in import sign_in


def test_list_from_a_past_order_used_by_two_buyers(page: Page) -> None:
    sign_in(page, "buyer@northwind.example")
    page.goto("/orders?status=invoiced")
    page.locator("#orders tbody tr a").last.click()
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Order ")
    page.get_by_role("button", name="Save as a shopping list").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"From order {number}")
    list_url = page.url

    page.get_by_label("Name", exact=True).fill("Northwind weekly")
    page.get_by_role("button", name="Save", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind weekly")

    # a quantity that is not whole packs is refused next to its line
    rows = page.locator("#list-table tbody tr")
    packed = rows.filter(has_text=re.compile(r"pack of \d+"))
    if packed.count():
        row = packed.first
        pack = int(re.search(r"pack of (\d+)", row.inner_text()).group(1))  # type: ignore[union-attr]
        wrong, message = str(pack + 1), "Sold in packs of"
    else:
        row, wrong, message = rows.first, "0", "Enter a quantity of at least"
    sku = row.get_attribute("data-sku")
    row.locator("input[name=quantity]").fill(wrong)
    row.locator("input[name=quantity]").press("Enter")
    expect(page.locator(f"tr[data-sku='{sku}'] .line-error")).to_contain_text(message)
    right = page.locator(f"tr[data-sku='{sku}'] input[name=quantity]")
    right.fill(str(pack * 2) if packed.count() else "2")
    right.press("Enter")
    expect(page.locator(f"tr[data-sku='{sku}'] .line-error")).to_have_count(0)

    # the whole list into the cart, then checkout
    page.get_by_role("button", name="Add all lines to the cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(page.get_by_text(re.compile(r"Added \d+ lines? to your cart at today's prices\."))).to_be_visible()
    page.get_by_role("link", name="Go to checkout").click()
    page.get_by_label("Your purchase order number").fill("PO-LIST-1")
    page.get_by_role("button", name="Submit order for approval").click()
    expect(page.locator("#order-status")).to_have_text("Waiting for approval")
    page.get_by_role("button", name="Sign out").click()

    # the colleague sees the same list and uses part of it
    sign_in(page, "buyer2@northwind.example")
    page.get_by_role("link", name="Lists").click()
    page.get_by_role("link", name="Northwind weekly").click()
    expect(page).to_have_url(list_url)
    page.locator("#list-table tbody tr input[name=line_ids]").first.check()
    page.get_by_role("button", name="Add the chosen lines to the cart").click()
    expect(page.get_by_text("Added 1 line to your cart at today's prices.")).to_be_visible()


def test_usual_items_of_a_company_with_history(page: Page) -> None:
    sign_in(page, "buyer@northwind.example")
    page.goto("/lists/usual")
    items = page.locator("#usual-items tbody tr")
    expect(items.first).to_be_visible()
    assert 1 <= items.count() <= 6  # the demo company buys from a set of six products
    for months in page.locator("#usual-items tbody td:nth-child(3)").all_inner_texts():
        assert int(months) >= 3
