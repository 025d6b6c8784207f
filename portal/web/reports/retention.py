"""`/reports/retention`: retention by cohort of the first order's quarter, a table (cohorts ×
quarters since the first order: the share still ordering and the revenue), a chart with a line per
cohort, and a CSV download with a row per cohort and quarter (`services/retention.py` computes
every figure)."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import format_percent, gettext
from portal.services import retention
from portal.services.retention import MAX_COHORTS, MIN_COHORTS, Retention
from portal.web.charts import Chart, Series, chart
from portal.web.context import PortalRequest, render
from portal.web.downloads import Flavour, FlavourChoice, cents, csv_download
from portal.web.reports.common import VIEW, ReportView, report_readers


def quarter_label(quarter: date) -> str:
    """A quarter as a reader names it: "Q1 2026"."""
    return gettext("Q%(quarter)d %(year)d") % {"quarter": (quarter.month - 1) // 3 + 1, "year": quarter.year}


def quarter_code(quarter: date) -> str:
    """A quarter in a download, the same in every language: "2026-Q1"."""
    return f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"


def offset_label(offset: int) -> str:
    return gettext("Q+%(offset)d") % {"offset": offset}


def retention_chart(found: Retention) -> Chart:
    """A line per cohort: the share of its customers ordering, by quarters since the first order."""
    offsets = found.offsets
    return chart(
        [offset_label(offset) for offset in offsets],
        [
            Series(
                quarter_label(cohort.quarter),
                [q.share_pct for q in cohort.quarters] + [None] * (len(offsets) - len(cohort.quarters)),
                kind="line",
            )
            for cohort in found.cohorts
        ],
        title=gettext("Share of each cohort still ordering, by quarters since the first order"),
        value_format=format_percent,
    )


def csv_header() -> list[str]:
    return [
        gettext("Cohort"),
        gettext("Customers in the cohort"),
        gettext("Quarters since the first order"),
        gettext("Quarter"),
        gettext("Customers ordering"),
        gettext("Share (%)"),
        gettext("Revenue"),
    ]


def csv_rows(found: Retention) -> list[list[object]]:
    return [
        [
            quarter_code(cohort.quarter),
            cohort.size,
            q.offset,
            quarter_code(q.quarter),
            q.customers,
            q.share_pct,
            cents(q.revenue),
        ]
        for cohort in found.cohorts
        for q in cohort.quarters
    ]


def page_context(view: ReportView, found: Retention) -> dict[str, Any]:
    return {
        "view": view,
        "retention": found,
        "chart": retention_chart(found),
        "quarter_label": quarter_label,
        "offset_label": offset_label,
        "max_cohorts": MAX_COHORTS,
        "min_cohorts": MIN_COHORTS,
        "report_route": "report_retention",
    }


class RetentionController(Controller):
    path = "/reports"
    guards = [report_readers]
    dependencies = VIEW

    @get("/retention", name="report_retention")
    async def page(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
    ) -> Template:
        found = await retention.retention(db_session, view.audience, view.period)
        return render(request, "reports/retention.html", page_context(view, found))

    @get("/retention.csv", name="report_retention_csv")
    async def download(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        view: NamedDependency[ReportView],
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        found = await retention.retention(db_session, view.audience, view.period)
        name = f"retention-{view.query['from']}-{view.query['to']}.csv"
        return csv_download(name, csv_header(), csv_rows(found), flavour=Flavour.chosen(flavour))
