"""Every text in its reader's language: pages in the browser's language until the user chooses one
on the account page, e-mails in each recipient's own, and codes (not sentences) in the database.

The catalog is translated separately, so these tests check formats, `lang` attributes and locale
codes rather than Polish words."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal import i18n
from portal.models import NotificationKind, OutboxMessage, Role, ScheduleOccurrence, User
from portal.services.credit_control import change_limit
from portal.services.recurring import NO_ORDER_IN_TIME, run_pass
from tests.factories import csrf_from, make_company, make_order, make_product, make_schedule, make_user, sign_in

POLISH = {"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"}
SUBMITTED = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)


def html_lang(page: str) -> str:
    found = re.search(r'<html lang="([a-z]+)"', page)
    assert found is not None
    return found.group(1)


async def a_buyer_with_an_order(session: AsyncSession, locale: str = "") -> tuple[User, int]:
    company = await make_company(session, name="Northwind Trading")
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example", locale=locale)
    order = await make_order(session, company, gross="1240.00", buyer=buyer, submitted_at=SUBMITTED)
    await session.commit()
    return buyer, order.id


async def test_a_polish_browser_without_a_choice_reads_polish_dates(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    _, order_id = await a_buyer_with_an_order(session)
    await sign_in(client, "nina@northwind.example")

    page = await client.get(f"/orders/{order_id}", headers=POLISH)

    assert page.status_code == 200
    assert html_lang(page.text) == "pl"
    assert "04.12.2026" in page.text
    assert "4 Dec 2026" not in page.text
    english = await client.get(f"/orders/{order_id}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert html_lang(english.text) == "en" and "4 Dec 2026" in english.text


async def test_a_user_who_chose_english_reads_english_in_a_polish_browser(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    _, order_id = await a_buyer_with_an_order(session, locale="en")
    await sign_in(client, "nina@northwind.example")

    page = await client.get(f"/orders/{order_id}", headers=POLISH)

    assert html_lang(page.text) == "en"
    assert "4 Dec 2026" in page.text and "04.12.2026" not in page.text


async def test_the_language_chosen_on_the_account_page_is_kept_and_spoken(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    buyer, _ = await a_buyer_with_an_order(session)
    await sign_in(client, "nina@northwind.example")
    dashboard = await client.get("/dashboard")
    assert 'href="/account/password"' in dashboard.text  # the way to the language form
    page = await client.get("/account/password")
    assert 'name="language" value="auto" checked' in page.text

    saved = await client.post(
        "/account/language", data={"language": "pl", "_csrf_token": csrf_from(page.text)}, follow_redirects=False
    )

    assert (saved.status_code, saved.headers["location"]) == (303, "/account/password")
    assert (
        await session.scalar(select(User.locale).where(User.id == buyer.id).execution_options(populate_existing=True))
        == "pl"
    )
    after = await client.get("/account/password", headers={"Accept-Language": "en"})
    assert html_lang(after.text) == "pl"
    assert 'name="language" value="pl" checked' in after.text

    automatic = await client.post(
        "/account/language", data={"language": "auto", "_csrf_token": csrf_from(after.text)}, follow_redirects=False
    )
    assert automatic.status_code == 303
    assert (
        await session.scalar(select(User.locale).where(User.id == buyer.id).execution_options(populate_existing=True))
        == ""
    )
    assert html_lang((await client.get("/account/password", headers={"Accept-Language": "en"})).text) == "en"


async def test_a_language_not_offered_is_refused_next_to_the_field(
    client: AsyncTestClient, session: AsyncSession
) -> None:
    buyer, _ = await a_buyer_with_an_order(session, locale="en")
    await sign_in(client, "nina@northwind.example")
    page = await client.get("/account/password")

    refused = await client.post("/account/language", data={"language": "de", "_csrf_token": csrf_from(page.text)})

    assert refused.status_code == 400
    assert 'id="language-error"' in refused.text
    assert (
        await session.scalar(select(User.locale).where(User.id == buyer.id).execution_options(populate_existing=True))
        == "en"
    )


async def test_each_recipient_of_one_event_reads_the_e_mail_in_their_own_language(session: AsyncSession) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example", locale="en")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    company = await make_company(
        session, name="Northwind Trading", account_manager_id=manager.id, credit_limit=Decimal("1000.00")
    )
    await make_user(session, company_id=company.id, email="nina@northwind.example", locale="pl")
    await session.commit()

    await change_limit(session, finance, company.id, Decimal("1000.00"), Decimal("1240.00"), "Pays on time")
    await session.commit()

    messages = {
        m.recipient: m
        for m in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == NotificationKind.CREDIT_CHANGED)
        )
    }
    polish, english = messages["nina@northwind.example"], messages["anna@seller.example"]
    with i18n.speaking("pl"):
        polish_amount = i18n.format_money(Decimal("1240.00"), "PLN")
    with i18n.speaking("en"):
        english_amount = i18n.format_money(Decimal("1240.00"), "PLN")
    assert polish_amount != english_amount
    assert (polish.locale, english.locale) == ("pl", "en")
    assert polish_amount in polish.subject and polish_amount in polish.body_text and polish_amount in polish.body_html
    assert english_amount in english.subject and english_amount in english.body_text
    assert english_amount not in polish.body_text and polish_amount not in english.body_text


async def test_a_missed_occurrence_keeps_a_code_and_each_e_mail_dates_it_in_its_reader_s_way(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example", locale="en")
    company = await make_company(session, account_manager_id=manager.id)
    buyer = await make_user(session, company_id=company.id, email="nina@northwind.example", locale="pl")
    product = await make_product(session)
    await make_schedule(session, company, [(product, 5)], created_by=buyer, first=date(2026, 12, 4))
    await session.commit()

    # No worker ran until after the delivery date: the occurrence is missed.
    await run_pass(async_sessionmaker(engine, expire_on_commit=False), date(2026, 12, 5))

    notes = list(await session.scalars(select(ScheduleOccurrence.note)))
    assert notes == [NO_ORDER_IN_TIME]
    told = {
        m.recipient: m
        for m in await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == NotificationKind.RECURRING_MISSED)
        )
    }
    assert told["nina@northwind.example"].locale == "pl" and "04.12.2026" in told["nina@northwind.example"].subject
    assert "04.12.2026" in told["nina@northwind.example"].body_text
    assert told["anna@seller.example"].locale == "en" and "4 Dec 2026" in told["anna@seller.example"].body_text
    assert NO_ORDER_IN_TIME not in told["anna@seller.example"].body_text  # the code, in words
