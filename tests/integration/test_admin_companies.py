"""Admin → Companies over HTTP: the list (search, filters, sorting, pages, a constant number of
queries), creating and editing with every refusal shown next to its field, deactivation that
signs the company's buyers out at once, addresses (add, edit, default, retire or delete), the
audit entries written, and 403 for every other role."""

from __future__ import annotations

import re
from datetime import time
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, AuditEntry, Company, Order, PriceList, Role
from tests.factories import make_company, make_order, make_user, sign_in, text_of
from tests.queries import counted_statements

NIP_A, NIP_B = "5260001246", "1234563218"

FULL_FORM = {
    "name": "Hotel Baltic Sp. z o.o.",
    "tax_id": "PL 526-000-12-46",
    "payment_terms_days": "14",
    "currency": "pln",
    "general_discount_pct": "2,50",
    "po_number_required": "1",
    "auto_approve": "1",
    "margin_floor_pct": "12",
    "weekday_2": "1",
    "weekday_4": "1",
    "order_cutoff": "13:30",
    "min_order_value": "300",
    "delivery_fee": "25.00",
    "free_delivery_from": "1500",
}


async def csrf(client: AsyncTestClient) -> str:
    await client.get("/")
    return client.cookies.get("csrftoken") or ""


async def post(client: AsyncTestClient, path: str, data: dict[str, str] | None = None) -> Any:
    headers = {"x-csrftoken": await csrf(client)}
    return await client.post(path, data=data or {}, headers=headers, follow_redirects=False)


@pytest.fixture
async def admin(session: AsyncSession) -> Any:
    admin = await make_user(session, Role.ADMIN, email="ada@seller.example", full_name="Ada Admin")
    await session.commit()
    return admin


async def signed_in_admin(client: AsyncTestClient) -> None:
    assert (await sign_in(client, "ada@seller.example")).status_code == 303


def routes(company_id: int, address_id: int) -> tuple[list[str], list[str]]:
    base = f"/admin/companies/{company_id}"
    gets = ["/admin/companies", "/admin/companies/new", base, f"{base}/edit", f"{base}/addresses/{address_id}/edit"]
    posts = [
        "/admin/companies/new",
        f"{base}/edit",
        f"{base}/deactivate",
        f"{base}/reactivate",
        f"{base}/addresses",
        f"{base}/addresses/{address_id}/edit",
        f"{base}/addresses/{address_id}/default",
        f"{base}/addresses/{address_id}/retire",
    ]
    return gets, posts


