"""The CRM as an account manager works it, in one browser signed in once: a call logged on the
customer page joins its timeline, its follow-up is due today in My day and is marked done there;
an opportunity follows its quote from the offer, through the buyer's request for changes, to the
order that wins it; the search box in the navigation finds the manager's own customers and
nothing of a colleague's.

Piotr Nowak (manager2@seller.example) and his customers Mazovia Office Supplies and Silesia Build
(demo data): no other browser test touches their contacts, quotes or opportunities, their buyers
or Piotr's tasks and pipeline (the recurring test approves one of his Vistula orders; the agreements
test gives Silesia Build an agreement, whose prices the offer here does not depend on). Anna
Kowalska's Northwind Trading and Warta Clinics are the colleague's customers he must not find."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_quotes import CENT, QUOTE_NUMBER, amount, signed_in

MANAGER = "manager2@seller.example"
MANAGER_NAME = "Piotr Nowak"
CALLED = "Mazovia Office Supplies"
CONTACT = "Magda Mazur (Purchasing specialist)"
WON = "Silesia Build"
WON_BUYER = "buyer@silesia.example"
SKU = "CLN-021"
"""Floor cleaner, small: the line of the offer."""
PRODUCT = "Floor cleaner, small"
SELLER_ZONE = ZoneInfo("Europe/Warsaw")
ORDER_NUMBER = re.compile(r"ORD-\d{4}-\d+")


def seller_today() -> str:
    return datetime.now(SELLER_ZONE).date().isoformat()


@pytest.fixture(scope="module")
def manager(browser: Browser, base_url: str) -> Iterator[Page]:
    """Piotr, signed in once for every test of this file."""
    page = signed_in(browser, base_url, MANAGER)
    yield page
    page.context.close()


def open_customer(page: Page, name: str) -> int:
    """From the manager's home, the customer's page; its id."""
    page.get_by_role("link", name="Home", exact=True).click()
    page.get_by_role("link", name=name, exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    found = re.search(r"/customers/(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))


def test_a_call_its_follow_up_in_my_day_and_done(manager: Page) -> None:
    page = manager
    company_id = open_customer(page, CALLED)

    # --- the call, logged on the customer page, heads its timeline -------------------------------
    summary = "Magda is back from leave; the copy paper stock lasts until Friday."
    form = page.locator("#activity-form")
    form.get_by_label("Kind").select_option(label="Call")
    form.get_by_label("Contact").select_option(label=CONTACT)
    form.get_by_label("Summary").fill(summary)
    form.get_by_label("Outcome (optional)").fill("She orders on Thursday if the offer is in by then.")
    form.get_by_role("button", name="Log activity").click()
    expect(page).to_have_url(re.compile(rf"/customers/{company_id}#customer-timeline$"))
    expect(page.get_by_text("Activity logged.")).to_be_visible()
    latest = page.locator("#customer-timeline > li").first
    expect(latest).to_have_attribute("data-kind", "call")
    expect(latest).to_contain_text(f"Call with {CONTACT} by {MANAGER_NAME}")
    expect(latest.locator(".activity-summary")).to_have_text(summary)
    expect(latest.locator(".activity-outcome")).to_have_text(
        "Outcome: She orders on Thursday if the offer is in by then."
    )

    # --- the Activities filter shows the activities only, the call first -------------------------
    page.locator("#timeline-filters").get_by_role("link", name="Activities").click()
    expect(page.locator("#timeline-filters [aria-current=page]")).to_have_text("Activities")
    entries = page.locator("#customer-timeline > li")
    expect(entries.first.locator(".activity-summary")).to_have_text(summary)
    expect(page.locator("#customer-timeline > li:not(.timeline-activity)")).to_have_count(0)
    assert entries.count() >= 2  # the demo's earlier calls and the visit are there too

    # --- the follow-up: "New task" on the customer page, prefilled with the customer, due today --
    title = "Send Magda the copy paper offer"
    page.locator("#due").get_by_role("link", name="New task").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New task")
    form = page.locator("#task-form")
    expect(form.get_by_label("Customer", exact=True)).to_have_value(str(company_id))
    expect(form.get_by_label("Due date")).to_have_value(seller_today())
    expect(form.locator("#task-owner option:checked")).to_have_text(f"{MANAGER_NAME} (you)")
    form.get_by_label("What is to be done").fill(title)
    form.get_by_label("Contact (optional)").select_option(label="Magda Mazur, Purchasing specialist")
    form.get_by_role("button", name="Save the task").click()
    expect(page.get_by_text("Task saved.")).to_be_visible()
    task_url = page.url
    task_id = task_url.rsplit("/", 1)[1]
    assert task_id.isdigit(), task_url

    # --- My day on the manager's home: due today -------------------------------------------------
    page.get_by_role("link", name="Home", exact=True).click()
    today = page.locator("#my-day-today")
    row = today.locator(f"#task-row-{task_id}")
    expect(row).to_contain_text(title)
    expect(row).to_contain_text(CALLED)
    expect(page.locator(f"#my-day-overdue #task-row-{task_id}, #my-day-next #task-row-{task_id}")).to_have_count(0)

    # --- done there: htmx swaps the row, the page stays -----------------------------------------
    home = page.url
    page.evaluate("window.stayed = true")
    row.get_by_role("button", name=f"Mark “{title}” done").click()
    expect(row.locator(".task-status")).to_have_text("Done")
    expect(row.get_by_role("button", name="Undo")).to_be_visible()
    assert page.url == home and page.evaluate("window.stayed === true"), "the page was loaded again"

    # --- gone from My day; listed among the done tasks --------------------------------------------
    page.reload()
    expect(page.locator("#my-day")).to_be_visible()
    expect(page.locator(f"#task-row-{task_id}")).to_have_count(0)
    page.locator("#my-day").get_by_role("link", name="All my tasks").click()
    expect(page.locator(f"#task-list tr[data-task='{task_id}']")).to_have_count(0)  # open tasks only
    page.locator("#task-status-filter").get_by_role("link", name="Done").click()
    expect(page).to_have_url(re.compile(r"/tasks/?\?status=done$"))
    done = page.locator(f"#task-list tr[data-task='{task_id}']")
    expect(done).to_contain_text(title)
    expect(done.locator("td[data-label='About']")).to_have_text(CALLED)
    expect(done.locator("td[data-label='Closed']")).not_to_be_empty()


def test_an_opportunity_follows_its_quote_from_offer_to_won(manager: Page, browser: Browser, base_url: str) -> None:
    page = manager
    page.goto("/pipeline")
    won_before = int(page.locator("#stage-won .board-count").get_attribute("data-count") or "0")
    open_customer(page, WON)

    # --- the opportunity, from the customer page ---------------------------------------------------
    title = "Cleaning supplies for the Katowice sites"
    page.locator("#opportunities").get_by_role("link", name="New opportunity").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New opportunity")
    expect(page.locator("#opportunity-for")).to_have_text(f"For {WON}")
    page.get_by_label("Title").fill(title)
    page.get_by_label("Expected value, net (PLN)").fill("18000")
    close_on = (datetime.now(SELLER_ZONE).date() + timedelta(days=30)).isoformat()
    page.get_by_label("Expected close").fill(close_on)
    expect(page.locator("#owner_id option:checked")).to_have_text(MANAGER_NAME)
    page.get_by_role("button", name="Add opportunity").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.locator("#opportunity-stage")).to_have_text("Lead")
    expect(page.locator("#opportunity-for")).to_have_text(WON)
    opportunity_url = page.url
    assert re.search(r"/opportunities/\d+$", opportunity_url), opportunity_url

    # --- its offer: one line priced above the floor, version 1 sent ------------------------------
    page.get_by_role("button", name="New offer for this opportunity").click()
    expect(page.get_by_text(re.compile(r"Offer Q-\d{4}-\d+ started for this opportunity"))).to_be_visible()
    heading = page.get_by_role("heading", level=1).inner_text()
    number_found = QUOTE_NUMBER.search(heading)
    assert number_found, heading
    number = number_found.group()
    expect(page.locator("#quote-opportunity")).to_be_visible()
    page.get_by_label("SKU", exact=True).fill(SKU)
    page.get_by_label("Quantity", exact=True).fill("40")
    page.get_by_role("button", name="Add to the draft").click()
    line = page.locator(f"#editor-lines tr[data-sku='{SKU}']")
    expect(line).to_be_visible()
    cost = amount(line.locator("td").nth(3).inner_text())
    first_price = (cost * Decimal("1.6")).quantize(CENT)
    page.get_by_label(f"Offered unit price of {PRODUCT}", exact=True).fill(f"{first_price}")
    page.get_by_role("button", name="Save and send version 1").click()
    expect(page.locator("#quote-status")).to_have_text("Offer sent")
    page.locator("#quote-opportunity").get_by_role("link").click()
    expect(page).to_have_url(opportunity_url)
    expect(page.locator("#opportunity-stage")).to_have_text("Offer")
    expect(page.locator("#linked-quotes")).to_contain_text(number)

    # --- the buyer asks for changes: negotiation --------------------------------------------------
    buyer = signed_in(browser, base_url, WON_BUYER)
    try:
        buyer.get_by_role("link", name="Quotes", exact=True).click()
        buyer.get_by_role("link", name=re.compile(re.escape(number))).first.click()
        expect(buyer.locator("#quote-status")).to_have_text("Offer sent")
        quote_url = buyer.url
        buyer.get_by_text("Ask for changes", exact=True).click()
        target = (cost * Decimal("1.45")).quantize(CENT)
        buyer.get_by_label(f"New target price of {PRODUCT}", exact=True).fill(f"{target}")
        buyer.get_by_label("What would you like changed?").fill("For 40 cans we hoped for a little less.")
        buyer.get_by_role("button", name="Ask for a new version").click()
        expect(buyer.locator("#quote-status")).to_have_text("Changes requested")

        page.reload()
        expect(page.locator("#opportunity-stage")).to_have_text("Negotiation")

        # --- version 2, lower; the opportunity stays in negotiation -------------------------------
        page.locator("#linked-quotes").get_by_role("link", name=number).click()
        second_price = (cost * Decimal("1.5")).quantize(CENT)
        price = page.get_by_label(f"Offered unit price of {PRODUCT}", exact=True)
        expect(price).to_have_value(f"{first_price}")
        price.fill(f"{second_price}")
        page.get_by_role("button", name="Save and send version 2").click()
        expect(page.locator("#quote-status")).to_have_text("Offer sent")
        page.goto(opportunity_url)
        expect(page.locator("#opportunity-stage")).to_have_text("Negotiation")

        # --- the buyer accepts version 2: won, with its order ---------------------------------------
        buyer.goto(quote_url)
        expect(buyer.locator(f"#quote-lines tr[data-sku='{SKU}'] .line-price")).to_contain_text(f"{second_price:,.2f}")
        buyer.get_by_label("PO number").fill("PO-SILESIA-CLEAN")
        buyer.get_by_role("button", name="Accept version 2 and order").click()
        expect(buyer).to_have_url(re.compile(r"/orders/\d+$"))
        order_found = ORDER_NUMBER.search(buyer.get_by_role("heading", level=1).inner_text())
        assert order_found, buyer.get_by_role("heading", level=1).inner_text()
        order_number = order_found.group()
    finally:
        buyer.context.close()

    page.reload()
    expect(page.locator("#opportunity-stage")).to_have_text("Won")
    expect(page.locator("#won-order")).to_have_text(f"Won with order {order_number}")
    expect(page.locator("#won-order").get_by_role("link", name=order_number)).to_be_visible()
    expect(page.locator("#linked-quotes")).to_contain_text(order_number)
    expect(page.locator("#move")).to_have_count(0)  # won is final

    # --- its history, the latest first: each move, each with the quote that made it ---------------
    expect(page.locator("#moves > li")).to_have_count(4)
    expect(page.locator("#moves > li")).to_contain_text(
        [
            f"Negotiation → Won · quote {number} accepted",
            f"Offer → Negotiation · changes requested to quote {number}",
            f"Lead → Offer · quote {number} sent",
            f"Opened at “Lead” · {MANAGER_NAME}",
        ]
    )

    # --- the board counts it under won -------------------------------------------------------------
    page.get_by_role("link", name="‹ Pipeline").click()
    won = page.locator("#stage-won")
    expect(won.locator(".board-count")).to_have_attribute("data-count", str(won_before + 1))
    card = won.locator(".board-card", has_text=title)
    expect(card).to_contain_text(WON)
    expect(card).to_contain_text(f"order {order_number}")
    expect(page.locator("#board .board-card", has_text=title)).to_have_count(0)  # no longer open


def test_the_search_box_finds_own_customers_only(manager: Page) -> None:
    page = manager
    page.get_by_role("link", name="Home", exact=True).click()

    # --- Enter in the navigation's box: the search page, grouped ----------------------------------
    box = page.get_by_role("searchbox", name="Search customers, contacts, orders, quotes and invoices")
    box.fill("silesia")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/?\?q=silesia$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Search")
    expect(page.locator("#search-q")).to_have_value("silesia")
    customers = page.locator("#found-customers")
    expect(customers.get_by_role("heading")).to_have_text("Customers 1")
    expect(customers.get_by_role("link", name=WON)).to_be_visible()
    contacts = page.locator("#found-contacts li")
    expect(contacts.first).to_contain_text(WON)  # the people of Silesia Build, by their e-mail
    expect(page.locator(".search-group h2")).to_contain_text(["Customers", "Contacts"])

    # --- typing in the page's box: the results change, the page stays ------------------------------
    page.evaluate("window.stayed = true")
    query = page.locator("#search-q")
    query.fill("")
    query.press_sequentially("mazov", delay=50)
    expect(customers.get_by_role("link", name=CALLED)).to_be_visible()
    expect(customers.get_by_role("link", name=WON)).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/search/?\?q=mazov$"))
    assert page.evaluate("window.stayed === true"), "the page was loaded again"

    # --- a colleague's customer: nothing, whether typed or sent ------------------------------------
    query.fill("")
    query.press_sequentially("Northwind", delay=30)
    expect(page.locator("#no-results")).to_have_text("Nothing you can see matches “Northwind”.")
    expect(page.locator(".search-group")).to_have_count(0)
    box = page.get_by_role("searchbox", name="Search customers, contacts, orders, quotes and invoices")
    box.fill("Warta")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search/?\?q=Warta$"))
    expect(page.locator("#no-results")).to_have_text("Nothing you can see matches “Warta”.")
    expect(page.locator(".search-group")).to_have_count(0)
