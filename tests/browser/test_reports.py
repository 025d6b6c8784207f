"""The reports under /reports as people use them in a browser, on the demo's three years of history:
an administrator finds them in the menu, reads the profitability ranking and its chart, picks
another period, sorts and downloads the table; changes the rate trade credit costs and sees the
explanation and the figures follow. Anna Kowalska (an account manager) sees only her customers,
turns a churn risk of the regularity report into a follow-up task, and sees only her own row among
the account managers.

Each person signs in once for the file. The rate is put back at the end; the task is Anna's own
(no other browser test counts her open tasks)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.test_quotes import signed_in

ADMIN = "admin@seller.example"
ANNA = "manager@seller.example"
ANNAS = {"Northwind Trading", "Baltic Foods", "Carpathia Catering", "Pomerania Retail", "Warta Clinics"}
PIOTRS = {"Vistula Hotels", "Mazovia Office Supplies", "Silesia Build"}
"""Some customers of each (demo data: `portal/demo.py` COMPANIES)."""


@pytest.fixture(scope="module")
def admin(browser: Browser, base_url: str) -> Iterator[Page]:
    page = signed_in(browser, base_url, ADMIN)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def anna(browser: Browser, base_url: str) -> Iterator[Page]:
    page = signed_in(browser, base_url, ANNA)
    yield page
    page.context.close()


def amount(text: str) -> Decimal:
    """A figure as the page shows it ("PLN 1,141,089.00", "-PLN 1,275.92", "8.6 %") as a number."""
    cleaned = re.sub(r"[^\d.\-]", "", text)
    return Decimal(cleaned)


def companies(rows: Locator) -> list[str]:
    return [name.strip() for name in rows.locator("td.company > a").all_inner_texts()]


def test_an_administrator_reads_the_profitability_ranking(admin: Page, tmp_path: Path) -> None:
    page = admin
    page.locator("#nav-reports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reports")
    expect(page.locator("#report-index > li")).to_have_count(5)
    page.locator("#report-index").get_by_role("link", name="Profitability").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Profitability")
    expect(page.locator("#report-tabs [aria-current=page]")).to_have_text("Profitability")

    # the last 12 months by default, every customer ranked by net margin, deciles marked
    rows = page.locator("#profitability-rows tbody tr[data-company]")
    assert rows.count() >= 10
    expect(rows.first.locator("td.revenue")).to_have_text(re.compile(r"^PLN\s[\d,]+\.\d\d$"))
    expect(page.locator("#profitability-rows tr[data-decile=top] .decile-marker").first).to_have_text("top decile")
    expect(page.locator("#profitability-rows tr[data-decile=bottom] .decile-marker").first).to_have_text(
        "bottom decile"
    )
    net = [amount(text) for text in rows.locator("td.net-margin").all_inner_texts()]
    assert net == sorted(net, reverse=True)

    # the chart: a drawing with axis labels and a legend, given room on the page
    chart = page.locator("#profitability-chart")
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100, box
    assert chart.locator("rect.chart-bar").count() > 0
    assert "0" in chart.locator("text.chart-tick").all_text_contents()
    expect(page.locator("#profitability-chart-legend li")).to_have_text(
        ["Revenue", "Gross margin", "Revenue, previous period"]
    )

    # another period: the first half of last year
    first_month = page.locator("#report-period input[name=from]").input_value()
    year = int(first_month[:4]) - 1
    page.locator("#report-period input[name=from]").fill(f"{year}-01")
    page.locator("#report-period input[name=to]").fill(f"{year}-06")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(rf"from={year}-01&to={year}-06"))
    expect(page.locator("#report-period-text")).to_contain_text(
        f"Jan {year} – Jun {year}, compared with Jul {year - 1} – Dec {year - 1}."
    )
    expect(chart.locator("text.chart-tick", has_text=f"Jan {year}")).to_have_count(1)
    assert rows.count() >= 5

    # sorted by revenue, largest first; the period is kept
    page.locator("#profitability-rows thead").get_by_role("link", name="Revenue", exact=True).click()
    expect(page).to_have_url(re.compile(rf"from={year}-01&to={year}-06&sort=revenue&desc=true"))
    expect(page.locator("#profitability-rows th[aria-sort=descending]")).to_contain_text("Revenue")
    revenue = [amount(text) for text in rows.locator("td.revenue").all_inner_texts()]
    assert revenue == sorted(revenue, reverse=True) and revenue[0] > 0

    # the download: the table's rows and the total, in the same order, with the same figures
    with page.expect_download() as download:
        page.locator("#profitability-downloads").get_by_role("link", name="Excel", exact=True).click()
    assert download.value.suggested_filename == f"profitability-{year}-01-{year}-06.csv"
    saved = tmp_path / "profitability.csv"
    download.value.save_as(saved)
    header, *lines = csv.reader(saved.read_text(encoding="utf-8-sig").splitlines())
    assert header[0] == "Company" and header[2] == "Revenue"
    table = page.locator("#profitability-rows tbody tr")
    assert len(lines) == table.count() == rows.count() + 1
    assert [line[0] for line in lines] == [*companies(rows), "Total"]
    assert [Decimal(line[2]) for line in lines] == [
        amount(text) for text in table.locator("td.revenue").all_inner_texts()
    ]


def test_anna_follows_up_a_churn_risk(anna: Page) -> None:
    page = anna
    page.locator("#nav-reports").click()
    page.locator("#report-tabs").get_by_role("link", name="Regularity").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Regularity")
    risk = page.locator("#churn-risk-list > li").first
    company = risk.locator("a").first.inner_text()
    assert company not in PIOTRS
    risk.get_by_role("link", name="Create follow-up task").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("New task")
    expect(page.locator("#task-company option:checked")).to_have_text(company)
    title = page.locator("#task-title").input_value()
    assert title.startswith(f"Call {company}: ")
    page.get_by_role("button", name="Save the task").click()
    expect(page.get_by_text("Task saved.")).to_be_visible()
    task = re.search(r"/tasks/(\d+)", page.url)
    assert task, page.url

    page.goto("/tasks")
    row = page.locator(f"#task-list tr[data-task='{task.group(1)}']")
    expect(row).to_contain_text(title)
    expect(row).to_contain_text(company)


def test_anna_sees_only_her_customers_and_her_own_row(anna: Page) -> None:
    page = anna
    page.goto("/reports/profitability")
    rows = page.locator("#profitability-rows tbody tr[data-company]")
    names = set(companies(rows))
    assert names >= ANNAS and not names & PIOTRS, names
    assert set(rows.locator("td.company .split").all_inner_texts()) == {"Anna Kowalska"}

    page.locator("#report-tabs").get_by_role("link", name="Account managers").click()
    expect(page.locator("#manager-rows tbody tr")).to_have_count(1)
    expect(page.locator("#manager-rows tbody td.name")).to_have_text("Anna Kowalska")
    expect(page.locator("#managers-chart text.chart-tick", has_text="Anna Kowalska")).to_have_count(1)
    expect(page.locator("#manager-report")).not_to_contain_text("Piotr Nowak")


def test_an_administrator_changes_the_credit_rate(admin: Page) -> None:
    page = admin
    page.goto("/reports/profitability")
    total = page.locator("#profitability-total td.credit-cost")
    before = amount(total.inner_text())
    rate = page.locator("#net-margin-explained")
    expect(rate).to_contain_text("× 8.0 % a year")

    page.locator("#net-margin-explained").get_by_role("link", name="Report settings").click()
    try:
        page.get_by_label("Annual rate of trade credit (%)").fill("12")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text("Report settings saved.")).to_be_visible()
        expect(page.locator("#settings-changed")).to_contain_text("by Ada Admin")

        page.goto("/reports/profitability")
        expect(rate).to_contain_text("× 12.0 % a year")
        after = amount(total.inner_text())
        assert abs(after - before * Decimal("1.5")) <= Decimal("0.30"), (before, after)  # rounded per customer
    finally:
        page.goto("/reports/settings")
        page.get_by_label("Annual rate of trade credit (%)").fill("8.00")
        page.get_by_role("button", name="Save settings").click()
        expect(page.get_by_text("Report settings saved.")).to_be_visible()
