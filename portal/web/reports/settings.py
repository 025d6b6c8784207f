"""`/reports/settings`: what the reports price trade credit and service with. Every report reader
sees the values; an admin changes them (`services/report_settings.py`). A refused form comes back
with its message next to the field and what was typed; nothing is saved."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.services import report_settings
from portal.web.context import PortalRequest, render
from portal.web.errors import Refusal
from portal.web.guards import admins_only
from portal.web.inputs import Form, Money
from portal.web.permissions import can
from portal.web.reports.common import report_readers


class ReportSettingsForm(Form):
    credit_rate_pct: Money
    order_cost: Money
    delivery_cost: Money
    quote_cost: Money
    approval_cost: Money


async def settings_page(request: PortalRequest, db_session: AsyncSession, refusal: Refusal | None = None) -> Template:
    """The settings; after a refusal, the form again with what was typed and the messages."""
    context = {
        "settings": await report_settings.current(db_session),
        "fields": report_settings.FIELDS,
        "editable": can(request.user, "administer"),
        "errors": refusal.errors if refusal else {},
        "typed": {k: v for k, v in refusal.entered.items() if isinstance(v, str)} if refusal else {},
    }
    return render(request, "reports/settings.html", context, status_code=refusal.status_code if refusal else 200)


async def settings_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await settings_page(request, db_session, refusal)


class ReportSettingsController(Controller):
    path = "/reports/settings"
    guards = [report_readers]

    @get("/", name="report_settings")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await settings_page(request, db_session)

    @post("/", name="save_report_settings", guards=[admins_only], opt={"form": settings_again})
    async def save(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[ReportSettingsForm],
    ) -> Redirect:
        await report_settings.save(db_session, request.user, data.values())
        flash(request, gettext("Report settings saved."), "success")
        return Redirect(request.app.route_reverse("report_settings"), status_code=303)
