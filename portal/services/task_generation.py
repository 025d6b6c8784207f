"""The tasks the system makes, each once, for the account manager of the customer it is about:

- a customer later than usual (`customers.Rhythm.late`): call about the usual order, once per
  late spell (the key names the day of the last order, so a new order and a new spell make a new task);
- a sent quote whose validity ends within `EXPIRING_DAYS`: follow it up, once per sent version;
- a quote the buyer asked changes to: prepare the next version, once per version asked about
  (made at once when the buyer asks, `changes_requested`; the worker's pass makes any it missed);
- an order waiting for approval that exceeds the available credit (the comparison the queue's
  "exceeds available credit" flag makes, `credit.order_credit`) and was submitted `BLOCKED_DAYS`
  or more of the seller's days ago: talk to finance.

`generate_due` finds them with one query per reason, whatever their number, skips those whose key
was ever made (one more query), and makes each new one in a short transaction of its own with
`tasks.add_system_task`: its unique key makes it once, however many workers run the pass at once.
A customer without an active account manager gets no task until it has one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeVarTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal.models import Company, Order, OrderStatus, Quote, QuoteStatus, Role, Task, TaskReason, User
from portal.services import customers, tasks
from portal.services.credit import credit_pictures, credit_use, order_credit

EXPIRING_DAYS = 3
"""A sent quote whose last valid day is at most this many days away is followed up."""
BLOCKED_DAYS = 2
"""An order blocked by credit this many of the seller's days after its submission needs finance."""

Row = TypeVarTuple("Row")


@dataclass
class GenerationReport:
    """How many tasks one pass made, by reason."""

    made: dict[TaskReason, int] = field(default_factory=dict)

    def count(self, reason: TaskReason) -> int:
        return self.made.get(reason, 0)

    @property
    def total(self) -> int:
        return sum(self.made.values())


def _managed(query: Select[*Row]) -> Select[*Row]:
    """`query` (over something joined to `Company`) kept to companies with an active account manager."""
    return query.join(User, User.id == Company.account_manager_id).where(
        User.is_active.is_(True), User.role == Role.ACCOUNT_MANAGER
    )


def _title(reason: TaskReason, **names: object) -> str:
    """The task's words in the portal's own language (English), kept with it for search and exports."""
    return tasks.SYSTEM_TITLES[reason] % names


async def _late_customers(session: AsyncSession, today: date) -> list[tasks.SystemTask]:
    rows = (
        await session.execute(_managed(select(Company.id, Company.name, User.id)).where(Company.is_active.is_(True)))
    ).all()
    rhythms = await customers.rhythms(session, [company_id for company_id, _, _ in rows], today)
    found = []
    for company_id, name, manager_id in rows:
        rhythm = rhythms[company_id]
        if not rhythm.late or rhythm.days_since_last is None:
            continue
        last_order_day = today - timedelta(days=rhythm.days_since_last)
        found.append(
            tasks.SystemTask(
                reason=TaskReason.LATE_CUSTOMER,
                key=tasks.origin_key(TaskReason.LATE_CUSTOMER, company_id, last_order_day.isoformat()),
                due_on=today,
                title=_title(TaskReason.LATE_CUSTOMER, company=name),
                owner_id=manager_id,
                company_id=company_id,
            )
        )
    return found


def _quotes(status: QuoteStatus) -> Select[int, str, int, int, int, date | None]:
    """Quotes in `status`: id, number, the version the buyer has, company, its account manager, last valid day."""
    return _managed(
        select(Quote.id, Quote.number, Quote.sent_version, Quote.company_id, User.id, Quote.valid_until)
        .join(Company, Company.id == Quote.company_id)
        .where(Quote.status == status)
    )


def _follow_up_day(valid_until: date | None, today: date) -> date:
    """The day before the quote's last valid day, and never before today."""
    assert valid_until is not None
    return max(today, valid_until - timedelta(days=1))


async def _expiring_quotes(session: AsyncSession, today: date) -> list[tasks.SystemTask]:
    last_day = today + timedelta(days=EXPIRING_DAYS)
    rows = await session.execute(_quotes(QuoteStatus.SENT).where(Quote.valid_until.between(today, last_day)))
    return [
        tasks.SystemTask(
            reason=TaskReason.QUOTE_EXPIRING,
            key=tasks.origin_key(TaskReason.QUOTE_EXPIRING, quote_id, f"v{version}"),
            due_on=_follow_up_day(valid_until, today),
            title=_title(TaskReason.QUOTE_EXPIRING, quote=number),
            owner_id=manager_id,
            company_id=company_id,
            quote_id=quote_id,
        )
        for quote_id, number, version, company_id, manager_id, valid_until in rows
    ]


