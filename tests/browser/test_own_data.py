"""A wholesaler starts from an empty database (`portal db upgrade`, `portal create-user --role
admin`, no demo data) and, through the browser only, invites an account manager, sets up a
catalogue with a price list, a customer company with delivery terms and an address, invites its
first buyer; each follows the link from a real e-mail (aiosmtpd) to set a password. The admin adds
a contract price; the buyer sees it, orders, and the assigned manager approves the order."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from portal.settings import PROJECT_ROOT
from tests.browser.conftest import _free_port, _wait_until_up
from tests.smtp import Inbox, SmtpServer

ADMIN, ADMIN_PASSWORD = "owner@seller.example", "owner-password-1"
MANAGER, BUYER = "ewa@seller.example", "jan@odra.example"


@dataclass
class OwnPortal:
    env: dict[str, str]
    base_url: str
    inbox: Inbox


@pytest.fixture(scope="module")
def empty_portal(portal_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPortal]:
    """A portal server on an empty database with one admin made by the command line, and a real mail server."""
    folder = tmp_path_factory.mktemp("own-data")
    mail = SmtpServer()
    mail.start()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **portal_env,
        "PORTAL_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'portal.db'}",
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(mail.port),
        "PORTAL_BASE_URL": base_url,
    }
    portal = [sys.executable, "-m", "portal.cli"]
    subprocess.run([*portal, "db", "upgrade"], env=env, check=True, cwd=PROJECT_ROOT, capture_output=True)
    subprocess.run(
        [*portal, "create-user", "--email", ADMIN, "--role", "admin", "--name", "Olga Owner"],
        env={**env, "PORTAL_NEW_USER_PASSWORD": ADMIN_PASSWORD},
        check=True,
        cwd=PROJECT_ROOT,
        capture_output=True,
    )
    log = Path(folder / "server.log")
    with log.open("w") as output:
        server = subprocess.Popen(
            [*portal, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(f"{base_url}/health", server, log)
        yield OwnPortal(env, base_url, mail.inbox)
    finally:
        server.terminate()
        server.wait(timeout=10)
        mail.stop()


def deliver_mail(env: dict[str, str]) -> None:
    """One worker pass: the outbox goes to the mail server."""
    subprocess.run(
        [sys.executable, "-m", "portal.cli", "worker", "--once"],
        env=env,
        check=True,
        cwd=PROJECT_ROOT,
        capture_output=True,
    )


def link_in_mail(inbox: Inbox, to: str, base_url: str) -> str:
    [message] = inbox.to(to)
    return next(word for word in Inbox.text(message).split() if word.startswith(base_url + "/join/"))


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def accept_invitation(page: Page, link: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(link)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("The same password again").fill(password)
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_text("Your password is set")).to_be_visible()


def invite(page: Page, base_url: str, email: str, name: str, role: str, company: str | None = None) -> None:
    page.goto(base_url + "/admin/invitations/new")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Role").select_option(role)
    if company:
        page.get_by_label("Company (buyers only)").select_option(label=company)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text(email).first).to_be_visible()


def test_a_wholesaler_moves_in_through_the_browser_and_takes_a_first_order(
    browser: Browser, empty_portal: OwnPortal
) -> None:
    env, base, smtp_inbox = empty_portal.env, empty_portal.base_url, empty_portal.inbox
    page = browser.new_page()
    sign_in(page, base, ADMIN, ADMIN_PASSWORD)

    # the account manager first, so the company can be given to her
    invite(page, base, MANAGER, "Ewa Handlowa", "account_manager")
    deliver_mail(env)
    accept_invitation(page, link_in_mail(smtp_inbox, MANAGER, base), "manager-password-1")

    # a catalogue: a category, a product, a price list with a row for it
    sign_in(page, base, ADMIN, ADMIN_PASSWORD)
    page.goto(base + "/admin/categories")
    page.get_by_label("Name", exact=True).fill("Cleaning")
    page.get_by_role("button", name="Add category").click()
    page.goto(base + "/admin/products/new")
    page.get_by_label("SKU").fill("CLN-001")
    page.get_by_label("Name", exact=True).fill("Floor cleaner 5 l")
    page.get_by_label("Category").select_option(label="Cleaning")
    page.get_by_label("VAT rate %").select_option("23")
    page.get_by_label("List price (net)").fill("40,00")
    page.get_by_label("Cost (net; staff only)").fill("22.50")
    page.get_by_label("Stock").fill("500")
    page.get_by_role("button", name="Create product").click()
    expect(page.get_by_text("Floor cleaner 5 l").first).to_be_visible()
    page.goto(base + "/admin/price-lists")
    page.get_by_label("Name", exact=True).fill("Wholesale")
    page.get_by_label("Code (optional; the ERP's short name, used by imports)").fill("WHOLESALE")
    page.get_by_role("button", name="Add price list").click()
    expect(page.get_by_text("Price list Wholesale created.")).to_be_visible()
    page.locator("#item-form").get_by_label("Product SKU").fill("CLN-001")
    page.locator("#item-form").get_by_label("Unit price").fill("36.00")
    page.locator("#item-form").get_by_role("button", name="Add price").click()
    expect(page.locator("#items")).to_contain_text("36")

    # the customer: terms, delivery terms (Tue and Thu, a minimum, a fee under 1,000), an address
    page.goto(base + "/admin/companies/new")
    page.get_by_label("Name", exact=True).fill("Odra Hotele")
    page.get_by_label("NIP (tax id)").fill("526-000-12-46")
    page.get_by_label("Payment terms (days)").fill("30")
    page.get_by_label("Price list").select_option(label="Wholesale (PLN)")
    page.get_by_label("Account manager").select_option(label=f"Ewa Handlowa ({MANAGER})")
    for day in ("weekday_1", "weekday_3", "weekday_5"):
        page.locator(f"input[name={day}]").uncheck()
    page.get_by_label("Minimum order value (net; 0: none)").fill("100")
    page.get_by_label("Delivery fee (net; 0: none)").fill("25")
    page.get_by_label("Free delivery from (net order value; empty: the fee always applies)").fill("1000")
    page.get_by_role("button", name="Create the company").click()
    expect(page.get_by_role("heading", name="Odra Hotele")).to_be_visible()
    address = page.locator("#address-form")
    address.get_by_label("Label, e.g. Warehouse").fill("Hotel kitchen")
    address.get_by_label("Street and number").fill("ul. Odrzańska 5")
    address.get_by_label("Postal code").fill("50-113")
    address.get_by_label("City").fill("Wrocław")
    address.get_by_role("button", name="Add the address").click()
    expect(page.locator("#addresses")).to_contain_text("ul. Odrzańska 5")
    # credit stays finance's: a limit through the credit ledger (admins may use finance's page)
    page.get_by_role("link", name="Credit page (finance)").click()
    page.locator("#new-limit").fill("20000")
    page.locator("#limit-reason").fill("Opening limit agreed at signing")
    page.get_by_role("button", name="Change limit").click()
    expect(page.get_by_text("Credit limit changed.")).to_be_visible()

    # its first buyer, invited by e-mail
    invite(page, base, BUYER, "Jan Odrzański", "buyer", company="Odra Hotele")
    deliver_mail(env)
    accept_invitation(page, link_in_mail(smtp_inbox, BUYER, base), "buyer-password-1")

    # the buyer sees the price list's price; after the admin's contract price, that one
    sign_in(page, base, BUYER, "buyer-password-1")
    page.goto(base + "/catalog?q=CLN-001")
    expect(page.locator("tr[data-sku='CLN-001']")).to_contain_text("36.00")
    sign_in(page, base, ADMIN, ADMIN_PASSWORD)
    page.goto(base + "/admin/contract-prices")
    form = page.locator("#contract-form")
    form.get_by_label("Company").select_option(label="Odra Hotele (PL5260001246)")
    form.get_by_label("Product SKU").fill("CLN-001")
    form.get_by_label("Unit price (net, up to 4 decimals)").fill("33.50")
    form.get_by_role("button", name="Add contract price").click()
    expect(page.locator("#contracts")).to_contain_text("33.50")

    sign_in(page, base, BUYER, "buyer-password-1")
    page.goto(base + "/catalog?q=CLN-001")
    row = page.locator("tr[data-sku='CLN-001']")
    expect(row).to_contain_text("33.50")
    row.locator(".add-form:not(.add-to-list) input[name=quantity]").fill("2")
    row.get_by_role("button", name="Add").click()
    expect(row.locator(".add-feedback")).to_contain_text("Added")

    # 2 × 33.50 = 67.00 is under the minimum of 100.00: the cart says how much is missing
    page.goto(base + "/cart")
    expect(page.locator("#minimum-notice")).to_contain_text("add PLN 33.00")
    page.locator("tr[data-sku='CLN-001'] input[name=quantity]").fill("4")
    page.locator("tr[data-sku='CLN-001'] input[name=quantity]").press("Enter")
    expect(page.locator("[data-total=delivery-fee]")).to_contain_text("25.00")
    page.get_by_role("link", name=re.compile("checkout", re.I)).click()
    delivery = page.get_by_label("Requested delivery date")
    earliest = delivery.get_attribute("min")
    assert earliest is not None
    delivery.fill(earliest)
    page.get_by_role("button", name="Submit order for approval").click()
    expect(page.locator("#order-status")).to_have_text(re.compile("approval", re.I))
    number = page.locator("h1").inner_text().removeprefix("Order ").strip()

    # the assigned account manager approves it from the queue
    sign_in(page, base, MANAGER, "manager-password-1")
    page.goto(base + "/queue")
    row = page.locator(f"tr[data-order='{number}']")
    expect(row).to_contain_text("Odra Hotele")
    row.get_by_role("link", name=number).click()
    confirm = page.get_by_label("I have reviewed these warnings")
    if confirm.count():
        confirm.check()
    page.get_by_role("button", name="Approve").first.click()
    expect(page.get_by_text("approved").first).to_be_visible()

    # the buyer sees it approved
    sign_in(page, base, BUYER, "buyer-password-1")
    page.goto(base + "/orders")
    expect(page.locator(f"tr[data-order='{number}']")).to_contain_text("Approved")
