"""The pipeline over HTTP: the board with its counts, values and weighted value, the owner filter,
and every form of an opportunity — each refused input shown next to its field, nothing saved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import (
    Company,
    LostReason,
    Opportunity,
    OpportunityMove,
    OrderStatus,
    Prospect,
    Quote,
    QuoteStatus,
    Role,
    Stage,
    StageProbability,
    User,
)
from portal.services import quotes
from tests.factories import csrf_from, make_company, make_order, make_product, make_user, sign_in, text_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
LOST_REASONS = ("Price too high", "Chose a competitor", "No budget", "Delivery terms", "No answer", "Other")


@dataclass
class World:
    anna: User
    piotr: User
    finance: User
    admin: User
    baltyk: Company
    """Anna's customer."""
    neptun: Company
    """Piotr's customer."""
    reasons: dict[str, int]


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> World:
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, email="finance@seller.example")
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    baltyk = await make_company(session, name="Hotel Baltyk", account_manager_id=anna.id)
    neptun = await make_company(session, name="Hotel Neptun", account_manager_id=piotr.id)
    if not await session.scalar(select(func.count()).select_from(LostReason)):
        session.add_all(LostReason(label=label, position=n) for n, label in enumerate(LOST_REASONS))
        await session.flush()
    reasons = {reason.label: reason.id for reason in await session.scalars(select(LostReason))}
    await session.commit()
    return World(anna, piotr, finance, admin, baltyk, neptun, reasons)


async def add(
    session: AsyncSession,
    company: Company,
    owner: User,
    *,
    value: str = "1000.00",
    stage: Stage = Stage.LEAD,
    title: str = "Towels",
    close: date = TODAY + timedelta(days=30),
    changed: datetime = NOW,
    currency: str = "PLN",
) -> Opportunity:
    opportunity = Opportunity(
        company_id=company.id,
        title=title,
        expected_value=Decimal(value),
        currency=currency,
        expected_close_on=close,
        stage=stage,
        owner_id=owner.id,
        stage_changed_at=changed,
    )
    session.add(opportunity)
    await session.flush()
    return opportunity


def error_of(html: str, element_id: str) -> str:
    """The message shown next to a field (`<p id="…-error">`)."""
    assert f'id="{element_id}-error"' in html, f"no message next to {element_id}"
    return text_of(html.split(f'id="{element_id}-error"')[1].split("</p>")[0].split(">", 1)[1])


def section(html: str, element_id: str) -> str:
    return html.split(f'id="{element_id}"')[1].split(">", 1)[1].split("</section>")[0]


async def post(client: AsyncTestClient, page: str, target: str, data: dict[str, str]) -> Any:
    token = csrf_from((await client.get(page)).text)
    return await client.post(target, data={**data, "_csrf_token": token}, follow_redirects=False)


async def count(session: AsyncSession, model: Any) -> int:
    return await session.scalar(select(func.count()).select_from(model)) or 0


# --- a new opportunity ------------------------------------------------------------------------------


