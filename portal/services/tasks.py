"""Tasks and follow-ups: what a member of staff must do by a day, about a customer, contact, quote,
opportunity or order. One module holds their rules: making, changing, snoozing and closing them,
"My day" (overdue, today, the next 7 days), and the system's tasks, each made once.

A system task carries its `reason` and an `origin_key` naming what it was made for; the key is
unique, so `add_system_task` makes it once however many workers try at the same moment (one
`INSERT … ON CONFLICT DO NOTHING`). Its title is worded for whoever reads it (`title_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import N_, gettext
from portal.models import Role, Task, TaskEvent, TaskEventKind, TaskReason, TaskStatus

TITLE_MAX = 200
"""`tasks.title` is VARCHAR(200)."""

SYSTEM_TITLES: dict[TaskReason, str] = {
    TaskReason.LATE_CUSTOMER: N_("Call %(company)s about their usual order"),
    TaskReason.QUOTE_EXPIRING: N_("Follow up quote %(quote)s"),
    TaskReason.CHANGES_REQUESTED: N_("Prepare version %(version)d of quote %(quote)s"),
    TaskReason.CREDIT_BLOCKED: N_("Talk to finance about order %(order)s"),
    TaskReason.PROSPECT_WON: N_("Set terms and credit for %(company)s"),
}
"""How a system task reads, by its reason; `title_of` fills in the names from what it links to."""


def origin_key(reason: TaskReason, *parts: object) -> str:
    """What a system task was made for, as its unique key: "late_customer:12:2026-11-02" (the company
    and its last order's day, so one task per time it is late), "quote_expiring:7:v2",
    "changes_requested:7:v2" (the version the buyer asked changes to), "credit_blocked:31",
    "prospect_won:4"."""
    return ":".join([reason.value, *(str(part) for part in parts)])


@dataclass(frozen=True)
class SystemTask:
    """A task the system makes: why, for which thing (`origin_key`), whose and by when."""

    reason: TaskReason
    key: str
    due_on: date
    title: str
    """The task's words in the portal's own language, kept for search and exports; pages show `title_of`."""
    owner_id: int | None = None
    team: Role | None = None
    company_id: int | None = None
    prospect_id: int | None = None
    quote_id: int | None = None
    order_id: int | None = None
    opportunity_id: int | None = None
    due_time: time | None = None


def _insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


async def add_system_task(session: AsyncSession, wanted: SystemTask) -> int | None:
    """Makes the task unless one was ever made for the same `key` (open, done or cancelled): its id,
    or None when it existed. Safe against any number of workers at once."""
    assert wanted.owner_id is not None or wanted.team is not None
    now = clock.now()
    table = Task.__table__
    assert isinstance(table, Table)
    statement = (
        _insert(session, table)
        .values(
            title=wanted.title[:TITLE_MAX],
            notes="",
            due_on=wanted.due_on,
            due_time=wanted.due_time,
            owner_id=wanted.owner_id,
            team=wanted.team,
            status=TaskStatus.OPEN,
            company_id=wanted.company_id,
            prospect_id=wanted.prospect_id,
            quote_id=wanted.quote_id,
            order_id=wanted.order_id,
            opportunity_id=wanted.opportunity_id,
            reason=wanted.reason,
            origin_key=wanted.key,
            created_by_id=None,
            created_at=now,
            updated_at=now,
            version=1,
        )
        .on_conflict_do_nothing(index_elements=["origin_key"])
        .returning(table.c.id)
    )
    task_id = (await session.execute(statement)).scalar_one_or_none()
    if task_id is not None:
        session.add(TaskEvent(task_id=task_id, at=now, actor_id=None, kind=TaskEventKind.CREATED, to_due=wanted.due_on))
        await session.flush()
    return task_id


def title_of(task: Task) -> str:
    """The task's title in the reader's language. A system task is worded from its reason and what
    it links to (load `company`, `prospect`, `quote` and `order` with it); a person's task is theirs."""
    if task.reason is None:
        return task.title
    names: dict[str, object] = {
        "company": task.company.name if task.company else task.prospect.name if task.prospect else "",
        "quote": task.quote.number if task.quote else "",
        "version": task.quote.sent_version + 1 if task.quote else 0,
        "order": task.order.number if task.order else "",
    }
    return gettext(SYSTEM_TITLES[task.reason]) % names
