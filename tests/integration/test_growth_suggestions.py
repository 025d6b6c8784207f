"""Growth suggestions on the customer page's growth tab: the categories and products that similar customers buy
regularly (the dataset and its counts: `tests/unit/test_growth.py`), counts only, never the similar
customers' names; each with a "Create task" link whose form comes prefilled; a short line when
there is nothing to compare with; a constant number of queries; never shown to a buyer."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Role
from portal.services import report_summary
from tests.factories import make_company, make_user, sign_in, text_of
from tests.queries import counted_statements
from tests.unit.test_growth import REGULAR, TODAY, ZONE, GrowthData, buy, growth_dataset


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    """Anna manages the target; the similar customers are Piotr's (Anna does not see them)."""
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    data = await growth_dataset(session, account_manager_id=anna.id)
    for company in data.similar:
        company.account_manager_id = piotr.id
    newcomer = await make_company(session, name="Newcomer Deli", account_manager_id=anna.id)
    buyer = await make_user(session, company_id=data.target.id, email="buyer@target.example")
    await session.commit()
    return {"anna": anna, "data": data, "newcomer": newcomer, "buyer": buyer}


def section(html: str) -> str:
    return html.split('<section class="card" id="growth">')[1].split("</section>")[0]


def rows(html: str, kind: str) -> list[tuple[str, str]]:
    """(name, count) of each row of the section's table of `kind` ("category" or "product")."""
    table = section(html).split(f'id="growth-{kind}"')[1].split("</table>")[0]
    found = []
    for row in re.findall(r"<tr data-[a-z]+=\"\d+\">(.*?)</tr>", table, re.S):
        cells = [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        found.append((cells[0], cells[1]))
    return found


async def test_the_manager_sees_what_similar_customers_buy_with_counts_only(
    client: AsyncTestClient, world: dict[str, Any]
) -> None:
    data: GrowthData = world["data"]
    await sign_in(client, world["anna"].email)
    overview = await client.get(f"/customers/{data.target.id}")
    assert f'href="/customers/{data.target.id}/growth"' in overview.text and 'id="growth"' not in overview.text
    page = await client.get(f"/customers/{data.target.id}/growth")
    assert page.status_code == 200
    assert (await client.get(f"/customers/{data.similar[0].id}/growth")).status_code == 404  # Piotr's customer
    assert rows(page.text, "category") == [("Drinks", "3"), ("Coffee", "2")]
    assert rows(page.text, "product") == [("Cola Drinks", "3"), ("Butter Dairy", "2"), ("Espresso Coffee", "2")]
    shown = text_of(section(page.text))
    assert "From 3 customers with a similar purchase mix" in shown
    for company in [*data.similar, data.inactive, *data.tools]:
        assert company.name not in page.text
    assert "Tools" not in shown and "Hammer" not in shown and "Juice" not in shown

    links = re.findall(r'<a href="([^"]+)" class="growth-task">', section(page.text))
    assert len(links) == 5
    form = await client.get(unescape(links[0]))
    assert form.status_code == 200
    assert 'value="Offer Drinks: bought regularly by 3 similar customers"' in form.text
    assert f'<option value="{data.target.id}" selected>' in form.text
    product_form = await client.get(unescape(links[3]))
    assert 'value="Offer Butter: bought regularly by 2 similar customers"' in product_form.text


async def test_without_similar_customers_the_section_says_so_and_costs_the_same_queries(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    data: GrowthData = world["data"]
    await sign_in(client, world["anna"].email)
    newcomer = await client.get(f"/customers/{world['newcomer'].id}/growth")
    assert 'id="growth-none"' in section(newcomer.text) and "growth-task" not in newcomer.text
    assert "no customers with a similar purchase mix" in text_of(section(newcomer.text))

    path = f"/customers/{data.target.id}/growth"
    with counted_statements(client.app) as three:
        assert (await client.get(path)).status_code == 200
    for number in range(4):  # four more customers like S2
        company = await make_company(session, name=f"Another {number}")
        for product, net in (("Milk", "100.00"), ("Butter", "100.00"), ("Cola", "20.00")):
            await buy(session, company, data.products[product], net, REGULAR)
    await report_summary.refresh(session, TODAY, ZONE)
    await session.commit()
    with counted_statements(client.app) as seven:
        page = await client.get(path)
    assert rows(page.text, "product")[:2] == [("Cola Drinks", "7"), ("Butter Dairy", "6")]
    assert len(seven) == len(three) <= 6
    assert sum("report_category_mix" in statement for statement in seven) == 1


async def test_a_buyer_never_sees_growth_suggestions(client: AsyncTestClient, world: dict[str, Any]) -> None:
    data: GrowthData = world["data"]
    await sign_in(client, world["buyer"].email)
    assert (await client.get(f"/customers/{data.target.id}")).status_code == 403
    assert (await client.get(f"/customers/{data.target.id}/growth")).status_code == 403
    home = await client.get("/")
    assert home.status_code == 200 and "Growth suggestions" not in home.text
