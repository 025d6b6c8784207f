"""The pipeline's stage rules: moves by hand and their refusals, moves driven by a linked quote's
events, and two people moving the same opportunity at once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.errors import NotAllowed, NotFound
from portal.models import (
    Address,
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
    User,
)
from portal.services import pipeline, quotes
from portal.services.ordering import CheckoutForm
from tests.factories import make_company, make_order, make_product, make_user

TODAY = date(2026, 11, 27)
"""The seller's today under `frozen_clock`."""
FLOOR = Decimal("10")
LOST_REASONS = ("Price too high", "Chose a competitor", "No budget", "Delivery terms", "No answer", "Other")


async def seed_lost_reasons(session: AsyncSession) -> dict[str, int]:
    """The reasons the migration seeds (the test database is emptied between tests)."""
    if not await session.scalar(select(func.count()).select_from(LostReason)):
        session.add_all(LostReason(label=label, position=n) for n, label in enumerate(LOST_REASONS))
        await session.flush()
    return {reason.label: reason.id for reason in await session.scalars(select(LostReason))}


class World:
    manager: User
    company: Company
    buyer: User
    product: Any
    reasons: dict[str, int]


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> World:
    found = World()
    found.manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    found.company = await make_company(session, name="Hotel Baltyk", account_manager_id=found.manager.id)
    found.company.credit_limit = Decimal("100000.00")
    session.add(
        Address(
            company_id=found.company.id,
            label="Main",
            street="Magazynowa 1",
            postal_code="00-001",
            city="Gdańsk",
            is_default=True,
        )
    )
    found.buyer = await make_user(session, company_id=found.company.id)
    await session.refresh(found.buyer, ["company"])
    found.product = await make_product(session, list_price=Decimal("20.00"), cost=Decimal("10.00"))
    found.reasons = await seed_lost_reasons(session)
    return found


def terms(**changes: Any) -> pipeline.Terms:
    values: dict[str, Any] = {
        "title": "Towels for the spa",
        "expected_value": Decimal("12000.00"),
        "expected_close_on": TODAY + timedelta(days=30),
    }
    return pipeline.Terms(**(values | changes))


async def opportunity_of(session: AsyncSession, world: World) -> Opportunity:
    return await pipeline.create(session, world.manager, terms(), today=TODAY, company_id=world.company.id)


async def moves_of(session: AsyncSession, opportunity: Opportunity) -> list[tuple[Stage | None, Stage]]:
    rows = await session.execute(
        select(OpportunityMove.from_stage, OpportunityMove.to_stage)
        .where(OpportunityMove.opportunity_id == opportunity.id)
        .order_by(OpportunityMove.id)
    )
    return [(from_stage, to_stage) for from_stage, to_stage in rows]


async def linked_offer(session: AsyncSession, world: World, opportunity: Opportunity) -> Quote:
    """The manager's offer for the opportunity, with one priced line, not sent yet."""
    quote = await quotes.new_offer(session, world.manager, world.company.id, today=TODAY)
    await pipeline.link_quote(session, world.manager, opportunity.id, quote.id, today=TODAY)
    await quotes.add_line(
        session, world.manager, quote.id, sku=world.product.sku, quantity=100, unit_price=Decimal("15.00"), today=TODAY
    )
    return quote


async def send(session: AsyncSession, world: World, quote: Quote) -> Quote:
    return await quotes.send(session, world.manager, quote.id, today=TODAY, margin_floor=FLOOR)


async def reread(session: AsyncSession, opportunity: Opportunity) -> Opportunity:
    await session.refresh(opportunity)
    return opportunity


# --- making and editing -----------------------------------------------------------------------------


async def test_a_new_opportunity_is_a_lead_of_the_customers_manager_in_its_currency(
    session: AsyncSession, world: World
) -> None:
    opportunity = await opportunity_of(session, world)
    assert opportunity.stage is Stage.LEAD and opportunity.version == 1
    assert (opportunity.owner_id, opportunity.currency) == (world.manager.id, "PLN")
    assert await moves_of(session, opportunity) == [(None, Stage.LEAD)]


