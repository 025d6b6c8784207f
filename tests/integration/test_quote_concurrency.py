"""Quotes answered at the same moment from separate transactions on PostgreSQL: one version
accepted five times at once makes one order, and an accept racing a withdraw ends one way only.
Each test commits its data first, then runs the moves in their own sessions at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import Address, Order, Quote, QuoteEvent, QuoteStatus, Role, User
from portal.services import quotes
from portal.services.ordering import CheckoutForm
from tests.conftest import backend
from tests.factories import make_company, make_product, make_user

pytestmark = [
    pytest.mark.postgresql_only,
    pytest.mark.skipif(backend() != "postgresql", reason="concurrent transactions need PostgreSQL row locks"),
]

TODAY = date(2026, 11, 27)
FLOOR = Decimal("10")
AT_ONCE = 5


async def sent_quotes(session: AsyncSession, how_many: int = 1) -> dict[str, Any]:
    """A company, its manager and buyer, and `how_many` quotes sent to it (version 1), committed."""
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(session, account_manager_id=manager.id, credit_limit=Decimal("100000.00"))
    address = Address(
        company_id=company.id,
        label="Main",
        street="Magazynowa 1",
        postal_code="00-001",
        city="Warszawa",
        is_default=True,
    )
    session.add(address)
    buyer = await make_user(session, company_id=company.id)
    await session.refresh(buyer, ["company"])
    product = await make_product(session, list_price=Decimal("20.00"), cost=Decimal("10.00"))
    ids = []
    for _ in range(how_many):
        quote = await quotes.request_quote(session, buyer, [quotes.WantedLine(100, product.id)], today=TODAY)
        (line,) = quotes.draft_of(quote).lines  # type: ignore[union-attr]
        changes = quotes.DraftChanges(
            valid_until=TODAY + timedelta(days=14), lines=[quotes.LineChange(line.id, unit_price=Decimal("15.00"))]
        )
        await quotes.save_draft(session, manager, quote.id, changes, today=TODAY, margin_floor=FLOOR)
        await quotes.send(session, manager, quote.id, today=TODAY, margin_floor=FLOOR)
        ids.append(quote.id)
    await session.commit()
    form = CheckoutForm(delivery_date=TODAY + timedelta(days=7), address_id=address.id)
    return {"manager_id": manager.id, "buyer_id": buyer.id, "quote_ids": ids, "form": form}


async def in_own_session(
    maker: async_sessionmaker[AsyncSession],
    user_id: int,
    start: asyncio.Event,
    move: Callable[[AsyncSession, User], Awaitable[Any]],
) -> Any:
    """Runs one move in its own transaction and commits it; the move's result or the exception it raised."""
    async with maker() as session:
        user = await session.scalar(select(User).where(User.id == user_id))
        assert user is not None
        await session.refresh(user, ["company"])
        await session.commit()
        await start.wait()
        try:
            result = await move(session, user)
            await session.commit()
            return result
        except Exception as error:  # the test tells a refusal from a failure
            await session.rollback()
            return error


async def at_once(*runs: Callable[[asyncio.Event], Awaitable[Any]]) -> list[Any]:
    start = asyncio.Event()
    tasks = [asyncio.ensure_future(run(start)) for run in runs]
    await asyncio.sleep(0.05)  # every session is open and waiting
    start.set()
    return list(await asyncio.gather(*tasks))


async def test_five_accepts_of_one_version_make_one_order(session: AsyncSession, engine: AsyncEngine) -> None:
    data = await sent_quotes(session)
    (quote_id,) = data["quote_ids"]
    maker = async_sessionmaker(engine, expire_on_commit=False)

    def accept(start: asyncio.Event) -> Awaitable[Any]:
        return in_own_session(
            maker,
            data["buyer_id"],
            start,
            lambda s, buyer: quotes.accept(
                s, buyer, quote_id, 1, data["form"], today=TODAY, grace_days=7, margin_floor=FLOOR
            ),
        )

    results = await at_once(*[accept for _ in range(AT_ONCE)])
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == [], failures
    assert sorted(r.created for r in results) == [False] * (AT_ONCE - 1) + [True]
    assert len({r.order.id for r in results}) == 1
    orders = await session.scalar(select(func.count()).select_from(Order).where(Order.quote_id == quote_id))
    accepted = await session.scalar(
        select(func.count())
        .select_from(QuoteEvent)
        .where(QuoteEvent.quote_id == quote_id, QuoteEvent.to_status == QuoteStatus.ACCEPTED)
    )
    assert (orders, accepted) == (1, 1)


async def test_an_accept_racing_a_withdraw_ends_one_way(session: AsyncSession, engine: AsyncEngine) -> None:
    rounds = 6
    data = await sent_quotes(session, rounds)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    outcomes = []
    for index, quote_id in enumerate(data["quote_ids"]):

        def accept(start: asyncio.Event, quote_id: int = quote_id) -> Awaitable[Any]:
            return in_own_session(
                maker,
                data["buyer_id"],
                start,
                lambda s, buyer: quotes.accept(
                    s, buyer, quote_id, 1, data["form"], today=TODAY, grace_days=7, margin_floor=FLOOR
                ),
            )

        def withdraw(start: asyncio.Event, quote_id: int = quote_id) -> Awaitable[Any]:
            return in_own_session(
                maker,
                data["manager_id"],
                start,
                lambda s, manager: quotes.withdraw(s, manager, quote_id, "Prices change next week.", today=TODAY),
            )

        runs = (accept, withdraw) if index % 2 == 0 else (withdraw, accept)
        results = await at_once(*runs)
        accepted, withdrawn = results if index % 2 == 0 else results[::-1]
        unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, quotes.MovedMeanwhile)]
        assert unexpected == [], unexpected
        accept_won = isinstance(accepted, quotes.Acceptance) and accepted.created
        withdraw_won = not isinstance(withdrawn, BaseException)
        assert accept_won != withdraw_won, (accepted, withdrawn)
        status = await session.scalar(
            select(Quote.status).where(Quote.id == quote_id).execution_options(populate_existing=True)
        )
        orders = await session.scalar(select(func.count()).select_from(Order).where(Order.quote_id == quote_id))
        assert (status, orders) == ((QuoteStatus.ACCEPTED, 1) if accept_won else (QuoteStatus.WITHDRAWN, 0))
        await session.commit()
        outcomes.append("accepted" if accept_won else "withdrawn")
    assert len(outcomes) == rounds, outcomes
