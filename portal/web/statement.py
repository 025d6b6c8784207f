"""The buyer's account statement, as a page and as CSV."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.services.statement import Statement, account_statement
from portal.web.context import PortalRequest, seller_today, settings_of
from portal.web.downloads import csv_download
from portal.web.guards import buyers_only

CSV_COLUMNS = ("Invoice", "Issued", "Due", "Currency", "Gross", "Paid", "Balance", "Days overdue", "Order")


async def _statement(request: PortalRequest, db_session: AsyncSession) -> Statement:
    return await account_statement(
        db_session, request.user.company_id, today=seller_today(request),
        grace_days=settings_of(request).past_due_grace_days,
    )


class StatementController(Controller):
    guards = [buyers_only]

    @get("/statement", name="statement")
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return Template("statement/index.html", context={"statement": await _statement(request, db_session)})

    @get("/statement.csv", name="statement_csv")
    async def download(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Response[bytes]:
        account = await _statement(request, db_session)
        rows = [
            [line.invoice.number, line.invoice.issue_date.isoformat(), line.invoice.due_date.isoformat(),
             line.invoice.currency, f"{line.invoice.gross_amount:.2f}", f"{line.invoice.paid_amount:.2f}",
             f"{line.invoice.balance:.2f}", line.days_overdue if line.is_open else "", line.invoice.order_number or ""]
            for line in account.lines
        ]
        company = account.picture.company
        return csv_download(f"statement-{company.tax_id}-{account.today.isoformat()}.csv",
                            [gettext(column) for column in CSV_COLUMNS], rows)
