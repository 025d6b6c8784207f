"""The buyer's account statement, as a page and as CSV: one row per invoice, then the totals, the
payment terms and the credit picture, each a labelled row with its amount as a number."""

from __future__ import annotations

from datetime import date

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, gettext, ngettext
from portal.models import Company
from portal.services.statement import Statement, account_statement
from portal.settings import Settings
from portal.web.context import PortalRequest, render
from portal.web.downloads import Flavour, FlavourChoice, cents, csv_download
from portal.web.guards import buyers_only

CSV_COLUMNS = (
    N_("Invoice"),
    N_("Issued"),
    N_("Due"),
    N_("Currency"),
    N_("Gross"),
    N_("Paid"),
    N_("Balance"),
    N_("Days overdue"),
    N_("Order"),
)


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


def csv_summary(account: Statement) -> list[list[object]]:
    """After the invoices and an empty row: the totals of the listed invoices, the payment terms and
    the credit picture, each as label, amount (a number) and currency."""
    picture, currency = account.picture, account.currency
    terms = picture.company.payment_terms_days
    figures = [
        (N_("Total invoiced"), account.invoiced),
        (N_("Total paid"), account.paid_total),
        (N_("Balance"), account.balance),
        (N_("Overdue"), account.overdue_balance),
    ]
    credit = [
        (N_("Credit limit"), picture.credit_limit),
        (N_("Exposure (credit used)"), picture.exposure),
        (N_("Available credit"), picture.available_credit),
    ]
    return [
        [],
        *([gettext(label), cents(amount), currency] for label, amount in figures),
        [gettext("Payment terms"), ngettext("%(num)d day", "%(num)d days", terms) % {"num": terms}],
        *([gettext(label), cents(amount), currency] for label, amount in credit),
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
        flavour: FlavourChoice = None,
    ) -> Response[bytes]:
        account = await account_statement(db_session, company.id, today=today, grace_days=settings.past_due_grace_days)
        rows = csv_rows(account) + csv_summary(account)
        name = f"statement-{company.tax_id}-{today.isoformat()}.csv"
        return csv_download(name, csv_header(), rows, flavour=Flavour.chosen(flavour))
