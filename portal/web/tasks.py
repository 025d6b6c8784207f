"""Tasks and follow-ups for staff: the list of one's tasks, a new task (prefilled from the page it
was started on), one task's page (details, history, changing, snoozing, closing), and the number of
tasks due by "Tasks" in the navigation.

Every page and action names a task the user sees (`sees_crm("task")`); any other is 404. Each
change carries the task's `version`, so of two people saving the same version the later one is
told and sees the task as it is now. Marking a task done from "My day" swaps its row (htmx); a
plain POST goes back to the page named by `back`."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, time
from typing import Annotated, Any, ClassVar

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, format_date, gettext
from portal.models import Role, Task, TaskStatus
from portal.services import tasks
from portal.services.tasks import Links, Scope, TaskInput, TaskRow
from portal.web.context import PortalRequest, is_partial, render, seller_today
from portal.web.errors import FormPage, Refusal
from portal.web.guards import allow, home_route
from portal.web.inputs import MAX_ID, NO_NUL, Day, Form, FormId, Id, MaybeId, PageNo, Text, Translated, path_id
from portal.web.scoping import sees_crm

CLOCK_TIME = r"\A([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?\Z"
"""A time of day as a time input sends it: 14:30 (or 14:30:00)."""
Version = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
ScopeQuery = Annotated[Scope, QueryParameter(name="scope")]
TitleQuery = Annotated[str | None, QueryParameter(name="title", max_length=200, pattern=NO_NUL)]
"""A suggested title for a new task (the reports' "create task" links)."""
"""`?scope=team`: the team's tasks instead of one's own (`scope` names the request in a handler)."""
LINKS = ("company_id", "prospect_id", "contact_id", "quote_id", "opportunity_id", "order_id")


class Back(enum.StrEnum):
    """Where a plain (not htmx) POST goes back to: the task, the home page's My day, the list, the customer."""

    TASK = "task"
    HOME = "home"
    LIST = "list"
    CUSTOMER = "customer"


class TaskFields(Form):
    """The task form, new and changed; a system task's form has no title or links (they stay)."""

    due_on: Day
    title: Annotated[Text, msgspec.Meta(max_length=tasks.TITLE_MAX)] = ""
    due_time: Annotated[str, msgspec.Meta(pattern=CLOCK_TIME)] | None = None
    owner_id: FormId | None = None
    notes: Annotated[Text, msgspec.Meta(max_length=tasks.NOTES_MAX)] = ""
    company_id: FormId | None = None
    prospect_id: FormId | None = None
    contact_id: FormId | None = None
    quote_id: FormId | None = None
    opportunity_id: FormId | None = None
    order_id: FormId | None = None
    version: Version | None = None
    """The version of the task the edit form shows (a new task has none)."""

    messages: ClassVar[dict[str, str]] = Translated(
        {
            "due_time": N_("Enter the time as HH:MM, such as 14:30."),
            "owner_id": N_("Choose an active account manager."),
        }
    )

    def task(self) -> TaskInput:
        links = Links(**{name: getattr(self, name) for name in LINKS})
        due_time = time.fromisoformat(self.due_time) if self.due_time else None
        return TaskInput(self.title, self.due_on, self.owner_id, due_time, self.notes, links)


class SnoozeFields(Form):
    version: Version
    to_day: Day | None = None
    quick: Day | None = None
    """A quick choice's button (+1 day, +3 days, next Monday): its day wins over the date typed."""
    note: Annotated[Text, msgspec.Meta(max_length=tasks.EVENT_NOTE_MAX)] = ""

    def day(self) -> date | None:
        return self.quick or self.to_day


class CloseFields(Form):
    version: Version
    back: Back = Back.TASK


def links_query(
    company_id: FromQuery[MaybeId] = None,
    prospect_id: FromQuery[MaybeId] = None,
    contact_id: FromQuery[MaybeId] = None,
    quote_id: FromQuery[MaybeId] = None,
    opportunity_id: FromQuery[MaybeId] = None,
    order_id: FromQuery[MaybeId] = None,
) -> Links:
    """?company_id=…&quote_id=…: what a new task is about, from the page it was started on."""
    return Links(company_id, prospect_id, contact_id, quote_id, opportunity_id, order_id)


# --- the pages, shared by the handlers and the refusals -----------------------------------------


def _as_text(values: Mapping[str, Any]) -> dict[str, str]:
    shown = {key: value[0] if isinstance(value, list) and value else value for key, value in values.items()}
    return {key: "" if value is None else str(value) for key, value in shown.items() if not isinstance(value, list)}


def _form_of(task: Task) -> dict[str, str]:
    """A task's values as its form shows them."""
    values = {name: getattr(task, name) for name in ("title", "notes", "due_on", "owner_id", *LINKS)}
    values["due_time"] = task.due_time.strftime("%H:%M") if task.due_time else None
    return _as_text(values)


def _new_page(
    request: PortalRequest, form: tasks.TaskForm, typed: dict[str, str], refusal: Refusal | None = None
) -> Template:
    context = {"form": form, "typed": typed, "errors": refusal.errors if refusal else {}, "message": ""}
    if refusal and "" in refusal.errors:
        context["message"] = refusal.errors[""]
    return render(
        request,
        "tasks/new.html",
        context,
        partial="tasks/_link_fields.html",
        status_code=refusal.status_code if refusal else 200,
    )


async def _new_again(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    typed = _as_text(refusal.entered)
    form = await tasks.task_form(db_session, request.user, _links_in(typed, Links()), seller_today(request))
    return _new_page(request, form, typed, refusal)


class _LinkFields(Form):
    company_id: FormId | None = None
    prospect_id: FormId | None = None
    contact_id: FormId | None = None
    quote_id: FormId | None = None
    opportunity_id: FormId | None = None
    order_id: FormId | None = None


def _links_in(values: Mapping[str, Any], otherwise: Links) -> Links:
    """What a refused form's link fields name, read as the form reads them; `otherwise` when one of
    them cannot be read."""
    try:
        chosen = msgspec.convert({key: values[key] for key in LINKS if values.get(key)}, _LinkFields, strict=False)
    except msgspec.ValidationError:
        return otherwise
    return Links(**{name: getattr(chosen, name) for name in LINKS})


async def _task_page(
    request: PortalRequest, db_session: AsyncSession, task_id: int, refusal: Refusal | None = None, where: str = ""
) -> Template:
    """The task's page; after a refusal, its message next to the form `where` names and what was typed
    kept; after a conflict (409) the forms show the task as it is now, with its new version."""
    today = seller_today(request)
    page = await tasks.task_page(db_session, request.user, task_id, today)
    conflict = refusal is not None and refusal.status_code == 409
    typed = _as_text(refusal.entered) if refusal else {}
    task = page.row.task
    edited = {**_form_of(task), **typed} if where == "edit" else _form_of(task)
    links = _links_in(edited, tasks.links_of(task))
    form = await tasks.task_form(db_session, request.user, links, today) if page.row.is_open else None
    context = {
        "page": page,
        "row": page.row,
        "task": task,
        "form": form,
        "typed": edited,
        "snooze": typed if where == "snooze" else {},
        "version": task.version if conflict or not refusal else typed.get("version", ""),
        "where": where,
        "errors": refusal.errors if refusal else {},
    }
    return render(request, "tasks/show.html", context, status_code=refusal.status_code if refusal else 200)


def _task_again(where: str) -> FormPage:
    """The task page again with the refusal next to the form `where` names; for htmx (a row of My
    day), the row again with the message."""

    async def page(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
        task_id = path_id(request.path_params.get("task_id"))
        if is_partial(request):
            row = await tasks.task_row(db_session, request.user, task_id, seller_today(request))
            return Template("tasks/_day_row.html", context={"row": row, "row_error": refusal.message})
        return await _task_page(request, db_session, task_id, refusal, where)

    return page


def _after_close(request: PortalRequest, task: Task, back: Back, message: str) -> Response[Any]:
    """The row again for htmx (My day swaps it); otherwise back where the button was."""
    if is_partial(request):
        return Template("tasks/_day_row.html", context={"row": TaskRow(task, seller_today(request), request.user.id)})
    flash(request, message, "success")
    reverse = request.app.route_reverse
    if back is Back.HOME:
        return Redirect(reverse(home_route(request.user)), status_code=303)
    if back is Back.LIST:
        return Redirect(reverse("tasks"), status_code=303)
    if back is Back.CUSTOMER and task.company_id is not None:
        return Redirect(reverse("customer", company_id=task.company_id), status_code=303)
    return Redirect(reverse("task", task_id=task.id), status_code=303)


def _to_task(request: PortalRequest, task_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("task", task_id=task_id), status_code=303)


class TasksController(Controller):
    """Staff only; a task of a customer the user does not see answers 404 (`sees_crm`)."""

    path = "/tasks"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)]

    @get("/", name="tasks")
    async def index(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        status: FromQuery[TaskStatus] = TaskStatus.OPEN,
        whose: ScopeQuery = Scope.MINE,
        page: FromQuery[PageNo] = 1,
    ) -> Template:
        """The user's tasks (or their team's) of one status: open ones by due date, closed the latest first."""
        found = await tasks.task_list(db_session, request.user, today, status=status, scope=whose, page=page)
        return render(request, "tasks/index.html", {"found": found, "status": status.value, "scope": whose.value})

    @get("/due-count", name="tasks_due_count")
    async def due_count(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], today: NamedDependency[date]
    ) -> Template:
        """The number by "Tasks" in the navigation (overdue and due today), fetched after the page."""
        count = await tasks.due_count(db_session, request.user, today)
        return Template("tasks/_due_count.html", context={"count": count})

    @get("/new", name="new_task", dependencies={"wanted": Provide(links_query, sync_to_thread=False)})
    async def new(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        wanted: NamedDependency[Links],
        title: TitleQuery = None,
    ) -> Template:
        """The form, prefilled with what the page it was started on is about (and, from a report's
        suggestion, a title); for htmx (another customer chosen) only the fields that depend on the customer."""
        form = await tasks.task_form(db_session, request.user, wanted, today)
        typed = {**_as_text(asdict(form.links)), "due_on": today.isoformat(), "owner_id": str(request.user.id)}
        if title:
            typed["title"] = title
        return _new_page(request, form, typed)

    @post("/", name="create_task", opt={"form": _new_again})
    async def create(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        data: URLEncodedBody[TaskFields],
    ) -> Redirect:
        task = await tasks.create_task(db_session, request.user, data.task(), today)
        return _to_task(request, task.id, gettext("Task saved."))

    @get("/{task_id:int}", name="task", guards=[sees_crm("task", "task_id")])
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], task_id: FromPath[Id]
    ) -> Template:
        return await _task_page(request, db_session, task_id)

    @post("/{task_id:int}", name="edit_task", guards=[sees_crm("task", "task_id")], opt={"form": _task_again("edit")})
    async def edit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        task_id: FromPath[Id],
        data: URLEncodedBody[TaskFields],
    ) -> Redirect:
        await tasks.edit_task(db_session, request.user, task_id, data.task(), data.version, today)
        return _to_task(request, task_id, gettext("Task changed."))

    @post(
        "/{task_id:int}/snooze",
        name="snooze_task",
        guards=[sees_crm("task", "task_id")],
        opt={"form": _task_again("snooze")},
    )
    async def snooze(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        task_id: FromPath[Id],
        data: URLEncodedBody[SnoozeFields],
    ) -> Redirect:
        task = await tasks.snooze(db_session, request.user, task_id, data.day(), data.note, data.version, today)
        return _to_task(request, task_id, gettext("Snoozed until %(day)s.") % {"day": format_date(task.due_on)})

    @post(
        "/{task_id:int}/complete",
        name="complete_task",
        guards=[sees_crm("task", "task_id")],
        opt={"form": _task_again("close")},
    )
    async def complete(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        task_id: FromPath[Id],
        data: URLEncodedBody[CloseFields],
    ) -> Response[Any]:
        task = await tasks.complete(db_session, request.user, task_id, data.version)
        return _after_close(request, task, data.back, gettext("Done: “%(title)s”.") % {"title": tasks.title_of(task)})

    @post(
        "/{task_id:int}/cancel",
        name="cancel_task",
        guards=[sees_crm("task", "task_id")],
        opt={"form": _task_again("close")},
    )
    async def cancel(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        task_id: FromPath[Id],
        data: URLEncodedBody[CloseFields],
    ) -> Response[Any]:
        task = await tasks.cancel(db_session, request.user, task_id, data.version)
        message = gettext("Cancelled: “%(title)s”.") % {"title": tasks.title_of(task)}
        return _after_close(request, task, data.back, message)

    @post(
        "/{task_id:int}/reopen",
        name="reopen_task",
        guards=[sees_crm("task", "task_id")],
        opt={"form": _task_again("close")},
    )
    async def reopen(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        task_id: FromPath[Id],
        data: URLEncodedBody[CloseFields],
    ) -> Response[Any]:
        task = await tasks.reopen(db_session, request.user, task_id, data.version)
        return _after_close(
            request, task, data.back, gettext("Open again: “%(title)s”.") % {"title": tasks.title_of(task)}
        )
