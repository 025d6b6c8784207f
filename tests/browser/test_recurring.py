"""The demo's recurring delivery: one worker pass orders it, the account manager is e-mailed and
approves it in the queue, and the next pass e-mails the buyer the decision. A buyer changes a
schedule of their own after seeing its new dates, adds a product to it and takes back a skip."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta

from playwright.sync_api import Page, expect

from portal.i18n import format_date
from portal.models import Company, Frequency
from portal.services.delivery import delivery_day_from
from portal.services.schedules import Rhythm, delivery_dates
from portal.settings import PROJECT_ROOT
from tests.browser.test_sign_in import sign_in
from tests.smtp import Inbox, SmtpServer


def run_worker(env: dict[str, str], server: SmtpServer, base_url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "portal.cli", "worker", "--once"],
        check=True,
        cwd=PROJECT_ROOT,
        capture_output=True,
        env={**env, "PORTAL_SMTP_HOST": "127.0.0.1", "PORTAL_SMTP_PORT": str(server.port), "PORTAL_BASE_URL": base_url},
    )


def test_the_demo_schedule_is_ordered_approved_and_the_buyer_told(
    page: Page, portal_env: dict[str, str], base_url: str
) -> None:
    server = SmtpServer()
    server.start()
    try:
        run_worker(portal_env, server, base_url)
        told = [m for m in server.inbox.to("manager2@seller.example") if "Weekly linen and amenities" in m["Subject"]]
        assert len(told) == 1
        link = next(word for word in Inbox.text(told[0]).split() if word.startswith(base_url))

        sign_in(page, "manager2@seller.example")
        page.goto(link)
        expect(page.get_by_text("Recurring delivery “Weekly linen and amenities”")).to_be_visible()
        confirm = page.get_by_label("I have reviewed these warnings")
        if confirm.count():
            confirm.check()
        page.get_by_role("button", name="Approve").first.click()
        expect(page.get_by_text("approved").first).to_be_visible()

        run_worker(portal_env, server, base_url)
        decision = [m for m in server.inbox.to("buyer@vistula.example") if m["Subject"].endswith("was approved")]
        assert len(decision) == 1 and "/orders/" in Inbox.text(decision[0])
    finally:
        server.stop()


def test_a_buyer_changes_the_rhythm_adds_a_product_and_undoes_a_skip(page: Page) -> None:
    sign_in(page, "buyer@carpathia.example")
    page.goto("/orders")
    page.locator("#orders tbody tr a").first.click()
    page.locator("#schedule-from-order").click()
    page.get_by_label("Name").fill("Carpathia restock")
    page.get_by_label("First delivery").fill((date.today() + timedelta(days=10)).isoformat())
    page.get_by_role("button", name="Show the next five deliveries").click()
    page.get_by_role("button", name="Save the recurring delivery").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Carpathia restock")
    schedule_url = page.url

    # monthly from a new date: the dates are shown before anything is saved
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("How often").select_option("monthly")
    anchor = date.today() + timedelta(days=17)
    page.get_by_label("First delivery under the new rhythm").fill(anchor.isoformat())
    page.get_by_role("button", name="Show the next five deliveries").click()
    days = delivery_dates(Rhythm(Frequency.MONTHLY, anchor, 1, anchor.day), anchor, 5)
    dates = [format_date(day) for day in days]  # a skipped delivery is named by its own date
    carpathia = Company(delivery_weekdays="12345")  # the demo delivers Monday to Friday: a weekend date moves on
    upcoming = [format_date(delivery_day_from(carpathia, day)) for day in days]
    expect(page.locator("#preview li")).to_contain_text(upcoming)  # each moved one says where from
    page.get_by_role("button", name="Save the changes").click()
    expect(page.get_by_text("Saved: the next delivery not yet ordered follows the new rhythm.")).to_be_visible()
    expect(page.locator("#upcoming li")).to_have_count(5)
    expect(page.locator("#upcoming li").first).to_contain_text(upcoming[0])

    # a product not yet on the schedule, by its SKU; 24 is whole packs of every demo pack size
    on_schedule = {row.get_attribute("data-sku") for row in page.locator("#schedule-lines tbody tr").all()}
    page.goto("/catalog")
    sku = next(
        sku
        for sku in (row.get_attribute("data-sku") for row in page.locator("tr[data-sku]").all())
        if sku not in on_schedule
    )
    page.goto(schedule_url)
    page.get_by_label("SKU").fill(sku.lower())  # type: ignore[union-attr]
    page.get_by_label("Quantity", exact=True).last.fill("24")
    page.get_by_role("button", name="Add a product").click()
    expect(page.get_by_text(f"{sku} added: 24 on each delivery")).to_be_visible()
    expect(page.locator(f"#schedule-lines tr[data-sku='{sku}'] input[name=quantity]")).to_have_value("24")

    # skip the second delivery, then take the skip back
    page.locator("#upcoming li").nth(1).get_by_role("button", name="Skip").click()
    expect(page.locator("#skipped li")).to_have_count(1)
    expect(page.locator("#skipped li")).to_contain_text(dates[1])
    page.get_by_role("button", name="Undo skip").click()
    expect(page.get_by_text("That delivery will be made after all.")).to_be_visible()
    expect(page.locator("#skipped")).to_have_count(0)
    expect(page.locator("#upcoming li").nth(1)).to_contain_text(upcoming[1])
