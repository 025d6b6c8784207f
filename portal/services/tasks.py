"""Tasks and follow-ups: what a member of staff must do by a day, about a customer, contact, quote,
opportunity or order. One module holds their rules: making, changing, snoozing and closing them,
"My day" (overdue, today, the next 7 days), and the system's tasks, each made once.

A system task carries its `reason` and an `origin_key` naming what it was made for; the key is
unique, so `add_system_task` makes it once however many workers try at the same moment (one
`INSERT … ON CONFLICT DO NOTHING`). Its title is worded for whoever reads it (`title_of`)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Table, and_, false, func, null, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal import clock
from portal.errors import Conflict, NotFound, Refused
from portal.i18n import N_, current_timezone, format_date, format_datetime, gettext
from portal.models import (
    Company,
    Contact,
    Opportunity,
    Order,
    Prospect,
    Quote,
    Role,
    Stage,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskReason,
    TaskStatus,
    User,
)
from portal.services import ordering, quotes, scoping
from portal.services.listing import PER_PAGE, ListQuery, Page

T = TypeVar("T")
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


def _next_version(task: Task) -> int:
    """The version a changes-requested task asks for: the one after the version the buyer asked
    changes to (kept in its key, "changes_requested:7:v2"), not the quote's present one."""
    asked = (task.origin_key or "").rpartition(":v")[2]
    if asked.isdecimal():
        return int(asked) + 1
    return task.quote.sent_version + 1 if task.quote else 0


def title_of(task: Task) -> str:
    """The task's title in the reader's language. A system task is worded from its reason and what
    it links to (load `company`, `prospect`, `quote` and `order` with it); a person's task is theirs."""
    if task.reason is None:
        return task.title
    names: dict[str, object] = {
        "company": task.company.name if task.company else task.prospect.name if task.prospect else "",
        "quote": task.quote.number if task.quote else "",
        "version": _next_version(task),
        "order": task.order.number if task.order else "",
    }
    return gettext(SYSTEM_TITLES[task.reason]) % names


# --- a person's tasks: making, changing, snoozing and closing them ------------------------------

NOTES_MAX = 5000
"""The longest notes of a task, in characters (`tasks.notes` is TEXT; this is the portal's limit)."""
EVENT_NOTE_MAX = 1000
"""The longest note kept with a snooze (`task_events.note` is TEXT)."""
MAX_DAYS_BACK = 30
"""A due date may lie at most this many days before today: catching up on a missed call is fine,
an older date is a typo."""
MAX_YEARS_AHEAD = 2
"""A due date may lie at most this many years after today; later is a typo (2062 for 2026)."""
UPCOMING_DAYS = 7
"""My day's last group: the tasks due in the next this many days after today."""
CUSTOMER_TASKS_SHOWN = 50
"""The customer page lists at most this many open tasks, the earliest due first."""
OPEN_STAGES = (Stage.LEAD, Stage.QUALIFIED, Stage.OFFER, Stage.NEGOTIATION)
"""An opportunity still being worked (not won or lost yet): one a new task may name."""
CLOSED = frozenset({TaskStatus.DONE, TaskStatus.CANCELLED})

CHANGED_FIELDS: dict[str, str] = {
    "title": N_("title"),
    "notes": N_("notes"),
    "due_on": N_("due date"),
    "due_time": N_("time"),
    "owner": N_("owner"),
    "links": N_("what it is about"),
}
"""What an edit changed, as a "changed" event keeps it (the codes, comma-separated in its note) and
the history names it."""


class TaskRefused(Refused):
    """A task that cannot be saved as asked; the message belongs next to `field`."""


@dataclass(frozen=True)
class Links:
    """What a task is about: a customer (or a prospect), and of it a contact, a quote, an opportunity
    or an order."""

    company_id: int | None = None
    prospect_id: int | None = None
    contact_id: int | None = None
    quote_id: int | None = None
    opportunity_id: int | None = None
    order_id: int | None = None


@dataclass(frozen=True)
class TaskInput:
    """A task as a person fills it in: on the new-task form and when changing one."""

    title: str
    due_on: date
    owner_id: int | None
    due_time: time | None = None
    notes: str = ""
    links: Links = field(default_factory=Links)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def due_range(today: date) -> tuple[date, date]:
    """The first and the last due date a task may be given today."""
    return today - timedelta(days=MAX_DAYS_BACK), _years_later(today, MAX_YEARS_AHEAD)


