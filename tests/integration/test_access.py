"""Who may open what: staff areas answer 403 to other roles; another company's
object answers 404, exactly as one that does not exist."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Role
from tests.factories import make_company, make_invoice, make_user, sign_in, text_of

PAGES = ["/dashboard", "/manager", "/finance", "/admin"]
ALLOWED = {
    Role.BUYER: {"/dashboard"},
    Role.ACCOUNT_MANAGER: {"/manager"},
    Role.FINANCE: {"/finance"},
    Role.ADMIN: {"/finance", "/admin"},
}


@pytest.mark.parametrize("role", list(Role))
async def test_role_matrix(client: AsyncTestClient, session: AsyncSession, role: Role) -> None:
    user = await make_user(session, role)
    await session.commit()
    await sign_in(client, user.email)
    for path in PAGES:
        response = await client.get(path, follow_redirects=False)
        expected = 200 if path in ALLOWED[role] else 403
        assert response.status_code == expected, f"{role.value} on {path}"
        if expected == 403:
            assert "This page is not available to your role." in response.text


@pytest.mark.parametrize("role", list(Role))
async def test_home_sends_each_role_to_its_own_page(client: AsyncTestClient, session: AsyncSession, role: Role) -> None:
    user = await make_user(session, role)
    await session.commit()
    await sign_in(client, user.email)
    response = await client.get("/", follow_redirects=False)
    assert (
        response.headers["location"]
        == {Role.BUYER: "/dashboard", Role.ACCOUNT_MANAGER: "/manager", Role.FINANCE: "/finance", Role.ADMIN: "/admin"}[
            role
        ]
    )


async def test_buyer_sees_own_invoice_and_never_another_companys(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    mine = await make_company(session, name="Northwind Trading")
    theirs = await make_company(session, name="Baltic Foods")
    buyer = await make_user(session, company_id=mine.id)
    own = await make_invoice(session, mine, gross="100.00", due=date(2026, 12, 1))
    foreign = await make_invoice(session, theirs, gross="200.00", due=date.today() - timedelta(days=1))
    await session.commit()
    await sign_in(client, buyer.email)

    assert (await client.get(f"/invoices/{own.id}")).status_code == 200
    other = await client.get(f"/invoices/{foreign.id}")
    missing = await client.get("/invoices/987654")
    assert other.status_code == missing.status_code == 404
    assert text_of(other.text) == text_of(missing.text)
    assert foreign.number not in other.text and "Baltic" not in other.text


async def test_staff_have_no_buyer_pages(client: AsyncTestClient, session: AsyncSession) -> None:
    company = await make_company(session)
    invoice = await make_invoice(session, company, gross="100.00", due=date(2026, 12, 1))
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    await session.commit()
    await sign_in(client, manager.email)
    assert (await client.get(f"/invoices/{invoice.id}")).status_code == 403


async def test_unknown_address_is_a_404_page(client: AsyncTestClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.text
