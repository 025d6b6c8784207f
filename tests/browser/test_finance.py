"""Finance raises a limit with a reason, holds and releases a company, imports a
payments file that is refused for one bad row, imports it corrected, and the
buyer sees the new balance on the statement. Uses Pomerania Retail only."""

from __future__ import annotations

import re
import secrets
from datetime import date, timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.browser.test_sign_in import sign_in

COMPANY = "Pomerania Retail"


def money(amount: Decimal) -> re.Pattern[str]:
    return re.compile(r"PLN\s" + re.escape(f"{amount:,.2f}"))


def upload_payments(page: Page, content: str) -> None:
    page.get_by_label("The file holds").select_option("payments")
    page.get_by_label("CSV file").set_input_files(
        {"name": "payments.csv", "mimeType": "text/csv", "buffer": content.encode("utf-8")}
    )
    page.get_by_role("button", name="Check the file").click()


def test_finance_limit_hold_import_and_the_buyer_statement(page: Page) -> None:
    problems: list[str] = []
    expected = "status of 400"  # the refused file is answered 400 on purpose
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if message.type == "error" and expected not in message.text else None
        ),
    )
    sign_in(page, "finance@seller.example")

    # raise the limit with a reason; it shows in the history
    page.locator("#credit-overview").get_by_role("link", name=COMPANY).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(COMPANY)
    old = Decimal(page.locator("input[name=expected_limit]").input_value())
    new = old + Decimal("5000")
    page.get_by_label(re.compile("New limit")).fill(f"{new:.2f}")
    page.locator("#limit-reason").fill("Two new stores in Szczecin")
    page.get_by_role("button", name="Change limit").click()
    expect(page.get_by_text("Credit limit changed.")).to_be_visible()
    latest = page.locator("#credit-history li").first
    expect(latest).to_contain_text(
        re.compile(r"Limit PLN\s" + re.escape(f"{old:,.2f}") + r" → PLN\s" + re.escape(f"{new:,.2f}"))
    )
    expect(latest).to_contain_text("Filip Finance")
    expect(latest).to_contain_text("Two new stores in Szczecin")
    expect(page.locator("[data-figure=limit]")).to_have_text(money(new))

    # hold, then release, each with a reason in the history
    page.locator("#hold-reason").fill("Cheque returned by the bank")
    page.get_by_role("button", name="Put on hold").click()
    expect(page.get_by_text("Account put on hold.")).to_be_visible()
    expect(page.locator("#credit-picture .badge-blocking")).to_have_text("On hold")
    expect(page.locator("#credit-history li").first).to_contain_text("Cheque returned by the bank")
    page.locator("#release-reason").fill("Balance settled")
    page.get_by_role("button", name="Release account").click()
    expect(page.get_by_text("Account released.")).to_be_visible()
    expect(page.locator("#credit-picture .badge-blocking")).to_have_count(0)
    expect(page.locator("#credit-history li").first).to_contain_text("Released from hold")

    # a payments file with one bad row is refused whole
    row = page.locator("#open-invoices tbody tr").first
    number = row.get_attribute("data-invoice")
    balance = Decimal(row.get_attribute("data-balance") or "0")
    assert number and balance > Decimal("30")
    paid_on = (date.today() - timedelta(days=1)).isoformat()
    reference = secrets.token_hex(4)
    header = "invoice_number;paid_on;amount;reference"
    bad = f"{header}\n{number};{paid_on};10,00;{reference}-1\n{number};{paid_on};{balance + 1:.2f};{reference}-2\n"
    page.get_by_role("link", name="Imports").click()
    upload_payments(page, bad)
    expect(page.locator("#import-report tr[data-row='3']")).to_contain_text("exceeds the balance")
    expect(page.locator("#import-refused")).to_be_visible()
    expect(page.locator("#apply-form")).to_have_count(0)

    # corrected, it is checked and applied
    good = bad.replace(f"{balance + 1:.2f}", "15,50")
    upload_payments(page, good)
    expect(page.locator("#import-summary")).to_have_text("2 new, 0 already imported, 0 with errors.")
    page.get_by_role("button", name="Import 2 new rows").click()
    expect(page.get_by_text("Imported 2 payments. 0 payments were already there unchanged.")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # the buyer sees the new balance on the statement
    sign_in(page, "buyer@pomerania.example")
    page.get_by_role("link", name="Statement", exact=True).click()
    line = page.locator(f"#open-invoices tr[data-invoice='{number}']")
    expect(line).to_have_attribute("data-balance", f"{balance - Decimal('25.50'):.2f}")
    expect(line.locator("td").nth(5)).to_have_text(money(balance - Decimal("25.50")))
    expect(page.locator("#hold-banner")).to_have_count(0)
    assert problems == [], f"console errors: {problems}"
