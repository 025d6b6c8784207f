"""The admin's start page says what needs attention; the audit trail lists and filters every
recorded change, and only admins see either."""

from __future__ import annotations

from datetime import timedelta

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import AccessToken, AuditEntry, Role, TokenPurpose
from portal.services import audit, customers
from tests.factories import add_list_price, make_company, make_price_list, make_product, make_user, sign_in, text_of


async def test_the_start_page_counts_what_needs_attention(client: AsyncTestClient, session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    await make_company(session, name="Unmanaged")
    listed = await make_product(session, sku="A-1", name="Listed")
    await make_product(session, sku="B-2", name="Unlisted")
    await add_list_price(session, await make_price_list(session), listed, "10.00")
    now = clock.now()
    for used in (None, now):
        session.add(
            AccessToken(
                purpose=TokenPurpose.INVITATION,
                token_hash=("a" if used is None else "b") * 64,
                email="new@buyer.example",
                role=Role.ADMIN,
                expires_at=now + timedelta(hours=72),
                used_at=used,
            )
        )
    await session.commit()
    await sign_in(client, admin.email)

    page = text_of((await client.get("/admin")).text)

    assert "1 invitation not yet accepted" in page
    assert "1 company has no account manager" in page
    assert "1 active product is on no price list" in page
    unpriced = text_of((await client.get("/admin/products", params={"status": "active", "unpriced": "true"})).text)
    assert "Unlisted" in unpriced and "Listed" not in unpriced.replace("Unlisted", "")
    unmanaged = text_of((await client.get("/admin/companies", params={"status": "active", "unassigned": "true"})).text)
    assert "Unmanaged" in unmanaged


async def test_the_trail_lists_and_filters_changes(client: AsyncTestClient, session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example")
    company = await make_company(session, name="Northwind Trading")
    await customers.reassign(session, admin, company.id, manager.id)
    await customers.add_note(session, manager, company.id, "Asked for a quote on towels.")
    await session.commit()
    await sign_in(client, admin.email)

    everything = text_of((await client.get("/admin/audit")).text)
    notes = text_of((await client.get("/admin/audit", params={"object_type": "note"})).text)
    by_company = text_of((await client.get("/admin/audit", params={"customer": company.id})).text)

    assert "2 entries" in everything
    assert "Company Northwind Trading reassigned" in everything and "– → anna@seller.example" in everything
    assert (
        "1 entry" in notes and "Asked for a quote on towels." in notes and "Northwind Trading reassigned" not in notes
    )
    assert "2 entries" in by_company
    assert "0 entries" in text_of((await client.get("/admin/audit", params={"customer": company.id + 1})).text)
    assert "1 entry" in text_of((await client.get("/admin/audit", params={"actor": "ADMIN@"})).text)
    assert (await client.get("/admin/audit", params={"customer": "99999999999"})).status_code == 400
    assert (await client.get("/admin/audit", params={"since": "2026-02-30"})).status_code == 400


async def test_only_admins_see_the_trail(client: AsyncTestClient, session: AsyncSession) -> None:
    for role in (Role.BUYER, Role.ACCOUNT_MANAGER, Role.FINANCE):
        user = await make_user(session, role)
        await session.commit()
        client.cookies.clear()
        await sign_in(client, user.email)
        assert (await client.get("/admin/audit")).status_code == 403, role


async def test_the_trail_is_append_only_in_the_database(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    entry = audit.record(session, admin, "update", "product", 1, "A-1", changes={"name": ["Old", "New"]})
    await session.commit()
    entry_id = entry.id
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        try:
            await session.execute(text(statement))
        except DBAPIError as refused:
            assert "append-only" in str(refused)
            await session.rollback()
        else:
            raise AssertionError(f"{statement} was allowed")
    assert (await session.get(AuditEntry, entry_id)) is not None
