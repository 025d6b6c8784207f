"""The quote loop as people do it, buyer and account manager each in their own browser: the buyer
asks for a quote from the cart, the manager prices it (one line below the margin floor, with its
reason) and sends version 1, the buyer asks for changes, the manager sends version 2, the buyer
reads the change and accepts it into an order approved at once at the quoted prices.

Uses Warta Clinics (buyer@warta.example, managed by manager@seller.example): within its credit
limit and nothing past due, so the order has no blocker. No other browser test touches it."""

from __future__ import annotations

import re
from decimal import Decimal

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.browser.test_sign_in import sign_in

BUYER = "buyer@warta.example"
MANAGER = "manager@seller.example"
HAGGLED = ("BEV-071", "Coffee beans, small")
"""The line the buyer gets a better price on."""
THIN = ("BEV-072", "Coffee beans, medium")
"""The line offered below the margin floor, with a reason."""
QUOTE_NUMBER = re.compile(r"Q-\d{4}-\d+")
CENT = Decimal("0.01")


def amount(text: str) -> Decimal:
    """The number in a formatted amount ("PLN 1,234.5600" → 1234.5600)."""
    found = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    assert found, f"no amount in {text!r}"
    return Decimal(found.group().replace(",", ""))


def signed_in(browser: Browser, base_url: str, email: str) -> Page:
    context: BrowserContext = browser.new_context(base_url=base_url)
    page = context.new_page()
    sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


def add_to_cart(page: Page, sku: str) -> None:
    page.goto(f"/catalog?q={sku}")
    row = page.locator(f"tr[data-sku='{sku}']")
    row.get_by_role("button", name="Add", exact=True).click()
    expect(row.locator(".add-feedback")).to_contain_text("Added")


def open_from_desk(page: Page, tab: str, number: str) -> None:
    """The manager finds the quote on the desk's tab and opens it."""
    page.get_by_role("link", name="Quotes", exact=True).click()
    page.locator("#desk-tabs").get_by_role("link", name=re.compile(f"^{tab}")).click()
    row = page.locator(f"#quote-desk tr[data-quote='{number}']")
    expect(row).to_be_visible()
    row.get_by_role("link", name=number).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def editor_row(page: Page, sku: str) -> Locator:
    return page.locator(f"#editor-lines tr[data-sku='{sku}']")


def test_request_offer_changes_second_version_and_accept(browser: Browser, base_url: str) -> None:
    buyer = signed_in(browser, base_url, BUYER)
    manager = signed_in(browser, base_url, MANAGER)
    try:
        _loop(buyer, manager)
    finally:
        buyer.context.close()
        manager.context.close()


