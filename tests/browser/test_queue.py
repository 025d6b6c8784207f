"""The account manager works the queue: approves one order, rejects another with a
reason, sees why a blocked order cannot be approved; the buyer reads the decision."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_sign_in import sign_in


def submit_order_as(page: Page, email: str, sku: str) -> str:
    sign_in(page, email)
    page.goto(f"/catalog?q={sku}")
    page.locator(f"tr[data-sku='{sku}']").get_by_role("button", name="Add").click()
    expect(page.locator(f"tr[data-sku='{sku}'] .add-feedback")).to_contain_text("Added")
    page.goto("/checkout")
    page.get_by_role("button", name="Submit order for approval").click()
    expect(page.locator("#order-status")).to_have_text("Waiting for approval")
    number = page.get_by_role("heading", level=1).inner_text().removeprefix("Order ")
    page.get_by_role("button", name="Sign out").click()
    return number


def test_manager_decides_and_the_buyer_reads_the_decision(page: Page) -> None:
    fresh = submit_order_as(page, "buyer@baltic.example", "PAP-011")

    sign_in(page, "manager@seller.example")
    expect(page.locator("#queue-count")).not_to_have_text("0")
    page.get_by_role("link", name=re.compile("^Queue")).click()
    queue = page.locator("#queue")
    expect(queue).to_contain_text("Baltic Foods")
    expect(queue).not_to_contain_text("Mazovia")  # another manager's customer

    # a blocked order says why, in place of the approve button
    queue.locator("tr", has_text="Carpathia Catering").get_by_role("link", name=re.compile("^ORD-")).click()
    expect(page.locator("#blockers")).to_contain_text("Company on hold")
    expect(page.locator("#blockers")).to_contain_text("Company past due")
    expect(page.locator("#approve")).to_have_count(0)

    # reject the fresh order with a reason, inline
    page.goto("/queue")
    page.locator("#queue tr", has_text=fresh).get_by_role("link", name=fresh).click()
    page.get_by_label("Reason for rejection (required, the buyer reads it)").fill("Paper is discontinued; see catalog")
    page.get_by_role("button", name="Reject").click()
    expect(page.locator("#decided")).to_have_text("Rejected")
    expect(page.locator("#decision-box")).to_contain_text("Paper is discontinued; see catalog")

    # approve the other Baltic order, with a note
    page.goto("/queue")
    other = page.locator("#queue tr", has_text="Baltic Foods").filter(has_not_text=fresh).first
    approved_number = other.get_by_role("link", name=re.compile("^ORD-")).inner_text()
    other.get_by_role("link", name=approved_number).click()
    warnings = page.locator("#warnings")
    if warnings.count():
        warnings.get_by_label("I have reviewed these warnings").check()
    page.get_by_label("Note (optional)").fill("Delivery on Tuesday")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#decided")).to_have_text("Approved")
    page.get_by_role("button", name="Sign out").click()

    # the buyer sees both decisions and the reasons on the order pages
    sign_in(page, "buyer@baltic.example")
    page.goto("/orders")
    page.get_by_role("link", name=fresh).click()
    expect(page.locator("#order-status")).to_have_text("Rejected")
    expect(page.locator("#timeline")).to_contain_text("Paper is discontinued; see catalog")
    page.goto("/orders")
    page.get_by_role("link", name=approved_number).click()
    expect(page.locator("#order-status")).to_have_text("Approved")
    expect(page.locator("#timeline")).to_contain_text("Delivery on Tuesday")
