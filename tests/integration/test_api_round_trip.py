"""The ERP and the portal end to end, over HTTP: the ERP pushes a company with its address and
credit limit, the admin invites its buyer, the buyer orders, the account manager approves, the ERP
pulls the approved order, acknowledges it and posts its invoice, and the buyer's statement shows
the invoice."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import Company, Order, OrderStatus, Product, ProductCategory, Role
from portal.services.notifications import SmtpSender, deliver_pending
from portal.settings import Settings
from tests.factories import bearer, csrf_from, make_api_key, make_user, sign_in, text_of
from tests.integration.test_buying import add, checkout_form
from tests.smtp import Inbox

NIP = "PL5250001003"


async def test_a_company_from_the_erp_orders_and_its_invoice_comes_back(
    client: AsyncTestClient, session: AsyncSession, settings: Settings, engine: AsyncEngine, smtp_server: Any
) -> None:
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    session.add(ProductCategory(name="Glassware"))
    await session.commit()
    _, secret = await make_api_key(session, settings)
    erp = bearer(secret)

    # The ERP pushes the catalogue and the company, then its credit limit.
    product = await client.put(
        "/api/v1/products",
        json={"items": [{"sku": "GLS-6", "name": "Wine glasses", "category": "Glassware", "vat_rate": "23",
                         "list_price": "10.00", "cost": "6.00"}]},
        headers=erp,
    )  # fmt: skip
    assert product.status_code == 200, product.text
    pushed = await client.put(
        "/api/v1/companies",
        json={
            "items": [
                {
                    "name": "Hotel Bristol",
                    "tax_id": NIP,
                    "payment_terms_days": 14,
                    "account_manager_email": "anna@seller.example",
                    "addresses": [
                        {"label": "Kitchen", "street": "ul. Krakowskie Przedmieście 42", "postal_code": "00-325",
                         "city": "Warszawa", "default": True}
                    ],
                }
            ]
        },
        headers=erp,
    )  # fmt: skip
    assert pushed.status_code == 200, pushed.text
    limit = await client.post(
        f"/api/v1/companies/{NIP}/credit-limit",
        json={"credit_limit": "5000.00", "reason": "Agreed in the framework contract"},
        headers=erp,
    )
    assert limit.status_code == 200, limit.text
    company = await session.scalar(select(Company).where(Company.tax_id == NIP))
    assert company is not None and company.credit_limit == Decimal("5000.00")

    # The admin invites the company's buyer; the buyer follows the e-mailed link.
    assert (await sign_in(client, admin.email)).status_code == 303
    csrf = csrf_from((await client.get("/admin/invitations/new")).text)
    invited = await client.post(
        "/admin/invitations",
        data={"email": "chef@bristol.example", "full_name": "Celina Chef", "role": "buyer",
              "company_id": str(company.id), "_csrf_token": csrf},
    )  # fmt: skip
    assert invited.status_code == 200, text_of(invited.text)
    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example", base_url="http://portal.test")
    delivered = await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)
    assert delivered.sent == 2  # the invitation, and the new credit limit told to the account manager
    (mail,) = smtp_server.inbox.to("chef@bristol.example")
    link = re.search(r"http://portal\.test(/join/\S+)", Inbox.text(mail))
    assert link is not None
    client.cookies.clear()
    page = await client.get(link.group(1))
    joined = await client.post(
        link.group(1),
        data={"password": "a good password", "repeat_password": "a good password", "_csrf_token": csrf_from(page.text)},
    )
    assert joined.status_code == 200

    # The buyer orders.
    assert (await sign_in(client, "chef@bristol.example", "a good password")).status_code == 303
    glasses = await session.scalar(select(Product).where(Product.sku == "GLS-6"))
    assert glasses is not None
    await add(client, glasses.id, "6")
    submitted = await client.post("/checkout", data=await checkout_form(client), follow_redirects=False)
    assert submitted.status_code == 303, text_of(submitted.text)
    order = await session.scalar(select(Order).where(Order.company_id == company.id))
    assert order is not None and order.status is OrderStatus.PENDING_APPROVAL
    order_id, number = order.id, order.number

    # The account manager approves.
    client.cookies.clear()
    assert (await sign_in(client, "anna@seller.example")).status_code == 303
    review = await client.get(f"/queue/orders/{order_id}")
    approved = await client.post(
        f"/queue/orders/{order_id}/approve", data={"_csrf_token": csrf_from(review.text), "confirm_warnings": "yes"}
    )
    assert approved.status_code in (200, 303), text_of(approved.text)
    client.cookies.clear()

    # The ERP pulls the approved order, acknowledges it and posts its invoice.
    pulled = await client.get("/api/v1/orders", params={"status": "approved"}, headers=erp)
    assert pulled.status_code == 200, pulled.text
    (taken,) = pulled.json()["orders"]
    assert taken["number"] == number and taken["company_tax_id"] == NIP and taken["po_number"] == "PO-42"
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in taken["lines"]] == [("GLS-6", 6, "10.0000")]
    assert "Krakowskie" in taken["delivery_address"]
    acknowledged = await client.post(f"/api/v1/orders/{number}/export", headers=erp)
    assert acknowledged.status_code == 200 and acknowledged.json()["status"] == "exported"
    assert (await client.get("/api/v1/orders", params={"status": "approved"}, headers=erp)).json()["orders"] == []
    invoiced = await client.post(
        f"/api/v1/orders/{number}/invoice",
        json={"invoice_number": "FV/2026/12/001", "issue_date": "2026-12-06", "due_date": "2026-12-20",
              "gross": taken["gross_total"], "currency": "PLN"},
        headers=erp,
    )  # fmt: skip
    assert invoiced.status_code == 200, invoiced.text
    session.expire_all()
    assert await session.scalar(select(Order.status).where(Order.id == order_id)) is OrderStatus.INVOICED

    # The buyer's statement shows the invoice.
    assert (await sign_in(client, "chef@bristol.example", "a good password")).status_code == 303
    statement = text_of((await client.get("/statement")).text)
    assert "FV/2026/12/001" in statement
