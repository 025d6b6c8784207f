"""Recurring deliveries of a buyer's company, and each user's notification choices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Frequency, NotificationKind, Role
from portal.services import notifications, schedules
from portal.services.cart import parse_quantity
from portal.services.ordering import company_addresses
from portal.services.schedules import ScheduleError, ScheduleForm
from portal.web.context import PortalRequest, discard_changes, query_params, seller_today
from portal.web.guards import allow


def _source(params: dict[str, Any]) -> tuple[str, int | None]:
    source = str(params.get("source", "cart"))
    raw = str(params.get("source_id", ""))
    return source, int(raw) if raw.isdigit() and len(raw) < 10 else None


def _delivery_date(data: dict[str, Any]) -> date:
    try:
        return date.fromisoformat(str(data.get("delivery_date", "")))
    except ValueError:
        raise ScheduleError(gettext("Choose one of the coming deliveries."), "delivery_date") from None


def _quantity(data: dict[str, Any]) -> int:
    quantity = parse_quantity(str(data.get("quantity", "")))
    if quantity is None:
        raise ScheduleError(gettext("Enter the quantity as a whole number."), "quantity")
    return quantity


@dataclass(frozen=True)
class Refusal:
    """A change the schedule page refused: the message, the form it is shown next to, what was typed."""

    message: str
    where: str
    entered: dict[str, Any]


class SchedulesController(Controller):
    path = "/schedules"
    guards = [allow(Role.BUYER)]

    async def _new_page(self, request: PortalRequest, db_session: AsyncSession, params: dict[str, Any],
                        error: ScheduleError | None = None, status_code: int = 200) -> Template:
        source, source_id = _source(params)
        try:
            lines = await schedules.source_lines(db_session, request.user, source, source_id)
        except LookupError:
            raise NotFoundException() from None
        today = seller_today(request)
        form = {"first_delivery": (today + timedelta(days=7)).isoformat(), "lead_days": "2", "frequency": "weekly",
                "interval_weeks": "1", **params}
        preview: list = []
        if error is None and params.get("name") is not None:
            try:
                parsed = ScheduleForm.parse(form)
                preview = schedules.delivery_dates(parsed.rhythm(), schedules.first_due_from(
                    parsed.rhythm(), parsed.lead_days, today), schedules.PREVIEW)
            except ScheduleError as refused:
                error = refused
        return Template("schedules/new.html", status_code=status_code, context={
            "lines": lines, "source": source, "source_id": source_id or "", "form": form, "preview": preview,
            "error": error, "addresses": await company_addresses(db_session, request.user.company_id),
            "frequencies": list(Frequency)})

    @get("/", name="schedules")
    async def index(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return Template("schedules/index.html", context={
            "schedules": await schedules.company_schedules(db_session, request.user.company_id),
            "upcoming": await schedules.next_deliveries(db_session, request.user.company_id, 10)})

    @get("/new", name="new_schedule")
    async def new(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        """The form; with its fields filled in, the next five delivery dates before saving."""
        return await self._new_page(request, db_session, query_params(request))

    @post("/", name="create_schedule")
    async def create(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                     data: URLEncodedBody[dict[str, Any]]) -> Template | Redirect:
        """Saves the schedule; with `preview`, shows the next five delivery dates the form gives instead."""
        if data.get("preview"):
            return await self._new_page(request, db_session, data)
        source, source_id = _source(data)
        try:
            lines = await schedules.source_lines(db_session, request.user, source, source_id)
            created = await schedules.create_schedule(db_session, request.user, ScheduleForm.parse(data), lines,
                                                      seller_today(request))
        except LookupError:
            raise NotFoundException() from None
        except ScheduleError as refused:
            await discard_changes(request, db_session)
            return await self._new_page(request, db_session, data, refused, 400)
        await db_session.commit()
        flash(request, gettext("Recurring delivery “%(name)s” saved.") % {"name": created.name}, "success")
        return Redirect(f"/schedules/{created.id}", status_code=303)

    async def _show_page(self, request: PortalRequest, db_session: AsyncSession, schedule_id: int,
                         refusal: Refusal | None = None) -> Template:
        try:
            schedule = await schedules.company_schedule(db_session, request.user.company_id, schedule_id)
        except LookupError:
            raise NotFoundException() from None
        upcoming, skipped = await schedules.outlook(db_session, schedule)
        past = [o for o in await schedules.occurrences(db_session, schedule.id) if o.delivery_date not in skipped]
        return Template("schedules/show.html", status_code=400 if refusal else 200, context={
            "schedule": schedule, "upcoming": upcoming, "skipped": skipped, "occurrences": past, "refusal": refusal})

    @get("/{schedule_id:int}", name="schedule")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                   schedule_id: FromPath[int]) -> Template:
        return await self._show_page(request, db_session, schedule_id)

    async def _edit_page(self, request: PortalRequest, db_session: AsyncSession, schedule_id: int,
                         params: dict[str, Any], error: ScheduleError | None = None, status_code: int = 200) -> Template:
        try:
            schedule = await schedules.company_schedule(db_session, request.user.company_id, schedule_id)
        except LookupError:
            raise NotFoundException() from None
        today = seller_today(request)
        form = {**ScheduleForm.values_of(schedule, today), **params}
        preview: list = []
        if error is None:
            try:
                preview = await schedules.planned_dates(db_session, schedule, ScheduleForm.parse(form), today)
            except ScheduleError as refused:
                error = refused
        return Template("schedules/edit.html", status_code=status_code, context={
            "schedule": schedule, "form": form, "preview": preview, "error": error,
            "addresses": await company_addresses(db_session, request.user.company_id)})

    @get("/{schedule_id:int}/edit", name="edit_schedule_form")
    async def edit_form(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                        schedule_id: FromPath[int]) -> Template:
        """The schedule's values to change, with the next five delivery dates they give before saving."""
        return await self._edit_page(request, db_session, schedule_id, query_params(request))

    @post("/{schedule_id:int}/edit", name="edit_schedule")
    async def edit(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                   schedule_id: FromPath[int], data: URLEncodedBody[dict[str, Any]]) -> Template | Redirect:
        """Saves the changes; with `preview`, shows the next five delivery dates they give instead."""
        if data.get("preview"):
            return await self._edit_page(request, db_session, schedule_id, data)
        try:
            await schedules.edit(db_session, request.user, schedule_id, ScheduleForm.parse(data), seller_today(request))
        except LookupError:
            raise NotFoundException() from None
        except ScheduleError as refused:
            await discard_changes(request, db_session)
            return await self._edit_page(request, db_session, schedule_id, data, refused, 400)
        await db_session.commit()
        flash(request, gettext("Saved: the next delivery not yet ordered follows the new rhythm."), "success")
        return Redirect(f"/schedules/{schedule_id}", status_code=303)

    async def _change(self, request: PortalRequest, db_session: AsyncSession, schedule_id: int, work,  # type: ignore[no-untyped-def]
                      done: str = "", where: str = "", entered: dict[str, Any] | None = None) -> Template | Redirect:
        """Runs one change and comes back to the schedule with its outcome; `work` may return the message itself.
        A refusal shows the schedule again with the message next to the form it concerns (`where`)."""
        try:
            outcome = await work()
        except LookupError:
            raise NotFoundException() from None
        except ScheduleError as refused:
            await discard_changes(request, db_session)
            return await self._show_page(request, db_session, schedule_id, Refusal(refused.message, where, entered or {}))
        await db_session.commit()
        flash(request, outcome if isinstance(outcome, str) else done, "success")
        return Redirect(f"/schedules/{schedule_id}", status_code=303)

    @post("/{schedule_id:int}/pause", name="pause_schedule")
    async def pause(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                    schedule_id: FromPath[int]) -> Template | Redirect:
        return await self._change(request, db_session, schedule_id,
                                  lambda: schedules.pause(db_session, request.user, schedule_id), gettext("Paused."))

    @post("/{schedule_id:int}/resume", name="resume_schedule")
    async def resume(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                     schedule_id: FromPath[int]) -> Template | Redirect:
        return await self._change(request, db_session, schedule_id, lambda: schedules.resume(
            db_session, request.user, schedule_id, seller_today(request)), gettext("Resumed."))

    @post("/{schedule_id:int}/skip", name="skip_occurrence")
    async def skip(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                   schedule_id: FromPath[int], data: URLEncodedBody[dict[str, Any]]) -> Template | Redirect:
        return await self._change(request, db_session, schedule_id, lambda: schedules.skip(
            db_session, request.user, schedule_id, _delivery_date(data)), gettext("That delivery will be skipped."),
            where="upcoming")

    @post("/{schedule_id:int}/unskip", name="unskip_occurrence")
    async def unskip(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                     schedule_id: FromPath[int], data: URLEncodedBody[dict[str, Any]]) -> Template | Redirect:
        return await self._change(request, db_session, schedule_id, lambda: schedules.unskip(
            db_session, request.user, schedule_id, _delivery_date(data)), gettext("That delivery will be made after all."),
            where="upcoming")

    @post("/{schedule_id:int}/lines", name="add_schedule_line")
    async def add_line(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                       schedule_id: FromPath[int], data: URLEncodedBody[dict[str, Any]]) -> Template | Redirect:
        async def work() -> str:
            sku, quantity = str(data.get("sku", "")).strip()[:40], _quantity(data)
            line, joined = await schedules.add_line(db_session, request.user, schedule_id, sku, quantity,
                                                    seller_today(request))
            values = {"sku": line.product.sku, "quantity": line.quantity}
            if joined:
                return gettext("%(sku)s was already on the schedule: now %(quantity)d on each delivery.") % values
            return gettext("%(sku)s added: %(quantity)d on each delivery from the next one not yet ordered.") % values

        return await self._change(request, db_session, schedule_id, work, where="add-line", entered=data)

    @post("/{schedule_id:int}/lines/{line_id:int}", name="change_schedule_line")
    async def change_line(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                          schedule_id: FromPath[int], line_id: FromPath[int],
                          data: URLEncodedBody[dict[str, Any]]) -> Template | Redirect:
        async def work() -> None:
            quantity = 0 if data.get("remove") else _quantity(data)
            await schedules.change_line(db_session, request.user, schedule_id, line_id, quantity, seller_today(request))

        return await self._change(request, db_session, schedule_id, work,
                                  gettext("Saved: the next delivery not yet ordered uses the new lines."),
                                  where=f"line-{line_id}", entered=data)

    @post("/{schedule_id:int}/delete", name="delete_schedule")
    async def delete(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                     schedule_id: FromPath[int]) -> Redirect:
        try:
            name = await schedules.delete(db_session, request.user, schedule_id)
        except LookupError:
            raise NotFoundException() from None
        await db_session.commit()
        flash(request, gettext("Recurring delivery “%(name)s” deleted.") % {"name": name}, "success")
        return Redirect("/schedules", status_code=303)


class NotificationsController(Controller):
    path = "/account/notifications"

    @get("/", name="notification_preferences")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        off = await notifications.opted_out_kinds(db_session, request.user)
        return Template("account/notifications.html", context={"kinds": list(NotificationKind), "off": off})

    @post("/", name="save_notification_preferences")
    async def save(self, request: PortalRequest, db_session: NamedDependency[AsyncSession],
                   data: URLEncodedBody[dict[str, Any]]) -> Redirect:
        values = data.get("kind", [])
        values = values if isinstance(values, list) else [values]
        wanted = {kind for kind in NotificationKind if kind.value in values}
        await notifications.set_preferences(db_session, request.user, wanted)
        await db_session.commit()
        flash(request, gettext("Your e-mail choices are saved."), "success")
        return Redirect("/account/notifications", status_code=303)