def _checked_due(day: date, today: date, field_name: str = "due_on") -> date:
    earliest, latest = due_range(today)
    if day < earliest:
        raise TaskRefused(
            gettext("A due date can be at most %(days)d days back: %(day)s at the earliest.")
            % {"days": MAX_DAYS_BACK, "day": format_date(earliest)},
            field_name,
        )
    if day > latest:
        raise TaskRefused(
            gettext("A due date can be at most %(years)d years ahead: %(day)s at the latest.")
            % {"years": MAX_YEARS_AHEAD, "day": format_date(latest)},
            field_name,
        )
    return day


def _checked_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise TaskRefused(gettext("Say what is to be done."), "title")
    if len(title) > TITLE_MAX:
        raise TaskRefused(gettext("A title holds at most %(max)d characters.") % {"max": TITLE_MAX}, "title")
    return title


def _checked_notes(notes: str, field_name: str = "notes", limit: int = NOTES_MAX) -> str:
    notes = notes.strip()
    if len(notes) > limit:
        raise TaskRefused(gettext("Use at most %(max)d characters.") % {"max": limit}, field_name)
    return notes


async def owner_choices(session: AsyncSession, user: User) -> list[User]:
    """Whom a task may be given to: an active account manager; finance and admins also themselves."""
    managers = list(
        await session.scalars(
            select(User).where(User.role == Role.ACCOUNT_MANAGER, User.is_active).order_by(User.full_name, User.id)
        )
    )
    return [user, *managers] if user.role in (Role.FINANCE, Role.ADMIN) else managers


async def _checked_owner(session: AsyncSession, user: User, owner_id: int | None, links: Links, today: date) -> User:
    """The owner chosen: an active account manager (or the finance or admin user themselves) who looks
    after the task's customer or prospect, so they can open it."""
    owner = await session.get(User, owner_id) if owner_id else None
    if owner is None or not owner.is_active or not (owner.role is Role.ACCOUNT_MANAGER or owner.id == user.id):
        raise TaskRefused(gettext("Choose an active account manager."), "owner_id")
    if links.company_id is not None:
        sees = await scoping.can_view_customer(session, owner, links.company_id, today)
    elif links.prospect_id is not None:
        sees = await scoping.can_view_prospect(session, owner, links.prospect_id, today)
    else:
        sees = True
    if not sees:
        raise TaskRefused(
            gettext("%(name)s does not look after this customer; choose who does.") % {"name": owner.full_name},
            "owner_id",
        )
    return owner


Linkable = type[Contact] | type[Quote] | type[Opportunity] | type[Order]


def _linked(links: Links) -> list[tuple[Linkable, int]]:
    """The contact, quote, opportunity and order a task names, with their ids."""
    named: list[tuple[Linkable, int | None]] = [
        (Contact, links.contact_id),
        (Quote, links.quote_id),
        (Opportunity, links.opportunity_id),
        (Order, links.order_id),
    ]
    return [(model, thing_id) for model, thing_id in named if thing_id is not None]


async def _belongs_to(session: AsyncSession, model: Linkable, thing_id: int) -> tuple[int | None, int | None]:
    """The customer and the prospect a contact, quote, opportunity or order belongs to; `NotFound`
    when there is no such thing."""
    prospect = Contact.prospect_id if model is Contact else Opportunity.prospect_id if model is Opportunity else null()
    row = (await session.execute(select(model.company_id, prospect).where(model.id == thing_id))).one_or_none()
    if row is None:
        raise NotFound()
    return row[0], row[1]


async def checked_links(session: AsyncSession, user: User, wanted: Links, today: date) -> Links:
    """The links of a task, each a thing of one customer (or prospect) this user sees; anything else
    is `NotFound`, as a thing that does not exist. Naming only a contact, quote, opportunity or order
    names its customer too."""
    company_id, prospect_id = wanted.company_id, wanted.prospect_id
    named = _linked(wanted)
    if company_id is None and prospect_id is None and named:
        company_id, prospect_id = await _belongs_to(session, *named[0])
    if (
        company_id is not None
        and prospect_id is not None
        and await session.scalar(select(Prospect.company_id).where(Prospect.id == prospect_id)) != company_id
    ):
        raise NotFound()  # a prospect and a customer it did not become
    if company_id is not None:
        if not await scoping.can_view_customer(session, user, company_id, today):
            raise NotFound()
    elif prospect_id is not None and not await scoping.can_view_prospect(session, user, prospect_id, today):
        raise NotFound()
    for model, thing_id in named:
        its_company, its_prospect = await _belongs_to(session, model, thing_id)
        if not (
            (company_id is not None and its_company == company_id)
            or (prospect_id is not None and its_prospect == prospect_id)
        ):
            raise NotFound()
    return replace(wanted, company_id=company_id, prospect_id=prospect_id)


