"""Each role's home page shows the figures its people work with."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import format_date
from portal.models import Deputy, MessageStatus, NotificationKind, OutboxMessage, Role
from portal.services import schedules
from tests.factories import (
    csrf_from,
    make_company,
    make_invoice,
    make_product,
    make_schedule,
    make_user,
    sign_in,
    text_of,
)
from tests.queries import counted_statements


def seller_today() -> date:
    return clock.today(__import__("zoneinfo").ZoneInfo("Europe/Warsaw"))


async def test_buyer_home_shows_terms_credit_and_overdue_invoices(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    today = seller_today()
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    company = await make_company(
        session,
        name="Northwind Trading",
        payment_terms_days=30,
        credit_limit=Decimal("10000.00"),
        account_manager_id=manager.id,
    )
    buyer = await make_user(session, company_id=company.id)
    await make_invoice(session, company, gross="1500.00", paid="500.00", due=today - timedelta(days=3))
    await make_invoice(session, company, gross="2000.00", due=today + timedelta(days=10))
    await make_invoice(session, company, gross="900.00", paid="900.00", due=today - timedelta(days=60))
    await session.commit()
    await sign_in(client, buyer.email)

    page = text_of((await client.get("/dashboard")).text)

    assert "Payment terms 30 days" in page
    assert "Credit limit PLN 10,000.00" in page
    assert "Exposure PLN 3,000.00" in page
    assert "Available credit PLN 7,000.00" in page
    assert "PLN 1,000.00 3" in page  # the overdue balance and its days overdue
    assert "Anna Kowalska" in page
    assert "on hold" not in page and "past due" not in page


async def test_buyer_home_warns_when_on_hold_or_past_due(client: AsyncTestClient, session: AsyncSession) -> None:
    company = await make_company(session, on_hold=True, hold_reason="Returned direct debit")
    buyer = await make_user(session, company_id=company.id)
    await make_invoice(session, company, gross="400.00", due=seller_today() - timedelta(days=20))
    await session.commit()
    await sign_in(client, buyer.email)

    page = text_of((await client.get("/dashboard")).text)

    assert (
        "Your account is on hold. Orders cannot be submitted until it is released. Reason: Returned direct debit"
        in page
    )
    assert "Your account is past due. PLN 400.00 is overdue; the oldest invoice by 20 days." in page


async def test_manager_home_lists_only_assigned_companies(client: AsyncTestClient, session: AsyncSession) -> None:
    me = await make_user(session, Role.ACCOUNT_MANAGER)
    colleague = await make_user(session, Role.ACCOUNT_MANAGER)
    await make_company(session, name="Mine A", account_manager_id=me.id, payment_terms_days=14)
    late = await make_company(session, name="Mine B", account_manager_id=me.id, credit_limit=Decimal("1000.00"))
    await make_company(session, name="Not mine", account_manager_id=colleague.id)
    await make_invoice(session, late, gross="1200.00", due=seller_today() - timedelta(days=30))
    await session.commit()
    await sign_in(client, me.email)

    html = (await client.get("/manager")).text

    assert 'data-company="Mine A"' in html and 'data-company="Mine B"' in html
    assert "Not mine" not in html
    row_b = text_of(html.split('data-company="Mine B"')[1].split("</tr>")[0])
    assert "PLN 1,200.00" in row_b and "-PLN 200.00" in row_b and "Past due" in row_b
    assert "14 days" in text_of(html.split('data-company="Mine A"')[1].split("</tr>")[0])


async def test_a_deputy_s_home_lists_the_covered_customers_marked_as_covered(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    me = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    away = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak")
    back = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska")
    today = seller_today()
    session.add(Deputy(manager_id=away.id, deputy_id=me.id, starts_on=today - timedelta(days=1), ends_on=today))
    session.add(
        Deputy(
            manager_id=back.id, deputy_id=me.id, starts_on=today - timedelta(days=9), ends_on=today - timedelta(days=1)
        )
    )
    await make_company(session, name="Mine", account_manager_id=me.id)
    await make_company(session, name="Piotr's customer", account_manager_id=away.id)
    await make_company(session, name="Ola's customer", account_manager_id=back.id)  # that cover is over
    await session.commit()
    await sign_in(client, me.email)

    html = (await client.get("/manager")).text

    assert 'data-company="Mine"' in html and 'data-company="Piotr&#39;s customer"' in html
    mine = text_of(html.split('data-company="Mine"')[1].split("</tr>")[0])
    covered = text_of(html.split('data-company="Piotr&#39;s customer"')[1].split("</tr>")[0])
    assert "covered for" not in mine
    assert "covered for Piotr Nowak" in covered
    assert "Ola&#39;s customer" not in html and "Ola's customer" not in html


async def test_state_badges_say_over_limit_and_highly_utilised_never_good_standing(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    me = await make_user(session, Role.ACCOUNT_MANAGER)
    cases = {
        "Over": ("1000.00", "1500.00", seller_today() + timedelta(days=10)),  # above its limit, nothing overdue
        "Busy": ("1000.00", "850.00", seller_today() + timedelta(days=10)),  # 85 % used
        "Late": ("1000.00", "100.00", seller_today() - timedelta(days=2)),  # overdue within the grace period
        "Fine": ("1000.00", "100.00", seller_today() + timedelta(days=10)),
    }
    for name, (limit, gross, due) in cases.items():
        company = await make_company(session, name=name, account_manager_id=me.id, credit_limit=Decimal(limit))
        await make_invoice(session, company, gross=gross, due=due)
    await session.commit()
    await sign_in(client, me.email)

    html = (await client.get("/manager")).text

    def state(name: str) -> str:
        return text_of(html.split(f'data-company="{name}"')[1].split("</tr>")[0])

    assert "Over limit" in state("Over") and "Good standing" not in state("Over")
    assert 'class="num negative"' in html.split('data-company="Over"')[1].split("</tr>")[0]
    assert "Highly utilised" in state("Busy") and "Good standing" not in state("Busy")
    assert "2 days overdue" in state("Late")
    assert "Good standing" in state("Fine")


async def test_invoice_page_says_how_many_days_it_is_overdue(client: AsyncTestClient, session: AsyncSession) -> None:
    company = await make_company(session)
    buyer = await make_user(session, company_id=company.id)
    late = await make_invoice(session, company, gross="100.00", due=seller_today() - timedelta(days=5))
    paid = await make_invoice(session, company, gross="100.00", paid="100.00", due=seller_today() - timedelta(days=5))
    coming = await make_invoice(session, company, gross="100.00", due=seller_today() + timedelta(days=5))
    await session.commit()
    await sign_in(client, buyer.email)

    assert "Overdue by 5 days." in text_of((await client.get(f"/invoices/{late.id}")).text)
    assert "Paid in full." in text_of((await client.get(f"/invoices/{paid.id}")).text)
    assert "Overdue" not in text_of((await client.get(f"/invoices/{coming.id}")).text)
    for bad in ["0", "99999999999", "987654"]:
        assert (await client.get(f"/invoices/{bad}")).status_code == 404, bad


async def test_finance_home_sorts_by_utilisation(client: AsyncTestClient, session: AsyncSession) -> None:
    finance = await make_user(session, Role.FINANCE)
    for name, exposure in [("Alpha", "100.00"), ("Bravo", "900.00"), ("Charlie", "500.00")]:
        company = await make_company(session, name=name, credit_limit=Decimal("1000.00"))
        await make_invoice(session, company, gross=exposure, due=seller_today() - timedelta(days=1))
    await session.commit()
    await sign_in(client, finance.email)

    html = (await client.get("/finance?sort=utilisation&direction=desc")).text
    order = [name for name in ("Alpha", "Bravo", "Charlie")]
    positions = sorted(order, key=lambda name: html.index(f'data-company="{name}"'))
    assert positions == ["Bravo", "Charlie", "Alpha"]
    assert "90.0 %" in text_of(html)

    by_name = (await client.get("/finance")).text
    assert sorted(order, key=lambda name: by_name.index(f'data-company="{name}"')) == ["Alpha", "Bravo", "Charlie"]
    bogus = await client.get("/finance?sort=bogus&direction=sideways")
    assert bogus.status_code == 400  # an unknown sort is a 400 page that names the value
    assert "sort" in text_of(bogus.text)


async def test_admin_home_counts_what_the_portal_holds(client: AsyncTestClient, session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    await make_user(session, is_active=False)
    for _ in range(3):
        await make_product(session)
    await make_product(session, is_active=False)
    await session.commit()
    await sign_in(client, admin.email)

    page = text_of((await client.get("/admin")).text)

    assert "Customer companies 1" in page
    assert "Users 2 (1 active)" in page
    assert "Products 4 (3 active)" in page


async def test_admins_see_failed_and_interrupted_e_mails_and_send_one_again(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    admin = await make_user(session, Role.ADMIN)
    long_ago = clock.now() - timedelta(hours=2)

    def message(status: MessageStatus, subject: str) -> OutboxMessage:
        return OutboxMessage(
            kind=NotificationKind.ORDER_DECIDED,
            recipient="buyer@hotel.example",
            subject=subject,
            body_text="",
            body_html="",
            link="/orders/1",
            status=status,
            attempts=6,
            last_error="ConnectionRefusedError",
            claimed_at=long_ago,
            next_attempt_at=long_ago,
        )

    failed, interrupted, sending = (
        message(MessageStatus.FAILED, "Gave up"),
        message(MessageStatus.SENDING, "Cut off"),
        message(MessageStatus.SENDING, "On its way"),
    )
    sending.claimed_at = clock.now()
    session.add_all([failed, interrupted, sending, message(MessageStatus.SENT, "Arrived")])
    await session.commit()
    await sign_in(client, admin.email)

    html = (await client.get("/admin")).text
    page = text_of(html)
    assert "Gave up" in page and "Cut off" in page and "interrupted" in page
    assert "On its way" not in page and "Arrived" not in page
    assert (await client.post(f"/admin/messages/{interrupted.id}/send-again")).status_code == 403  # no CSRF token
    answer = await client.post(f"/admin/messages/{interrupted.id}/send-again", data={"_csrf_token": csrf_from(html)})
    assert "The e-mail to buyer@hotel.example is queued again." in text_of(answer.text)
    assert (
        await client.post(f"/admin/messages/{sending.id}/send-again", data={"_csrf_token": csrf_from(html)})
    ).status_code == 404
    for bad in ["987654", "0", "99999999999"]:
        missing = await client.post(f"/admin/messages/{bad}/send-again", data={"_csrf_token": csrf_from(html)})
        assert missing.status_code == 404, bad
    await session.refresh(interrupted)
    await session.refresh(sending)
    assert sending.status is MessageStatus.SENDING
    assert interrupted.status is MessageStatus.PENDING and interrupted.attempts == 0
    assert "Cut off" not in text_of((await client.get("/admin")).text)


@pytest.mark.parametrize("path", ["/finance", "/manager"])
async def test_company_lists_cost_the_same_queries_for_3_and_30_companies(
    client: AsyncTestClient, session: AsyncSession, path: str
) -> None:
    user = await make_user(session, Role.FINANCE if path == "/finance" else Role.ACCOUNT_MANAGER)
    await session.commit()
    await sign_in(client, user.email)

    async def statements_for(companies: int) -> int:
        for _ in range(companies):
            company = await make_company(session, account_manager_id=user.id if path == "/manager" else None)
            await make_invoice(session, company, gross="10.00", due=seller_today())
        await session.commit()
        with counted_statements(client.app) as statements:
            assert (await client.get(path)).status_code == 200
        return len(statements)

    few = await statements_for(3)
    many = await statements_for(27)
    assert few == many
    # the session with its user, the queue counter and the covers; the page's credit pictures, My day's
    # tasks; a manager's page adds the reorder rhythms and the quotes waiting for their offer
    assert many <= (3 if path == "/finance" else 6)


@pytest.mark.parametrize("path", ["/dashboard", "/schedules"])
async def test_next_deliveries_cost_the_same_queries_for_2_and_8_schedules(
    client: AsyncTestClient, session: AsyncSession, path: str
) -> None:
    company = await make_company(session)
    buyer = await make_user(session, company_id=company.id)
    product = await make_product(session)
    await session.commit()
    await sign_in(client, buyer.email)

    async def statements_for(count: int) -> tuple[int, str]:
        for _ in range(count):
            schedule = await make_schedule(
                session,
                company,
                [(product, 1)],
                first=seller_today() + timedelta(days=9),
                created_by=buyer,
                today=seller_today(),
            )
            skipped = await schedules.upcoming(session, schedule, 2)
            await schedules.skip(session, buyer, schedule.id, skipped[1])
        await session.commit()
        with counted_statements(client.app) as statements:
            page = await client.get(path)
            assert page.status_code == 200
        return len(statements), text_of(page.text)

    few, _ = await statements_for(2)
    many, page = await statements_for(6)
    assert few == many <= 6
    first, skipped = seller_today() + timedelta(days=9), seller_today() + timedelta(days=16)
    coming = await schedules.next_deliveries(session, company.id, 24)
    planned = {delivery.planned for delivery, _ in coming}
    assert len(coming) == 24 and skipped not in planned and first in planned
    assert format_date(next(delivery.day for delivery, _ in coming if delivery.planned == first)) in page
