"""The customer page over HTTP: a refused note or reassignment shows the page again with
the message next to its field and what was typed, and saves nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import format_date
from portal.models import (
    Activity,
    ActivityKind,
    Company,
    Contact,
    CreditEvent,
    CreditEventKind,
    CustomerNote,
    Deputy,
    Opportunity,
    OrderEvent,
    OrderStatus,
    Quote,
    Role,
    Task,
    User,
)
from portal.services import customers, quotes
from portal.settings import Settings
from tests.factories import (
    csrf_from,
    make_agreement,
    make_company,
    make_order,
    make_product,
    make_user,
    sign_in,
    text_of,
)
from tests.queries import counted_statements


@pytest.fixture
async def world(session: AsyncSession) -> dict:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    other = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="fin@seller.example")
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    company = await make_company(
        session, name="Northwind Trading", account_manager_id=manager.id, credit_limit=Decimal("1000.00")
    )
    await session.commit()
    return {"manager": manager, "other": other, "finance": finance, "admin": admin, "company": company}


def error_of(html: str, element_id: str) -> str:
    return text_of(html.split(f'id="{element_id}-error"')[1].split("</p>")[0])


async def notes_of(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(CustomerNote)) or 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("x" * (customers.NOTE_MAX + 1), "Use at most 5,000 characters."),
        ("", "This field is required."),
        ("   ", "Write something first."),
        ("Called\x00 about it", "This text contains a character that cannot be saved."),
    ],
)
async def test_a_refused_note_is_shown_next_to_its_text_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, world: dict, body: str, message: str
) -> None:
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/customers/{world['company'].id}")
    refused = await client.post(
        f"/customers/{world['company'].id}/notes", data={"body": body, "_csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 400
    assert message in error_of(refused.text, "note")
    assert 'aria-describedby="note-error"' in refused.text
    if body.strip() and "\x00" not in body:
        assert f">{body}</textarea>" in refused.text  # what was typed is kept
    assert await notes_of(session) == 0


async def test_a_refused_edit_is_shown_at_that_note_with_the_text_typed(
    client: AsyncTestClient, session: AsyncSession, world: dict
) -> None:
    note = await customers.add_note(session, world["manager"], world["company"].id, "Promised payment by Friday.")
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = await client.get(f"/customers/{world['company'].id}")
    too_long = "y" * (customers.NOTE_MAX + 1)
    refused = await client.post(
        f"/customers/{world['company'].id}/notes/{note.id}",
        data={"body": too_long, "_csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 400
    assert "Use at most 5,000 characters." in error_of(refused.text, f"note-{note.id}")
    assert f">{too_long}</textarea>" in refused.text
    assert 'id="note-error"' not in refused.text  # the new-note form is not the one refused
    await session.refresh(note)
    assert note.body == "Promised payment by Friday."


async def test_only_the_author_edits_a_note(client: AsyncTestClient, session: AsyncSession, world: dict) -> None:
    note = await customers.add_note(session, world["manager"], world["company"].id, "Mine.")
    await session.commit()
    await sign_in(client, world["admin"].email)
    page = await client.get(f"/customers/{world['company'].id}")
    refused = await client.post(
        f"/customers/{world['company'].id}/notes/{note.id}",
        data={"body": "Theirs now.", "_csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 403
    assert "Only the author can change a note." in text_of(refused.text)
    await session.refresh(note)
    assert note.body == "Mine."


async def test_notes_of_unknown_customers_or_notes_are_404(
    client: AsyncTestClient, session: AsyncSession, world: dict
) -> None:
    note = await customers.add_note(session, world["manager"], world["company"].id, "Mine.")
    other = await make_company(session)
    await session.commit()
    await sign_in(client, world["manager"].email)
    csrf = csrf_from((await client.get(f"/customers/{world['company'].id}")).text)
    for path in [
        "/customers/987654/notes",
        f"/customers/{other.id}/notes/{note.id}",
        f"/customers/{world['company'].id}/notes/987654",
        "/customers/99999999999/notes",
        f"/customers/{world['company'].id}/notes/0",
    ]:
        response = await client.post(path, data={"body": "Hello", "_csrf_token": csrf})
        assert response.status_code == 404, path
    assert await notes_of(session) == 1


@pytest.mark.parametrize(
    ("manager_id", "message"),
    [
        ("finance", "Choose an active account manager."),
        ("987654", "Choose an active account manager."),
        ("abc", "Enter a whole number, in digits 0–9."),
        ("99999999999", "Enter at most 2,147,483,647."),
        ("", "This field is required."),
    ],
)
async def test_reassigning_to_anyone_but_an_active_account_manager_is_refused_by_the_field(
    client: AsyncTestClient, session: AsyncSession, world: dict, manager_id: str, message: str
) -> None:
    await sign_in(client, world["admin"].email)
    page = await client.get(f"/customers/{world['company'].id}")
    value = str(world["finance"].id) if manager_id == "finance" else manager_id
    refused = await client.post(
        f"/customers/{world['company'].id}/manager", data={"manager_id": value, "_csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 400
    assert message in error_of(refused.text, "manager_id")
    company = await session.scalar(
        select(Company).where(Company.id == world["company"].id).execution_options(populate_existing=True)
    )
    assert company is not None and company.account_manager_id == world["manager"].id


async def test_admin_reassigns_and_the_page_says_so(
    client: AsyncTestClient, session: AsyncSession, world: dict
) -> None:
    await sign_in(client, world["admin"].email)
    page = await client.get(f"/customers/{world['company'].id}")
    done = await client.post(
        f"/customers/{world['company'].id}/manager",
        data={"manager_id": str(world["other"].id), "_csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/customers/{world['company'].id}")
    assert "Northwind Trading is now managed by the chosen account manager." in text_of(
        (await client.get(done.headers["location"])).text
    )
    await session.refresh(world["company"])
    assert world["company"].account_manager_id == world["other"].id


async def test_links_follow_what_each_role_may_do(client: AsyncTestClient, world: dict) -> None:
    company_id = world["company"].id
    expected = {
        "manager": (True, False, False),
        "finance": (False, True, False),
        "admin": (True, True, True),
    }
    for who, (history, control, reassign) in expected.items():
        client.cookies.clear()
        await sign_in(client, world[who].email)
        html = (await client.get(f"/customers/{company_id}")).text
        assert (f'href="/customers/{company_id}/credit"' in html) is history, who
        assert (f'href="/finance/companies/{company_id}"' in html) is control, who
        assert ('id="reassign-form"' in html) is reassign, who


async def test_the_timeline_pages_are_typed(client: AsyncTestClient, world: dict) -> None:
    await sign_in(client, world["manager"].email)
    company_id = world["company"].id
    assert (await client.get(f"/customers/{company_id}?page=2")).status_code == 200
    for bad in ["0", "-1", "abc", "²", "99999999999"]:
        assert (await client.get(f"/customers/{company_id}?page={bad}")).status_code == 400, bad
    for bad in ["0", "99999999999", "987654"]:
        assert (await client.get(f"/customers/{bad}")).status_code == 404, bad


@pytest.fixture
async def cover(session: AsyncSession, world: dict, settings: Settings) -> dict:
    """Piotr covers Anna today: Northwind is his to see until the cover ends; Ola has nothing to do with it."""
    today = clock.today(settings.seller_zone)
    session.add(Deputy(manager_id=world["manager"].id, deputy_id=world["other"].id, starts_on=today, ends_on=today))
    bystander = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska", email="ola@seller.example")
    await session.commit()
    return {"deputy": world["other"], "bystander": bystander}


async def test_a_deputy_opens_every_page_of_a_covered_customer_and_a_bystander_none(
    client: AsyncTestClient, world: dict, cover: dict
) -> None:
    company_id = world["company"].id
    await sign_in(client, cover["deputy"].email)
    credit = await client.get(f"/customers/{company_id}/credit")
    assert credit.status_code == 200 and "Northwind Trading" in credit.text
    assert (await client.get(f"/customers/{company_id}")).status_code == 200
    assert (await client.get("/catalog/", params={"company": company_id})).status_code == 200

    client.cookies.clear()
    await sign_in(client, cover["bystander"].email)
    missing = await client.get("/customers/987654/credit")
    for path in [f"/customers/{company_id}/credit", f"/customers/{company_id}", f"/catalog/?company={company_id}"]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert text_of(response.text) == text_of(missing.text), path  # the same page as for no customer at all


async def test_a_note_for_another_manager_s_customer_is_404_and_nothing_is_stored(
    client: AsyncTestClient, session: AsyncSession, world: dict
) -> None:
    await sign_in(client, world["other"].email)
    csrf = csrf_from((await client.get("/manager")).text)
    response = await client.post(
        f"/customers/{world['company'].id}/notes", data={"body": "Peeked in.", "_csrf_token": csrf}
    )
    assert response.status_code == 404
    assert await notes_of(session) == 0


async def test_a_pending_order_raises_neither_revenue_nor_margin(
    client: AsyncTestClient, session: AsyncSession, world: dict
) -> None:
    company = world["company"]
    buyer = await make_user(session, company_id=company.id)
    recently = datetime.now(UTC) - timedelta(days=3)
    invoiced = await make_order(
        session, company, gross="1000.00", status=OrderStatus.INVOICED, buyer=buyer, submitted_at=recently
    )
    invoiced.counted_on = recently.date()  # counted from the day it was approved, as the reports count
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = (await client.get(f"/customers/{company.id}")).text
    before = text_of(page)
    assert "Revenue PLN 1,000.00, margin PLN 300.00" in before
    chart = page.split('id="rhythm-chart"')[1].split("</figure>")[0]
    assert chart.count("<rect") == 24  # revenue and margin for each of the 12 months
    assert "Revenue: PLN 1,000.00" in text_of(chart) and "Margin: PLN 300.00" in text_of(chart)
    assert text_of(chart.split('id="rhythm-chart-legend">')[1]) == "Revenue Margin"

    await make_order(session, company, gross="13683.00", buyer=buyer, submitted_at=recently)  # waits, over credit
    await session.commit()
    after = text_of((await client.get(f"/customers/{company.id}")).text)

    assert "Revenue PLN 1,000.00, margin PLN 300.00" in after


# --- quotes on the customer page -----------------------------------------------------------------


async def negotiated_quote(session: AsyncSession, world: dict, today: date, buyer: User | None = None) -> Quote:
    """A buyer's request, sent by Anna as version 1, then changes asked for with a comment."""
    company = world["company"]
    if buyer is None:
        buyer = await make_user(session, company_id=company.id, full_name="Nina Nowak", email="nina@northwind.example")
    await session.refresh(buyer, ["company"])
    product = await make_product(session, list_price=Decimal("20.0000"), cost=Decimal("10.0000"))
    quote = await quotes.request_quote(session, buyer, [quotes.WantedLine(50, product.id)], today=today)
    draft = quotes.draft_of(quote)
    assert draft is not None
    await quotes.save_draft(
        session,
        world["manager"],
        quote.id,
        quotes.DraftChanges(
            valid_until=today + timedelta(days=14),
            lines=[quotes.LineChange(draft.lines[0].id, unit_price=Decimal("15.00"))],
        ),
        today=today,
        margin_floor=Decimal("10"),
    )
    await quotes.send(session, world["manager"], quote.id, today=today, margin_floor=Decimal("10"))
    await quotes.ask_for_changes(session, buyer, quote.id, 1, "A little lower, please.", {}, today=today)
    await session.commit()
    return quote


