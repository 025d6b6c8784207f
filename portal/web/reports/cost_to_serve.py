"""`/reports/cost-to-serve`: what serving each customer costs (orders, deliveries under the
free-delivery threshold, quote versions sent, orders a person decided, each at its report setting)
against what the customer brings (revenue, gross margin, skonto and rebates, margin after terms,
cost of credit, net margin), the lowest net margin % first by default; a chart of the cost's four
parts per month; the same table as a CSV download (`services/profitability.py`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import format_money, format_month, gettext
from portal.models import ReportSettings
from portal.services import profitability
from portal.services.profitability import CostRow, CostSort, CostToServe
from portal.web.charts import Chart, Series, chart
from portal.web.context import PortalRequest, render
from portal.web.downloads import Flavour, FlavourChoice, csv_download
from portal.web.reports.common import VIEW, Descending, ReportView, report_readers

SortQuery = Annotated[CostSort, QueryParameter(name="sort")]
CURRENCY = "PLN"
"""Every customer buys in PLN today (`services/report_summary.py`)."""


async def _report(
    session: AsyncSession, view: ReportView, sort: CostSort, desc: bool
) -> tuple[ReportView, CostToServe]:
    found = await profitability.cost_to_serve(
        session, view.audience, view.period, view.settings, today=view.today, sort=sort, descending=desc
    )
    return view, found


def _money(value: Decimal) -> str:
    return format_money(value, CURRENCY)


def parts_chart(found: CostToServe, settings: ReportSettings) -> Chart:
    """The cost to serve's four parts per month, as bars side by side."""
    months = [CostRow(None, figures, settings) for figures in found.months.values()]
    return chart(
        [format_month(month) for month in found.months],
        [
            Series(gettext("Order handling"), [month.order_costs for month in months]),
            Series(gettext("Small deliveries"), [month.delivery_costs for month in months]),
            Series(gettext("Quote versions"), [month.quote_costs for month in months]),
            Series(gettext("Approvals"), [month.approval_costs for month in months]),
        ],
        title=gettext("Cost to serve per month, by part"),
        value_format=_money,
    )


def csv_header() -> list[str]:
    return [
        gettext("Company"),
        gettext("Account manager"),
        gettext("Orders"),
        gettext("Order handling cost"),
        gettext("Deliveries under the free-delivery threshold"),
        gettext("Delivery cost"),
        gettext("Quote versions sent"),
        gettext("Quote cost"),
        gettext("Orders decided by a person"),
        gettext("Approval cost"),
        gettext("Cost to serve"),
        gettext("Cost to serve per order"),
        gettext("Revenue"),
        gettext("Gross margin"),
        gettext("Skonto"),
        gettext("Rebates"),
        gettext("Margin after terms"),
        gettext("Margin after terms (%)"),
        gettext("Cost of trade credit"),
        gettext("Net margin"),
        gettext("Net margin (%)"),
    ]


def _cells(row: CostRow, name: str, manager: str) -> list[object]:
    return [
        name,
        manager,
        row.orders,
        row.order_costs,
        row.small_orders,
        row.delivery_costs,
        row.quotes_sent,
        row.quote_costs,
        row.approvals,
        row.approval_costs,
        row.cost_to_serve,
        row.cost_per_order,
        row.revenue,
        row.margin,
        row.skonto,
        row.rebates,
        row.margin_after_terms,
        row.margin_after_terms_pct,
        row.credit_cost,
        row.net_margin,
        row.net_margin_pct,
    ]


def csv_rows(found: CostToServe) -> list[list[object]]:
    ranking = found.ranking
    rows = [_cells(row, row.company, (row.customer.manager if row.customer else None) or "") for row in ranking.rows]
    return [*rows, _cells(ranking.total, gettext("Total"), "")]


class CostToServeController(Controller):
    path = "/reports"
    guards = [report_readers]
    dependencies = VIEW

    @get("/cost-to-serve", name="report_cost_to_serve")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        sort: SortQuery = "net_margin_pct",
        desc: Descending = False,
    ) -> Template:
        view, found = await _report(db_session, view, sort, desc)
        context = {"view": view, "found": found, "chart": parts_chart(found, view.settings)}
        return render(request, "reports/cost_to_serve.html", {**context, "report_route": "report_cost_to_serve"})

    @get("/cost-to-serve.csv", name="report_cost_to_serve_csv")
    async def download(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        sort: SortQuery = "net_margin_pct",
        desc: Descending = False,
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        view, found = await _report(db_session, view, sort, desc)
        name = f"cost-to-serve-{view.query['from']}-{view.query['to']}.csv"
        return csv_download(name, csv_header(), csv_rows(found), flavour=Flavour.chosen(flavour))