def _loop(buyer: Page, manager: Page) -> None:
    # --- the buyer asks for a quote from the cart -------------------------------------------------
    for sku, _ in (HAGGLED, THIN):
        add_to_cart(buyer, sku)
    buyer.get_by_role("link", name="Cart", exact=True).click()
    expect(buyer.locator("#cart-lines tbody tr")).to_have_count(2)
    buyer.get_by_role("link", name="Ask for a quote").click()
    expect(buyer.get_by_role("heading", level=1)).to_have_text("Ask for a quote")
    expect(buyer.locator("#request-lines tbody tr")).to_have_count(2)
    haggled_sku, haggled = HAGGLED
    thin_sku, thin = THIN
    today_price = amount(buyer.locator(f"#request-lines tr[data-sku='{haggled_sku}'] td").nth(1).inner_text())
    buyer.get_by_label(f"Quantity of {haggled}", exact=True).fill("20")
    buyer.get_by_label(f"Quantity of {thin}", exact=True).fill("10")
    first_target = (today_price * Decimal("0.9")).quantize(CENT)
    buyer.get_by_label(f"Target unit price of {haggled}", exact=True).fill(f"{first_target}")
    buyer.get_by_label("Message to your account manager (optional)").fill("Coffee for the three clinics' staff rooms.")
    buyer.get_by_role("button", name="Ask for the quote").click()
    expect(buyer.locator("#quote-status")).to_have_text("Requested")
    expect(buyer.locator("#asked-lines tbody tr")).to_have_count(2)
    number_found = QUOTE_NUMBER.search(buyer.get_by_role("heading", level=1).inner_text())
    assert number_found, buyer.get_by_role("heading", level=1).inner_text()
    number = number_found.group()
    quote_url = buyer.url
    buyer.get_by_role("link", name="Cart", exact=True).click()
    expect(buyer.locator("#cart-lines tbody tr")).to_have_count(2)  # the cart keeps its lines

    # --- the manager prices version 1: one line below the floor needs its reason -----------------
    open_from_desk(manager, "Requested", number)
    expect(manager.locator("#quote-status")).to_have_text("Requested")
    expect(editor_row(manager, haggled_sku)).to_contain_text("target")
    cost = {sku: amount(editor_row(manager, sku).locator("td").nth(3).inner_text()) for sku in (haggled_sku, thin_sku)}
    first_price = (cost[haggled_sku] * Decimal("1.6")).quantize(CENT)
    thin_price = (cost[thin_sku] * Decimal("1.02")).quantize(CENT, rounding="ROUND_UP")
    manager.get_by_label(f"Offered unit price of {haggled}", exact=True).fill(f"{first_price}")
    manager.get_by_label(f"Offered unit price of {thin}", exact=True).fill(f"{thin_price}")
    manager.get_by_role("button", name="Save and send version 1").click()
    expect(editor_row(manager, thin_sku).locator(".line-error")).to_have_text(  # no reason: refused
        "This price is below the margin floor: give the reason and tick “Accept below the floor” to send it."
    )
    expect(editor_row(manager, haggled_sku).locator(".line-error")).to_have_count(0)
    expect(manager.locator("#quote-status")).to_have_text("Requested")
    expect(manager.get_by_label(f"Offered unit price of {thin}", exact=True)).to_have_value(f"{thin_price}")
    manager.get_by_label(f"Why {thin} is below the floor", exact=True).fill("Opening offer for the new clinics")
    editor_row(manager, thin_sku).get_by_label("Accept below the floor").check()
    manager.get_by_role("button", name="Save and send version 1").click()
    expect(manager.locator("#quote-status")).to_have_text("Offer sent")
    expect(manager.locator("#versions li")).to_have_count(1)
    internal = "Warta pays on time; we could go lower on the medium beans."
    manager.get_by_label("Comment", exact=True).fill(internal)
    manager.get_by_label("Internal: only staff read it").check()
    manager.get_by_role("button", name="Add comment").click()
    expect(manager.locator("#comments")).to_contain_text(internal)
    expect(manager.locator("#comments li", has_text=internal)).to_contain_text("Internal: staff only")

    # --- the buyer reads version 1 and asks for a lower price on one line ------------------------
    buyer.goto(quote_url)
    expect(buyer.locator("#quote-status")).to_have_text("Offer sent")
    first_text = buyer.locator(f"#quote-lines tr[data-sku='{haggled_sku}'] .line-price").inner_text()
    assert amount(first_text) == first_price
    expect(buyer.locator(f"#quote-lines tr[data-sku='{thin_sku}'] .line-price")).to_be_visible()
    expect(buyer.locator("#thread")).not_to_contain_text(internal)
    buyer.get_by_text("Ask for changes", exact=True).click()
    second_target = (cost[haggled_sku] * Decimal("1.4")).quantize(CENT)
    buyer.get_by_label(f"New target price of {haggled}", exact=True).fill(f"{second_target}")
    buyer.get_by_label("What would you like changed?").fill("A little lower on the small beans, please.")
    buyer.get_by_role("button", name="Ask for a new version").click()
    expect(buyer.locator("#quote-status")).to_have_text("Changes requested")

    # --- the manager lowers that line in version 2 and sends it ----------------------------------
    open_from_desk(manager, "Changes requested", number)
    expect(manager.locator("#change-comment")).to_have_text("A little lower on the small beans, please.")
    expect(manager.locator("#new-targets")).to_contain_text(haggled)
    second_price = (cost[haggled_sku] * Decimal("1.45")).quantize(CENT)
    price = manager.get_by_label(f"Offered unit price of {haggled}", exact=True)
    expect(price).to_have_value(f"{first_price}")  # the draft starts as a copy of version 1
    price.fill(f"{second_price}")
    manager.get_by_role("button", name="Save and send version 2").click()
    expect(manager.locator("#quote-status")).to_have_text("Offer sent")
    expect(manager.locator("#versions li")).to_have_count(2)

    # --- the buyer sees the change against version 1 and accepts version 2 -----------------------
    buyer.goto(quote_url)
    expect(buyer.locator("#quote-status")).to_have_text("Offer sent")
    changed = buyer.locator(f"#quote-lines tr[data-sku='{haggled_sku}']")
    expect(changed).to_have_attribute("data-change", "changed")
    second_text = changed.locator(".line-price").inner_text()
    assert amount(second_text) == second_price
    expect(changed.locator("del")).to_have_text(first_text)  # the old price, struck through
    expect(changed).to_contain_text(first_text)
    expect(changed).to_contain_text(second_text)
    expect(buyer.locator(f"#quote-lines tr[data-sku='{thin_sku}']")).to_have_attribute("data-change", "same")
    expect(buyer.locator("#thread")).not_to_contain_text(internal)
    expect(buyer.locator("body")).not_to_contain_text(internal)
    buyer.get_by_label("PO number").fill("PO-WARTA-Q2")
    buyer.get_by_role("button", name="Accept version 2 and order").click()

    # --- the order: approved at once, at the prices of version 2 ---------------------------------
    expect(buyer).to_have_url(re.compile(r"/orders/\d+$"))
    expect(buyer.locator("#order-status")).to_have_text("Approved")
    expect(buyer.get_by_text("PO-WARTA-Q2")).to_be_visible()
    line = buyer.locator(f"#order-lines tr[data-sku='{haggled_sku}']")
    expect(line.locator("td[data-label='Unit price']")).to_have_text(second_text)
    expect(line).to_contain_text("20")
    thin_line = buyer.locator(f"#order-lines tr[data-sku='{thin_sku}'] td[data-label='Unit price']")
    assert amount(thin_line.inner_text()) == thin_price
    buyer.goto(quote_url)
    expect(buyer.locator("#quote-status")).to_have_text("Accepted")