async def test_two_alike_orders_of_one_day_both_count_in_the_rhythm(
    client: AsyncTestClient, session: AsyncSession, world: dict
) -> None:
    company = world["company"]
    buyer = await make_user(session, company_id=company.id)
    recently = datetime.now(UTC) - timedelta(days=3)
    for _ in range(2):
        order = await make_order(
            session, company, gross="1000.00", status=OrderStatus.INVOICED, buyer=buyer, submitted_at=recently
        )
        order.counted_on = recently.date()
    await session.commit()
    await sign_in(client, world["manager"].email)
    page = text_of((await client.get(f"/customers/{company.id}")).text)
    assert "Revenue PLN 2,000.00, margin PLN 600.00" in page


async def test_the_customer_page_shows_quote_moves_open_quotes_and_a_new_offer_button(
    client: AsyncTestClient, session: AsyncSession, world: dict, settings: Settings
) -> None:
    today = clock.today(settings.seller_zone)
    quote = await negotiated_quote(session, world, today)
    company_id = world["company"].id
    await sign_in(client, world["manager"].email)
    html = (await client.get(f"/customers/{company_id}")).text
    timeline = text_of(html.split('id="customer-timeline"')[1].split("</ol>")[0])
    assert f"Quote {quote.number}: changes requested by Nina Nowak: A little lower, please." in timeline
    assert f"Quote {quote.number} sent (v1) by Anna Kowalska" in timeline
    assert f"Quote {quote.number} requested by Nina Nowak" in timeline
    newest_first = [f"{quote.number}: changes", f"{quote.number} sent", f"{quote.number} requested"]
    assert [timeline.index(words) for words in newest_first] == sorted(timeline.index(w) for w in newest_first)
    assert f'href="/manage/quotes/{quote.id}"' in html

    listed = text_of(html.split('id="open-quotes"')[1].split("</table>")[0])
    valid_until = format_date(today + timedelta(days=14))
    assert f"{quote.number}/1" in listed and "Changes requested" in listed and valid_until in listed
    form = html.split('id="new-offer-form"')[1].split("</form>")[0]
    assert f'name="company_id" value="{company_id}"' in form and 'name="_csrf_token"' in form
    started = await client.post(
        "/manage/quotes", data={"company_id": str(company_id), "_csrf_token": csrf_from(html)}, follow_redirects=False
    )
    assert started.status_code == 303 and started.headers["location"].startswith("/manage/quotes/")
    again = text_of((await client.get(f"/customers/{company_id}")).text)
    assert "Draft" in again and "started by Anna Kowalska" in again

    client.cookies.clear()
    await sign_in(client, world["finance"].email)
    seen = (await client.get(f"/customers/{company_id}")).text
    assert 'id="open-quotes"' in seen and 'id="new-offer-form"' not in seen  # finance reads, never offers


