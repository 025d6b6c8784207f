"""`/reports`: what each report answers, for the period chosen, with how fresh the figures are."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from portal.web.context import PortalRequest, render
from portal.web.reports.common import VIEW, ReportView, report_readers


class ReportsController(Controller):
    path = "/reports"
    guards = [report_readers]
    dependencies = VIEW

    @get("/", name="reports")
    async def page(
        self,
        request: PortalRequest,
        view: NamedDependency[ReportView],
    ) -> Template:
        return render(request, "reports/index.html", {"view": view, "report_route": "reports"})
