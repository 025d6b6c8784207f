"""The demo's recurring delivery: one worker pass orders it, the account manager is e-mailed and
approves it in the queue, and the next pass e-mails the buyer the decision."""

from __future__ import annotations

import subprocess
import sys

from playwright.sync_api import Page, expect

from portal.settings import PROJECT_ROOT
from tests.browser.test_sign_in import sign_in
from tests.smtp import Inbox, SmtpServer


def run_worker(env: dict[str, str], server: SmtpServer, base_url: str) -> None:
    subprocess.run([sys.executable, "-m", "portal.cli", "worker", "--once"], check=True, cwd=PROJECT_ROOT,
                   capture_output=True, env={**env, "PORTAL_SMTP_HOST": "127.0.0.1",
                                             "PORTAL_SMTP_PORT": str(server.port), "PORTAL_BASE_URL": base_url})


def test_the_demo_schedule_is_ordered_approved_and_the_buyer_told(page: Page, portal_env: dict[str, str], base_url: str) -> None:
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
