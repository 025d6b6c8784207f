"""`/reports/retention` as its readers see it, on the hand-computed dataset of
`tests/unit/test_retention.py`: the cohorts × quarters table, the chart with a line per cohort,
the CSV in both Excel flavours parsed back to the same numbers, an account manager's scope, and
the same few queries for 5 customers as for 15."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.services import report_summary
from tests.factories import make_company, make_counted_order, sign_in, text_of
from tests.queries import counted_statements
from tests.report_data import ZONE
from tests.unit.test_retention import TODAY, RetentionData, retention_dataset

PERIOD = {"from": "2026-01", "to": "2026-11"}


async def committed_dataset(session: AsyncSession) -> RetentionData:
    data = await retention_dataset(session)
    await session.commit()
    return data


def cohort_row(html: str, quarter: str) -> str:
    body = html.split('id="retention-rows"')[1]
    return text_of(body.split(f'data-cohort="{quarter}"')[1].split("</tr>")[0].split(">", 1)[1])


def csv_of(content: bytes, delimiter: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


async def test_an_admin_reads_each_cohort_quarter_by_quarter(client: AsyncTestClient, session: AsyncSession) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.admin.email)
    page = await client.get("/reports/retention", params=PERIOD)
    assert page.status_code == 200, text_of(page.text)[:2000]
    html = page.text

    head = text_of(html.split('id="retention-rows"')[1].split("</thead>")[0].split(">", 1)[1])
    assert head == "Cohort Customers Q+0 Q+1 Q+2 Q+3 Q+4"
    assert cohort_row(html, "2026-01-01") == (
        "Q1 2026 3 100.0 % 3 of 3 PLN 1,300.00 33.3 % 1 of 3 PLN 500.00 "
        "33.3 % 1 of 3 PLN 300.00 33.3 % 1 of 3 PLN 400.00"
    )
    assert cohort_row(html, "2026-04-01") == (
        "Q2 2026 1 100.0 % 1 of 1 PLN 900.00 100.0 % 1 of 1 PLN 50.00 0.0 % 0 of 1 PLN 0.00"
    )
    assert cohort_row(html, "2025-10-01") == (  # before the period, within the 8 quarters up to its end
        "Q4 2025 1 100.0 % 1 of 1 PLN 600.00 100.0 % 1 of 1 PLN 100.00 0.0 % 0 of 1 PLN 0.00 "
        "0.0 % 0 of 1 PLN 0.00 0.0 % 0 of 1 PLN 0.00"
    )
    terms = text_of(html.split('id="retention-terms"')[1].split("</p>")[0])
    assert "a quarter from Q1 2025 to Q4 2026" in terms and "(Q+0, always 100 %)" in terms
    assert "up to Nov 2026 only" in terms and "most recent quarters" not in terms

    lines = html.split('id="retention-chart"')[1].split("</figure>")[0]
    assert lines.count("<polyline") == 3 and lines.count("<circle") == 5 + 4 + 3
    assert "Q+1 · Q1 2026: 33.3 %" in text_of(lines) and "Q+2 · Q2 2026: 0.0 %" in text_of(lines)
    assert text_of(lines.split('id="retention-chart-legend">')[1]) == "Q4 2025 Q1 2026 Q2 2026"
    assert "style=" not in html.split('id="retention"')[1]


async def test_the_download_holds_a_row_per_cohort_and_quarter_in_both_flavours(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.admin.email)

    english = await client.get("/reports/retention.csv", params={**PERIOD, "format": "excel"})
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/csv")
    assert 'filename="retention-2026-01-2026-11.csv"' in english.headers["content-disposition"]
    rows = csv_of(english.content, ",")
    assert [list(row.values()) for row in rows] == [
        ["2025-Q4", "1", "0", "2025-Q4", "1", "100.0", "600.00"],
        ["2025-Q4", "1", "1", "2026-Q1", "1", "100.0", "100.00"],
        ["2025-Q4", "1", "2", "2026-Q2", "0", "0.0", "0.00"],
        ["2025-Q4", "1", "3", "2026-Q3", "0", "0.0", "0.00"],
        ["2025-Q4", "1", "4", "2026-Q4", "0", "0.0", "0.00"],
        ["2026-Q1", "3", "0", "2026-Q1", "3", "100.0", "1300.00"],
        ["2026-Q1", "3", "1", "2026-Q2", "1", "33.3", "500.00"],
        ["2026-Q1", "3", "2", "2026-Q3", "1", "33.3", "300.00"],
        ["2026-Q1", "3", "3", "2026-Q4", "1", "33.3", "400.00"],
        ["2026-Q2", "1", "0", "2026-Q2", "1", "100.0", "900.00"],
        ["2026-Q2", "1", "1", "2026-Q3", "1", "100.0", "50.00"],
        ["2026-Q2", "1", "2", "2026-Q4", "0", "0.0", "0.00"],
    ]
    assert list(rows[0]) == [
        "Cohort",
        "Customers in the cohort",
        "Quarters since the first order",
        "Quarter",
        "Customers ordering",
        "Share (%)",
        "Revenue",
    ]

    polish = await client.get("/reports/retention.csv", params={**PERIOD, "format": "excel_pl"})
    rows = csv_of(polish.content, ";")
    assert [(row["Share (%)"], row["Revenue"]) for row in rows[5:7]] == [("100,0", "1300,00"), ("33,3", "500,00")]


async def test_an_account_manager_sees_only_their_customers_cohorts(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.piotr.email)
    page = await client.get("/reports/retention", params=PERIOD)
    html = page.text
    assert 'data-cohort="2026-04-01"' in html and 'data-cohort="2026-01-01"' not in html
    assert "PLN 1,300.00" not in text_of(html) and "Q1 2026 ·" not in text_of(html)
    download = await client.get("/reports/retention.csv", params={**PERIOD, "format": "excel"})
    assert [row["Cohort"] for row in csv_of(download.content, ",")] == ["2025-Q4"] * 5 + ["2026-Q2"] * 3


async def test_the_page_costs_the_same_queries_for_five_customers_and_fifteen(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.admin.email)
    with counted_statements(client.app) as few:
        assert (await client.get("/reports/retention", params=PERIOD)).status_code == 200
    for number in range(10):
        company = await make_company(session, name=f"Cohort {number}", account_manager_id=data.anna.id)
        for month in (4 + number % 2, 9):
            await make_counted_order(
                session, company, net="100.00", approved_at=datetime(2026, month, 3, 10, tzinfo=UTC)
            )
    await report_summary.refresh(session, TODAY, ZONE)
    await session.commit()
    with counted_statements(client.app) as many:
        page = await client.get("/reports/retention", params=PERIOD)
    assert "Q2 2026 11" in text_of(page.text)  # Fourth and the ten new ones who started in Apr or May
    # The user with the session; the settings with the summary's freshness; the customers' months.
    assert len(many) == len(few) == 3
