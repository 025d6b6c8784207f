"""The buyer's account statement: the company's open and paid invoices with what
was paid and what is left, days overdue, the skonto of each (earned, missed, still
possible: `payment_terms`), totals, and the credit picture."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Invoice
from portal.services.credit import CreditPicture, credit_picture, days_overdue
from portal.services.payment_terms import Skonto, invoice_skontos

ZERO = Decimal("0.00")
PAID_HISTORY_DAYS = 365
"""Paid invoices issued within this many days are listed; open ones always are."""


@dataclass(frozen=True)
class StatementLine:
    invoice: Invoice
    days_overdue: int
    skonto: Skonto | None = None
    """The early-payment discount of the invoice's order, earned, missed or still possible."""

    @property
    def is_open(self) -> bool:
        return self.invoice.balance > 0


@dataclass(frozen=True)
class Statement:
    picture: CreditPicture
    today: date
    open: list[StatementLine]
    paid: list[StatementLine]

    @property
    def currency(self) -> str:
        return self.picture.company.currency

    @property
    def lines(self) -> list[StatementLine]:
        return self.open + self.paid

    def _sum(self, lines: list[StatementLine], figure: str) -> Decimal:
        return sum((getattr(line.invoice, figure) for line in lines), ZERO)

    @property
    def open_gross(self) -> Decimal:
        return self._sum(self.open, "gross_amount")

    @property
    def open_paid(self) -> Decimal:
        return self._sum(self.open, "paid_amount")

    @property
    def open_balance(self) -> Decimal:
        return self._sum(self.open, "balance")

    @property
    def invoiced(self) -> Decimal:
        """Gross of every invoice listed, open and paid: the sum of the statement's "Gross" column."""
        return self._sum(self.lines, "gross_amount")

    @property
    def paid_total(self) -> Decimal:
        return self._sum(self.lines, "paid_amount")

    @property
    def balance(self) -> Decimal:
        """What is left of the listed invoices: invoiced less paid."""
        return self._sum(self.lines, "balance")

    @property
    def overdue_balance(self) -> Decimal:
        return sum((line.invoice.balance for line in self.open if line.days_overdue > 0), ZERO)


async def account_statement(session: AsyncSession, company_id: int, *, today: date, grace_days: int) -> Statement:
    """Open invoices by due date (oldest first), then paid ones of the last year, newest first."""
    invoices = await session.scalars(
        select(Invoice)
        .where(
            Invoice.company_id == company_id,
            or_(
                Invoice.gross_amount > Invoice.paid_amount,
                Invoice.issue_date >= today - timedelta(days=PAID_HISTORY_DAYS),
            ),
        )
        .order_by(Invoice.due_date, Invoice.number)
    )
    listed = list(invoices)
    skontos = await invoice_skontos(session, company_id, listed, today)
    lines = [StatementLine(invoice, days_overdue(invoice, today), skontos.get(invoice.id)) for invoice in listed]
    return Statement(
        picture=await credit_picture(session, company_id, today=today, grace_days=grace_days),
        today=today,
        open=[line for line in lines if line.is_open],
        paid=sorted(
            (line for line in lines if not line.is_open),
            key=lambda line: (line.invoice.issue_date, line.invoice.number),
            reverse=True,
        ),
    )
