"""`/reports/managers`: account manager effectiveness. Per active account manager, their portfolio's
revenue and margin against the previous period, customers retained, lost and won, quote win rate
and days to accept, approval turnaround and overdue share (`services/manager_report.py`), sortable,
with a chart of revenue per manager and a CSV download in both Excel flavours. Finance and admins
see every manager; an account manager only their own row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import format_decimal, format_month, gettext
from portal.services import manager_report
from portal.services.manager_report import ManagerFigures, ManagerReport, SortKey
from portal.web.charts import Chart, Series, chart
from portal.web.context import PortalRequest, render, settings_of
from portal.web.downloads import Flavour, FlavourChoice, cents, csv_download
from portal.web.reports.common import VIEW, Descending, ReportView, report_readers

SortChoice = Annotated[SortKey, QueryParameter(name="sort")]
ASCENDING_FIRST = frozenset({"name", "days_to_accept", "approval_hours", "overdue_share", "lost"})
"""Columns whose first click sorts smallest first (the better end); the others largest first."""


@dataclass(frozen=True)
class ManagersPage:
    """What the page shows: the report's rows in the order asked for, the sort links, the chart."""

    view: ReportView
    report: ManagerReport
    sort: SortKey
    descending: bool

    @property
    def rows(self) -> list[ManagerFigures]:
        return manager_report.sorted_rows(self.report.rows, self.sort, descending=self.descending)

    def sort_query(self, key: str) -> dict[str, str]:
        """The query a column heading links to: its key, the other direction when it is the current one."""
        descending = not self.descending if key == self.sort else key not in ASCENDING_FIRST
        return {**self.view.query, "sort": key, "desc": "true" if descending else ""}

    @property
    def chart(self) -> Chart:
        period = self.view.period
        return revenue_chart(
            self.report.rows,
            period_label(period.first, period.last),
            period_label(period.previous.first, period.previous.last),
        )


def period_label(first: date, last: date) -> str:
    return f"{format_month(first)} – {format_month(last)}"


def revenue_chart(rows: list[ManagerFigures], current: str, previous: str) -> Chart:
    """Revenue of this period and the previous one, grouped per manager."""
    return chart(
        [row.name for row in rows],
        [
            Series(current, [row.current.net for row in rows]),
            Series(previous, [row.previous.net for row in rows]),
        ],
        title=gettext("Revenue per account manager, this period and the previous one"),
        value_format=lambda value: format_decimal(value, 0),
    )


async def _report(session: AsyncSession, request: PortalRequest, view: ReportView) -> ManagerReport:
    settings = settings_of(request)
    return await manager_report.manager_report(
        session,
        view.audience,
        view.period,
        today=view.today,
        zone=settings.seller_zone,
        grace_days=settings.past_due_grace_days,
    )


def csv_header() -> list[str]:
    return [
        gettext("Account manager"),
        gettext("Customers"),
        gettext("Revenue"),
        gettext("Revenue, previous period"),
        gettext("Revenue growth (%)"),
        gettext("Gross margin"),
        gettext("Gross margin, previous period"),
        gettext("Margin growth (%)"),
        gettext("Customers retained"),
        gettext("Customers lost"),
        gettext("Customers won"),
        gettext("Quotes sent"),
        gettext("Quotes accepted"),
        gettext("Win rate (%)"),
        gettext("Median days to acceptance"),
        gettext("Median approval hours"),
        gettext("Overdue"),
        gettext("Exposure"),
        gettext("Overdue share (%)"),
    ]


def _optional(value: Decimal | None) -> Decimal | str:
    return "" if value is None else value


def csv_rows(rows: list[ManagerFigures]) -> list[list[object]]:
    return [
        [
            row.name,
            row.customers,
            cents(row.current.net),
            cents(row.previous.net),
            _optional(row.revenue_growth_pct),
            cents(row.current.margin),
            cents(row.previous.margin),
            _optional(row.margin_growth_pct),
            row.retained,
            row.lost,
            row.won,
            row.quotes_sent,
            row.quotes_accepted,
            _optional(row.win_rate_pct),
            _optional(row.median_days_to_accept),
            _optional(row.median_approval_hours),
            cents(row.overdue),
            cents(row.exposure),
            _optional(row.overdue_pct),
        ]
        for row in rows
    ]


class ManagersReportController(Controller):
    path = "/reports"
    guards = [report_readers]
    dependencies = VIEW

    @get("/managers", name="report_managers")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        sort: SortChoice = "name",
        descending: Descending = False,
    ) -> Template:
        page = ManagersPage(view, await _report(db_session, request, view), sort, descending)
        return render(request, "reports/managers.html", {"view": view, "page": page, "report_route": "report_managers"})

    @get("/managers.csv", name="report_managers_csv")
    async def csv(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        found = await _report(db_session, request, view)
        name = f"account-managers-{view.query['from']}-{view.query['to']}.csv"
        return csv_download(name, csv_header(), csv_rows(found.rows), flavour=Flavour.chosen(flavour))
