"""The profitability and cost-to-serve reports and the report settings over HTTP, on the
hand-computed dataset of `tests/report_data.py` (its numbers are in `tests/unit/test_profitability.py`):
what an admin and an account manager read, the ranking and its deciles, the CSV downloads parsed
back, the settings an admin changes (and nobody else), and a query count that does not grow with
the number of customers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import AuditEntry, Deputy, ReportSettings, SettlementPeriod
from portal.services import report_summary, reports
from tests.factories import csrf_from, make_agreement, make_company, make_counted_order, sign_in, text_of
from tests.queries import counted_statements
from tests.report_data import TODAY, ZONE, ReportData, small_dataset


@pytest.fixture
async def data(session: AsyncSession, frozen_clock: Any) -> ReportData:
    frozen_clock.moment = datetime(2026, 12, 6, 9, tzinfo=UTC)
    found = await small_dataset(session)
    await session.commit()
    return found


def rows_of(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"')[1].split("</table>")[0]
    return [text_of("<tr" + row) for row in body.split("<tr")[2:]]


def row_tags(html: str, table: str) -> list[str]:
    """Each body row's opening tag (its data and classes)."""
    body = html.split(f'id="{table}"')[1].split("</table>")[0]
    return [row.split(">", 1)[0] for row in body.split("<tr")[2:]]


def parsed(content: bytes, flavour: str) -> list[list[str]]:
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if flavour == "excel_pl" else ","))
    if flavour == "excel_pl":
        return [[cell.replace(",", ".") for cell in row] for row in rows]
    return rows


async def test_an_admin_reads_every_customers_profitability_ranked_by_net_margin(
    client: AsyncTestClient, data: ReportData
) -> None:
    await sign_in(client, data.admin.email)
    page = await client.get("/reports/profitability")
    assert page.status_code == 200, text_of(page.text)[:2000]
    alpha, beta, total = rows_of(page.text, "profitability-rows")
    assert alpha == (
        "Alpha Hurt top decile Anna Report PLN 1,500.00 -25.0 % PLN 450.00 30.0 % 2 PLN 750.00 PLN 3,500.00"
        " PLN 1,500.00 15.4 % PLN 155.29 PLN 11.57 10.0 PLN 318.43"
    )
    assert beta == (
        "Beta Detal bottom decile Piotr Report PLN 400.00 – PLN 120.00 30.0 % 1 PLN 400.00 PLN 400.00"
        " PLN 400.00 – PLN 0.00 PLN 0.00 – PLN 95.00"
    )
    assert total == (
        "Total 2 customers PLN 1,900.00 -5.0 % PLN 570.00 30.0 % 3 PLN 633.33 PLN 3,900.00 PLN 1,900.00"
        " 15.4 % PLN 155.29 PLN 11.57 10.0 PLN 413.43"
    )
    tags = row_tags(page.text, "profitability-rows")
    assert 'class="decile decile-top"' in tags[0] and 'class="decile decile-bottom"' in tags[1]
    shown = text_of(page.text)
    assert "8.0 % a year" in shown and "PLN 25.00 per order" in shown
    assert 'id="profitability-chart"' in page.text and "Revenue, previous period" in shown
    downloads = page.text.split('id="profitability-downloads"')[1].split("</p>")[0]
    assert "/reports/profitability.csv?from=2026-01&amp;to=2026-12&amp;sort=net_margin&amp;desc=true" in downloads
    heading = page.text.split('id="profitability-rows"')[1].split("</thead>")[0]
    assert 'href="/reports/profitability?from=2026-01&amp;to=2026-12&amp;sort=net_margin&amp;desc=false"' in heading
    assert 'href="/reports/profitability?from=2026-01&amp;to=2026-12&amp;sort=company&amp;desc=false"' in heading

    by_name = await client.get("/reports/profitability", params={"sort": "company", "desc": "false"})
    assert [row.split(" ")[0] for row in rows_of(by_name.text, "profitability-rows")] == ["Alpha", "Beta", "Total"]
    worst_first = await client.get("/reports/profitability", params={"sort": "net_margin", "desc": "false"})
    tags = row_tags(worst_first.text, "profitability-rows")
    assert 'data-company="Beta Detal"' in tags[0] and "decile-top" in tags[0] and "decile-bottom" in tags[1]
    # A period without today: Alpha's earlier year (the previous period holds nothing).
    earlier = await client.get("/reports/profitability", params={"from": "2025-01", "to": "2025-12"})
    assert rows_of(earlier.text, "profitability-rows")[0].startswith("Alpha Hurt top decile Anna Report PLN 2,000.00 –")


