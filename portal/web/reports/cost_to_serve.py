"""`/reports/cost-to-serve`: Cost to serve (being built)."""

from __future__ import annotations

from datetime import date

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.web.context import PortalRequest, render
from portal.web.reports.common import FromMonth, ToMonth, report_readers, report_view


class CostToServeController(Controller):
    path = "/reports/cost-to-serve"
    guards = [report_readers]

    @get("/", name="report_cost_to_serve")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        first: FromMonth = None,
        last: ToMonth = None,
    ) -> Template:
        view = await report_view(db_session, request.user, today, first, last)
        return render(request, "reports/cost_to_serve.html", {"view": view, "report_route": "report_cost_to_serve"})