async def test_a_new_opportunity_is_added_from_the_customer_page_and_listed_there(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    await sign_in(client, world.anna.email)
    customer = (await client.get(f"/customers/{world.baltyk.id}")).text
    assert f'href="/opportunities/new?company_id={world.baltyk.id}"' in customer
    form = await client.get(f"/opportunities/new?company_id={world.baltyk.id}")
    assert form.status_code == 200 and "For Hotel Baltyk" in text_of(form.text)
    assert f'<option value="{world.anna.id}" selected>' in form.text  # the customer's manager by default
    data = {
        "company_id": str(world.baltyk.id),
        "title": "Spa towels for 2027",
        "expected_value": "12 000,50",
        "expected_close_on": "2027-01-15",
        "owner_id": str(world.anna.id),
    }
    made = await client.post(
        "/opportunities", data={**data, "_csrf_token": csrf_from(form.text)}, follow_redirects=False
    )
    assert made.status_code == 303
    opportunity = await session.scalar(select(Opportunity))
    assert opportunity is not None and made.headers["location"] == f"/opportunities/{opportunity.id}"
    page = text_of((await client.get(made.headers["location"])).text)
    assert "Opportunity “Spa towels for 2027” added as a lead." in page
    assert "Lead" in page and "PLN 12,000.50" in page and "Anna Kowalska" in page
    assert "Opened at “Lead” · Anna Kowalska" in page
    listed = text_of(section((await client.get(f"/customers/{world.baltyk.id}")).text, "opportunities"))
    assert "Spa towels for 2027 Lead PLN 12,000.50 15 Jan 2027 Anna Kowalska" in listed


async def test_a_refused_new_opportunity_shows_each_message_next_to_its_field_and_saves_nothing(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    await sign_in(client, world.anna.email)
    page = f"/opportunities/new?company_id={world.baltyk.id}"
    good = {
        "company_id": str(world.baltyk.id),
        "title": "Spa towels",
        "expected_value": "1000",
        "expected_close_on": "2026-12-31",
    }
    cases = [
        ({"title": ""}, "title", "This field is required."),
        ({"title": "   "}, "title", "Give the opportunity a title."),
        ({"title": "x" * 201}, "title", "Use at most 200 characters."),
        ({"expected_value": "-5"}, "expected_value", "The expected value cannot be negative."),
        ({"expected_value": "lots"}, "expected_value", "Enter an amount such as 1250.00."),
        ({"expected_value": "100000000000.01"}, "expected_value", "Enter at most 100,000,000,000."),
        ({"expected_close_on": "2026-10-27"}, "expected_close_on", "at most 30 days in the past"),
        ({"expected_close_on": "2029-11-28"}, "expected_close_on", "at most three years ahead"),
        ({"expected_close_on": "27.11.2026"}, "expected_close_on", "Enter the date as YYYY-MM-DD."),
        ({"owner_id": str(world.finance.id)}, "owner_id", "Choose an active account manager."),
    ]
    for changes, field, message in cases:
        refused = await post(client, page, "/opportunities", good | changes)
        assert refused.status_code == 400, changes
        assert message in error_of(refused.text, field), changes
        assert "For Hotel Baltyk" in text_of(refused.text)
    kept = await post(client, page, "/opportunities", good | {"title": "Keep me", "expected_value": "-1"})
    assert 'value="Keep me"' in kept.text  # what was typed is kept
    assert await count(session, Opportunity) == 0


async def test_a_customer_or_prospect_the_user_does_not_see_is_not_found(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    theirs = await add(session, world.neptun, world.piotr)
    await session.commit()
    await sign_in(client, world.anna.email)
    assert (await client.get(f"/opportunities/new?company_id={world.neptun.id}")).status_code == 404
    assert (await client.get("/opportunities/new")).status_code == 404
    assert (await client.get(f"/opportunities/{theirs.id}")).status_code == 404
    data = {
        "company_id": str(world.neptun.id),
        "title": "Mine now",
        "expected_value": "1",
        "expected_close_on": "2026-12-31",
    }
    assert (await post(client, "/pipeline", "/opportunities", data)).status_code == 404
    moved = await post(client, "/pipeline", f"/opportunities/{theirs.id}/move", {"stage": "qualified", "version": "1"})
    assert moved.status_code == 404
    assert (await session.get(Opportunity, theirs.id, populate_existing=True)).stage is Stage.LEAD  # type: ignore[union-attr]


# --- one opportunity's forms ------------------------------------------------------------------------


async def test_the_edit_form_saves_refuses_next_to_the_field_and_tells_a_stale_form(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    opportunity = await add(session, world.baltyk, world.anna, title="Towels", value="1000.00")
    await session.commit()
    await sign_in(client, world.anna.email)
    page = f"/opportunities/{opportunity.id}"
    shown = (await client.get(page)).text
    assert 'id="edit-title" name="title"' in shown and 'value="1000.00"' in shown
    terms = {"title": "Towels and robes", "expected_value": "2500", "expected_close_on": "2027-02-01", "version": "1"}
    saved = await post(client, page, f"{page}/edit", terms)
    assert saved.status_code == 303
    after = text_of((await client.get(page)).text)
    assert "Opportunity saved." in after and "Towels and robes" in after and "PLN 2,500.00" in after
    refused = await post(client, page, f"{page}/edit", terms | {"version": "2", "expected_value": "-3"})
    assert refused.status_code == 400
    assert error_of(refused.text, "edit-expected_value") == "The expected value cannot be negative."
    stale = await post(client, page, f"{page}/edit", terms | {"version": "1", "title": "Too late"})
    assert stale.status_code == 409
    assert "Someone changed this opportunity meanwhile" in error_of(stale.text, "edit-form")
    await session.refresh(opportunity)
    assert (opportunity.title, opportunity.version) == ("Towels and robes", 2)


async def test_the_move_form_moves_and_refuses_won_without_an_order_and_lost_without_a_reason(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    opportunity = await add(session, world.baltyk, world.anna)
    order = await make_order(session, world.baltyk, gross="1500.00", status=OrderStatus.APPROVED)
    await session.commit()
    await sign_in(client, world.anna.email)
    page = f"/opportunities/{opportunity.id}"
    moved = await post(client, page, f"{page}/move", {"stage": "qualified", "version": "1"})
    assert moved.status_code == 303 and moved.headers["location"] == page
    shown = text_of((await client.get(page)).text)
    assert "“Towels” moved to “Qualified”." in shown and "Lead → Qualified · Anna Kowalska" in shown
    no_order = await post(client, page, f"{page}/move", {"stage": "won", "version": "2"})
    assert no_order.status_code == 400
    assert error_of(no_order.text, "order_id") == "Choose the order it was won with."
    assert '<option value="won" selected>' in no_order.text
    no_reason = await post(client, page, f"{page}/move", {"stage": "lost", "version": "2", "note": "Too dear"})
    assert error_of(no_reason.text, "lost_reason_id") == "Choose why it was lost."
    assert ">Too dear</textarea>" in no_reason.text
    other = str(world.reasons["Other"])
    no_text = await post(client, page, f"{page}/move", {"stage": "lost", "version": "2", "lost_reason_id": other})
    assert error_of(no_text.text, "move-note") == "Say what the other reason was."
    bad_stage = await post(client, page, f"{page}/move", {"stage": "signed", "version": "2"})
    assert error_of(bad_stage.text, "move-stage") == "Choose a stage."
    stale = await post(client, page, f"{page}/move", {"stage": "offer", "version": "1"})
    assert stale.status_code == 409 and "it is at “Qualified” now" in error_of(stale.text, "move-form")
    assert await count(session, OpportunityMove) == 1  # the move to qualified only
    won = await post(client, page, f"{page}/move", {"stage": "won", "version": "2", "order_id": str(order.id)})
    assert won.status_code == 303
    final = (await client.get(page)).text
    assert f"Won with order {order.number}" in text_of(final) and 'id="move-form"' not in final


async def test_a_move_on_the_board_goes_back_to_the_board_or_asks_for_the_reason_on_the_opportunity(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    opportunity = await add(session, world.baltyk, world.anna, title="Robes")
    await session.commit()
    await sign_in(client, world.anna.email)
    board = (await client.get("/pipeline")).text
    assert f'action="/opportunities/{opportunity.id}/move"' in board
    target = f"/opportunities/{opportunity.id}/move"
    moved = await post(client, "/pipeline", target, {"stage": "offer", "version": "1", "back": "board"})
    assert moved.status_code == 303 and moved.headers["location"] == "/pipeline"
    assert "“Robes” moved to “Offer”." in text_of((await client.get("/pipeline")).text)
    lost = await post(client, "/pipeline", target, {"stage": "lost", "version": "2", "back": "board"})
    assert lost.status_code == 400
    assert 'id="move-form"' in lost.text and error_of(lost.text, "lost_reason_id") == "Choose why it was lost."
    assert '<input type="hidden" name="back" value="board">' in lost.text
    reason = str(world.reasons["Price too high"])
    done = await post(
        client,
        f"/opportunities/{opportunity.id}",
        target,
        {"stage": "lost", "version": "2", "back": "board", "lost_reason_id": reason},
    )
    assert done.headers["location"] == "/pipeline"
    closed = text_of(section((await client.get("/pipeline")).text, "stage-lost"))
    assert "Robes" in closed and "Price too high" in closed


async def test_a_new_offer_and_a_linked_quote_follow_the_opportunity(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    opportunity = await add(session, world.baltyk, world.anna, title="Bathrobes")
    product = await make_product(session, sku="ROBE-1", name="Bathrobe")
    sent = await quotes.new_offer(session, world.anna, world.baltyk.id, title="Robes, first offer", today=TODAY)
    await quotes.add_line(
        session, world.anna, sent.id, sku=product.sku, quantity=50, unit_price=Decimal("90"), today=TODAY
    )
    await quotes.send(session, world.anna, sent.id, today=TODAY, margin_floor=Decimal("10"))
    theirs = await quotes.new_offer(session, world.piotr, world.neptun.id, today=TODAY)
    await session.commit()
    await sign_in(client, world.anna.email)
    page = f"/opportunities/{opportunity.id}"
    missing = await post(client, page, f"{page}/quotes", {})
    assert error_of(missing.text, "quote_id") == "Choose a quote from the list."
    foreign = await post(client, page, f"{page}/quotes", {"quote_id": str(theirs.id)})
    assert error_of(foreign.text, "quote_id") == "Choose one of this customer's quotes from the list."
    linked = await post(client, page, f"{page}/quotes", {"quote_id": str(sent.id)})
    assert linked.status_code == 303
    shown = text_of((await client.get(page)).text)
    assert f"Quote {sent.number} linked." in shown and "Offer since" in shown
    assert f"Lead → Offer · Anna Kowalska, on linking: quote {sent.number} sent" in shown
    assert f"{sent.number} Robes, first offer Offer sent" in shown
    started = await post(client, page, f"{page}/offer", {})
    assert started.status_code == 303
    offer = await session.scalar(select(Quote).where(Quote.opportunity_id == opportunity.id, Quote.id != sent.id))
    assert offer is not None and offer.status is QuoteStatus.DRAFT and offer.title == "Bathrobes"
    assert started.headers["location"] == f"/manage/quotes/{offer.id}"
    quote_page = (await client.get(started.headers["location"])).text
    assert f'href="/opportunities/{opportunity.id}"' in section(quote_page, "quote-header")


async def test_a_prospects_opportunity_is_won_with_a_note_of_what_was_won(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    prospect = Prospect(name="Hotel Orlik", owner_id=world.anna.id)
    session.add(prospect)
    await session.commit()
    await sign_in(client, world.anna.email)
    new = f"/opportunities/new?prospect_id={prospect.id}"
    form = await client.get(new)
    assert form.status_code == 200 and "For Hotel Orlik prospect" in text_of(form.text)
    data = {
        "prospect_id": str(prospect.id),
        "title": "First towels",
        "expected_value": "800",
        "expected_close_on": "2026-12-20",
    }
    made = await post(client, new, "/opportunities", data)
    assert made.status_code == 303
    page = made.headers["location"]
    shown = text_of((await client.get(page)).text)
    assert "Quotes are made for customers" in shown and "New offer for this opportunity" not in shown
    refused = await post(client, page, f"{page}/move", {"stage": "won", "version": "1"})
    assert error_of(refused.text, "move-note") == "Say what was won: a prospect has no orders in the portal yet."
    won = await post(client, page, f"{page}/move", {"stage": "won", "version": "1", "note": "A trial of 200 towels."})
    assert won.status_code == 303
    assert "Won: A trial of 200 towels." in text_of((await client.get(page)).text)


async def test_finance_reads_the_pipeline_without_its_forms(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    opportunity = await add(session, world.baltyk, world.anna)
    await session.commit()
    await sign_in(client, world.finance.email)
    board = await client.get("/pipeline")
    assert board.status_code == 200 and "Towels" in board.text and "board-move" not in board.text
    page = await client.get(f"/opportunities/{opportunity.id}")
    assert page.status_code == 200 and 'id="move-form"' not in page.text and 'id="edit-form"' not in page.text
    moved = await post(client, "/pipeline", f"/opportunities/{opportunity.id}/move", {"stage": "offer", "version": "1"})
    assert moved.status_code == 403


# --- the board --------------------------------------------------------------------------------------


async def test_the_board_counts_values_and_weighs_them_by_the_stages_chances(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    session.add(StageProbability(stage=Stage.OFFER, percent=Decimal("40")))  # the admin's setting; others default
    await add(session, world.baltyk, world.anna, value="10000.00", stage=Stage.LEAD, title="Lead one")
    await add(session, world.baltyk, world.anna, value="4000.00", stage=Stage.QUALIFIED, title="Qualified one")
    await add(session, world.baltyk, world.anna, value="6000.00", stage=Stage.QUALIFIED, title="Qualified two")
    late = TODAY - timedelta(days=3)
    await add(session, world.baltyk, world.anna, value="8000.00", stage=Stage.OFFER, title="Late offer", close=late)
    await add(session, world.baltyk, world.anna, value="3000.00", stage=Stage.NEGOTIATION, title="Haggling")
    euro = await make_company(session, name="Euro Spa", account_manager_id=world.anna.id, currency="EUR")
    await add(session, euro, world.anna, value="1000.00", stage=Stage.NEGOTIATION, title="Euro deal", currency="EUR")
    await add(
        session,
        world.baltyk,
        world.anna,
        value="5000.00",
        stage=Stage.WON,
        title="Won lately",
        changed=NOW - timedelta(days=10),
    )
    await add(
        session,
        world.baltyk,
        world.anna,
        value="7000.00",
        stage=Stage.LOST,
        title="Lost long ago",
        changed=NOW - timedelta(days=91),
    )
    await add(session, world.neptun, world.piotr, value="99999.00", stage=Stage.LEAD, title="Piotr's secret")
    await session.commit()
    await sign_in(client, world.anna.email)
    html = (await client.get("/pipeline")).text
    page = text_of(html)
    assert "Piotr's secret" not in page and "Lost long ago" not in page and "Won lately" in page
    assert text_of(html.split('id="open-count">')[1].split("<")[0]) == "6"
    # 10,000 + 4,000 + 6,000 + 8,000 + 3,000 PLN; 1,000 EUR
    assert text_of(html.split('id="open-value">')[1].split("</dd>")[0]) == "€ 1,000.00 · PLN 31,000.00"
    # 10,000 × 10 % + 10,000 × 25 % + 8,000 × 40 % + 3,000 × 75 % = 1,000 + 2,500 + 3,200 + 2,250 = 8,950 PLN;
    # 1,000 × 75 % = 750 EUR
    assert text_of(html.split('id="weighted-value">')[1].split("</dd>")[0]) == "€ 750.00 · PLN 8,950.00"
    qualified = text_of(section(html, "stage-qualified"))
    assert qualified.startswith("Qualified 2 PLN 10,000.00 weighted at 25 %: PLN 2,500.00")
    offer = section(html, "stage-offer")
    assert "weighted at 40 %: PLN 3,200.00" in text_of(offer) and "Overdue" in text_of(offer)
    assert "Overdue" not in text_of(section(html, "stage-lead"))
    assert text_of(section(html, "stage-won")).startswith("Won 1 PLN 5,000.00")


async def test_the_owner_filter_shows_one_owners_opportunities(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    await add(session, world.baltyk, world.anna, title="Anna's deal", value="100.00")
    await add(session, world.neptun, world.piotr, title="Piotr's deal", value="200.00")
    await session.commit()
    await sign_in(client, world.admin.email)
    everyone = text_of((await client.get("/pipeline")).text)
    assert "Anna's deal" in everyone and "Piotr's deal" in everyone
    filtered = await client.get(f"/pipeline?owner={world.piotr.id}")
    assert "Piotr's deal" in text_of(filtered.text) and "Anna's deal" not in text_of(filtered.text)
    assert f'<option value="{world.piotr.id}" selected>' in filtered.text
    assert (await client.get("/pipeline?owner=0")).status_code == 400


async def test_the_board_costs_the_same_queries_for_3_opportunities_and_for_30(
    client: AsyncTestClient, session: AsyncSession, world: World
) -> None:
    stages = [Stage.LEAD, Stage.QUALIFIED, Stage.OFFER, Stage.NEGOTIATION, Stage.WON, Stage.LOST]

    async def add_many(number: int) -> None:
        for n in range(number):
            company = await make_company(session, account_manager_id=world.anna.id)
            await add(session, company, world.anna, stage=stages[n % len(stages)], title=f"Deal {n}")
        await session.commit()

    await add_many(3)
    await sign_in(client, world.anna.email)
    await client.get("/pipeline")
    with counted_statements(client.app) as few:
        assert (await client.get("/pipeline")).status_code == 200
    await add_many(27)
    with counted_statements(client.app) as many:
        page = await client.get("/pipeline")
    assert page.text.count('class="board-card"') == 30
    assert len(many) == len(few)
