"""Recurring deliveries of a buyer's company, and each user's notification choices.

Every value arrives decoded and bounded (`portal.web.inputs`); a refused form comes back through
the page function its route names in `opt={"form": ...}`, with each message next to its field and
what was typed kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound
from portal.i18n import N_, gettext
from portal.models import Frequency, NotificationKind, Role, ScheduleLine, User
from portal.services import notifications, schedules
from portal.services.delivery import Move
from portal.services.schedules import Source
from portal.web.context import PortalRequest, render
from portal.web.errors import FormPage, Refusal
from portal.web.guards import allow
from portal.web.inputs import MAX_ID, Day, Flag, Form, FormId, Id, Quantity, Text

Name = Annotated[Text, msgspec.Meta(max_length=schedules.NAME_MAX)]
Weeks = Annotated[int, msgspec.Meta(ge=schedules.INTERVAL_WEEKS[0], le=schedules.INTERVAL_WEEKS[1])]
MonthDay = Annotated[int, msgspec.Meta(ge=schedules.MONTH_DAYS[0], le=schedules.MONTH_DAYS[1])]
LeadDays = Annotated[int, msgspec.Meta(ge=schedules.LEAD_DAYS[0], le=schedules.LEAD_DAYS[1])]
Sku = Annotated[Text, msgspec.Meta(max_length=40)]
"""`Product.sku` is String(40)."""
Kinds = Annotated[list[NotificationKind], msgspec.Meta(max_length=len(NotificationKind))]

SourceQuery = Annotated[Source, QueryParameter(name="source")]
SourceIdQuery = Annotated[int | None, QueryParameter(name="source_id", ge=1, le=MAX_ID)]


class ScheduleFields(Form):
    """A schedule's form, on the new and the edit page; `preview` asks for its dates instead of saving."""

    name: Name
    first_delivery: Day
    address_id: FormId | None = None
    frequency: Frequency = Frequency.WEEKLY
    interval_weeks: Weeks = 1
    month_day: MonthDay | None = None
    lead_days: LeadDays = 2
    non_working_day: Move = Move.NEXT
    preview: Flag | None = None

    def plan(self) -> schedules.ScheduleForm:
        monthly = self.frequency is Frequency.MONTHLY
        return schedules.ScheduleForm(
            self.name,
            self.address_id,
            self.frequency,
            self.first_delivery,
            self.lead_days,
            self.interval_weeks,
            self.month_day if monthly else None,
            self.non_working_day,
        )


class NewScheduleFields(ScheduleFields):
    """The new-schedule form also says where its lines come from."""

    source: Source = Source.CART
    source_id: FormId | None = None


class DeliveryFields(Form):
    delivery_date: Day


class LineFields(Form):
    sku: Sku
    quantity: Quantity


class LineChangeFields(Form):
    quantity: Quantity | None = None
    remove: Flag | None = None

    def wanted(self) -> int | None:
        """The new quantity; 0 removes the line."""
        return 0 if self.remove else self.quantity


class PreferenceFields(Form):
    """The kinds of e-mail wanted: one checkbox ticked sends one value, several send a list."""

    kind: NotificationKind | Kinds = []

    def wanted(self) -> set[NotificationKind]:
        return set(self.kind) if isinstance(self.kind, list) else {self.kind}


# --- the pages, shared by the handlers and the refusals -----------------------------------------


def _as_text(values: Mapping[str, Any]) -> dict[str, str]:
    """Form values as the inputs show them; a value sent twice shows its first."""
    shown = {key: value[0] if isinstance(value, list) and value else value for key, value in values.items()}
    return {key: "" if value is None else str(value) for key, value in shown.items() if not isinstance(value, list)}


_DEFAULTS = {
    "lead_days": "2",
    "frequency": Frequency.WEEKLY.value,
    "interval_weeks": "1",
    "non_working_day": Move.NEXT.value,
}
"""What a new schedule's form shows before anything is typed (the first delivery: a week ahead)."""