async def create_task(session: AsyncSession, user: User, wanted: TaskInput, today: date) -> Task:
    """A task a person makes: for themselves or a colleague, about a customer they see (a foreign one
    is `NotFound`), due within `due_range`."""
    links = await checked_links(session, user, wanted.links, today)
    title = _checked_title(wanted.title)
    due_on = _checked_due(wanted.due_on, today)
    notes = _checked_notes(wanted.notes)
    owner = await _checked_owner(session, user, wanted.owner_id, links, today)
    now = clock.now()
    task = Task(
        title=title,
        notes=notes,
        due_on=due_on,
        due_time=wanted.due_time,
        owner_id=owner.id,
        status=TaskStatus.OPEN,
        created_by_id=user.id,
        created_at=now,
        updated_at=now,
        version=1,
        **asdict(links),
    )
    session.add(task)
    await session.flush()
    session.add(TaskEvent(task_id=task.id, at=now, actor_id=user.id, kind=TaskEventKind.CREATED, to_due=due_on))
    await session.flush()
    return task


async def _task(session: AsyncSession, task_id: int) -> Task:
    task = await session.get(Task, task_id)
    if task is None:
        raise NotFound()
    return task


def _when(at: datetime) -> str:
    """A moment as a reader says it: "14:05" today, the date and time another day."""
    zone = ZoneInfo(current_timezone.get())
    if at.astimezone(zone).date() == clock.now().astimezone(zone).date():
        return at.astimezone(zone).strftime("%H:%M")
    return format_datetime(at)


