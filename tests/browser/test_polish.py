"""A Polish buyer (a browser set to Polish, no language chosen) signs in and walks the catalog, the
cart and checkout in Polish: Polish words, "zł" after the amount, dates as 01.12.2026."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_sign_in import DEMO_PASSWORD

POLISH_DATE = re.compile(r"\b\d{2}\.\d{2}\.\d{4}\b")
POLISH_MONEY = re.compile(r"\d[\d\u00a0 ]*,\d{2,4}\u00a0zł")


@pytest.fixture
def polish_page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, locale="pl-PL")
    yield context.new_page()
    context.close()


def test_a_polish_buyer_orders_in_polish(polish_page: Page) -> None:
    page = polish_page
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "pl")
    page.get_by_label("E-mail").fill("buyer@pomerania.example")
    page.get_by_label("Hasło").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Zaloguj się").click()
    expect(page.get_by_role("link", name="Katalog", exact=True)).to_be_visible()

    page.get_by_role("link", name="Katalog", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Katalog")
    row = page.locator("tr[data-sku]").first
    expect(row).to_contain_text(POLISH_MONEY)
    row.get_by_role("button", name="Dodaj", exact=True).click()
    expect(row.locator(".add-feedback")).to_contain_text("Dodano")

    page.get_by_role("link", name="Koszyk", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Koszyk")
    expect(page.locator("[data-total=net]")).to_have_text(POLISH_MONEY)
    page.get_by_role("link", name="Przejdź do składania zamówienia").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Składanie zamówienia")
    expect(page.locator("#delivery-days")).to_contain_text(POLISH_DATE)
    page.get_by_label("Twój numer zamówienia (PO)").fill("PO-PL-1")
    page.get_by_role("button", name="Złóż zamówienie do akceptacji").click()

    expect(page.locator("#order-status")).to_have_text("Oczekuje na akceptację")
    expect(page.locator("main")).to_contain_text(POLISH_DATE)
    expect(page.get_by_text("PO-PL-1")).to_be_visible()
    assert "PLN" not in page.locator("main").inner_text()
