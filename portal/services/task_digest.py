"""The daily digest of tasks: each morning, one e-mail to each member of staff with open tasks
overdue, due today or due in the next `DIGEST_DAYS` days, grouped so, each with its due date, its
customer and a link to it. Nothing is sent to someone with none of these, nor to someone who
switched the digest off (`NotificationKind.TASK_DIGEST`).

Whose tasks, as on their "My day": those they own; the team tasks of their role that nobody owns
(an admin also finance's); and, while an account manager covers an absent colleague (`Deputy`), the
colleague's open tasks of the colleague's customers and prospects. Only tasks whose page opens for
them (`scoping.can_view_crm`) are listed.

Once per user and day: the worker claims a `TaskDigest(user_id, day)` row with one
`INSERT … ON CONFLICT DO NOTHING` in the transaction that writes the message to the outbox, so any
number of workers send each digest once. Who gets which tasks is read in a few queries, however
many people and tasks there are."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import contains_eager, joinedload

from portal import clock
from portal.i18n import format_date, format_datetime, gettext
from portal.models import (
    Company,
    Deputy,
    NotificationKind,
    NotificationOptOut,
    Prospect,
    Role,
    Task,
    TaskDigest,
    TaskStatus,
    User,
)
from portal.services import notifications, tasks

DIGEST_DAYS = 7
"""The digest looks this many days ahead of today."""
TEAMS: dict[Role, tuple[Role, ...]] = {
    Role.ACCOUNT_MANAGER: (Role.ACCOUNT_MANAGER,),
    Role.FINANCE: (Role.FINANCE,),
    Role.ADMIN: (Role.ADMIN, Role.FINANCE),
}
"""The team tasks each role of staff reads with its own."""


@dataclass(frozen=True)
class DigestLine:
    """One task as the digest words it, in the reader's language (read while the e-mail is written)."""

    task: Task
    today: date
    zone: ZoneInfo

    @property
    def title(self) -> str:
        return tasks.title_of(self.task)

    @property
    def customer(self) -> str:
        """The customer's (or prospect's) name; empty for a task about neither."""
        task = self.task
        return task.company.name if task.company else task.prospect.name if task.prospect else ""

    @property
    def due(self) -> str:
        """Its due date, and the time where it has one (set in the seller's zone, shown in the reader's)."""
        if self.task.due_time is None:
            return format_date(self.task.due_on)
        return format_datetime(datetime.combine(self.task.due_on, self.task.due_time, self.zone))

    @property
    def days_overdue(self) -> int:
        return max((self.today - self.task.due_on).days, 0)

    @property
    def url(self) -> str:
        """The task's page; the sender puts the portal's address in front (`notifications.PORTAL`)."""
        return f"{notifications.PORTAL}/tasks/{self.task.id}"


@dataclass(frozen=True)
class Digest:
    """One person's tasks for the day: overdue, due today, due in the next `DIGEST_DAYS` days."""

    user: User
    day: date
    overdue: list[DigestLine] = field(default_factory=list)
    due_today: list[DigestLine] = field(default_factory=list)
    coming: list[DigestLine] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.overdue or self.due_today or self.coming)

    def add(self, line: DigestLine) -> None:
        due_on = line.task.due_on
        (self.overdue if due_on < self.day else self.due_today if due_on == self.day else self.coming).append(line)

    def subject(self) -> str:
        return gettext(
            "My day %(day)s: %(overdue)d overdue, %(today)d due today, %(coming)d in the next %(days)d days"
        ) % {
            "day": format_date(self.day),
            "overdue": len(self.overdue),
            "today": len(self.due_today),
            "coming": len(self.coming),
            "days": DIGEST_DAYS,
        }