async def _last_change(session: AsyncSession, task_id: int) -> tuple[str, str]:
    """Who made the task's latest change, and when, as a reader says it."""
    event = await session.scalar(
        select(TaskEvent)
        .options(joinedload(TaskEvent.actor))
        .where(TaskEvent.task_id == task_id)
        .order_by(TaskEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return gettext("someone"), ""
    return (event.actor.full_name if event.actor else gettext("the system")), _when(event.at)


async def _changed_meanwhile(session: AsyncSession, task_id: int) -> Conflict:
    name, when = await _last_change(session, task_id)
    return Conflict(
        gettext("This task was changed by %(name)s at %(time)s meanwhile; here it is now — check and save again.")
        % {"name": name, "time": when}
    )


def _closed(task: Task, wanted: str) -> TaskRefused:
    """Why a closed task cannot be done, cancelled, snoozed or changed: said with who closed it and when."""
    name = task.closed_by.full_name if task.closed_by else gettext("the system")
    when = _when(task.closed_at) if task.closed_at else ""
    values = {"name": name, "time": when}
    if task.status is TaskStatus.DONE:
        done = gettext("%(name)s marked this task done at %(time)s.") % values
    else:
        done = gettext("%(name)s cancelled this task at %(time)s.") % values
    hints = {
        "done": gettext("Nothing was changed."),
        "snooze": gettext("Reopen it to snooze it."),
        "edit": gettext("Reopen it to change it."),
    }
    return TaskRefused(f"{done} {hints.get(wanted, hints['done'])}", "")


async def _open_task(session: AsyncSession, task_id: int, version: int | None, wanted: str) -> Task:
    """The task to change, still open and as the user saw it (`version`); otherwise they are told."""
    task = await session.get(Task, task_id, options=[joinedload(Task.closed_by)])
    if task is None:
        raise NotFound()
    if version is None:
        raise TaskRefused(gettext("This form is out of date: open the task again and save."), "")
    if task.status in CLOSED:
        raise _closed(task, wanted)
    if task.version != version:
        raise await _changed_meanwhile(session, task.id)
    return task


async def _save(session: AsyncSession, task: Task, version: int, values: dict[str, object], event: TaskEvent) -> Task:
    """Writes the change only if nobody changed the task since `version` (one conditional UPDATE, so
    of two people saving the same version the later one is told), and its event."""
    now = clock.now()
    result = await session.execute(
        update(Task)
        .where(Task.id == task.id, Task.version == version)
        .values(**values, version=Task.version + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise await _changed_meanwhile(session, task.id)
    event.task_id, event.at = task.id, now
    session.add(event)
    await session.flush()
    return await _loaded(session, task.id)


async def _loaded(session: AsyncSession, task_id: int) -> Task:
    """The task as it is now, with what it is shown with (`LOADED`)."""
    task = await session.scalar(
        select(Task).options(*LOADED).where(Task.id == task_id).execution_options(populate_existing=True)
    )
    if task is None:
        raise NotFound()
    return task


async def edit_task(
    session: AsyncSession, user: User, task_id: int, wanted: TaskInput, version: int | None, today: date
) -> Task:
    """Changes a task as the user saw it at `version`. A system task keeps its title and links (they
    say why it was made); a due date left as it was is kept however long ago it was."""
    task = await _open_task(session, task_id, version, "edit")
    system = task.reason is not None
    links = links_of(task) if system else await checked_links(session, user, wanted.links, today)
    due_on = wanted.due_on if wanted.due_on == task.due_on else _checked_due(wanted.due_on, today)
    values: dict[str, object] = {
        "title": task.title if system else _checked_title(wanted.title),
        "due_on": due_on,
        "due_time": wanted.due_time,
        "notes": _checked_notes(wanted.notes),
        **asdict(links),
    }
    if wanted.owner_id is None and task.owner_id is None and task.team is not None:
        values["owner_id"] = None  # a team task stays the team's until someone takes it
    elif wanted.owner_id == task.owner_id and links == links_of(task):
        values["owner_id"] = task.owner_id  # unchanged, even if the customer has moved on since
    else:
        values["owner_id"] = (await _checked_owner(session, user, wanted.owner_id, links, today)).id
        values["team"] = None
    changed = _changed_fields(task, values)
    if not changed:
        return task
    event = TaskEvent(actor_id=user.id, kind=TaskEventKind.CHANGED, note=",".join(changed))
    if due_on != task.due_on:
        event.from_due, event.to_due = task.due_on, due_on
    return await _save(session, task, task.version, values, event)


def links_of(task: Task) -> Links:
    """What the task is about, as it is now."""
    return Links(task.company_id, task.prospect_id, task.contact_id, task.quote_id, task.opportunity_id, task.order_id)


def _changed_fields(task: Task, values: dict[str, object]) -> list[str]:
    link_names = [f.name for f in fields(Links)]
    changed = [name for name in ("title", "notes", "due_on", "due_time") if getattr(task, name) != values[name]]
    if task.owner_id != values["owner_id"]:
        changed.append("owner")
    if any(getattr(task, name) != values[name] for name in link_names):
        changed.append("links")
    return changed


@dataclass(frozen=True)
class SnoozeChoice:
    """A quick choice of the snooze form: a name ("+1 day") and the day it moves the task to."""

    label: str
    day: date


def snooze_choices(task: Task, today: date) -> list[SnoozeChoice]:
    """+1 day, +3 days and next Monday, counted from the task's due date, or from today when it is
    overdue or due today."""
    start = max(task.due_on, today)
    monday = start + timedelta(days=7 - start.weekday())
    return [
        SnoozeChoice(gettext("+1 day"), start + timedelta(days=1)),
        SnoozeChoice(gettext("+3 days"), start + timedelta(days=3)),
        SnoozeChoice(gettext("Next Monday"), monday),
    ]


async def snooze(
    session: AsyncSession, user: User, task_id: int, to_day: date | None, note: str, version: int, today: date
) -> Task:
    """Moves an open task's due date, keeping from which day to which and the note in its history.
    The new day is today at the earliest and within `due_range`."""
    task = await _open_task(session, task_id, version, "snooze")
    if to_day is None:
        raise TaskRefused(gettext("Choose the day to move it to."), "to_day")
    if to_day < today:
        raise TaskRefused(gettext("Snooze to today or a later day."), "to_day")
    if to_day == task.due_on:
        raise TaskRefused(gettext("The task is already due that day."), "to_day")
    _checked_due(to_day, today, "to_day")
    note = _checked_notes(note, "note", EVENT_NOTE_MAX)
    event = TaskEvent(actor_id=user.id, kind=TaskEventKind.SNOOZED, from_due=task.due_on, to_due=to_day, note=note)
    return await _save(session, task, version, {"due_on": to_day}, event)


async def complete(session: AsyncSession, user: User, task_id: int, version: int) -> Task:
    """Marks an open task done. Done twice (two tabs, two people), the second is told and nothing changes."""
    task = await _open_task(session, task_id, version, "done")
    values: dict[str, object] = {"status": TaskStatus.DONE, "closed_at": clock.now(), "closed_by_id": user.id}
    return await _save(session, task, version, values, TaskEvent(actor_id=user.id, kind=TaskEventKind.DONE))


async def cancel(session: AsyncSession, user: User, task_id: int, version: int) -> Task:
    """Cancels an open task: nothing is to be done after all."""
    task = await _open_task(session, task_id, version, "done")
    values: dict[str, object] = {"status": TaskStatus.CANCELLED, "closed_at": clock.now(), "closed_by_id": user.id}
    return await _save(session, task, version, values, TaskEvent(actor_id=user.id, kind=TaskEventKind.CANCELLED))


async def reopen(session: AsyncSession, user: User, task_id: int, version: int) -> Task:
    """Opens a done or cancelled task again, with its due date as it was."""
    task = await _task(session, task_id)
    if task.status is TaskStatus.OPEN:
        raise TaskRefused(gettext("This task is open already; nothing was changed."), "")
    if task.version != version:
        raise await _changed_meanwhile(session, task.id)
    values: dict[str, object] = {"status": TaskStatus.OPEN, "closed_at": None, "closed_by_id": None}
    return await _save(session, task, version, values, TaskEvent(actor_id=user.id, kind=TaskEventKind.REOPENED))


# --- reading tasks: My day, a customer's, a person's list, one task ------------------------------

LOADED = (
    joinedload(Task.owner),
    joinedload(Task.company),
    joinedload(Task.prospect),
    joinedload(Task.quote),
    joinedload(Task.order),
)
"""What a task is shown with: its owner and what `title_of` and the "why" line name."""

WHY: dict[TaskReason, str] = {
    TaskReason.LATE_CUSTOMER: N_("%(company)s orders later than usual: see the reorder rhythm."),
    TaskReason.QUOTE_EXPIRING: N_("Quote %(quote)s expires on %(day)s."),
    TaskReason.CHANGES_REQUESTED: N_("The buyer asked for changes to quote %(quote)s."),
    TaskReason.CREDIT_BLOCKED: N_("Order %(order)s has waited 2 days, blocked by credit."),
    TaskReason.PROSPECT_WON: N_("%(company)s was won as a prospect and is a customer now."),
}
"""Why the system made a task, as its "Why" line says."""


@dataclass(frozen=True)
class Why:
    """Why the system made a task: the words, and the thing they link to (`kind`: "customer", "quote"
    or "order"; None when that thing is gone)."""

    text: str
    kind: str
    target_id: int | None


@dataclass(frozen=True)
class TaskRow:
    """A task as the lists show it on a day: its title in the reader's words, whether it is late,
    whose it is when not the reader's, and why the system made it."""

    task: Task
    today: date
    reader_id: int | None = None

    @property
    def title(self) -> str:
        return title_of(self.task)

    @property
    def time(self) -> str:
        """The time it is due at, "14:30" (the seller's zone); empty for any time that day."""
        return self.task.due_time.strftime("%H:%M") if self.task.due_time else ""

    @property
    def is_open(self) -> bool:
        return self.task.status is TaskStatus.OPEN

    @property
    def status_label(self) -> str:
        return gettext(STATUS_LABELS[self.task.status])

    @property
    def overdue(self) -> bool:
        return self.is_open and self.task.due_on < self.today

    @property
    def days_overdue(self) -> int:
        return (self.today - self.task.due_on).days if self.overdue else 0

    @property
    def due_today(self) -> bool:
        return self.is_open and self.task.due_on == self.today

    @property
    def someone_elses(self) -> User | None:
        """The colleague whose task this is, when the reader sees it for them (covering, or as finance)."""
        owner = self.task.owner
        return owner if owner is not None and owner.id != self.reader_id else None

    @property
    def team(self) -> str:
        """ "Finance team" for a task of everyone in a role; empty for a person's."""
        return role_team(self.task.team) if self.task.owner_id is None and self.task.team is not None else ""

    @property
    def why(self) -> Why | None:
        return why_of(self.task)


STATUS_LABELS = {TaskStatus.OPEN: N_("Open"), TaskStatus.DONE: N_("Done"), TaskStatus.CANCELLED: N_("Cancelled")}
TEAMS = {
    Role.FINANCE: N_("Finance team"),
    Role.ACCOUNT_MANAGER: N_("Account managers"),
    Role.ADMIN: N_("Administrators"),
    Role.BUYER: N_("Buyers"),
}


def role_team(role: Role) -> str:
    return gettext(TEAMS[role])


def why_of(task: Task) -> Why | None:
    """The "Why" line of a system task (load `company`, `prospect`, `quote` and `order` with it)."""
    if task.reason is None:
        return None
    quote, order = task.quote, task.order
    names = {
        "company": task.company.name if task.company else task.prospect.name if task.prospect else "",
        "quote": quote.number if quote else "",
        "order": order.number if order else "",
        "day": format_date(quote.valid_until) if quote and quote.valid_until else "",
    }
    text = gettext(WHY[task.reason]) % names
    if task.reason in (TaskReason.QUOTE_EXPIRING, TaskReason.CHANGES_REQUESTED):
        return Why(text, "quote", task.quote_id)
    if task.reason is TaskReason.CREDIT_BLOCKED:
        return Why(text, "order", task.order_id)
    return Why(text, "customer", task.company_id)


@dataclass(frozen=True)
class MyDay:
    """What a member of staff has to do: overdue, due today, due in the next 7 days; each by due date
    and time (a task with a time first), then title."""

    overdue: list[TaskRow]
    today: list[TaskRow]
    next_7_days: list[TaskRow]

    @property
    def count(self) -> int:
        return len(self.overdue) + len(self.today) + len(self.next_7_days)


def _visible(user: User, in_charge: frozenset[int] | None) -> ColumnElement[bool]:
    """`scoping.can_view_crm` for tasks, as a condition: whoever sees the customer or prospect; a task
    about neither is its owner's and its team's (and every admin's)."""
    companies = select(Company.id).where(scoping.company_filter(user, in_charge))
    prospects = select(Prospect.id).where(scoping.prospect_filter(user, in_charge))
    own = or_(Task.owner_id == user.id, Task.team == user.role, true() if user.role is Role.ADMIN else false())
    return or_(
        Task.company_id.in_(companies),
        and_(Task.company_id.is_(None), Task.prospect_id.in_(prospects)),
        and_(Task.company_id.is_(None), Task.prospect_id.is_(None), own),
    )


def _teams(user: User) -> list[Role]:
    """The teams whose tasks a user shares: their role's; an admin also finance's."""
    return [user.role, Role.FINANCE] if user.role is Role.ADMIN else [user.role]


def _mine(user: User, in_charge: frozenset[int] | None) -> ColumnElement[bool]:
    """The tasks that are this user's to do: their own, their team's, and while covering for colleagues
    the colleagues' tasks of the customers (and prospects) they cover."""
    absent = sorted((in_charge or frozenset()) - {user.id})
    mine = [Task.owner_id == user.id, and_(Task.owner_id.is_(None), Task.team.in_(_teams(user)))]
    if absent:
        covered = select(Company.id).where(Company.account_manager_id.in_(absent))
        prospects = select(Prospect.id).where(Prospect.owner_id.in_(absent))
        mine.append(
            and_(
                Task.owner_id.in_(absent),
                or_(Task.company_id.in_(covered), and_(Task.company_id.is_(None), Task.prospect_id.in_(prospects))),
            )
        )
    return and_(or_(*mine), _visible(user, in_charge))


def _team(user: User, in_charge: frozenset[int] | None) -> ColumnElement[bool]:
    return and_(Task.owner_id.is_(None), Task.team.in_(_teams(user)), _visible(user, in_charge))


DUE_ORDER = (Task.due_on, Task.due_time.is_(None), Task.due_time, Task.id)


async def my_day(session: AsyncSession, user: User, today: date) -> MyDay:
    """The user's open tasks overdue, due today and due in the next 7 days (`_mine`), in two queries."""
    in_charge = await scoping.managers_in_charge(session, user, today)
    found = await session.scalars(
        select(Task)
        .options(*LOADED)
        .where(
            _mine(user, in_charge),
            Task.status == TaskStatus.OPEN,
            Task.due_on <= today + timedelta(days=UPCOMING_DAYS),
        )
        .order_by(*DUE_ORDER)
    )
    rows = [TaskRow(task, today, user.id) for task in found]
    return MyDay(
        overdue=[row for row in rows if row.task.due_on < today],
        today=[row for row in rows if row.task.due_on == today],
        next_7_days=[row for row in rows if row.task.due_on > today],
    )


async def due_count(session: AsyncSession, user: User, today: date) -> int:
    """How many of the user's open tasks are overdue or due today (the number by "Tasks")."""
    in_charge = await scoping.managers_in_charge(session, user, today)
    counted = select(func.count(Task.id)).where(
        _mine(user, in_charge), Task.status == TaskStatus.OPEN, Task.due_on <= today
    )
    return int(await session.scalar(counted) or 0)


async def open_tasks_for(
    session: AsyncSession, today: date, *, company_id: int | None = None, prospect_id: int | None = None
) -> list[TaskRow]:
    """The open tasks of one customer or one prospect (exactly one), the earliest due first, in one
    query; the caller has checked the user sees it."""
    found = await session.scalars(
        select(Task)
        .options(*LOADED)
        .where(open_tasks_of(company_id=company_id, prospect_id=prospect_id))
        .order_by(*DUE_ORDER)
        .limit(CUSTOMER_TASKS_SHOWN)
    )
    return [TaskRow(task, today) for task in found]


def open_tasks_of(*, company_id: int | None = None, prospect_id: int | None = None) -> ColumnElement[bool]:
    """The condition on `Task` that keeps the open tasks of one customer or one prospect (exactly one)."""
    assert (company_id is None) != (prospect_id is None)
    about = Task.company_id == company_id if company_id is not None else Task.prospect_id == prospect_id
    return and_(about, Task.status == TaskStatus.OPEN)


class Scope(enum.StrEnum):
    MINE = "mine"
    TEAM = "team"


async def task_list(
    session: AsyncSession, user: User, today: date, *, status: TaskStatus, scope: Scope, page: int
) -> Page[TaskRow]:
    """The user's tasks (`_mine`) or their team's, of one status: open ones by due date, closed ones
    the latest closed first; a page of `PER_PAGE`, in three queries."""
    in_charge = await scoping.managers_in_charge(session, user, today)
    condition = and_(_mine(user, in_charge) if scope is Scope.MINE else _team(user, in_charge), Task.status == status)
    total = int(await session.scalar(select(func.count(Task.id)).where(condition)) or 0)
    order = DUE_ORDER if status is TaskStatus.OPEN else (Task.closed_at.desc(), Task.id.desc())
    found = await session.scalars(
        select(Task).options(*LOADED).where(condition).order_by(*order).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    )
    query = ListQuery(page=page, filters={"status": status.value, "scope": scope.value})
    return Page([TaskRow(task, today, user.id) for task in found], total, query)


@dataclass(frozen=True)
class TaskPage:
    """One task with everything its page shows: the row, the names of what it links to, its history,
    the snooze form's quick choices and whom it can be given to."""

    row: TaskRow
    contact: Contact | None
    opportunity: Opportunity | None
    history: list[HistoryEntry]
    snooze_choices: list[SnoozeChoice]
    owners: list[User]


async def task_row(session: AsyncSession, user: User, task_id: int, today: date) -> TaskRow:
    """One task as the lists show it, as it is now."""
    return TaskRow(await _loaded(session, task_id), today, user.id)


async def task_history(session: AsyncSession, task_id: int) -> list[TaskEvent]:
    """Everything that happened to a task, the latest first, with who did it."""
    return list(
        await session.scalars(
            select(TaskEvent)
            .options(joinedload(TaskEvent.actor))
            .where(TaskEvent.task_id == task_id)
            .order_by(TaskEvent.at.desc(), TaskEvent.id.desc())
        )
    )


async def task_page(session: AsyncSession, user: User, task_id: int, today: date) -> TaskPage:
    """The task for its page; the caller has checked the user sees it (`scoping.can_view_crm`)."""
    task = await session.scalar(
        select(Task)
        .options(*LOADED, joinedload(Task.contact), joinedload(Task.opportunity), joinedload(Task.closed_by))
        .where(Task.id == task_id)
    )
    if task is None:
        raise NotFound()
    return TaskPage(
        row=TaskRow(task, today, user.id),
        contact=task.contact,
        opportunity=task.opportunity,
        history=[HistoryEntry(event) for event in await task_history(session, task_id)],
        snooze_choices=snooze_choices(task, today),
        owners=await owner_choices(session, user),
    )


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a task's history: the event, who made it in the reader's words, and for a change
    what it changed."""

    event: TaskEvent

    @property
    def actor(self) -> str:
        return self.event.actor.full_name if self.event.actor else gettext("the system")

    @property
    def changes(self) -> str:
        """ "title, due date" for a "changed" event; empty for the others."""
        if self.event.kind is not TaskEventKind.CHANGED:
            return ""
        codes = [code for code in self.event.note.split(",") if code in CHANGED_FIELDS]
        return ", ".join(gettext(CHANGED_FIELDS[code]) for code in codes)


CHOICES_SHOWN = 100
"""The task form offers at most this many of a customer's contacts, quotes, opportunities and orders."""


@dataclass(frozen=True)
class TaskForm:
    """What the task form offers for the links chosen (`links`, checked): the customers the user sees,
    and of the chosen customer (or prospect) its contacts, open quotes, open opportunities and open
    orders — with a thing the task names that is no longer open still on offer — and the owners."""

    links: Links
    companies: list[Company]
    prospect: Prospect | None
    contacts: list[Contact]
    quotes: list[Quote]
    opportunities: list[Opportunity]
    orders: list[Order]
    owners: list[User]


async def task_form(session: AsyncSession, user: User, wanted: Links, today: date) -> TaskForm:
    """The task form for these links: a customer, contact, quote, opportunity or order the user does
    not see is `NotFound`."""
    links = await checked_links(session, user, wanted, today)
    companies = await scoping.visible_companies(session, user, today)
    prospect = await session.get(Prospect, links.prospect_id) if links.prospect_id else None
    contacts, opportunities = await _people_and_chances(session, links)
    open_quotes: list[Quote] = []
    open_orders: list[Order] = []
    if links.company_id is not None:
        open_quotes = await _choices(
            session,
            select(Quote).where(Quote.company_id == links.company_id),
            or_(Quote.status.in_(quotes.OPEN), Quote.id == (links.quote_id or 0)),
            (Quote.updated_at.desc(), Quote.id.desc()),
        )
        open_orders = await _choices(
            session,
            select(Order).where(Order.company_id == links.company_id),
            or_(Order.status.in_(list(ordering.MOVES)), Order.id == (links.order_id or 0)),
            (Order.submitted_at.desc(), Order.id.desc()),
        )
    owners = await owner_choices(session, user)
    return TaskForm(links, companies, prospect, contacts, open_quotes, opportunities, open_orders, owners)


async def _people_and_chances(session: AsyncSession, links: Links) -> tuple[list[Contact], list[Opportunity]]:
    """The contacts and open opportunities of the task's customer, or of its prospect."""
    if links.company_id is None and links.prospect_id is None:
        return [], []
    by_company = links.company_id is not None
    contacts = await _choices(
        session,
        select(Contact).where(
            Contact.company_id == links.company_id if by_company else Contact.prospect_id == links.prospect_id
        ),
        or_(Contact.retired.is_(False), Contact.id == (links.contact_id or 0)),
        (Contact.full_name, Contact.id),
    )
    opportunities = await _choices(
        session,
        select(Opportunity).where(
            Opportunity.company_id == links.company_id if by_company else Opportunity.prospect_id == links.prospect_id
        ),
        or_(Opportunity.stage.in_(OPEN_STAGES), Opportunity.id == (links.opportunity_id or 0)),
        (Opportunity.expected_close_on, Opportunity.id),
    )
    return contacts, opportunities


async def _choices(
    session: AsyncSession, of: Select[T], still_open: ColumnElement[bool], order: tuple[Any, ...]
) -> list[T]:
    return list(await session.scalars(of.where(still_open).order_by(*order).limit(CHOICES_SHOWN)))
