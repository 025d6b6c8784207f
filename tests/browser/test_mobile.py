"""Every main page of each role is usable on a phone (390 × 844): no page is wider than the
screen, fields are large enough not to zoom and to tap, and the folded menu opens with a tap
and offers Sign out. Each role signs in once and walks its pages in one browser context."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from tests.browser.test_sign_in import sign_in

PHONE = ViewportSize(width=390, height=844)
DESKTOP = ViewportSize(width=1280, height=844)
SCREENSHOTS = Path("/tmp/mobile")

# Visible fields and buttons that are smaller than this (CSS px) are hard to tap, or zoom the page.
TOO_SMALL = """() => {
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const name = (el) => el.id || el.getAttribute("name") || el.textContent.trim().slice(0, 30);
  const problems = [];
  for (const el of document.querySelectorAll(
      "input:not([type=hidden], [type=checkbox], [type=radio]), select, textarea, button, a.button")) {
    if (!visible(el)) continue;
    const style = getComputedStyle(el);
    if (el.matches("input, select, textarea") && parseFloat(style.fontSize) < 16)
      problems.push(`${el.tagName.toLowerCase()} ${name(el)}: font ${style.fontSize}`);
    if (el.getBoundingClientRect().height < 43.5)
      problems.push(`${el.tagName.toLowerCase()} ${name(el)}: ${el.getBoundingClientRect().height}px high`);
  }
  return problems;
}"""


@dataclass(frozen=True)
class Follow:
    """The first link on the page visited last whose address matches `pattern`."""

    pattern: str


@dataclass
class Walk:
    """One role's walk through its pages on a phone; what was checked and what was wrong."""

    page: Page
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def visit(self, where: str | Follow, screenshot: str | None = None) -> str:
        path = self._resolve(where) if isinstance(where, Follow) else where
        response = self.page.goto(path)
        self.checked.append(path)
        if response is None or not response.ok:
            self.problems.append(f"{path}: answered {response.status if response else 'nothing'}")
            return path
        self.check_here(path)
        if screenshot:
            self.page.screenshot(path=SCREENSHOTS / f"{screenshot}.png", full_page=True)
        return path

    def check_here(self, what: str) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            self.problems.append(f"{what}: the page is {width}px wide")
        self.problems.extend(f"{what}: {problem}" for problem in self.page.evaluate(TOO_SMALL))

    def _resolve(self, follow: Follow) -> str:
        for href in self.links(follow.pattern):
            return href
        raise AssertionError(f"no link to {follow.pattern} on {self.page.url}")

    def links(self, pattern: str) -> list[str]:
        """Every link on the page visited last whose address matches `pattern`, once each, in order."""
        hrefs = self.page.eval_on_selector_all("a[href]", "links => links.map(link => link.getAttribute('href'))")
        return list(dict.fromkeys(str(href) for href in hrefs if re.fullmatch(pattern, href.split("?")[0])))

    def menu_opens_with_a_tap(self, kept_in_bar: str | None) -> None:
        """The menu is folded: Sign out is hidden until the menu button is tapped."""
        sign_out = self.page.get_by_role("button", name="Sign out")
        expect(sign_out).to_be_hidden()
        if kept_in_bar:
            expect(self.page.get_by_role("link", name=re.compile(f"^{kept_in_bar}"))).to_be_visible()
        self.page.get_by_text("Menu", exact=True).tap()
        expect(sign_out).to_be_visible()
        expect(self.page.get_by_role("link", name="Home", exact=True)).to_be_visible()
        self.check_here(f"{self.page.url} with the menu open")
        self.page.screenshot(path=SCREENSHOTS / f"menu-{self.checked[0].strip('/')}.png")

    def report(self, role: str) -> None:
        print(f"\n{role}: {len(self.checked)} pages checked at 390 × 844")
        for path in self.checked:
            print(f"  {path}")
        with (SCREENSHOTS / "pages.txt").open("a") as out:
            out.write(f"{role}: " + ", ".join(self.checked) + "\n")
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    (SCREENSHOTS / "pages.txt").unlink(missing_ok=True)
    return SCREENSHOTS


@pytest.fixture
def phone(browser: Browser, base_url: str, screenshots: Path) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE, base_url=base_url, is_mobile=True, has_touch=True)
    yield context
    context.close()


def walk_as(context: BrowserContext, email: str) -> Walk:
    page = context.new_page()
    sign_in(page, email)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return Walk(page)


