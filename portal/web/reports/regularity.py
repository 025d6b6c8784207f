"""`/reports/regularity`: how regularly each customer reorders (share of months with an order,
median gap between orders and its spread, days since the last order, the revenue trend), who is
at risk of leaving and why, with a follow-up task a click away; a chart of the customers ordering
per month against the previous period, and a CSV download of the table (`services/regularity.py`
computes every figure)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import format_date, format_decimal, format_money, format_month, format_percent, gettext, ngettext
from portal.services import regularity
from portal.services.regularity import DEFAULT_SORT, LATE, CustomerRegularity, RegularityReport, SortKey
from portal.web.charts import Chart, Series, chart
from portal.web.context import PortalRequest, render
from portal.web.downloads import Flavour, FlavourChoice, cents, csv_download
from portal.web.reports.common import VIEW, Descending, ReportView, report_readers

SortQuery = Annotated[SortKey, QueryParameter(name="sort")]
TITLE_MAX = 200
"""A task's title is at most this long (the task form's limit)."""


@dataclass(frozen=True)
class Sorting:
    """The table's order, and the links of its column headings (a click on the current column turns
    it round; another column starts with names A–Z and figures largest first)."""

    key: SortKey
    descending: bool
    period: dict[str, str]

    def link(self, key: SortKey) -> dict[str, str]:
        descending = not self.descending if key == self.key else key != "company"
        return {**self.period, "sort": key, "desc": "1" if descending else "0"}

    def arrow(self, key: SortKey) -> str:
        return ("▼" if self.descending else "▲") if key == self.key else ""

    @property
    def query(self) -> dict[str, str]:
        return {**self.period, "sort": self.key, "desc": "1" if self.descending else "0"}


def _days(value: Any) -> str:
    return format_decimal(value, 1)


def reasons(row: CustomerRegularity) -> list[str]:
    """Why a customer is at risk, in words and numbers."""
    found = []
    if row.overdue and row.median_gap is not None:
        found.append(
            gettext("no order for %(days)s days, more than %(factor)s × the usual gap of %(gap)s days")
            % {"days": row.days_since, "factor": format_decimal(LATE, 1), "gap": _days(row.median_gap)}
        )
    if row.dropping:
        found.append(
            gettext("revenue down %(pct)s: %(recent)s in the last 3 months against %(earlier)s in the 3 before")
            % {
                "pct": format_percent(abs(row.trend_pct or Decimal(0))),
                "recent": format_money(row.recent, row.company.currency),
                "earlier": format_money(row.earlier, row.company.currency),
            }
        )
    if row.stopped:
        found.append(
            ngettext(
                "no order in this period, after %(num)d order in the previous one; the last on %(day)s",
                "no order in this period, after %(num)d orders in the previous one; the last on %(day)s",
                row.previous_orders,
            )
            % {"num": row.previous_orders, "day": format_date(row.last_order)}
        )
    return found


def task_title(row: CustomerRegularity) -> str:
    """The follow-up task a churn risk suggests."""
    if row.overdue or row.stopped:
        title = gettext("Call %(company)s: no order for %(days)s days") % {
            "company": row.company.name,
            "days": row.days_since,
        }
    else:
        title = gettext("Call %(company)s: revenue down %(pct)s") % {
            "company": row.company.name,
            "pct": format_percent(abs(row.trend_pct or Decimal(0))),
        }
    return title[:TITLE_MAX]


def ordering_chart(report: RegularityReport) -> Chart:
    return chart(
        [format_month(month.month) for month in report.ordering],
        [
            Series(gettext("Customers ordering"), [month.customers for month in report.ordering]),
            Series(gettext("Previous period"), [month.previous for month in report.ordering], kind="line"),
        ],
        title=gettext("Customers ordering per month, against the previous period"),
    )


def page_context(view: ReportView, report: RegularityReport, sorting: Sorting) -> dict[str, Any]:
    return {
        "view": view,
        "report": report,
        "rows": regularity.sort_rows(report.rows, sorting.key, descending=sorting.descending),
        "sorting": sorting,
        "chart": ordering_chart(report),
        "reasons": reasons,
        "task_title": task_title,
        "late_factor": LATE,
        "report_route": "report_regularity",
    }


def csv_header() -> list[str]:
    return [
        gettext("Company"),
        gettext("Tax id"),
        gettext("Covered"),
        gettext("Months with an order"),
        gettext("Months"),
        gettext("Share of months (%)"),
        gettext("Median gap (days)"),
        gettext("Spread p75 − p25 (days)"),
        gettext("Last order"),
        gettext("Days since the last order"),
        gettext("Days since ÷ median gap"),
        gettext("Revenue, last 3 months"),
        gettext("Revenue, 3 months before"),
        gettext("Trend (%)"),
        gettext("Churn risk"),
    ]


def csv_rows(rows: list[CustomerRegularity]) -> list[list[object]]:
    return [
        [
            row.company.name,
            row.company.tax_id,
            gettext("covered") if row.covered else "",
            row.active_months,
            row.months,
            row.share_pct,
            row.median_gap,
            row.spread,
            row.last_order.isoformat(),
            row.days_since,
            row.overdue_ratio,
            cents(row.recent),
            cents(row.earlier),
            row.trend_pct,
            "; ".join(reasons(row)),
        ]
        for row in rows
    ]


def csv_file(view: ReportView, report: RegularityReport, sorting: Sorting, flavour: Flavour) -> Response[bytes]:
    rows = regularity.sort_rows(report.rows, sorting.key, descending=sorting.descending)
    name = f"regularity-{view.query['from']}-{view.query['to']}.csv"
    return csv_download(name, csv_header(), csv_rows(rows), flavour=flavour)


class RegularityController(Controller):
    path = "/reports"
    guards = [report_readers]
    dependencies = VIEW

    @get("/regularity", name="report_regularity")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        sort: SortQuery = DEFAULT_SORT,
        desc: Descending = True,
    ) -> Template:
        found = await regularity.regularity(db_session, view.audience, view.period, view.through)
        return render(request, "reports/regularity.html", page_context(view, found, Sorting(sort, desc, view.query)))

    @get("/regularity.csv", name="report_regularity_csv")
    async def download(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        sort: SortQuery = DEFAULT_SORT,
        desc: Descending = True,
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        found = await regularity.regularity(db_session, view.audience, view.period, view.through)
        return csv_file(view, found, Sorting(sort, desc, view.query), Flavour.chosen(flavour))
