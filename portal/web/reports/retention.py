"""`/reports/retention`: Retention (being built)."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.web.context import PortalRequest, render
from portal.web.reports.common import FromMonth, ToMonth, report_readers, report_view


class RetentionController(Controller):
    path = "/reports/retention"
    guards = [report_readers]

    @get("/", name="report_retention")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        first: FromMonth = None,
        last: ToMonth = None,
    ) -> Template:
        view = await report_view(db_session, request.user, today, first, last)
        return render(request, "reports/retention.html", {"view": view, "report_route": "report_retention"})