def test_a_buyer_uses_every_page_on_a_phone(phone: BrowserContext) -> None:
    walk = walk_as(phone, "buyer@vistula.example")
    walk.visit("/dashboard", screenshot="buyer-home")
    walk.menu_opens_with_a_tap(kept_in_bar="Cart")
    walk.visit("/catalog", screenshot="buyer-catalog")
    rows = walk.page.locator("#catalog-table tbody tr")
    for row in (rows.nth(0), rows.nth(1)):
        row.get_by_role("button", name="Add", exact=True).tap()
        expect(row.locator(".add-feedback")).to_contain_text("Added")
    walk.visit(Follow(r"/catalog/products/\d+"), screenshot="buyer-product")
    walk.visit("/cart", screenshot="buyer-cart")
    expect(walk.page.locator("#cart-lines tbody tr")).to_have_count(2)
    walk.visit("/checkout", screenshot="buyer-checkout")
    walk.visit("/cart/quick")
    walk.visit("/quotes/new", screenshot="buyer-new-quote")
    expect(walk.page.locator("#request-lines tbody tr")).to_have_count(2)
    walk.page.get_by_role("button", name="Ask for the quote").tap()
    expect(walk.page.locator("#quote-status")).to_have_text("Requested")
    walk.visit(urlsplit(walk.page.url).path, screenshot="buyer-quote-requested")
    walk.visit("/quotes", screenshot="buyer-quotes")
    walk.visit("/orders", screenshot="buyer-orders")
    order = walk.visit(Follow(r"/orders/\d+"), screenshot="buyer-order")
    walk.visit(f"{order}/reorder")
    walk.page.goto(order)
    walk.page.get_by_role("button", name="Save as a shopping list").tap()
    expect(walk.page).to_have_url(re.compile(r"/lists/\d+$"))
    walk.visit(urlsplit(walk.page.url).path)
    walk.visit("/lists")
    walk.visit("/lists/usual")
    walk.visit("/schedules")
    walk.visit(Follow(r"/schedules/\d+"), screenshot="buyer-schedule")
    walk.visit("/schedules/new")
    walk.visit("/statement")
    walk.visit("/account/password")
    walk.visit("/account/notifications")
    walk.report("buyer")


def test_a_buyer_negotiates_quotes_on_a_phone(phone: BrowserContext) -> None:
    """Northwind's quotes are in every state (demo data): each one's page, the offer with the change
    since the version before, the forms to accept, ask for changes and decline opened."""
    walk = walk_as(phone, "buyer@northwind.example")
    walk.visit("/quotes")
    quotes = walk.links(r"/quotes/\d+")
    assert len(quotes) >= 4, quotes
    for quote in quotes:
        walk.visit(quote)
        if walk.page.locator("#quote-lines tr[data-change=changed]").count():
            walk.page.get_by_text("Ask for changes", exact=True).tap()
            walk.page.get_by_text("Decline", exact=True).tap()
            walk.check_here(f"{quote} with its forms open")
            walk.page.screenshot(path=SCREENSHOTS / "buyer-quote-offer.png", full_page=True)
            walk.visit(f"{quote}?version=1")
    walk.report("buyer (quotes)")


def test_a_buyer_with_an_agreement_on_a_phone(phone: BrowserContext) -> None:
    """Warta Clinics' agreement (demo data): the progress to the next tier on the home page and in
    the cart, the agreement's page, and the payment terms to choose from at checkout. The cart is
    emptied again (test_quotes.py starts from Warta's empty cart)."""
    walk = walk_as(phone, "buyer@warta.example")
    walk.visit("/dashboard", screenshot="buyer-home-tiers")
    expect(walk.page.locator("#tier-progress")).to_be_visible()
    walk.visit("/agreement", screenshot="buyer-agreement")
    walk.visit("/catalog?q=CLN-021")
    row = walk.page.locator("tr[data-sku='CLN-021']")
    row.get_by_role("button", name="Add", exact=True).tap()
    expect(row.locator(".add-feedback")).to_contain_text("Added")
    walk.visit("/cart", screenshot="buyer-cart-tiers")
    expect(walk.page.locator("#tier-progress .tier-cart")).to_be_visible()
    walk.visit("/checkout", screenshot="buyer-checkout-payment")
    expect(walk.page.locator("#payment-choices label.choice")).to_have_count(3)
    walk.page.get_by_role("radio", name=re.compile("^Prepayment")).tap()
    walk.check_here("/checkout with prepayment chosen")
    walk.page.goto("/cart")
    walk.page.locator("#cart-lines tr[data-sku='CLN-021']").get_by_role("button", name="Remove").tap()
    expect(walk.page.locator("#cart-empty")).to_be_visible()
    walk.report("buyer (agreement)")