def _changes_task(
    quote_id: int, number: str, version: int, company_id: int, manager_id: int, today: date
) -> tasks.SystemTask:
    """The next version to prepare of a quote the buyer asked changes to (`version`, the one they read)."""
    return tasks.SystemTask(
        reason=TaskReason.CHANGES_REQUESTED,
        key=tasks.origin_key(TaskReason.CHANGES_REQUESTED, quote_id, f"v{version}"),
        due_on=today,
        title=_title(TaskReason.CHANGES_REQUESTED, version=version + 1, quote=number),
        owner_id=manager_id,
        company_id=company_id,
        quote_id=quote_id,
    )


async def _changes_requested(session: AsyncSession, today: date) -> list[tasks.SystemTask]:
    rows = await session.execute(_quotes(QuoteStatus.CHANGES_REQUESTED))
    return [
        _changes_task(quote_id, number, version, company_id, manager_id, today)
        for quote_id, number, version, company_id, manager_id, _ in rows
    ]


async def changes_requested(session: AsyncSession, quote: Quote, today: date) -> int | None:
    """Makes the task to prepare the next version as the buyer asks for changes, in the buyer's
    transaction (the worker's pass finds its key made): its id, or None when there is no active
    account manager to give it to, or it was made before."""
    manager = await session.get(User, quote.company.account_manager_id) if quote.company.account_manager_id else None
    if manager is None or not manager.is_active or manager.role is not Role.ACCOUNT_MANAGER:
        return None
    wanted = _changes_task(quote.id, quote.number, quote.sent_version, quote.company_id, manager.id, today)
    return await tasks.add_system_task(session, wanted)


async def _credit_blocked(
    session: AsyncSession, today: date, *, grace_days: int, zone: ZoneInfo
) -> list[tasks.SystemTask]:
    """Waiting orders submitted `BLOCKED_DAYS` or more days ago (the seller's days) that exceed the
    company's available credit now, with the figures the approval queue flags them by."""
    submitted_before = datetime.combine(today - timedelta(days=BLOCKED_DAYS - 1), time(), zone)
    rows = (
        await session.execute(
            _managed(
                select(Order.id, Order.number, Order.company_id, Order.gross_total, Order.prepaid, User.id)
                .join(Company, Company.id == Order.company_id)
                .where(Order.status == OrderStatus.PENDING_APPROVAL, Order.submitted_at < submitted_before)
            )
        )
    ).all()
    if not rows:
        return []
    pictures = {
        picture.company.id: picture
        for picture in await credit_pictures(
            session, today=today, grace_days=grace_days, company_ids={row[2] for row in rows}
        )
    }
    return [
        tasks.SystemTask(
            reason=TaskReason.CREDIT_BLOCKED,
            key=tasks.origin_key(TaskReason.CREDIT_BLOCKED, order_id),
            due_on=today,
            title=_title(TaskReason.CREDIT_BLOCKED, order=number),
            owner_id=manager_id,
            company_id=company_id,
            order_id=order_id,
        )
        for order_id, number, company_id, gross, prepaid, manager_id in rows
        if order_credit(pictures[company_id], credit_use(gross, prepaid=prepaid), pending=True).exceeds
    ]


async def due_tasks(session: AsyncSession, today: date, *, grace_days: int, zone: ZoneInfo) -> list[tasks.SystemTask]:
    """Every system task the state of today calls for, made before or not."""
    return [
        *await _late_customers(session, today),
        *await _expiring_quotes(session, today),
        *await _changes_requested(session, today),
        *await _credit_blocked(session, today, grace_days=grace_days, zone=zone),
    ]


async def generate_due(
    maker: async_sessionmaker[AsyncSession], today: date, *, grace_days: int, zone: ZoneInfo
) -> GenerationReport:
    """The worker's pass: makes the system tasks due today that were never made, each in its own
    short transaction, and says how many it made of each reason. Any number of workers may run it
    at once: each task is made by exactly one of them (`tasks.add_system_task`)."""
    async with maker() as session:
        wanted = await due_tasks(session, today, grace_days=grace_days, zone=zone)
        keys = [task.key for task in wanted]
        made_before = (
            set(await session.scalars(select(Task.origin_key).where(Task.origin_key.in_(keys)))) if keys else set()
        )
    report = GenerationReport()
    for task in wanted:
        if task.key in made_before:
            continue
        async with maker() as session, session.begin():
            if await tasks.add_system_task(session, task) is not None:
                report.made[task.reason] = report.count(task.reason) + 1
    return report
