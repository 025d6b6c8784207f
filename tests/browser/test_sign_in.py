"""A person signs in through the real form, as each role, and sees that role's home."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

DEMO_PASSWORD = "portal-demo"

ROLES = [
    ("buyer@northwind.example", "/dashboard", "Northwind Trading"),
    ("buyer@baltic.example", "/dashboard", "Baltic Foods"),
    ("manager@seller.example", "/manager", "My customers"),
    ("finance@seller.example", "/finance", "Credit overview"),
    ("admin@seller.example", "/admin", "Administration"),
]


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize(("email", "home", "heading"), ROLES)
def test_each_role_signs_in_and_sees_its_home(page: Page, email: str, home: str, heading: str) -> None:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    sign_in(page, email)

    expect(page).to_have_url(re.compile(re.escape(home) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    assert page.evaluate("typeof htmx") == "object", "htmx did not load"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
    page.goto(home)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    assert problems == [], f"console errors (a blocked inline script or style shows here): {problems}"


def test_buyer_sees_credit_figures_and_overdue_invoice(page: Page) -> None:
    sign_in(page, "buyer@northwind.example")
    for label in ("Payment terms", "Credit limit", "Exposure", "Available credit"):
        expect(page.locator("dt", has_text=label)).to_be_visible()
    expect(page.locator("[data-figure=limit]")).to_have_text(re.compile(r"PLN\s60,000\.00"))
    overdue = page.locator("#overdue-invoices tbody tr")
    expect(overdue).to_have_count(1)
    expect(overdue.locator("td").last).to_have_text("3")
    overdue.get_by_role("link").click()
    expect(page.get_by_text("Overdue by 3 days.")).to_be_visible()


def test_held_company_buyer_sees_why(page: Page) -> None:
    sign_in(page, "buyer@carpathia.example")
    expect(page.locator("#hold-banner")).to_contain_text("Your account is on hold.")
    expect(page.locator("#hold-banner")).to_contain_text("Direct debit returned unpaid twice")


def test_wrong_password_is_refused_with_a_message(page: Page) -> None:
    sign_in(page, "buyer@baltic.example", "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value("buyer@baltic.example")


def test_finance_sorts_companies_by_utilisation(page: Page) -> None:
    sign_in(page, "finance@seller.example")
    page.get_by_role("link", name="Utilisation").click()
    expect(page).to_have_url(re.compile(r"sort=utilisation&direction=desc"))
    cells = page.locator("#credit-overview tbody tr td:nth-child(5)").all_inner_texts()
    values = [float(text.replace("%", "").replace(",", "").strip()) for text in cells if text.strip() not in ("", "–")]
    assert len(values) >= 6
    assert values == sorted(values, reverse=True)


def test_manager_sees_only_assigned_companies(page: Page) -> None:
    sign_in(page, "manager2@seller.example")
    rows = page.locator("#my-customers tbody tr")
    expect(rows).to_have_count(9)  # three of the first demo customers, six of the reports' history
    expect(page.locator("#my-customers")).to_contain_text("Mazovia Office Supplies")
    expect(page.locator("#my-customers")).not_to_contain_text("Northwind Trading")