async def test_buyers_account_managers_and_finance_get_403_on_every_company_route(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(session, account_manager_id=manager.id)
    address = Address(company_id=company.id, label="HQ", street="Długa 1", postal_code="00-001", city="Warszawa")
    session.add(address)
    users = [
        await make_user(session, company_id=company.id),
        manager,
        await make_user(session, Role.FINANCE),
    ]
    await session.commit()
    gets, posts = routes(company.id, address.id)
    for user in users:
        client.cookies.clear()
        assert (await sign_in(client, user.email)).status_code == 303
        for path in gets:
            assert (await client.get(path)).status_code == 403, (user.role, path)
        for path in posts:
            assert (await post(client, path, {"confirm": "yes", **FULL_FORM})).status_code == 403, (user.role, path)
    await session.refresh(company)
    assert company.is_active and await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_the_list_searches_filters_sorts_and_pages_in_a_constant_number_of_queries(
    client: AsyncTestClient, session: AsyncSession, admin: Any
) -> None:
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    zenon = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Zenon Zieliński")
    await make_company(session, name="Hotel Baltic", tax_id=NIP_A, account_manager_id=anna.id)
    await make_company(session, name="Bistro Mewa", tax_id=NIP_B, account_manager_id=zenon.id, is_active=False)
    await make_company(session, name="Apteka Centrum")
    await session.commit()
    await signed_in_admin(client)

    def names(html: str) -> list[str]:
        return re.findall(r'data-company="([^"]+)"', html)

    assert names((await client.get("/admin/companies")).text) == ["Apteka Centrum", "Bistro Mewa", "Hotel Baltic"]
    assert names((await client.get("/admin/companies?q=526000")).text) == ["Hotel Baltic"]
    assert names((await client.get("/admin/companies?q=MEWA")).text) == ["Bistro Mewa"]
    assert names((await client.get("/admin/companies?status=inactive")).text) == ["Bistro Mewa"]
    assert names((await client.get("/admin/companies?status=active")).text) == ["Apteka Centrum", "Hotel Baltic"]
    assert names((await client.get("/admin/companies?unassigned=true")).text) == ["Apteka Centrum"]
    assert names((await client.get(f"/admin/companies?manager={zenon.id}")).text) == ["Bistro Mewa"]
    by_manager = await client.get("/admin/companies?sort=manager&direction=desc")
    assert names(by_manager.text)[:2] == ["Bistro Mewa", "Hotel Baltic"]
    assert (await client.get("/admin/companies?status=nope")).status_code == 400

    with counted_statements(client.app) as few:
        assert (await client.get("/admin/companies")).status_code == 200
    for n in range(60):
        await make_company(session, name=f"Firma {n:02d}")
    await session.commit()
    with counted_statements(client.app) as many:
        first = await client.get("/admin/companies")
    assert len(many) == len(few), many
    assert len(names(first.text)) == 50 and "Page 1 of 2" in text_of(first.text)
    second = await client.get("/admin/companies?page=2")
    assert len(names(second.text)) == 13


async def test_creating_a_company_saves_every_field_and_audits_it(
    client: AsyncTestClient, session: AsyncSession, admin: Any
) -> None:
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    horeca = PriceList(name="Horeca", currency="PLN", code="HORECA")
    session.add(horeca)
    await session.commit()
    await signed_in_admin(client)
    form = await client.get("/admin/companies/new")
    assert form.status_code == 200 and "Anna Kowalska" in form.text and "Horeca" in form.text

    sent = {**FULL_FORM, "price_list_id": str(horeca.id), "account_manager_id": str(anna.id)}
    response = await post(client, "/admin/companies/new", sent)
    assert response.status_code == 303, text_of(response.text)
    company = await session.scalar(select(Company).where(Company.tax_id == "PL" + NIP_A))
    assert company is not None
    assert response.headers["location"] == f"/admin/companies/{company.id}"
    assert (company.name, company.payment_terms_days, company.currency) == ("Hotel Baltic Sp. z o.o.", 14, "PLN")
    assert (company.general_discount_pct, company.margin_floor_pct) == (Decimal("2.50"), Decimal("12.00"))
    assert company.po_number_required and company.auto_approve and company.is_active
    assert (company.price_list_id, company.account_manager_id) == (horeca.id, anna.id)
    assert (company.delivery_weekdays, company.order_cutoff) == ("24", time(13, 30))
    assert (company.min_order_value, company.delivery_fee, company.free_delivery_from) == (
        Decimal("300.00"),
        Decimal("25.00"),
        Decimal("1500.00"),
    )
    entry = await session.scalar(select(AuditEntry))
    assert entry is not None and (entry.action, entry.object_type, entry.company_id) == (
        "create",
        "company",
        company.id,
    )
    assert entry.changes["tax_id"] == [None, "PL" + NIP_A] and entry.changes["account_manager"] == [
        None,
        "anna@seller.example",
    ]

    page = text_of((await client.get(f"/admin/companies/{company.id}")).text)
    for shown in ("Hotel Baltic Sp. z o.o.", NIP_A, "Horeca", "Anna Kowalska", "13:30", "Tue, Thu", "Credit page"):
        assert shown in page
    assert "ada@seller.example" in page  # its own history


async def test_a_refused_form_shows_each_message_next_to_its_field_keeps_what_was_typed_and_saves_nothing(
    client: AsyncTestClient, session: AsyncSession, admin: Any
) -> None:
    await make_company(session, name="Pensjonat Mewa", tax_id=NIP_B)
    euro = PriceList(name="Export", currency="EUR")
    session.add(euro)
    await session.commit()
    await signed_in_admin(client)
    bad = {
        **FULL_FORM,
        "name": "Nowa Firma",
        "tax_id": "526-000-12-47",
        "weekday_2": "",
        "weekday_4": "",
        "delivery_fee": "-5",
        "free_delivery_from": "0",
        "general_discount_pct": "100",
        "payment_terms_days": "400",
        "price_list_id": str(euro.id),
    }
    response = await post(client, "/admin/companies/new", bad)
    assert response.status_code == 400
    html = response.text
    for field in (
        "tax_id",
        "delivery_weekdays",
        "delivery_fee",
        "free_delivery_from",
        "general_discount_pct",
        "payment_terms_days",
        "currency",
    ):
        assert f'id="{field}-error"' in html, field
    assert 'value="Nowa Firma"' in html and 'value="526-000-12-47"' in html and 'value="-5"' in html
    assert "EUR" in text_of(html)

    duplicate = await post(client, "/admin/companies/new", {**FULL_FORM, "tax_id": f"PL{NIP_B}"})
    assert duplicate.status_code == 400 and "Pensjonat Mewa" in text_of(duplicate.text)
    unreadable = await post(
        client, "/admin/companies/new", {**FULL_FORM, "payment_terms_days": "²", "order_cutoff": "25:99"}
    )
    assert unreadable.status_code == 400 and 'id="payment_terms_days-error"' in unreadable.text
    cutoff = await post(client, "/admin/companies/new", {**FULL_FORM, "order_cutoff": "25:99"})
    assert cutoff.status_code == 400 and 'id="order_cutoff-error"' in cutoff.text and 'value="25:99"' in cutoff.text
    assert await session.scalar(select(func.count()).select_from(Company)) == 1
    assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_editing_changes_only_what_was_changed_and_records_old_and_new(
    client: AsyncTestClient, session: AsyncSession, admin: Any
) -> None:
    company = await make_company(session, name="Hotel Baltic", tax_id=NIP_A, credit_limit=Decimal("5000.00"))
    await make_company(session, name="Bistro Mewa", tax_id=NIP_B)
    await session.commit()
    await signed_in_admin(client)
    form = await client.get(f"/admin/companies/{company.id}/edit")
    assert 'value="Hotel Baltic"' in form.text and 'name="weekday_5" value="1" checked' in form.text
    assert "Credit limit" in text_of(form.text)  # read-only: finance's

    changed = {"name": "Hotel Baltic", "tax_id": NIP_A, "payment_terms_days": "60", "currency": "PLN"}
    changed.update({f"weekday_{day}": "1" for day in "12345"}, allow_backorders="1")  # ticked, as the form shows it
    response = await post(
        client, f"/admin/companies/{company.id}/edit", {**changed, "min_order_value": "0", "delivery_fee": "0"}
    )
    assert response.status_code == 303
    await session.refresh(company)
    assert company.payment_terms_days == 60 and company.credit_limit == Decimal("5000.00")
    entry = await session.scalar(select(AuditEntry))
    assert entry is not None and entry.action == "update" and entry.changes == {"payment_terms_days": ["30", "60"]}

    taken = await post(client, f"/admin/companies/{company.id}/edit", {**changed, "tax_id": NIP_B})
    assert taken.status_code == 400 and "Bistro Mewa" in text_of(taken.text)
    assert (await client.get("/admin/companies/2147483647/edit")).status_code == 404
    assert (await post(client, "/admin/companies/2147483647/edit", changed)).status_code == 404


async def test_deactivating_a_company_signs_its_buyers_out_at_once_and_keeps_its_history(
    client: AsyncTestClient, session: AsyncSession, admin: Any
) -> None:
    company = await make_company(session, name="Hotel Baltic", tax_id=NIP_A)
    buyer = await make_user(session, company_id=company.id, email="bea@baltic.example")
    await make_order(session, company, gross="100.00", buyer=buyer)
    await session.commit()
    async with AsyncTestClient(client.app, base_url="http://portal.test") as buyer_client:
        assert (await sign_in(buyer_client, buyer.email)).status_code == 303
        assert (await buyer_client.get("/dashboard")).status_code == 200

        await signed_in_admin(client)
        unconfirmed = await post(client, f"/admin/companies/{company.id}/deactivate")
        assert unconfirmed.status_code == 400 and 'id="confirm-error"' in unconfirmed.text
        assert (await buyer_client.get("/dashboard")).status_code == 200

        done = await post(client, f"/admin/companies/{company.id}/deactivate", {"confirm": "yes"})
        assert done.status_code == 303
        sent_away = await buyer_client.get("/dashboard", follow_redirects=False)
        assert sent_away.status_code == 303 and sent_away.headers["location"].startswith("/login")
        assert (await sign_in(buyer_client, buyer.email)).status_code != 303

    page = await client.get(f"/admin/companies/{company.id}")
    assert "This company is inactive" in text_of(page.text) and "bea@baltic.example" in page.text
    assert (await post(client, f"/admin/companies/{company.id}/reactivate", {"confirm": "yes"})).status_code == 303
    await session.refresh(company)
    assert company.is_active
    actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["deactivate", "reactivate"]


async def test_addresses_are_added_edited_made_default_and_retired_or_deleted(
    client: AsyncTestClient, session: AsyncSession, admin: Any
) -> None:
    company = await make_company(session, name="Hotel Baltic", tax_id=NIP_A)
    await session.commit()
    await signed_in_admin(client)
    base = f"/admin/companies/{company.id}/addresses"
    dock = {"label": "Dock", "street": "Portowa 1", "postal_code": "80-001", "city": "Gdańsk", "country_code": "pl"}
    assert (await post(client, base, dock)).status_code == 303
    assert (await post(client, base, {**dock, "label": "Kitchen", "street": "Długa 5"})).status_code == 303
    first, second = list(await session.scalars(select(Address).order_by(Address.id)))
    assert (first.is_default, second.is_default, first.country_code) == (True, False, "PL")

    refused = await post(client, base, {**dock, "postal_code": "80001", "label": "Third"})
    assert refused.status_code == 400 and 'id="postal_code-error"' in refused.text and 'value="Third"' in refused.text
    foreign = await post(client, base, {**dock, "postal_code": "10115", "country_code": "DE", "label": "Berlin"})
    assert foreign.status_code == 303

    edited = await post(client, f"{base}/{second.id}/edit", {**dock, "label": "Kitchen door", "street": "Długa 5"})
    assert edited.status_code == 303
    assert (await post(client, f"{base}/{second.id}/edit", {**dock, "city": ""})).status_code == 400
    assert (await post(client, f"{base}/{second.id}/default")).status_code == 303
    await session.refresh(first)
    await session.refresh(second)
    assert (first.is_default, second.is_default, second.label) == (False, True, "Kitchen door")

    await make_order(session, company, gross="10.00")
    order_address = second.id
    await session.execute(update(Order).values(delivery_address_id=order_address))  # an order names it
    await session.commit()
    retired = await post(client, f"{base}/{second.id}/retire")
    assert retired.status_code == 303
    await session.refresh(second)
    await session.refresh(first)
    assert second.retired and not second.is_default and first.is_default  # used by an order: kept, retired
    assert (await post(client, f"{base}/{first.id}/retire")).status_code == 303
    deleted_id = first.id
    assert not await session.scalar(select(func.count()).select_from(Address).where(Address.id == deleted_id))
    remaining = list(await session.scalars(select(Address).where(Address.retired.is_(False))))
    assert [(a.label, a.is_default) for a in remaining] == [("Berlin", True)]
    assert (await post(client, f"{base}/{second.id}/default")).status_code in (303, 400)
    await session.refresh(second)
    assert not second.is_default

    page = text_of((await client.get(f"/admin/companies/{company.id}")).text)
    assert "retired" in page
    actions = list(
        await session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "address").order_by(AuditEntry.id)
        )
    )
    assert actions == ["create", "create", "create", "update", "default", "retire", "default", "delete", "default"]
    companies = set(await session.scalars(select(AuditEntry.company_id)))
    assert companies == {company.id}
    other = await make_company(session)
    await session.commit()
    assert (await client.get(f"/admin/companies/{other.id}/addresses/{second.id}/edit")).status_code == 404
