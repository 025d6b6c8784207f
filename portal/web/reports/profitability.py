"""`/reports/profitability`: each customer's revenue and its growth, margin, orders, lifetime value,
run rate, discount against list price, trade credit (exposure, its cost, days paid late) and the
net margin after terms, credit and the cost to serve, ranked (net margin by default) with the top
and bottom deciles marked; a chart of the months; the same table as a CSV download
(`services/profitability.py`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import format_money, format_month, gettext
from portal.services import profitability
from portal.services.profitability import Profitability, ProfitRow, ProfitSort
from portal.web.charts import Chart, Series, chart
from portal.web.context import PortalRequest, render
from portal.web.downloads import Flavour, FlavourChoice, csv_download
from portal.web.reports.common import VIEW, Descending, ReportView, report_readers

SortQuery = Annotated[ProfitSort, QueryParameter(name="sort")]
CURRENCY = "PLN"
"""Every customer buys in PLN today (`services/report_summary.py`)."""


async def _report(
    session: AsyncSession, view: ReportView, sort: ProfitSort, desc: bool
) -> tuple[ReportView, Profitability]:
    found = await profitability.profitability(
        session,
        view.audience,
        view.period,
        view.settings,
        days=view.days(view.period),
        today=view.today,
        sort=sort,
        descending=desc,
    )
    return view, found


def _money(value: Decimal) -> str:
    return format_money(value, CURRENCY)


def months_chart(found: Profitability) -> Chart:
    """Revenue and gross margin per month (bars), with the previous period's revenue (a line)."""
    months = list(found.months.values())
    return chart(
        [format_month(month) for month in found.months],
        [
            Series(gettext("Revenue"), [month.net for month in months]),
            Series(gettext("Gross margin"), [month.margin for month in months]),
            Series(gettext("Revenue, previous period"), [m.net for m in found.previous_months.values()], "line"),
        ],
        title=gettext("Revenue and gross margin per month"),
        value_format=_money,
    )


def csv_header() -> list[str]:
    return [
        gettext("Company"),
        gettext("Account manager"),
        gettext("Revenue"),
        gettext("Growth (%)"),
        gettext("Gross margin"),
        gettext("Margin (%)"),
        gettext("Orders"),
        gettext("Average order"),
        gettext("Lifetime value"),
        gettext("Run rate (12 months)"),
        gettext("Discount against list price (%)"),
        gettext("Average daily exposure"),
        gettext("Cost of trade credit"),
        gettext("Days paid late"),
        gettext("Net margin"),
        gettext("Decile"),
    ]


def csv_rows(found: Profitability) -> list[list[object]]:
    ranking = found.ranking
    labels = {"top": gettext("top decile"), "bottom": gettext("bottom decile"), None: ""}

    def cells(row: ProfitRow, name: str, manager: str, decile: str) -> list[object]:
        return [
            name,
            manager,
            row.revenue,
            row.growth,
            row.margin,
            row.margin_pct,
            row.orders,
            row.average_order,
            row.lifetime,
            row.run_rate,
            row.discount,
            row.exposure,
            row.credit_cost,
            row.days_late,
            row.net_margin,
            decile,
        ]

    rows = [
        cells(row, row.company, (row.customer.manager if row.customer else None) or "", labels[ranking.decile(index)])
        for index, row in enumerate(ranking.rows)
    ]
    return [*rows, cells(ranking.total, gettext("Total"), "", "")]


class ProfitabilityController(Controller):
    path = "/reports"
    guards = [report_readers]
    dependencies = VIEW

    @get("/profitability", name="report_profitability")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        sort: SortQuery = "net_margin",
        desc: Descending = True,
    ) -> Template:
        view, found = await _report(db_session, view, sort, desc)
        context = {"view": view, "found": found, "chart": months_chart(found)}
        return render(request, "reports/profitability.html", {**context, "report_route": "report_profitability"})

    @get("/profitability.csv", name="report_profitability_csv")
    async def download(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        sort: SortQuery = "net_margin",
        desc: Descending = True,
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        view, found = await _report(db_session, view, sort, desc)
        name = f"profitability-{view.query['from']}-{view.query['to']}.csv"
        return csv_download(name, csv_header(), csv_rows(found), flavour=Flavour.chosen(flavour))
