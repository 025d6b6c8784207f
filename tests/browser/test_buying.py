"""A buyer builds a cart with live totals, pastes a quick order with a bad line,
submits with a PO number, sees the order pending with its flags, cancels another
order and reorders a past one."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_sign_in import sign_in


def pack_size_of(page: Page, sku: str) -> int:
    page.goto(f"/catalog?q={sku}")
    return int(page.locator(f"tr[data-sku='{sku}'] .add-form:not(.add-to-list) input[name=quantity]").input_value())


def test_cart_quick_order_checkout_cancel_and_reorder(page: Page) -> None:
    sign_in(page, "buyer2@northwind.example")

    # find a product and add it from the catalog row, without leaving the page
    pack = pack_size_of(page, "BEV-012")
    row = page.locator("tr[data-sku='BEV-012']")
    row.get_by_role("button", name="Add").click()
    expect(row.locator(".add-feedback")).to_contain_text("Added")
    expect(page).to_have_url(re.compile(r"/catalog\?q=BEV-012"))

    # the cart updates its totals live and refuses a wrong quantity next to the line
    page.get_by_role("link", name="Cart", exact=True).click()
    line = page.locator("tr[data-sku='BEV-012']")
    net_before = page.locator("[data-total=net]").inner_text()
    line.locator("input[name=quantity]").fill("0")
    line.locator("input[name=quantity]").press("Enter")
    expect(page.locator("tr[data-sku='BEV-012'] .line-error")).to_have_text(f"Enter a quantity of at least {pack}.")
    page.locator("tr[data-sku='BEV-012'] input[name=quantity]").fill(str(pack * 3))
    page.locator("tr[data-sku='BEV-012'] input[name=quantity]").press("Enter")
    expect(page.locator("[data-total=net]")).not_to_have_text(net_before)
    expect(page.locator("tr[data-sku='BEV-012'] .line-error")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/cart$"))

    # a quick order with a bad line: reported by number, only the good line added
    big = pack_size_of(page, "BEV-013") * 10_000
    page.get_by_role("link", name="Quick order").click()
    page.get_by_label("SKU and quantity, one per line").fill(f"BEV-013\t{big}\nNOPE-404 5")
    page.get_by_role("button", name="Check lines").click()
    expect(page.locator("tr[data-line='2']")).to_contain_text("Unknown SKU.")
    expect(page.locator("tr[data-line='1']")).to_contain_text("OK")
    page.get_by_role("button", name="Add 1 valid line to the cart").click()
    expect(page.get_by_text("Added 1 line to your cart. 1 line with errors was left out.")).to_be_visible()
    expect(page.locator("#credit-warning")).to_contain_text("This order exceeds your available credit by")

    # checkout with our purchase order number; the order waits for credit, and says so
    page.get_by_role("link", name="Go to checkout").click()
    page.get_by_label("Your purchase order number").fill("PO-BROWSER-1")
    page.get_by_role("button", name="Submit order for approval").click()
    expect(page.locator("#order-status")).to_have_text("Waiting for approval")
    expect(page.locator("#waiting-for")).to_have_text(
        "Waiting for credit: your account manager can approve it once credit is available."
    )
    expect(page.locator("#order-flags")).to_contain_text("Exceeds available credit by")
    expect(page.get_by_text("PO-BROWSER-1")).to_be_visible()
    submitted = page.url

    # cancel another pending order of the company
    page.goto("/orders?status=pending_approval")
    hrefs = page.locator("#orders tbody tr a").evaluate_all("links => links.map(link => link.getAttribute('href'))")
    links = [href for href in hrefs if not submitted.endswith(href)]
    page.goto(links[0])
    page.locator("#cancel-order summary").click()  # the form waits behind the confirmation
    page.get_by_label("Cancel this order (reason, optional)").fill("Ordered by phone instead")
    page.get_by_role("button", name="Yes, cancel order").click()
    expect(page.locator("#order-status")).to_have_text("Cancelled")
    expect(page.locator("#timeline")).to_contain_text("Ordered by phone instead")

    # reorder a past order: the summary shows changed prices and what is no longer sold
    page.goto("/orders?status=invoiced")
    page.locator("#orders tbody tr a").first.click()
    page.get_by_role("link", name="Order again").click()
    expect(page.locator("#reorder-lines")).to_contain_text("Price changed")
    expect(page.locator("#reorder-lines")).to_contain_text("Not sold any more; not added.")
    page.get_by_role("button", name="Put the available lines in my cart").click()
    expect(page).to_have_url(re.compile(r"/cart$"))
    expect(
        page.get_by_text(re.compile(r"Added \d+ lines? to your cart at today's prices\. \d+ of them changed price"))
    ).to_be_visible()