def _starting(today: date) -> dict[str, str]:
    return {**_DEFAULTS, "first_delivery": (today + timedelta(days=7)).isoformat()}


class _SourceFields(Form):
    source: Source = Source.CART
    source_id: FormId | None = None


def _source_of(entered: Mapping[str, Any]) -> tuple[Source, int | None]:
    """Where a refused new schedule's lines came from, as its hidden fields say; unreadable ones name nothing."""
    try:
        chosen = msgspec.convert(dict(entered), _SourceFields, strict=False)
    except msgspec.ValidationError:
        raise NotFound() from None
    return chosen.source, chosen.source_id


def _new_page(
    request: PortalRequest,
    draft: schedules.Draft,
    source: Source,
    source_id: int | None,
    form: dict[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "schedules/new.html",
        {
            "draft": draft,
            "source": source.value,
            "source_id": source_id or "",
            "form": form,
            "errors": errors or {},
            "frequencies": list(Frequency),
        },
        status_code=status_code,
    )


async def _new_again(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    source, source_id = _source_of(refusal.entered)
    draft = await schedules.draft(db_session, request.user, source, source_id)
    return _new_page(
        request,
        draft,
        source,
        source_id,
        {**_DEFAULTS, **_as_text(refusal.entered)},
        refusal.errors,
        refusal.status_code,
    )


def _edit_page(
    request: PortalRequest,
    revision: schedules.Revision,
    form: dict[str, str],
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    return render(
        request,
        "schedules/edit.html",
        {
            "schedule": revision.schedule,
            "addresses": revision.addresses,
            "preview": revision.preview,
            "form": form,
            "errors": errors or {},
        },
        status_code=status_code,
    )


async def _edit_again(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    revision = await schedules.revision(db_session, request.user, request.path_params["schedule_id"])
    return _edit_page(request, revision, _as_text(refusal.entered), refusal.errors, refusal.status_code)


async def _schedule_page(
    request: PortalRequest, db_session: AsyncSession, schedule_id: int, refusal: Refusal | None = None, where: str = ""
) -> Template:
    view = await schedules.schedule_view(db_session, request.user, schedule_id)
    return render(
        request,
        "schedules/show.html",
        {
            "view": view,
            "schedule": view.schedule,
            "where": where,
            "errors": refusal.errors if refusal else {},
            "entered": _as_text(refusal.entered) if refusal else {},
        },
        status_code=refusal.status_code if refusal else 200,
    )


def _schedule_again(where: str) -> FormPage:
    """The schedule page again, the refusal shown next to the form `where` names (`{line_id}` from the path)."""

    async def page(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
        params = request.path_params
        return await _schedule_page(request, db_session, params["schedule_id"], refusal, where.format(**params))

    return page


def _back_to(request: PortalRequest, schedule_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("schedule", schedule_id=schedule_id), status_code=303)


def _added(line: ScheduleLine, joined: bool) -> str:
    values = {"sku": line.product.sku, "quantity": line.quantity}
    if joined:
        return gettext("%(sku)s was already on the schedule: now %(quantity)d on each delivery.") % values
    return gettext("%(sku)s added: %(quantity)d on each delivery from the next one not yet ordered.") % values


class SchedulesController(Controller):
    path = "/schedules"
    guards = [allow(Role.BUYER)]

    @get("/", name="schedules")
    async def index(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        overview = await schedules.overview(db_session, request.user)
        return render(request, "schedules/index.html", {"overview": overview, "upcoming": overview.upcoming})

    @get("/new", name="new_schedule")
    async def new(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        source: SourceQuery = Source.CART,
        source_id: SourceIdQuery = None,
    ) -> Template:
        """The form; the next five delivery dates are shown (by posting it with `preview`) before saving."""
        draft = await schedules.draft(db_session, request.user, source, source_id)
        return _new_page(request, draft, source, source_id, _starting(today))

    @post("/", name="create_schedule", opt={"form": _new_again})
    async def create(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        data: URLEncodedBody[NewScheduleFields],
    ) -> Template | Redirect:
        """Saves the schedule; with `preview`, shows the next five delivery dates the form gives instead."""
        if data.preview:
            draft = await schedules.draft(db_session, request.user, data.source, data.source_id, data.plan(), today)
            return _new_page(request, draft, data.source, data.source_id, _as_text(data.values()))
        created = await schedules.start_schedule(
            db_session, request.user, data.plan(), data.source, data.source_id, today
        )
        return _back_to(request, created.id, gettext("Recurring delivery “%(name)s” saved.") % {"name": created.name})

    @get("/{schedule_id:int}", name="schedule")
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], schedule_id: Id
    ) -> Template:
        return await _schedule_page(request, db_session, schedule_id)

    @get("/{schedule_id:int}/edit", name="edit_schedule_form")
    async def edit_form(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        schedule_id: Id,
        today: NamedDependency[date],
    ) -> Template:
        """The schedule's values to change, with the next five delivery dates they give before saving."""
        revision = await schedules.revision(db_session, request.user, schedule_id, today=today)
        return _edit_page(request, revision, _as_text(asdict(revision.form)) if revision.form else {})

    @post("/{schedule_id:int}/edit", name="edit_schedule", opt={"form": _edit_again})
    async def edit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        schedule_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[ScheduleFields],
    ) -> Template | Redirect:
        """Saves the changes; with `preview`, shows the next five delivery dates they give instead."""
        if data.preview:
            revision = await schedules.revision(db_session, request.user, schedule_id, data.plan(), today)
            return _edit_page(request, revision, _as_text(data.values()))
        await schedules.edit(db_session, request.user, schedule_id, data.plan(), today)
        saved = gettext("Saved: the next delivery not yet ordered follows the new rhythm.")
        return _back_to(request, schedule_id, saved)

    @post("/{schedule_id:int}/pause", name="pause_schedule")
    async def pause(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], schedule_id: Id
    ) -> Redirect:
        await schedules.pause(db_session, request.user, schedule_id)
        return _back_to(request, schedule_id, gettext("Paused."))

    @post("/{schedule_id:int}/resume", name="resume_schedule")
    async def resume(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        schedule_id: Id,
        today: NamedDependency[date],
    ) -> Redirect:
        await schedules.resume(db_session, request.user, schedule_id, today)
        return _back_to(request, schedule_id, gettext("Resumed."))

    @post("/{schedule_id:int}/skip", name="skip_occurrence", opt={"form": _schedule_again("upcoming")})
    async def skip(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        schedule_id: Id,
        data: URLEncodedBody[DeliveryFields],
    ) -> Redirect:
        await schedules.skip(db_session, request.user, schedule_id, data.delivery_date)
        return _back_to(request, schedule_id, gettext("That delivery will be skipped."))

    @post("/{schedule_id:int}/unskip", name="unskip_occurrence", opt={"form": _schedule_again("upcoming")})
    async def unskip(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        schedule_id: Id,
        data: URLEncodedBody[DeliveryFields],
    ) -> Redirect:
        await schedules.unskip(db_session, request.user, schedule_id, data.delivery_date)
        return _back_to(request, schedule_id, gettext("That delivery will be made after all."))

    @post("/{schedule_id:int}/lines", name="add_schedule_line", opt={"form": _schedule_again("add-line")})
    async def add_line(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        schedule_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[LineFields],
    ) -> Redirect:
        line, joined = await schedules.add_line(db_session, request.user, schedule_id, data.sku, data.quantity, today)
        return _back_to(request, schedule_id, _added(line, joined))

    @post(
        "/{schedule_id:int}/lines/{line_id:int}",
        name="change_schedule_line",
        opt={"form": _schedule_again("line-{line_id}")},
    )
    async def change_line(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        schedule_id: Id,
        line_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[LineChangeFields],
    ) -> Redirect:
        await schedules.change_line(db_session, request.user, schedule_id, line_id, data.wanted(), today)
        return _back_to(request, schedule_id, gettext("Saved: the next delivery not yet ordered uses the new lines."))

    @post("/{schedule_id:int}/delete", name="delete_schedule")
    async def delete(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], schedule_id: Id
    ) -> Redirect:
        name = await schedules.delete(db_session, request.user, schedule_id)
        flash(request, gettext("Recurring delivery “%(name)s” deleted.") % {"name": name}, "success")
        return Redirect(request.app.route_reverse("schedules"), status_code=303)


# --- notification choices -----------------------------------------------------------------------


_KIND_LABELS = {
    NotificationKind.ORDER_SUBMITTED: N_("An order is submitted"),
    NotificationKind.ORDER_DECIDED: N_("My order is approved or rejected"),
    NotificationKind.RECURRING_GENERATED: N_("A recurring delivery is ordered"),
    NotificationKind.RECURRING_MISSED: N_("A recurring delivery is missed"),
    NotificationKind.CREDIT_CHANGED: N_("A credit limit or hold changes"),
}
"""The kinds of e-mail a signed-in user can be shown a choice about; one-time links (an invitation,
a password reset) go to whoever asked for them and are no choice."""
_BUYER_KIND_LABELS = {
    NotificationKind.QUOTE_SENT: N_("A quote for us is ready, or was withdrawn"),
    NotificationKind.QUOTE_EXPIRING: N_("A quote for us expires in three days"),
    NotificationKind.QUOTE_COMMENT: N_("Our account manager comments on a quote"),
    NotificationKind.ORDER_PLACED_FOR_YOU: N_("Our account manager places an order for us"),
}
_STAFF_KIND_LABELS = {
    NotificationKind.QUOTE_REQUESTED: N_("A customer asks for a quote, or for changes to one"),
    NotificationKind.QUOTE_ANSWERED: N_("A customer accepts or declines a quote"),
    NotificationKind.QUOTE_EXPIRING: N_("A customer's quote expired without an answer"),
    NotificationKind.QUOTE_COMMENT: N_("A customer comments on a quote"),
    NotificationKind.PERIOD_CLOSED: N_("A settlement period of a customer's agreement is closed, with its rebate"),
    NotificationKind.TASK_DIGEST: N_("Every morning, listing my tasks overdue, due today and due in the next 7 days"),
}
"""Quote e-mails go to one side each (the buyers, or the account managers on duty): each role is
shown the choices of its side, in its side's words."""


def _kind_labels(user: User) -> dict[NotificationKind, str]:
    return _KIND_LABELS | (_BUYER_KIND_LABELS if user.role is Role.BUYER else _STAFF_KIND_LABELS)


def not_offered(user: User) -> set[NotificationKind]:
    """The kinds this role is not asked about: saving the form leaves them switched on."""
    return set(NotificationKind) - set(_kind_labels(user))


async def _preferences_page(
    request: PortalRequest, db_session: AsyncSession, refusal: Refusal | None = None
) -> Template:
    off = await notifications.opted_out_kinds(db_session, request.user)
    choices = [(kind, gettext(label), kind not in off) for kind, label in _kind_labels(request.user).items()]
    errors = (
        {key.split("[")[0]: message for key, message in refusal.errors.items()} if refusal else {}
    )  # kind[1] → kind
    return render(
        request,
        "account/notifications.html",
        {"choices": choices, "errors": errors},
        status_code=refusal.status_code if refusal else 200,
    )


async def _preferences_again(
    request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal
) -> Response[Any]:
    return await _preferences_page(request, db_session, refusal)


class NotificationsController(Controller):
    path = "/account/notifications"

    @get("/", name="notification_preferences")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await _preferences_page(request, db_session)

    @post("/", name="save_notification_preferences", opt={"form": _preferences_again})
    async def save(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], data: URLEncodedBody[PreferenceFields]
    ) -> Redirect:
        await notifications.set_preferences(db_session, request.user, data.wanted() | not_offered(request.user))
        flash(request, gettext("Your e-mail choices are saved."), "success")
        return Redirect(request.app.route_reverse("notification_preferences"), status_code=303)