async def test_the_customer_page_costs_the_same_queries_for_one_quote_and_many(
    client: AsyncTestClient, session: AsyncSession, world: dict, settings: Settings
) -> None:
    today = clock.today(settings.seller_zone)
    buyer = await make_user(session, company_id=world["company"].id, full_name="Nina Nowak")
    await negotiated_quote(session, world, today, buyer)
    await sign_in(client, world["manager"].email)
    path = f"/customers/{world['company'].id}"
    with counted_statements(client.app) as one:
        assert (await client.get(path)).status_code == 200
    for _ in range(5):
        await negotiated_quote(session, world, today, buyer)
    with counted_statements(client.app) as many:
        page = await client.get(path)
    assert page.text.count("timeline-quote") == 18 and text_of(page.text).count("Changes requested") == 6
    assert len(many) == len(one)


# --- what the page costs -------------------------------------------------------------------------


async def everything_once_more(session: AsyncSession, world: dict, today: date, number: int) -> None:
    """One more of each thing the customer page lists: a buyer, a contact, an order waiting with
    its move, a note, a call with an outcome, a credit change, an open task and an opportunity."""
    company, manager = world["company"], world["manager"]
    buyer = await make_user(session, company_id=company.id, full_name=f"Buyer {number}")
    moment = datetime.now(UTC) - timedelta(hours=number + 1)
    order = await make_order(session, company, gross="10.00", buyer=buyer, submitted_at=moment)
    session.add_all(
        [
            Contact(company_id=company.id, full_name=f"Contact {number}"),
            OrderEvent(order_id=order.id, company_id=company.id, at=moment, to_status=OrderStatus.PENDING_APPROVAL),
            CustomerNote(company_id=company.id, author_id=manager.id, body=f"Note {number}", created_at=moment),
            Activity(
                company_id=company.id,
                kind=ActivityKind.CALL,
                happened_at=moment,
                summary=f"Call {number}",
                outcome="Orders on Friday.",
                author_id=manager.id,
            ),
            CreditEvent(company_id=company.id, kind=CreditEventKind.HOLD, reason=f"Hold {number}", at=moment),
            Task(title=f"Task {number}", due_on=today, company_id=company.id, owner_id=manager.id),
            Opportunity(
                title=f"Opportunity {number}",
                company_id=company.id,
                expected_value=Decimal("100.00"),
                expected_close_on=today,
                owner_id=manager.id,
            ),
        ]
    )
    await session.commit()


@pytest.mark.parametrize("role", ["manager", "admin"])
async def test_the_customer_page_costs_at_most_six_statements_whatever_the_customer_s_size(
    client: AsyncTestClient, session: AsyncSession, world: dict, settings: Settings, role: str
) -> None:
    today = clock.today(settings.seller_zone)
    await make_agreement(session, world["company"], tiers=[("1000.00", "2")], valid_from=today.replace(month=1, day=1))
    await everything_once_more(session, world, today, 0)
    await sign_in(client, world[role].email)
    path = f"/customers/{world['company'].id}"
    with counted_statements(client.app) as small:
        assert (await client.get(path)).status_code == 200
    for number in range(1, 30):
        await everything_once_more(session, world, today, number)
    with counted_statements(client.app) as large:
        page = await client.get(path)
    shown = text_of(page.text)
    assert "Contact 29" in shown and "Buyer 29" in shown and "Task 29" in shown and "Opportunity 29" in shown
    assert page.text.split('id="customer-timeline"')[1].split("</ol>")[0].count("<li") == 20
    assert 'rel="next"' in page.text and 'id="agreement-standing"' in page.text
    assert len(large) == len(small) <= 6, large