async def test_a_prospects_opportunity_is_owned_by_the_prospects_owner(session: AsyncSession, world: World) -> None:
    prospect = Prospect(name="Hotel Neptun", owner_id=world.manager.id)
    session.add(prospect)
    await session.flush()
    opportunity = await pipeline.create(session, world.manager, terms(), today=TODAY, prospect_id=prospect.id)
    assert (opportunity.company_id, opportunity.prospect_id) == (None, prospect.id)
    assert (opportunity.owner_id, opportunity.currency) == (world.manager.id, "PLN")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"expected_value": Decimal("-0.01")}, "expected_value"),
        ({"expected_value": Decimal("100000000000.01")}, "expected_value"),
        ({"expected_close_on": TODAY - timedelta(days=31)}, "expected_close_on"),
        ({"expected_close_on": date(2029, 11, 28)}, "expected_close_on"),
    ],
)
async def test_terms_are_refused_next_to_their_field(
    session: AsyncSession, world: World, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.create(session, world.manager, terms(**changes), today=TODAY, company_id=world.company.id)
    assert field in refused.value.errors
    assert not await session.scalar(select(func.count()).select_from(Opportunity))


async def test_the_edges_of_the_terms_are_accepted(session: AsyncSession, world: World) -> None:
    edges = terms(expected_value=Decimal("100000000000"), expected_close_on=TODAY - timedelta(days=30), title="x" * 200)
    await pipeline.create(session, world.manager, edges, today=TODAY, company_id=world.company.id)
    ahead = terms(expected_value=Decimal("0"), expected_close_on=date(2029, 11, 27))
    await pipeline.create(session, world.manager, ahead, today=TODAY, company_id=world.company.id)


async def test_the_owner_must_be_an_active_account_manager(session: AsyncSession, world: World) -> None:
    finance = await make_user(session, Role.FINANCE)
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.create(
            session, world.manager, terms(owner_id=finance.id), today=TODAY, company_id=world.company.id
        )
    assert refused.value.errors == {"owner_id": "Choose an active account manager."}


async def test_another_managers_customer_is_not_found_and_finance_does_not_work_the_pipeline(
    session: AsyncSession, world: World
) -> None:
    stranger = await make_user(session, Role.ACCOUNT_MANAGER)
    opportunity = await opportunity_of(session, world)
    with pytest.raises(NotFound):
        await pipeline.create(session, stranger, terms(), today=TODAY, company_id=world.company.id)
    with pytest.raises(NotFound):
        await pipeline.move(session, stranger, opportunity.id, Stage.QUALIFIED, version=1, today=TODAY)
    finance = await make_user(session, Role.FINANCE)
    with pytest.raises(NotAllowed):
        await pipeline.move(session, finance, opportunity.id, Stage.QUALIFIED, version=1, today=TODAY)


async def test_an_edit_raises_the_version_and_a_late_close_date_kept_is_not_checked_again(
    session: AsyncSession, world: World
) -> None:
    opportunity = await opportunity_of(session, world)
    close = TODAY + timedelta(days=30)
    much_later = close + timedelta(days=40)
    await pipeline.edit(session, world.manager, opportunity.id, terms(title="Spa towels"), version=1, today=much_later)
    edited = await reread(session, opportunity)
    assert (edited.version, edited.title, edited.expected_close_on) == (2, "Spa towels", close)
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.edit(
            session,
            world.manager,
            opportunity.id,
            terms(expected_close_on=close + timedelta(days=1)),
            version=2,
            today=much_later,
        )
    assert list(refused.value.errors) == ["expected_close_on"]
    assert await moves_of(session, opportunity) == [(None, Stage.LEAD)]


# --- moves by hand ----------------------------------------------------------------------------------


async def test_open_stages_move_to_each_other_and_every_move_is_kept(session: AsyncSession, world: World) -> None:
    opportunity = await opportunity_of(session, world)
    await pipeline.move(session, world.manager, opportunity.id, Stage.NEGOTIATION, version=1, today=TODAY)
    await pipeline.move(
        session, world.manager, opportunity.id, Stage.QUALIFIED, version=2, today=TODAY, note="Budget moved to Q2."
    )
    moved = await reread(session, opportunity)
    assert (moved.stage, moved.version) == (Stage.QUALIFIED, 3)
    assert await moves_of(session, opportunity) == [
        (None, Stage.LEAD),
        (Stage.LEAD, Stage.NEGOTIATION),
        (Stage.NEGOTIATION, Stage.QUALIFIED),
    ]
    last = await session.scalar(select(OpportunityMove).order_by(OpportunityMove.id.desc()).limit(1))
    assert last is not None and (last.actor_id, last.quote_id, last.note) == (
        world.manager.id,
        None,
        "Budget moved to Q2.",
    )


def test_won_and_lost_are_final_and_every_open_stage_reaches_every_other() -> None:
    assert pipeline.MOVES[Stage.WON] == () and pipeline.MOVES[Stage.LOST] == ()
    for stage in pipeline.OPEN_STAGES:
        assert set(pipeline.MOVES[stage]) == set(Stage) - {stage}


async def test_won_by_hand_needs_an_order_of_that_customer(session: AsyncSession, world: World) -> None:
    opportunity = await opportunity_of(session, world)
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.move(session, world.manager, opportunity.id, Stage.WON, version=1, today=TODAY)
    assert refused.value.errors == {"order_id": "Choose the order it was won with."}
    elsewhere = await make_order(session, await make_company(session), gross="100.00")
    cancelled = await make_order(session, world.company, gross="100.00", status=OrderStatus.CANCELLED)
    for order in (elsewhere, cancelled):
        with pytest.raises(pipeline.OpportunityRefused) as refused:
            await pipeline.move(
                session, world.manager, opportunity.id, Stage.WON, version=1, today=TODAY, order_id=order.id
            )
        assert refused.value.errors == {"order_id": "Choose one of this customer's orders from the list."}
    order = await make_order(session, world.company, gross="100.00", status=OrderStatus.APPROVED)
    await pipeline.move(session, world.manager, opportunity.id, Stage.WON, version=1, today=TODAY, order_id=order.id)
    won = await reread(session, opportunity)
    assert (won.stage, won.order_id) == (Stage.WON, order.id)


async def test_won_for_a_prospect_needs_a_note_of_what_was_won(session: AsyncSession, world: World) -> None:
    prospect = Prospect(name="Hotel Neptun", owner_id=world.manager.id)
    session.add(prospect)
    await session.flush()
    opportunity = await pipeline.create(session, world.manager, terms(), today=TODAY, prospect_id=prospect.id)
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.move(session, world.manager, opportunity.id, Stage.WON, version=1, today=TODAY)
    assert list(refused.value.errors) == ["note"]
    await pipeline.move(
        session, world.manager, opportunity.id, Stage.WON, version=1, today=TODAY, note="Trial order of 200 towels."
    )
    assert (await reread(session, opportunity)).stage is Stage.WON


async def test_lost_needs_a_reason_from_the_list_and_other_needs_its_text(session: AsyncSession, world: World) -> None:
    opportunity = await opportunity_of(session, world)
    retired = LostReason(label="Moved abroad", is_active=False, position=9)
    session.add(retired)
    await session.flush()
    for reason_id in (None, retired.id):
        with pytest.raises(pipeline.OpportunityRefused) as refused:
            await pipeline.move(
                session, world.manager, opportunity.id, Stage.LOST, version=1, today=TODAY, lost_reason_id=reason_id
            )
        assert refused.value.errors == {"lost_reason_id": "Choose why it was lost."}
    other = world.reasons["Other"]
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.move(
            session, world.manager, opportunity.id, Stage.LOST, version=1, today=TODAY, lost_reason_id=other
        )
    assert refused.value.errors == {"note": "Say what the other reason was."}
    await pipeline.move(
        session,
        world.manager,
        opportunity.id,
        Stage.LOST,
        version=1,
        today=TODAY,
        lost_reason_id=other,
        note="The hotel closes for renovation.",
    )
    lost = await reread(session, opportunity)
    assert (lost.stage, lost.lost_reason_id, lost.lost_note) == (Stage.LOST, other, "The hotel closes for renovation.")


async def test_a_won_or_lost_opportunity_moves_no_more(session: AsyncSession, world: World) -> None:
    opportunity = await opportunity_of(session, world)
    price = world.reasons["Price too high"]
    await pipeline.move(
        session, world.manager, opportunity.id, Stage.LOST, version=1, today=TODAY, lost_reason_id=price
    )
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.move(session, world.manager, opportunity.id, Stage.LEAD, version=2, today=TODAY)
    assert refused.value.errors == {"stage": "This opportunity is “Lost”: won and lost are final."}


async def test_moving_to_the_stage_it_is_at_is_refused(session: AsyncSession, world: World) -> None:
    opportunity = await opportunity_of(session, world)
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.move(session, world.manager, opportunity.id, Stage.LEAD, version=1, today=TODAY)
    assert refused.value.errors == {"stage": "It is at “Lead” already: choose another stage."}


async def test_a_move_on_a_stale_version_is_refused_and_changes_nothing(session: AsyncSession, world: World) -> None:
    opportunity = await opportunity_of(session, world)
    await pipeline.move(session, world.manager, opportunity.id, Stage.QUALIFIED, version=1, today=TODAY)
    with pytest.raises(pipeline.MovedMeanwhile) as refused:
        await pipeline.move(session, world.manager, opportunity.id, Stage.OFFER, version=1, today=TODAY)
    assert refused.value.status_code == 409
    assert "it is at “Qualified” now" in refused.value.message
    with pytest.raises(pipeline.MovedMeanwhile):
        await pipeline.edit(session, world.manager, opportunity.id, terms(title="New"), version=1, today=TODAY)
    kept = await reread(session, opportunity)
    assert (kept.stage, kept.version, kept.title) == (Stage.QUALIFIED, 2, "Towels for the spa")
    assert len(await moves_of(session, opportunity)) == 2


# --- moves driven by a linked quote -----------------------------------------------------------------


async def test_a_quote_moves_its_opportunity_from_offer_to_won_with_the_order(
    session: AsyncSession, world: World
) -> None:
    opportunity = await opportunity_of(session, world)
    quote = await linked_offer(session, world, opportunity)
    assert (await reread(session, opportunity)).stage is Stage.LEAD  # a draft moves nothing
    await send(session, world, quote)
    assert (await reread(session, opportunity)).stage is Stage.OFFER
    line_key = quotes.sent_of(await quotes.staff_quote(session, world.manager, quote.id, TODAY)).lines[0].line_key  # type: ignore[union-attr]
    await quotes.ask_for_changes(
        session, world.buyer, quote.id, 1, "Lower, please.", {line_key: Decimal("14.00")}, today=TODAY
    )
    assert (await reread(session, opportunity)).stage is Stage.NEGOTIATION
    await send(session, world, quote)  # version 2: the negotiation goes on
    assert (await reread(session, opportunity)).stage is Stage.NEGOTIATION
    address_id = await session.scalar(select(Address.id).where(Address.company_id == world.company.id))
    form = CheckoutForm(delivery_date=TODAY + timedelta(days=7), address_id=address_id)
    accepted = await quotes.accept(
        session, world.buyer, quote.id, 2, form, today=TODAY, grace_days=7, margin_floor=FLOOR
    )
    won = await reread(session, opportunity)
    assert (won.stage, won.order_id) == (Stage.WON, accepted.order.id)
    assert await moves_of(session, opportunity) == [
        (None, Stage.LEAD),
        (Stage.LEAD, Stage.OFFER),
        (Stage.OFFER, Stage.NEGOTIATION),
        (Stage.NEGOTIATION, Stage.WON),
    ]
    by_quote = await session.execute(
        select(OpportunityMove.actor_id, OpportunityMove.quote_id).where(
            OpportunityMove.opportunity_id == opportunity.id, OpportunityMove.from_stage.is_not(None)
        )
    )
    assert set(by_quote) == {(None, quote.id)}


async def test_declined_and_expired_quotes_do_not_move_their_opportunity(
    session: AsyncSession, engine: AsyncEngine, world: World
) -> None:
    declined_for = await opportunity_of(session, world)
    declined = await send(session, world, await linked_offer(session, world, declined_for))
    await quotes.decline(session, world.buyer, declined.id, 1, "Bought elsewhere.", today=TODAY)
    expired_for = await opportunity_of(session, world)
    expired = await send(session, world, await linked_offer(session, world, expired_for))
    await session.commit()
    report = await quotes.expire_due(async_sessionmaker(engine, expire_on_commit=False), TODAY + timedelta(days=30))
    assert report.expired_ids == [expired.id]
    for opportunity in (declined_for, expired_for):
        assert (await reread(session, opportunity)).stage is Stage.OFFER
        assert len(await moves_of(session, opportunity)) == 2


async def test_a_quote_never_moves_an_opportunity_backwards_nor_a_lost_one(session: AsyncSession, world: World) -> None:
    ahead = await opportunity_of(session, world)
    await pipeline.move(session, world.manager, ahead.id, Stage.NEGOTIATION, version=1, today=TODAY)
    await send(session, world, await linked_offer(session, world, ahead))
    assert (await reread(session, ahead)).stage is Stage.NEGOTIATION
    lost = await opportunity_of(session, world)
    quote = await linked_offer(session, world, lost)
    reason = world.reasons["No budget"]
    await pipeline.move(session, world.manager, lost.id, Stage.LOST, version=1, today=TODAY, lost_reason_id=reason)
    await send(session, world, quote)
    assert (await reread(session, lost)).stage is Stage.LOST


async def test_linking_a_sent_quote_moves_the_opportunity_as_sending_would(session: AsyncSession, world: World) -> None:
    first = await opportunity_of(session, world)
    quote = await send(session, world, await linked_offer(session, world, first))
    await session.execute(Quote.__table__.update().where(Quote.id == quote.id).values(opportunity_id=None))
    second = await opportunity_of(session, world)
    linked = await pipeline.link_quote(session, world.manager, second.id, quote.id, today=TODAY)
    assert linked.opportunity_id == second.id
    assert (await reread(session, second)).stage is Stage.OFFER
    last = await session.scalar(select(OpportunityMove).order_by(OpportunityMove.id.desc()).limit(1))
    assert last is not None and (last.actor_id, last.quote_id) == (world.manager.id, quote.id)
    again = await pipeline.link_quote(session, world.manager, second.id, quote.id, today=TODAY)
    assert again.id == quote.id and len(await moves_of(session, second)) == 2


async def test_a_quote_of_another_customer_or_opportunity_cannot_be_linked(session: AsyncSession, world: World) -> None:
    first = await opportunity_of(session, world)
    taken = await linked_offer(session, world, first)
    second = await opportunity_of(session, world)
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.link_quote(session, world.manager, second.id, taken.id, today=TODAY)
    assert refused.value.errors == {"quote_id": f"Quote {taken.number} is linked to another opportunity."}
    other_company = await make_company(session, account_manager_id=world.manager.id)
    foreign = await quotes.new_offer(session, world.manager, other_company.id, today=TODAY)
    with pytest.raises(pipeline.OpportunityRefused) as refused:
        await pipeline.link_quote(session, world.manager, second.id, foreign.id, today=TODAY)
    assert refused.value.errors == {"quote_id": "Choose one of this customer's quotes from the list."}


async def test_a_new_offer_for_an_opportunity_is_linked_to_it(session: AsyncSession, world: World) -> None:
    opportunity = await opportunity_of(session, world)

    async def start(session: AsyncSession, user: User, company_id: int, *, title: str) -> Quote:
        return await quotes.new_offer(session, user, company_id, title=title, today=TODAY)

    quote = await pipeline.new_offer(session, world.manager, opportunity.id, today=TODAY, start=start)
    assert (quote.status, quote.opportunity_id, quote.title) == (
        QuoteStatus.DRAFT,
        opportunity.id,
        "Towels for the spa",
    )