@dataclass(frozen=True)
class _Reader:
    """Whose tasks a reader's digest lists: the account managers whose customers they see today
    (themselves and the colleagues they cover; None: every customer, finance and admins)."""

    user: User
    in_charge: frozenset[int] | None

    @property
    def absent(self) -> frozenset[int]:
        return (self.in_charge or frozenset()) - {self.user.id}

    def sees(self, task: Task) -> bool:
        """`scoping.can_view_crm`: the task's page opens for them."""
        if self.in_charge is None:
            return True
        if task.company is not None:
            return task.company.account_manager_id in self.in_charge
        if task.prospect is not None:
            return task.prospect.owner_id in self.in_charge
        return True  # about neither: their own or their team's, as `lists` asks

    def lists(self, task: Task) -> bool:
        """Their own task, their team's (without an owner), or an absent colleague's task of the
        colleague's own customers and prospects; and one they can open."""
        mine = task.owner_id == self.user.id or (task.owner_id is None and task.team in TEAMS[self.user.role])
        covered = task.owner_id in self.absent and (
            task.company.account_manager_id == task.owner_id
            if task.company is not None
            else task.prospect is not None and task.prospect.owner_id == task.owner_id
        )
        return (mine or covered) and self.sees(task)


async def digests(session: AsyncSession, today: date, *, zone: ZoneInfo) -> list[Digest]:
    """The digests of the day not sent yet, one per active member of staff who wants one and has
    tasks in it, by user id; three queries whoever and however many they are."""
    already = select(TaskDigest.user_id).where(TaskDigest.day == today)
    opted_out = select(NotificationOptOut.user_id).where(NotificationOptOut.kind == NotificationKind.TASK_DIGEST)
    readers = list(
        await session.scalars(
            select(User)
            .where(
                User.is_active.is_(True),
                User.role.in_(list(TEAMS)),
                User.id.not_in(already),
                User.id.not_in(opted_out),
            )
            .order_by(User.id)
        )
    )
    if not readers:
        return []
    reader_ids = [reader.id for reader in readers]
    covering: dict[int, set[int]] = defaultdict(set)
    for deputy_id, manager_id in await session.execute(
        select(Deputy.deputy_id, Deputy.manager_id).where(
            Deputy.deputy_id.in_(reader_ids), Deputy.starts_on <= today, Deputy.ends_on >= today
        )
    ):
        covering[deputy_id].add(manager_id)
    owners = set(reader_ids).union(*covering.values())
    teams = sorted({team for reader in readers for team in TEAMS[reader.role]})
    found = (
        await session.scalars(
            select(Task)
            .outerjoin(Company, Company.id == Task.company_id)
            .outerjoin(Prospect, Prospect.id == Task.prospect_id)
            .options(
                contains_eager(Task.company),
                contains_eager(Task.prospect),
                joinedload(Task.quote),
                joinedload(Task.order),
            )
            .where(
                Task.status == TaskStatus.OPEN,
                Task.due_on <= today + timedelta(days=DIGEST_DAYS),
                or_(Task.owner_id.in_(sorted(owners)), and_(Task.owner_id.is_(None), Task.team.in_(teams))),
            )
            .order_by(Task.due_on, Task.due_time.is_(None), Task.due_time, Task.id)
        )
    ).all()
    result = []
    for user in readers:
        reader = _Reader(user, frozenset({user.id, *covering[user.id]}) if user.role is Role.ACCOUNT_MANAGER else None)
        digest = Digest(user, today)
        for task in found:
            if reader.lists(task):
                digest.add(DigestLine(task, today, zone))
        if not digest.empty:
            result.append(digest)
    return result


async def _claim(session: AsyncSession, user_id: int, day: date) -> bool:
    """Takes the user's digest of the day for this transaction: False when it was taken before."""
    table = TaskDigest.__table__
    assert isinstance(table, Table)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(user_id=user_id, day=day, created_at=clock.now())
        .on_conflict_do_nothing(index_elements=["user_id", "day"])
        .returning(table.c.user_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def send_digests(maker: async_sessionmaker[AsyncSession], today: date, *, zone: ZoneInfo) -> int:
    """The worker's pass: writes today's digest of each member of staff who has one to the outbox,
    each in a transaction of its own that first claims it for the day; the number written. Workers
    running at once write each once: the one that claims it."""
    async with maker() as session:
        wanted = await digests(session, today, zone=zone)
    written = 0
    for digest in wanted:
        async with maker() as session, session.begin():
            if not await _claim(session, digest.user.id, today):
                continue
            await notifications.notify(
                session,
                NotificationKind.TASK_DIGEST,
                [digest.user],
                digest.subject,
                "task_digest",
                {"digest": digest, "days": DIGEST_DAYS},
                "/tasks",
            )
            written += 1
    return written
