"""Credit limits and holds: every change is an entry in an append-only history,
and a change made meanwhile by someone else is never overwritten."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.i18n import format_money
from portal.models import Company, CreditEvent, CreditEventKind, OutboxMessage, Role
from portal.services.credit_control import (
    ChangedMeanwhile,
    CreditControlError,
    change_limit,
    credit_history,
    hold_account,
    release_account,
)
from tests.conftest import backend
from tests.factories import make_company, make_user


async def events(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(CreditEvent)) or 0)


async def test_a_limit_change_is_recorded_with_old_new_reason_who_and_when(session: AsyncSession) -> None:
    finance = await make_user(session, Role.FINANCE, full_name="Filip Finance")
    company = await make_company(session, credit_limit=Decimal("40000.00"))

    await change_limit(session, finance, company.id, Decimal("40000.00"), Decimal("45000.00"), "  New outlets  ")
    await session.commit()

    await session.refresh(company)
    assert company.credit_limit == Decimal("45000.00")
    (event,) = await credit_history(session, company.id)
    assert (event.kind, event.old_limit, event.new_limit, event.reason) == (
        CreditEventKind.LIMIT_CHANGED,
        Decimal("40000.00"),
        Decimal("45000.00"),
        "New outlets",
    )
    assert event.actor is not None and event.actor.full_name == "Filip Finance"
    assert event.at is not None


async def test_a_limit_changed_meanwhile_is_not_overwritten(session: AsyncSession) -> None:
    first, second = await make_user(session, Role.FINANCE), await make_user(session, Role.ADMIN)
    company = await make_company(session, credit_limit=Decimal("40000.00"))
    await change_limit(session, first, company.id, Decimal("40000.00"), Decimal("50000.00"), "Raised")
    await session.commit()

    with pytest.raises(ChangedMeanwhile) as refused:
        await change_limit(session, second, company.id, Decimal("40000.00"), Decimal("30000.00"), "Lowered")

    assert "changed by someone else meanwhile: it is now PLN\xa050,000.00" in refused.value.message
    company_id = company.id
    await session.rollback()
    assert await session.scalar(select(Company.credit_limit).where(Company.id == company_id)) == Decimal("50000.00")
    assert await events(session) == 1


async def test_two_finance_users_at_once_one_wins_the_other_is_told(engine: AsyncEngine, session: AsyncSession) -> None:
    if backend() != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them by design")
    first, second = await make_user(session, Role.FINANCE), await make_user(session, Role.FINANCE)
    company = await make_company(session, credit_limit=Decimal("40000.00"))
    await session.commit()
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def attempt(user_id: int, new: str) -> str:
        async with sessions() as own:
            user = await own.get(type(first), user_id)
            try:
                await change_limit(own, user, company.id, Decimal("40000.00"), Decimal(new), "At once")  # type: ignore[arg-type]
                await asyncio.sleep(0.2)  # hold the row while the other one tries
                await own.commit()
                return "changed"
            except ChangedMeanwhile:
                await own.rollback()
                return "told"

    outcomes = await asyncio.gather(attempt(first.id, "45000.00"), attempt(second.id, "35000.00"))

    assert sorted(outcomes) == ["changed", "told"]
    assert await events(session) == 1


@pytest.mark.parametrize(
    ("new", "reason", "field"),
    [
        ("-1.00", "Because", "new_limit"),
        ("40000.00", "Because", "new_limit"),
        ("50000.00", "   ", "reason"),
    ],
)
async def test_a_limit_change_needs_a_new_amount_and_a_reason(
    session: AsyncSession, new: str, reason: str, field: str
) -> None:
    finance = await make_user(session, Role.FINANCE)
    company = await make_company(session, credit_limit=Decimal("40000.00"))
    with pytest.raises(CreditControlError) as refused:
        await change_limit(session, finance, company.id, Decimal("40000.00"), Decimal(new), reason)
    assert refused.value.field == field
    assert await events(session) == 0


async def test_hold_and_release_are_recorded_and_not_repeated(session: AsyncSession) -> None:
    finance = await make_user(session, Role.FINANCE)
    company = await make_company(session)

    await hold_account(session, finance, company.id, "Cheque returned")
    with pytest.raises(ChangedMeanwhile, match="already on hold"):
        await hold_account(session, finance, company.id, "Again")
    await session.refresh(company)
    assert (company.on_hold, company.hold_reason) == (True, "Cheque returned")

    await release_account(session, finance, company.id, "Paid in full")
    with pytest.raises(ChangedMeanwhile, match="not on hold"):
        await release_account(session, finance, company.id, "Again")
    await session.refresh(company)
    assert (company.on_hold, company.hold_reason) == (False, None)
    history = await credit_history(session, company.id)
    assert [(e.kind, e.reason) for e in history] == [
        (CreditEventKind.RELEASE, "Paid in full"),
        (CreditEventKind.HOLD, "Cheque returned"),
    ]


async def _outbox(session: AsyncSession) -> dict[str, str]:
    return {
        m.recipient: m.subject + "\n" + m.body_text + "\n" + m.body_html
        for m in await session.scalars(select(OutboxMessage))
    }


async def test_a_limit_change_tells_buyers_the_new_limit_and_the_message_for_them_never_the_reason(
    session: AsyncSession,
) -> None:
    finance = await make_user(session, Role.FINANCE)
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    company = await make_company(session, credit_limit=Decimal("40000.00"), account_manager_id=manager.id)
    buyer = await make_user(session, company_id=company.id)

    event = await change_limit(
        session,
        finance,
        company.id,
        Decimal("40000.00"),
        Decimal("30000.00"),
        "Lowered after review of Q4 payments",
        customer_message="  We review every limit once a year.  ",
    )

    assert (event.reason, event.customer_message) == (
        "Lowered after review of Q4 payments",
        "We review every limit once a year.",
    )
    told = await _outbox(session)
    assert "Q4" not in told[buyer.email] and "Reason" not in told[buyer.email]
    assert format_money(Decimal("30000.00"), "PLN") in told[buyer.email]
    assert "We review every limit once a year." in told[buyer.email]
    assert "Lowered after review of Q4 payments" in told[manager.email]


async def test_a_message_for_the_customer_is_bounded(session: AsyncSession) -> None:
    finance = await make_user(session, Role.FINANCE)
    company = await make_company(session, credit_limit=Decimal("40000.00"))
    with pytest.raises(CreditControlError) as refused:
        await change_limit(
            session, finance, company.id, Decimal("40000.00"), Decimal("1.00"), "Why", customer_message="x" * 2001
        )
    assert refused.value.field == "customer_message"
    assert await events(session) == 0


async def test_the_reason_of_a_release_stays_internal_but_a_hold_reason_is_the_buyers_to_see(
    session: AsyncSession,
) -> None:
    finance = await make_user(session, Role.FINANCE)
    company = await make_company(session)
    buyer = await make_user(session, company_id=company.id)
    await hold_account(session, finance, company.id, "Cheque returned")
    assert "Cheque returned" in (await _outbox(session))[buyer.email]
    await session.execute(delete(OutboxMessage))
    await release_account(session, finance, company.id, "Paid after the call with their CFO")
    assert "CFO" not in (await _outbox(session))[buyer.email]


async def test_an_unknown_company_is_a_lookup_error(session: AsyncSession) -> None:
    finance = await make_user(session, Role.FINANCE)
    with pytest.raises(LookupError):
        await hold_account(session, finance, 987654, "No such company")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE credit_events SET reason = 'rewritten'",
        "UPDATE credit_events SET new_limit = 1000000",
        "DELETE FROM credit_events",
    ],
)
async def test_the_database_refuses_to_change_or_delete_history(session: AsyncSession, statement: str) -> None:
    finance = await make_user(session, Role.FINANCE)
    company = await make_company(session, credit_limit=Decimal("1000.00"))
    company_id = company.id
    await change_limit(session, finance, company_id, Decimal("1000.00"), Decimal("2000.00"), "Original reason")
    await session.commit()

    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text(statement))
    await session.rollback()

    (event,) = await credit_history(session, company_id)
    assert (event.reason, event.new_limit) == ("Original reason", Decimal("2000.00"))
