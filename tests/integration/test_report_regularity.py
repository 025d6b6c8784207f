"""`/reports/regularity` as its readers see it, on the hand-computed dataset of
`tests/unit/test_regularity.py`: the table's figures, the churn-risk list with its reasons and the
follow-up task link, the chart, the sort order, the CSV in both Excel flavours parsed back to the
same numbers, an account manager's scope, and the same few queries for 3 customers as for 13."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.services import report_summary
from tests.factories import make_company, make_counted_order, sign_in, text_of
from tests.queries import counted_statements
from tests.report_data import ZONE
from tests.unit.test_regularity import TODAY, RegularityData, regularity_dataset

PERIOD = {"from": "2026-01", "to": "2026-12"}


async def committed_dataset(session: AsyncSession) -> RegularityData:
    data = await regularity_dataset(session)
    await session.commit()
    return data


def row_of(html: str, company_id: int, table: str = "regularity-rows") -> str:
    body = html.split(f'id="{table}"')[1]
    return text_of(body.split(f'data-company="{company_id}"')[1].split("</tr>")[0])


def risk_items(html: str) -> list[str]:
    body = html.split('id="churn-risk-list"')[1].split("</ul>")[0]
    return [text_of(item.split(">", 1)[1]).replace(" :", ":") for item in body.split("<li")[1:]]


def csv_of(content: bytes, delimiter: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


async def test_an_admin_reads_each_customer_s_regularity_and_the_churn_risks(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.admin.email)
    page = await client.get("/reports/regularity", params=PERIOD)
    assert page.status_code == 200, text_of(page.text)[:2000]
    html = page.text

    regular = row_of(html, data.regular.id)
    assert "Regular Hurt" in regular and "33.3 % 4 of 12" in regular
    assert "28.0 0.0" in regular and "27 Apr 2026 223 days ago 8.0" in regular
    assert regular.endswith("– PLN 0.00 / PLN 0.00 at risk")
    irregular = row_of(html, data.irregular.id)
    assert "50.0 % 6 of 12 42.0 42.0 30 Nov 2026 6 days ago 0.1" in irregular
    assert "-65.0 % PLN 1,400.00 / PLN 4,000.00 at risk" in irregular
    gamma = row_of(html, data.gamma.id)
    assert "8.3 % 1 of 12 – – 3 Nov 2026 33 days ago –" in gamma and "at risk" not in gamma
    assert "Delta Pending" not in html
    # most overdue first: 8.0, 0.1, then Gamma without a usual gap
    assert html.index(f'data-company="{data.regular.id}"', html.index('id="regularity-rows"')) < html.index(
        f'data-company="{data.irregular.id}"', html.index('id="regularity-rows"')
    )
    terms = text_of(html.split('id="regularity-terms"')[1].split("</p>")[0])
    assert "interquartile range" in terms and "p75 − p25" in terms
    assert "Sep 2026 – Nov 2026 against Jun 2026 – Aug 2026" in terms

    overdue, dropping = risk_items(html)
    assert overdue.startswith("Regular Hurt: no order for 223 days, more than 1.5 × the usual gap of 28.0 days")
    assert dropping.startswith(
        "Irregular Detal: revenue down 65.0 %: PLN 1,400.00 in the last 3 months against PLN 4,000.00 in the 3 before"
    )
    link = html.split('id="churn-risk-list"')[1].split('class="button" href="')[1].split('"')[0]
    target = urlsplit(link.replace("&amp;", "&"))
    assert target.path == "/tasks/new"
    assert parse_qs(target.query) == {
        "company_id": [str(data.regular.id)],
        "title": ["Call Regular Hurt: no order for 223 days"],
    }
    form = await client.get(link.replace("&amp;", "&"))
    assert form.status_code == 200 and 'value="Call Regular Hurt: no order for 223 days"' in form.text

    assert 'id="regularity-chart"' in html and "Customers ordering" in html and "Previous period" in html
    assert "Jan 2026 · Customers ordering: 2" in html and "Oct 2026 · Previous period: 1" in html


async def test_the_table_sorts_by_any_column_both_ways(client: AsyncTestClient, session: AsyncSession) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.admin.email)

    async def order(sort: str, desc: str) -> list[int]:
        html = (await client.get("/reports/regularity", params={**PERIOD, "sort": sort, "desc": desc})).text
        body = html.split('id="regularity-rows"')[1].split("</table>")[0]
        ids = [data.regular.id, data.irregular.id, data.gamma.id]
        return sorted(ids, key=lambda company_id: body.index(f'data-company="{company_id}"'))

    assert await order("since", "0") == [data.irregular.id, data.gamma.id, data.regular.id]
    assert await order("company", "1") == [data.regular.id, data.irregular.id, data.gamma.id]
    assert await order("trend", "1") == [data.irregular.id, data.gamma.id, data.regular.id]
    page = await client.get("/reports/regularity", params={**PERIOD, "sort": "share", "desc": "1"})
    assert "sort=share&amp;desc=0" in page.text  # the current column's heading turns it round
    assert (await client.get("/reports/regularity", params={"sort": "nonsense"})).status_code == 400


async def test_the_download_holds_the_table_s_numbers_in_both_flavours(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.admin.email)

    english = await client.get("/reports/regularity.csv", params={**PERIOD, "format": "excel"})
    assert english.status_code == 200 and english.headers["content-type"].startswith("text/csv")
    assert 'filename="regularity-2026-01-2026-12.csv"' in english.headers["content-disposition"]
    rows = csv_of(english.content, ",")
    assert [row["Company"] for row in rows] == ["Regular Hurt", "Irregular Detal", "Gamma Sklep"]
    regular, irregular, gamma = rows
    assert {key: regular[key] for key in list(regular)[3:14]} == {
        "Months with an order": "4",
        "Months": "12",
        "Share of months (%)": "33.3",
        "Median gap (days)": "28.0",
        "Spread p75 − p25 (days)": "0.0",
        "Last order": "2026-04-27",
        "Days since the last order": "223",
        "Days since ÷ median gap": "8.0",
        "Revenue, last 3 months": "0.00",
        "Revenue, 3 months before": "0.00",
        "Trend (%)": "",
    }
    assert regular["Churn risk"] == "no order for 223 days, more than 1.5 × the usual gap of 28.0 days"
    assert (irregular["Median gap (days)"], irregular["Spread p75 − p25 (days)"], irregular["Trend (%)"]) == (
        "42.0",
        "42.0",
        "-65.0",
    )
    assert (irregular["Revenue, last 3 months"], irregular["Revenue, 3 months before"]) == ("1400.00", "4000.00")
    assert irregular["Churn risk"].startswith("revenue down 65.0 %")
    assert (gamma["Median gap (days)"], gamma["Share of months (%)"], gamma["Churn risk"]) == ("", "8.3", "")

    polish = await client.get("/reports/regularity.csv", params={**PERIOD, "format": "excel_pl", "sort": "company"})
    rows = csv_of(polish.content, ";")
    assert [row["Company"] for row in rows] == ["Regular Hurt", "Irregular Detal", "Gamma Sklep"]  # Z–A: desc default
    assert (rows[1]["Share of months (%)"], rows[1]["Revenue, 3 months before"]) == ("50,0", "4000,00")


async def test_an_account_manager_sees_only_their_customers(client: AsyncTestClient, session: AsyncSession) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.piotr.email)
    page = await client.get("/reports/regularity", params=PERIOD)
    text = text_of(page.text)
    assert "Gamma Sklep" in text and "Regular Hurt" not in text and "Irregular Detal" not in text
    assert "No customer is at risk of leaving." in text
    download = await client.get("/reports/regularity.csv", params=PERIOD)
    assert "Gamma Sklep" in download.text and "Regular" not in download.text and "Irregular" not in download.text


async def test_the_page_costs_the_same_queries_for_three_customers_and_thirteen(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    data = await committed_dataset(session)
    await sign_in(client, data.admin.email)
    with counted_statements(client.app) as few:
        assert (await client.get("/reports/regularity", params=PERIOD)).status_code == 200
    for number in range(10):
        company = await make_company(session, name=f"More {number}", account_manager_id=data.anna.id)
        for month in (2, 5, 9):
            await make_counted_order(
                session, company, net="100.00", approved_at=datetime(2026, month, 3 + number, 10, tzinfo=UTC)
            )
    await report_summary.refresh(session, TODAY, ZONE)
    await session.commit()
    with counted_statements(client.app) as many:
        page = await client.get("/reports/regularity", params=PERIOD)
    assert page.text.count('data-company="', page.text.index('id="regularity-rows"')) == 13
    # The user with the session; the settings with the summary's freshness; the customers' months,
    # their order days, the customers with their last order.
    assert len(many) == len(few) == 5