def test_an_account_manager_uses_every_page_on_a_phone(phone: BrowserContext) -> None:
    walk = walk_as(phone, "manager@seller.example")
    walk.visit("/manager", screenshot="manager-home")
    walk.menu_opens_with_a_tap(kept_in_bar="Queue")
    customers = walk.links(r"/customers/\d+")
    customer = walk.visit(Follow(r"/customers/\d+"), screenshot="manager-customer")
    walk.visit(f"{customer}/credit")
    walk.visit(f"{customer}/growth")
    for other in customers[1:]:  # every other customer: Baltic and Warta show their agreements
        walk.visit(other)
    _crm_pages(walk, customer.rsplit("/", 1)[1])
    walk.visit("/queue", screenshot="manager-queue")
    walk.visit(Follow(r"/queue/orders/\d+"), screenshot="manager-review")
    walk.visit("/queue?flag=outside_agreement")
    walk.visit(Follow(r"/queue/orders/\d+"), screenshot="manager-review-agreement")
    expect(walk.page.locator("#margin-note")).to_be_visible()
    walk.visit("/queue/cover")
    walk.visit("/catalog")
    walk.visit("/manage/quotes?view=requested", screenshot="manager-quote-desk")
    walk.visit(Follow(r"/manage/quotes/\d+"), screenshot="manager-quote-editor")
    walk.visit("/manage/quotes?view=closed")
    for quote in walk.links(r"/manage/quotes/\d+"):
        walk.visit(quote)
    walk.visit("/manage/quotes", screenshot="manager-quote-desk-open")
    for quote in walk.links(r"/manage/quotes/\d+"):
        walk.visit(quote)
    _report_pages(walk, "manager")
    walk.report("account manager")


def _crm_pages(walk: Walk, company_id: str) -> None:
    """The CRM's pages: a customer's contact, new task and new opportunity; every open task, the
    tasks done and the team's; the pipeline and every opportunity on it; the prospects and each
    one's page; the search with results of every kind."""
    walk.visit(f"/customers/{company_id}#contacts")
    walk.visit(Follow(r"/contacts/\d+/edit"), screenshot="manager-contact")
    walk.visit(f"/tasks/new?company_id={company_id}", screenshot="manager-new-task")
    walk.visit(f"/opportunities/new?company_id={company_id}", screenshot="manager-new-opportunity")
    walk.visit("/tasks", screenshot="manager-tasks")
    for number, task in enumerate(walk.links(r"/tasks/\d+")):
        walk.visit(task, screenshot=None if number else "manager-task")
    walk.visit("/tasks?status=done")
    walk.visit("/tasks?scope=team")
    walk.visit("/pipeline", screenshot="manager-pipeline")
    for number, opportunity in enumerate(walk.links(r"/opportunities/\d+")):
        walk.visit(opportunity, screenshot=None if number else "manager-opportunity")
    walk.visit("/prospects", screenshot="manager-prospects")
    for number, prospect in enumerate(walk.links(r"/prospects/\d+")):
        walk.visit(prospect, screenshot=None if number else "manager-prospect")
    walk.visit("/prospects/new")
    walk.visit("/search?q=nor", screenshot="manager-search")  # customers and contacts
    walk.visit("/search?q=ORD-2026")  # orders
    walk.visit("/search?q=Q-2026")  # quotes
    walk.visit("/search?q=FV%2F")  # invoices
    walk.visit("/search")
    walk.page.goto("/search?q=a")  # too short: the page again (400) with the message by the box
    expect(walk.page.locator("#search-error")).to_be_visible()
    walk.check_here("/search?q=a")


REPORTS = ["", "profitability", "cost-to-serve", "regularity", "retention", "managers", "settings"]
OVERFLOWING_CELLS = """() => [...document.querySelectorAll(".table.stack td")]
  .filter((td) => td.scrollWidth > td.clientWidth + 1)
  .map((td) => `${td.closest("table").id} ${td.className}: ${td.scrollWidth}px in ${td.clientWidth}px`)"""
"""Cells of a stacked table whose content (an unbreakable line) runs out of the card."""