@pytest.mark.parametrize("flavour", ["excel", "excel_pl"])
async def test_the_downloads_hold_the_same_numbers(client: AsyncTestClient, data: ReportData, flavour: str) -> None:
    await sign_in(client, data.admin.email)
    download = await client.get(
        "/reports/profitability.csv",
        params={"format": flavour, "from": "2026-01", "to": "2026-12", "sort": "company", "desc": "false"},
    )
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "profitability-2026-01-2026-12.csv" in download.headers["content-disposition"]
    header, alpha, beta, total = parsed(download.content, flavour)
    assert header[:3] == ["Company", "Account manager", "Revenue"] and header[-2:] == ["Net margin", "Decile"]
    assert alpha == [
        "Alpha Hurt",
        "Anna Report",
        "1500.00",
        "-25.0",
        "450.00",
        "30.0",
        "2",
        "750.00",
        "3500.00",
        "1500.00",
        "15.4",
        "155.29",
        "11.57",
        "10.0",
        "318.43",
        "top decile",
    ]
    assert (
        beta[:3] == ["Beta Detal", "Piotr Report", "400.00"]
        and beta[3] == ""
        and beta[-2:] == ["95.00", "bottom decile"]
    )
    assert total[0] == "Total" and total[2] == "1900.00" and total[-2] == "413.43"

    costs = await client.get("/reports/cost-to-serve.csv", params={"format": flavour})
    assert costs.status_code == 200
    header, alpha, beta, total = parsed(costs.content, flavour)
    assert len(header) == len(alpha) == 21
    assert alpha == [
        "Alpha Hurt",
        "Anna Report",
        "2",
        "50.00",
        "1",
        "40.00",
        "0",
        "0.00",
        "1",
        "10.00",
        "100.00",
        "50.00",
        "1500.00",
        "450.00",
        "20.00",
        "0.00",
        "430.00",
        "28.7",
        "11.57",
        "318.43",
        "21.2",
    ]
    assert beta[0] == "Beta Detal" and beta[10] == "25.00" and beta[-1] == "23.8"
    assert total[0] == "Total" and total[10] == "125.00" and total[-2:] == ["413.43", "21.8"]


async def test_the_cost_to_serve_puts_the_lowest_net_margin_share_first(
    client: AsyncTestClient, data: ReportData
) -> None:
    await sign_in(client, data.admin.email)
    page = await client.get("/reports/cost-to-serve")
    assert page.status_code == 200, text_of(page.text)[:2000]
    alpha, beta, total = rows_of(page.text, "cost-rows")
    assert alpha == (
        "Alpha Hurt Anna Report 2 PLN 50.00 1 PLN 40.00 0 PLN 0.00 1 PLN 10.00 PLN 100.00 PLN 50.00 per order"
        " PLN 1,500.00 PLN 450.00 PLN 20.00 PLN 0.00 PLN 430.00 28.7 % PLN 11.57 PLN 318.43 21.2 %"
    )
    assert beta.startswith("Beta Detal Piotr Report 1 PLN 25.00") and beta.endswith("PLN 95.00 23.8 %")
    assert total.startswith("Total 2 customers 3 PLN 75.00") and total.endswith("PLN 413.43 21.8 %")
    assert 'id="cost-to-serve-chart"' in page.text and "Small deliveries" in text_of(page.text)
    assert "Net margin % ▲" in text_of(page.text.split('id="cost-rows"')[1].split("</thead>")[0])
    by_revenue = await client.get("/reports/cost-to-serve", params={"sort": "revenue", "desc": "true"})
    assert [row.split(" ")[0] for row in rows_of(by_revenue.text, "cost-rows")] == ["Alpha", "Beta", "Total"]


async def test_an_account_manager_reads_the_portfolio_and_covered_customers_marked(
    client: AsyncTestClient, session: AsyncSession, data: ReportData
) -> None:
    await sign_in(client, data.manager.email)
    for path in ("/reports/profitability", "/reports/cost-to-serve"):
        page = await client.get(path)
        assert page.status_code == 200 and "Beta Detal" not in page.text and "Piotr" not in page.text
        assert "Alpha Hurt" in page.text
    download = await client.get("/reports/profitability.csv")
    assert b"Beta" not in download.content and b"Alpha Hurt" in download.content
    table = rows_of((await client.get("/reports/profitability")).text, "profitability-rows")
    assert table[-1].startswith("Total 1 customer PLN 1,500.00 -25.0 %")

    session.add(
        Deputy(manager_id=data.colleague.id, deputy_id=data.manager.id, starts_on=TODAY, ends_on=date(2026, 12, 31))
    )
    await session.commit()
    covering = await client.get("/reports/cost-to-serve")
    beta = next(row for row in rows_of(covering.text, "cost-rows") if row.startswith("Beta"))
    assert beta.startswith("Beta Detal covered Piotr Report")


