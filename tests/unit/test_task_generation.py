"""The tasks the system makes, each once, for the account manager of the customer they are about:
a customer later than usual, a sent quote about to expire, a quote the buyer asked changes to, an
order blocked by credit for two of the seller's days; and three workers at once make each one once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import Address, Company, Quote, QuoteStatus, Role, Task, TaskReason, TaskStatus, User
from portal.services import quotes, task_generation
from tests.factories import make_company, make_counted_order, make_order, make_product, make_user

TODAY = date(2026, 11, 27)
WARSAW = ZoneInfo("Europe/Warsaw")
GRACE_DAYS = 7


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 11, 0, tzinfo=UTC)


async def generate(engine: AsyncEngine, today: date = TODAY) -> task_generation.GenerationReport:
    maker = async_sessionmaker(engine, expire_on_commit=False)
    return await task_generation.generate_due(maker, today, grace_days=GRACE_DAYS, zone=WARSAW)


async def system_tasks(session: AsyncSession) -> list[Task]:
    return list(await session.scalars(select(Task).order_by(Task.id).execution_options(populate_existing=True)))


async def managed_company(session: AsyncSession, **fields: Any) -> tuple[User, Company]:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    company = await make_company(session, account_manager_id=manager.id, **fields)
    return manager, company


async def buying_every_20_days(session: AsyncSession, company: Company, last: date) -> None:
    """Three orders, 20 days apart, the last on `last`: late once more than 30 days have passed."""
    for days_before in (40, 20, 0):
        await make_counted_order(session, company, net="500.00", approved_at=noon(last - timedelta(days=days_before)))


async def quote_of(session: AsyncSession, company: Company, status: QuoteStatus, **fields: Any) -> Quote:
    quote = Quote(
        company_id=company.id,
        number=f"Q-2026-{company.id:06d}",
        status=status,
        sent_version=fields.pop("sent_version", 1),
        **fields,
    )
    session.add(quote)
    await session.flush()
    return quote


async def test_a_customer_later_than_usual_gets_one_call_per_late_spell(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    manager, company = await managed_company(session, name="Warta")
    await buying_every_20_days(session, company, last=TODAY - timedelta(days=31))
    await session.commit()

    report = await generate(engine)
    assert report.count(TaskReason.LATE_CUSTOMER) == 1 and report.total == 1
    (task,) = await system_tasks(session)
    assert task.title == "Call Warta about their usual order"
    assert (task.owner_id, task.company_id, task.due_on, task.status) == (
        manager.id,
        company.id,
        TODAY,
        TaskStatus.OPEN,
    )
    assert task.origin_key == f"late_customer:{company.id}:2026-10-27"
    assert (await generate(engine)).total == 0
    assert (await generate(engine, TODAY + timedelta(days=1))).total == 0  # the same spell, a day later

    await make_counted_order(session, company, net="500.00", approved_at=noon(TODAY + timedelta(days=2)))
    await session.commit()
    assert (await generate(engine, TODAY + timedelta(days=3))).total == 0  # ordered again: not late
    again = await generate(engine, TODAY + timedelta(days=40))
    assert again.count(TaskReason.LATE_CUSTOMER) == 1
    later = (await system_tasks(session))[-1]
    assert later.origin_key == f"late_customer:{company.id}:2026-11-29" and later.due_on == TODAY + timedelta(days=40)


async def test_no_task_for_a_customer_on_rhythm_without_a_manager_or_inactive(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    _, on_rhythm = await managed_company(session)
    await buying_every_20_days(session, on_rhythm, last=TODAY - timedelta(days=10))
    nobody_manages = await make_company(session)
    await buying_every_20_days(session, nobody_manages, last=TODAY - timedelta(days=31))
    _, closed = await managed_company(session, is_active=False)
    await buying_every_20_days(session, closed, last=TODAY - timedelta(days=31))
    left = await make_user(session, Role.ACCOUNT_MANAGER, is_active=False)
    orphan = await make_company(session, account_manager_id=left.id)
    await buying_every_20_days(session, orphan, last=TODAY - timedelta(days=31))
    await session.commit()
    assert (await generate(engine)).total == 0
    assert await system_tasks(session) == []


async def test_a_quote_about_to_expire_is_followed_up_once_per_sent_version(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    manager, company = await managed_company(session)
    quote = await quote_of(session, company, QuoteStatus.SENT, valid_until=TODAY + timedelta(days=3))
    _, other = await managed_company(session)
    await quote_of(session, other, QuoteStatus.SENT, valid_until=TODAY + timedelta(days=4))  # not yet
    await session.commit()

    assert (await generate(engine)).count(TaskReason.QUOTE_EXPIRING) == 1
    (task,) = await system_tasks(session)
    assert task.title == f"Follow up quote {quote.number}"
    assert (task.owner_id, task.company_id, task.quote_id) == (manager.id, company.id, quote.id)
    assert task.due_on == TODAY + timedelta(days=2)  # the day before its last valid day
    assert task.origin_key == f"quote_expiring:{quote.id}:v1"
    assert (await generate(engine, TODAY + timedelta(days=1))).count(TaskReason.QUOTE_EXPIRING) == 1  # the other
    assert (await generate(engine, TODAY + timedelta(days=2))).total == 0

    quote.sent_version, quote.valid_until = 2, TODAY + timedelta(days=4)  # version 2 sent, valid one more day
    await session.commit()
    assert (await generate(engine, TODAY + timedelta(days=3))).count(TaskReason.QUOTE_EXPIRING) == 1
    newest = (await system_tasks(session))[-1]
    assert newest.origin_key == f"quote_expiring:{quote.id}:v2"
    assert newest.due_on == TODAY + timedelta(days=3)  # its last valid day is tomorrow: due today, never before


async def test_changes_asked_by_the_buyer_make_the_next_version_a_task_at_once(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    manager, company = await managed_company(session, credit_limit=Decimal("100000.00"))
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
    quote = await quotes.request_quote(
        session, buyer, [quotes.WantedLine(500, product.id)], message="For a project.", today=TODAY
    )
    draft = quotes.draft_of(quote)
    assert draft is not None
    changes = [quotes.LineChange(line.id, unit_price=Decimal("15.00")) for line in draft.lines]
    await quotes.save_draft(
        session,
        manager,
        quote.id,
        quotes.DraftChanges(valid_until=TODAY + timedelta(days=14), lines=changes),
        today=TODAY,
        margin_floor=Decimal("10"),
    )
    await quotes.send(session, manager, quote.id, today=TODAY, margin_floor=Decimal("10"))
    await quotes.ask_for_changes(session, buyer, quote.id, 1, "A little lower, please.", {}, today=TODAY)
    await session.commit()

    (task,) = await system_tasks(session)
    assert task.reason is TaskReason.CHANGES_REQUESTED
    assert task.title == f"Prepare version 2 of quote {quote.number}"
    assert (task.owner_id, task.company_id, task.quote_id, task.due_on) == (manager.id, company.id, quote.id, TODAY)
    assert task.origin_key == f"changes_requested:{quote.id}:v1"
    assert (await generate(engine)).total == 0  # the worker finds it made


async def test_the_worker_makes_a_changes_task_the_moment_missed(session: AsyncSession, engine: AsyncEngine) -> None:
    manager, company = await managed_company(session)
    quote = await quote_of(session, company, QuoteStatus.CHANGES_REQUESTED, sent_version=2)
    await session.commit()
    assert (await generate(engine)).count(TaskReason.CHANGES_REQUESTED) == 1
    (task,) = await system_tasks(session)
    assert (task.owner_id, task.quote_id, task.due_on) == (manager.id, quote.id, TODAY)
    assert task.origin_key == f"changes_requested:{quote.id}:v2"
    assert task.title == f"Prepare version 3 of quote {quote.number}"


async def test_an_order_blocked_by_credit_for_two_days_means_talking_to_finance(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    manager, company = await managed_company(session, credit_limit=Decimal("1000.00"))
    # 25 Nov 23:30 UTC is already 26 Nov in Warsaw: one of the seller's days ago
    one_day = await make_order(
        session, company, gross="1500.00", submitted_at=datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    )
    two_days = await make_order(
        session, company, gross="1500.00", submitted_at=datetime(2026, 11, 25, 22, 30, tzinfo=UTC)
    )
    _, roomy = await managed_company(session, credit_limit=Decimal("100000.00"))
    await make_order(session, roomy, gross="1500.00", submitted_at=noon(TODAY - timedelta(days=5)))  # within credit
    await session.commit()

    report = await generate(engine)
    assert report.count(TaskReason.CREDIT_BLOCKED) == 1 and report.total == 1
    (task,) = await system_tasks(session)
    assert task.title == f"Talk to finance about order {two_days.number}"
    assert (task.owner_id, task.company_id, task.order_id, task.due_on) == (manager.id, company.id, two_days.id, TODAY)
    assert task.origin_key == f"credit_blocked:{two_days.id}"

    report = await generate(engine, TODAY + timedelta(days=1))
    assert report.count(TaskReason.CREDIT_BLOCKED) == 1  # the other one, a day later
    assert (await system_tasks(session))[-1].order_id == one_day.id
    assert (await generate(engine, TODAY + timedelta(days=2))).total == 0


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def everything_due(session: AsyncSession, copies: int) -> None:
    """`copies` of each reason: late customers, expiring quotes, changes asked, orders blocked by credit."""
    for _ in range(copies):
        _, late = await managed_company(session, credit_limit=Decimal("1000.00"))
        await buying_every_20_days(session, late, last=TODAY - timedelta(days=31))
        await quote_of(session, late, QuoteStatus.SENT, valid_until=TODAY + timedelta(days=1))
        _, asking = await managed_company(session)
        await quote_of(session, asking, QuoteStatus.CHANGES_REQUESTED)
        await make_order(session, late, gross="1500.00", submitted_at=noon(TODAY - timedelta(days=3)))
    await session.commit()


async def test_finding_what_is_due_costs_the_same_few_queries_for_any_number(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    await everything_due(session, 1)
    with statements(engine) as few:
        async with async_sessionmaker(engine)() as reading:
            assert len(await task_generation.due_tasks(reading, TODAY, grace_days=GRACE_DAYS, zone=WARSAW)) == 4
    await everything_due(session, 3)
    with statements(engine) as more:
        async with async_sessionmaker(engine)() as reading:
            assert len(await task_generation.due_tasks(reading, TODAY, grace_days=GRACE_DAYS, zone=WARSAW)) == 16
    assert len(few) == len(more) == 6


async def test_three_workers_at_once_make_each_task_exactly_once(session: AsyncSession, engine: AsyncEngine) -> None:
    await everything_due(session, 3)
    reports = await asyncio.gather(*(generate(engine) for _ in range(3)))
    assert sum(report.total for report in reports) == 12
    for reason in (
        TaskReason.LATE_CUSTOMER,
        TaskReason.QUOTE_EXPIRING,
        TaskReason.CHANGES_REQUESTED,
        TaskReason.CREDIT_BLOCKED,
    ):
        assert sum(report.count(reason) for report in reports) == 3
    made = await system_tasks(session)
    assert len(made) == len({task.origin_key for task in made}) == 12
    again = await asyncio.gather(*(generate(engine) for _ in range(3)))
    assert sum(report.total for report in again) == 0
