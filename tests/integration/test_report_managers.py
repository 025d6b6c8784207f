"""The account managers report as its readers see it: finance every active manager with the
figures of `managers_dataset` (worked out in its docstring) and their totals, an account manager
only their own row, both CSV flavours parsed back to the same numbers, sorting, and the same
number of queries for two managers and for many."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Role
from tests.factories import make_company, make_counted_order, make_invoice, make_user, sign_in, text_of
from tests.queries import counted_statements
from tests.unit.test_manager_report import ManagersData, at, managers_dataset


def rows_of(html: str) -> list[str]:
    body = html.split('id="manager-rows"')[1].split("</tbody>")[0]
    return [text_of("<tr" + row) for row in body.split("<tr")[2:]]


def totals_of(html: str) -> str:
    return text_of(html.split('id="manager-totals">')[1].split("</tr>")[0])


def parsed(content: bytes, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=delimiter))


async def arranged(session: AsyncSession) -> ManagersData:
    data = await managers_dataset(session)
    await session.commit()
    return data


async def test_finance_sees_each_active_manager_and_the_totals(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Any
) -> None:
    data = await arranged(session)
    await sign_in(client, data.finance.email)
    page = await client.get("/reports/managers")
    assert page.status_code == 200
    anna, piotr = rows_of(page.text)
    assert anna == (
        "Anna Kowalska 3 PLN 4,500.00 PLN 3,000.00 50.0 % PLN 1,350.00 PLN 900.00 50.0 % 1 / 1 / 1 3 / 2 66.7 % 7.3 6.0 25.0 %"
    )
    assert piotr == "Piotr Nowak 1 PLN 1,000.00 PLN 0.00 – PLN 300.00 PLN 0.00 – 0 / 0 / 0 1 / 1 100.0 % 13.0 0.5 0.0 %"
    assert totals_of(page.text) == (
        "All account managers 4 PLN 5,500.00 PLN 3,000.00 83.3 % PLN 1,650.00 PLN 900.00 83.3 %"
        " 1 / 1 / 1 4 / 3 75.0 % 10.0 4.0 22.2 %"
    )
    assert "Olga" not in page.text and "Omega" not in page.text
    assert 'id="managers-chart"' in page.text
    assert "assigned to them today" in text_of(page.text)


async def test_an_account_manager_sees_only_their_own_row(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Any
) -> None:
    data = await arranged(session)
    await sign_in(client, data.anna.email)
    page = await client.get("/reports/managers")
    (row,) = rows_of(page.text)
    assert row.startswith("Anna Kowalska 3 PLN 4,500.00")
    assert "Piotr" not in page.text and 'id="manager-totals"' not in page.text
    download = await client.get("/reports/managers.csv", params={"format": "excel"})
    assert [line[0] for line in parsed(download.content, ",")] == ["Account manager", "Anna Kowalska"]


async def test_the_download_holds_the_same_numbers_in_both_flavours(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Any
) -> None:
    data = await arranged(session)
    await sign_in(client, data.admin.email)
    english = await client.get("/reports/managers.csv", params={"from": "2025-12", "to": "2026-11", "format": "excel"})
    assert english.status_code == 200
    assert "account-managers-2025-12-2026-11.csv" in english.headers["content-disposition"]
    header, anna, piotr = parsed(english.content, ",")
    assert header[:5] == ["Account manager", "Customers", "Revenue", "Revenue, previous period", "Revenue growth (%)"]
    assert anna == [
        "Anna Kowalska", "3", "4500.00", "3000.00", "50.0", "1350.00", "900.00", "50.0", "1", "1", "1",
        "3", "2", "66.7", "7.3", "6.0", "1000.00", "4000.00", "25.0",
    ]  # fmt: skip
    assert piotr == [
        "Piotr Nowak", "1", "1000.00", "0.00", "", "300.00", "0.00", "", "0", "0", "0",
        "1", "1", "100.0", "13.0", "0.5", "0.00", "500.00", "0.0",
    ]  # fmt: skip
    polish = await client.get(
        "/reports/managers.csv", params={"from": "2025-12", "to": "2026-11", "format": "excel_pl"}
    )
    rows = parsed(polish.content, ";")
    assert [[cell.replace(",", ".") for cell in row] for row in rows[1:]] == [anna, piotr]


async def test_the_table_sorts_by_a_figure_and_links_the_other_direction(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Any
) -> None:
    data = await arranged(session)
    await sign_in(client, data.finance.email)
    page = await client.get("/reports/managers", params={"sort": "approval_hours"})
    assert [row.split(" ")[0] for row in rows_of(page.text)] == ["Piotr", "Anna"]
    assert "sort=approval_hours&amp;desc=true" in page.text
    assert '<input type="hidden" name="sort" value="approval_hours">' in page.text  # the period form keeps it
    page = await client.get("/reports/managers", params={"sort": "revenue", "desc": "true"})
    assert [row.split(" ")[0] for row in rows_of(page.text)] == ["Anna", "Piotr"]
    assert (await client.get("/reports/managers", params={"sort": "nonsense"})).status_code == 400


async def test_the_page_costs_the_same_queries_for_two_managers_and_many(
    client: AsyncTestClient, session: AsyncSession, frozen_clock: Any
) -> None:
    data = await arranged(session)
    await sign_in(client, data.finance.email)
    with counted_statements(client.app) as few:
        assert (await client.get("/reports/managers")).status_code == 200
    for number in range(3):
        manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name=f"Manager {number}")
        for _ in range(2):
            company = await make_company(session, account_manager_id=manager.id)
            await make_counted_order(session, company, net="100.00", approved_at=at(2026, 4, 1))
            await make_invoice(session, company, gross="50.00", due=date(2026, 10, 1))
    await session.commit()
    with counted_statements(client.app) as many:
        page = await client.get("/reports/managers")
    assert len(rows_of(page.text)) == 5
    # The user with the session; the settings with the summary's freshness; the managers with their
    # portfolios' sales; the quotes with the decisions; the credit pictures.
    assert len(many) == len(few) == 5
