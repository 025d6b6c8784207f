"""Quotes: the moves of the state machine and its refusals, version by version, into one order."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Address, Order, OrderLine, OrderSource, OrderStatus, QuoteEvent, QuoteStatus, Role
from portal.services import quotes
from portal.services.ordering import CheckoutForm
from tests.factories import make_company, make_product, make_user

TODAY = date(2026, 11, 27)
FLOOR = Decimal("10")


async def world(session: AsyncSession, **company_fields):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    company = await make_company(
        session, account_manager_id=manager.id, **{"credit_limit": Decimal("100000.00"), **company_fields}
    )
    session.add(
        Address(
            company_id=company.id,
            label="Main",
            street="Magazynowa 1",
            postal_code="00-001",
            city="Warszawa",
            is_default=True,
        )
    )
    buyer = await make_user(session, company_id=company.id)
    await session.refresh(buyer, ["company"])
    product = await make_product(session, list_price=Decimal("20.00"), cost=Decimal("10.00"))
    return manager, company, buyer, product


async def sent_quote(session, manager, buyer, product, price="15.00"):  # type: ignore[no-untyped-def]
    quote = await quotes.request_quote(
        session,
        buyer,
        [quotes.WantedLine(500, product.id, target_price=Decimal("14.00")), quotes.WantedLine(10, name="Red pallet")],
        message="We need 500 for a project.",
        today=TODAY,
    )
    draft = quotes.draft_of(quote)
    assert draft is not None
    free = next(line for line in draft.lines if line.product_id is None)
    changes = [quotes.LineChange(line.id, unit_price=Decimal(price), remove=line is free) for line in draft.lines]
    await quotes.save_draft(
        session,
        manager,
        quote.id,
        quotes.DraftChanges(valid_until=TODAY + timedelta(days=14), lines=changes),
        today=TODAY,
        margin_floor=FLOOR,
    )
    return await quotes.send(session, manager, quote.id, today=TODAY, margin_floor=FLOOR)


async def test_request_send_change_send_accept_makes_one_approved_order(session: AsyncSession) -> None:
    manager, company, buyer, product = await world(session)
    quote = await sent_quote(session, manager, buyer, product)
    assert (quote.status, quote.sent_version) == (QuoteStatus.SENT, 1)
    assert quote.number.startswith("Q-2026-")
    key = quotes.sent_of(quote).lines[0].line_key
    await quotes.ask_for_changes(session, buyer, quote.id, 1, "Lower, please.", {key: Decimal("13.50")}, today=TODAY)
    quote = await quotes.staff_quote(session, manager, quote.id, TODAY)
    draft = quotes.draft_of(quote)
    assert draft is not None and draft.number == 2 and draft.lines[0].target_price == Decimal("13.5")
    await quotes.save_draft(
        session,
        manager,
        quote.id,
        quotes.DraftChanges(
            valid_until=TODAY + timedelta(days=10),
            lines=[quotes.LineChange(draft.lines[0].id, unit_price=Decimal("13.80"))],
        ),
        today=TODAY,
        margin_floor=FLOOR,
    )
    await quotes.send(session, manager, quote.id, today=TODAY, margin_floor=FLOOR)
    address_id = await session.scalar(select(Address.id).where(Address.company_id == company.id))
    form = CheckoutForm(delivery_date=TODAY + timedelta(days=7), address_id=address_id)
    with pytest.raises(quotes.MovedMeanwhile):
        await quotes.accept(session, buyer, quote.id, 1, form, today=TODAY, grace_days=7, margin_floor=FLOOR)
    accepted = await quotes.accept(session, buyer, quote.id, 2, form, today=TODAY, grace_days=7, margin_floor=FLOOR)
    assert accepted.created and accepted.quote.status is QuoteStatus.ACCEPTED
    order = accepted.order
    assert (order.source, order.quote_id, order.quote_version) == (OrderSource.QUOTE, quote.id, 2)
    prices = await session.scalars(select(OrderLine.unit_price).where(OrderLine.order_id == order.id))
    assert list(prices) == [Decimal("13.80")]
    assert order.status is OrderStatus.APPROVED
    again = await quotes.accept(session, buyer, quote.id, 2, form, today=TODAY, grace_days=7, margin_floor=FLOOR)
    assert not again.created and again.order.id == order.id
    assert await session.scalar(select(func.count()).select_from(Order).where(Order.quote_id == quote.id)) == 1
    moves = list(
        await session.scalars(
            select(QuoteEvent.to_status).where(QuoteEvent.quote_id == quote.id).order_by(QuoteEvent.id)
        )
    )
    assert moves == [
        QuoteStatus.REQUESTED,
        QuoteStatus.SENT,
        QuoteStatus.CHANGES_REQUESTED,
        QuoteStatus.SENT,
        QuoteStatus.ACCEPTED,
    ]