def _report_pages(walk: Walk, role: str) -> None:
    """The reports: wide tables stack into cards (nothing running out of them) or scroll in their
    own box, charts fit the screen; the settings (the admin's form, the others' figures)."""
    for report in REPORTS:
        path = walk.visit(f"/reports/{report}".rstrip("/"), screenshot=f"{role}-report-{report or 'index'}")
        walk.problems.extend(f"{path}: {cell}" for cell in walk.page.evaluate(OVERFLOWING_CELLS))
        chart = walk.page.locator("svg.chart-svg").first
        if chart.count():
            box = chart.bounding_box()
            if box is None or box["x"] < 0 or box["x"] + box["width"] > PHONE["width"]:
                walk.problems.append(f"{path}: the chart is not within the screen ({box})")


def test_finance_uses_every_page_on_a_phone(phone: BrowserContext) -> None:
    walk = walk_as(phone, "finance@seller.example")
    walk.visit("/finance", screenshot="finance-home")
    walk.menu_opens_with_a_tap(kept_in_bar=None)
    company = walk.visit(Follow(r"/finance/companies/\d+"), screenshot="finance-company")
    walk.visit(company.replace("/finance/companies/", "/customers/"))
    walk.visit("/finance/ageing")
    walk.visit("/finance/imports")
    walk.visit("/finance/rebates", screenshot="finance-rebates")
    walk.visit("/tasks?scope=team")
    walk.visit("/pipeline", screenshot="finance-pipeline")
    walk.visit(Follow(r"/opportunities/\d+"), screenshot="finance-opportunity")
    walk.visit("/prospects?status=all")
    walk.visit("/search?q=PL", screenshot="finance-search")
    walk.report("finance")


def test_an_administrator_uses_every_page_on_a_phone(phone: BrowserContext) -> None:
    walk = walk_as(phone, "admin@seller.example")
    walk.visit("/admin", screenshot="admin-home")
    walk.menu_opens_with_a_tap(kept_in_bar="Queue")
    walk.visit("/admin/companies", screenshot="admin-companies")
    company = walk.visit(Follow(r"/admin/companies/\d+"), screenshot="admin-company")
    walk.visit(f"{company}/edit")
    walk.visit("/admin/companies/new")
    walk.visit("/admin/users")
    walk.visit(Follow(r"/admin/users/\d+"))
    walk.visit("/admin/invitations")
    walk.visit("/admin/invitations/new")
    walk.visit("/admin/assignments")
    walk.visit("/admin/covers")
    walk.visit("/admin/products")
    walk.visit(Follow(r"/admin/products/\d+"))
    walk.visit("/admin/products/new")
    walk.visit("/admin/categories")
    walk.visit("/admin/price-lists")
    walk.visit(Follow(r"/admin/price-lists/\d+"))
    walk.visit("/admin/contract-prices")
    walk.visit("/admin/imports", screenshot="admin-imports")
    walk.visit("/admin/audit")
    walk.visit("/admin/api-keys", screenshot="admin-api-keys")
    walk.visit("/admin/agreements", screenshot="admin-agreements")
    for agreement in walk.links(r"/admin/agreements/\d+"):
        walk.visit(agreement, screenshot="admin-agreement")
        for form in walk.links(r"/admin/agreements/\d+/(edit|tiers)"):
            walk.visit(form, screenshot=f"admin-agreement-{form.rsplit('/', 1)[1]}")
    walk.visit("/admin/pipeline", screenshot="admin-pipeline")
    walk.visit("/admin/agreements/new")
    walk.page.get_by_role("button", name="Create the draft").tap()
    expect(walk.page.locator("#agreement-form .field-error").first).to_be_visible()
    walk.check_here("/admin/agreements/new with its errors")
    walk.visit("/queue")
    walk.visit(Follow(r"/queue/orders/\d+"))
    walk.visit("/finance")
    _report_pages(walk, "admin")
    walk.report("admin")


def test_a_desktop_keeps_the_menu_open(browser: Browser, base_url: str, screenshots: Path) -> None:
    context = browser.new_context(viewport=DESKTOP, base_url=base_url)
    try:
        page = context.new_page()
        sign_in(page, "buyer@vistula.example")
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.get_by_role("link", name="Statement", exact=True)).to_be_visible()
        expect(page.get_by_text("Menu", exact=True)).to_be_hidden()
        page.goto("/orders")
        page.screenshot(path=screenshots / "desktop-orders.png")
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    finally:
        context.close()
