"""The buyer's account statement, as a page and as CSV."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Company
from portal.services.statement import Statement, account_statement
from portal.settings import Settings
from portal.web.context import PortalRequest, render
from portal.web.downloads import cents, csv_download
from portal.web.guards import buyers_only

CSV_COLUMNS = ("Invoice", "Issued", "Due", "Currency", "Gross", "Paid", "Balance", "Days overdue", "Order")


def csv_header() -> list[str]:
    return [gettext(column) for column in CSV_COLUMNS]


def csv_rows(account: Statement) -> list[list[object]]:
    """One row per invoice; days overdue only for an open one. Amounts stay numbers (Decimal)."""
    return [
        [
            line.invoice.number,
            line.invoice.issue_date.isoformat(),
            line.invoice.due_date.isoformat(),
            line.invoice.currency,
            cents(line.invoice.gross_amount),
            cents(line.invoice.paid_amount),
            cents(line.invoice.balance),
            line.days_overdue if line.is_open else "",
            line.invoice.order_number or "",
        ]
        for line in account.lines
    ]


class StatementController(Controller):
    guards = [buyers_only]

    @get("/statement", name="statement")
    async def show(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company: NamedDependency[Company],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Template:
        account = await account_statement(db_session, company.id, today=today, grace_days=settings.past_due_grace_days)
        return render(request, "statement/index.html", {"statement": account})

    @get("/statement.csv", name="statement_csv")
    async def download(
        self,
        db_session: NamedDependency[AsyncSession],
        company: NamedDependency[Company],
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Response[bytes]:
        account = await account_statement(db_session, company.id, today=today, grace_days=settings.past_due_grace_days)
        return csv_download(f"statement-{company.tax_id}-{today.isoformat()}.csv", csv_header(), csv_rows(account))