async def test_the_admin_changes_the_settings_and_the_reports_follow(
    client: AsyncTestClient, session: AsyncSession, data: ReportData
) -> None:
    await sign_in(client, data.admin.email)
    form = await client.get("/reports/settings")
    assert form.status_code == 200 and 'id="report-settings-form"' in form.text
    assert "Annual rate of trade credit (%)" in text_of(form.text) and 'value="8.00"' in form.text
    values = {
        "credit_rate_pct": "16",
        "order_cost": "25,00",
        "delivery_cost": "40.00",
        "quote_cost": "60",
        "approval_cost": "10",
        "_csrf_token": csrf_from(form.text),
    }
    saved = await client.post("/reports/settings", data=values)
    assert saved.status_code == 200 and "Report settings saved." in text_of(saved.text)
    assert "Last changed" in text_of(saved.text) and "Ada Admin" in text_of(saved.text)
    alpha = rows_of((await client.get("/reports/profitability")).text, "profitability-rows")[0]
    # 52,800.00 × 16 % ÷ 365 = 23.145 (twice 11.5726 before rounding); 450 − 20 − 23.15 − 100
    assert "PLN 23.15 10.0 PLN 306.85" in alpha

    def error(html: str, field: str) -> str:
        return text_of(html.split(f'id="{field}-error"')[1].split(">", 1)[1].split("</p>")[0])

    negative = await client.post("/reports/settings", data={**values, "order_cost": "-5", "credit_rate_pct": "101"})
    assert negative.status_code == 400 and 'value="-5"' in negative.text
    assert error(negative.text, "order_cost") == "Enter an amount of 0 or more."
    assert error(negative.text, "credit_rate_pct") == "Enter a percentage from 0 to 100."
    unreadable = await client.post("/reports/settings", data={**values, "quote_cost": "abc"})
    assert unreadable.status_code == 400 and error(unreadable.text, "quote_cost") == "Enter an amount such as 1250.00."
    session.expire_all()
    row = await session.get(ReportSettings, 1)
    assert row is not None and row.order_cost == Decimal("25.00") and row.credit_rate_pct == Decimal("16.00")
    entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "report_settings")))
    assert len(entries) == 1 and entries[0].changes == {"credit_rate_pct": ["8", "16"]}


async def test_only_an_admin_saves_the_settings(
    client: AsyncTestClient, session: AsyncSession, data: ReportData
) -> None:
    await sign_in(client, data.manager.email)
    page = await client.get("/reports/settings")
    assert page.status_code == 200 and 'id="report-settings-form"' not in page.text
    assert "8.0 %" in text_of(page.text) and "PLN 25.00" in text_of(page.text)
    values = {"credit_rate_pct": "50", "order_cost": "1", "delivery_cost": "1", "quote_cost": "1", "approval_cost": "1"}
    answer = await client.post("/reports/settings", data={**values, "_csrf_token": csrf_from(page.text)})
    assert answer.status_code == 403
    assert (await reports.settings(session)).credit_rate_pct == Decimal("8.00")


async def test_the_pages_cost_the_same_queries_for_two_customers_and_many(
    client: AsyncTestClient, session: AsyncSession, data: ReportData
) -> None:
    await make_agreement(session, data.beta, tiers=[("300.00", "5.00")], period=SettlementPeriod.YEAR)
    await session.commit()
    await sign_in(client, data.admin.email)
    paths = ("/reports/profitability", "/reports/cost-to-serve", "/reports/profitability.csv")
    few = {}
    for path in paths:
        with counted_statements(client.app) as statements:
            assert (await client.get(path)).status_code == 200
        few[path] = len(statements)
    for number in range(5):
        company = await make_company(session, name=f"Gamma {number}", account_manager_id=data.manager.id)
        await make_counted_order(session, company, net="100.00", approved_at=datetime(2026, 6, 1, 10, tzinfo=UTC))
        await make_agreement(session, company, tiers=[("50.00", "2.00")], period=SettlementPeriod.YEAR)
    await report_summary.refresh(session, TODAY, ZONE)
    await session.commit()
    for path in paths:
        with counted_statements(client.app) as statements:
            page = await client.get(path)
        assert page.status_code == 200 and "Gamma 4" in page.text
        assert len(statements) == few[path], path
    # The user with the session; the settings with the summary's freshness; every customer's
    # figures (the period, the previous one, lifetime and run rate) with the names and the months of
    # both periods; the agreements, their tiers and sales.
    assert few == {"/reports/profitability": 6, "/reports/cost-to-serve": 6, "/reports/profitability.csv": 6}


async def test_every_report_costs_at_most_six_statements_for_a_manager_covering_a_colleague(
    client: AsyncTestClient, session: AsyncSession, data: ReportData
) -> None:
    session.add(
        Deputy(manager_id=data.colleague.id, deputy_id=data.manager.id, starts_on=TODAY, ends_on=date(2026, 12, 31))
    )
    await make_agreement(session, data.beta, tiers=[("300.00", "5.00")], period=SettlementPeriod.YEAR)
    await session.commit()
    await sign_in(client, data.manager.email)
    # Beyond the user with the session and covers, and the settings with the freshness: the page's
    # own statements (profitability: the figures with names and months, the agreements, their
    # tiers and sales).
    pages = {
        "/reports": 2,
        "/reports/profitability": 6,
        "/reports/cost-to-serve": 6,
        "/reports/regularity": 5,
        "/reports/retention": 3,
        "/reports/managers": 5,
    }
    counted = {}
    for path in [*pages, *(f"{path}.csv" for path in pages if path != "/reports")]:
        with counted_statements(client.app) as statements:
            page = await client.get(path)
        assert page.status_code == 200, path
        counted[path] = len(statements)
    assert "Beta Detal" in (await client.get("/reports/profitability")).text  # the colleague's customer, covered
    assert counted == {**pages, **{f"{path}.csv": pages[path] for path in pages if path != "/reports"}}
