"""The ageing report: unpaid invoice balances by how long past due they are, per
company and in total (per currency), in one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Amount, Company, Invoice

ZERO = Decimal("0.00")
BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")
"""Not yet due, then days past the due date: 1–30, 31–60, 61–90, more than 90."""


@dataclass(frozen=True)
class AgeingRow:
    company: Company | None
    """None for a total row."""
    currency: str
    buckets: tuple[Decimal, ...]

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, ZERO)


@dataclass(frozen=True)
class AgeingReport:
    today: date
    rows: list[AgeingRow]
    totals: list[AgeingRow]
    """One total per currency: amounts in different currencies are never added up."""


async def ageing_report(session: AsyncSession, *, today: date) -> AgeingReport:
    """Every company with an unpaid balance, by name; a balance due today is not yet due."""
    balance = Invoice.gross_amount - Invoice.paid_amount
    due = Invoice.due_date
    edges = [today - timedelta(days=days) for days in (30, 60, 90)]
    conditions = [
        due >= today,
        and_(due < today, due >= edges[0]),
        and_(due < edges[0], due >= edges[1]),
        and_(due < edges[1], due >= edges[2]),
        due < edges[2],
    ]
    sums = [
        type_coerce(func.sum(case((condition, balance), else_=0)), Amount).label(name)
        for condition, name in zip(conditions, BUCKETS, strict=True)
    ]
    per_company = select(Invoice.company_id, *sums).where(balance > 0).group_by(Invoice.company_id).subquery()
    query = (
        select(Company, *[per_company.c[name] for name in BUCKETS])
        .join(per_company, per_company.c.company_id == Company.id)
        .order_by(Company.name, Company.id)
    )
    rows = [
        AgeingRow(company, company.currency, tuple(_amount(value) for value in values))
        for company, *values in (await session.execute(query)).all()
    ]
    totals: dict[str, list[Decimal]] = {}
    for row in rows:
        sums_so_far = totals.setdefault(row.currency, [ZERO] * len(BUCKETS))
        for index, value in enumerate(row.buckets):
            sums_so_far[index] += value
    return AgeingReport(
        today=today,
        rows=rows,
        totals=[AgeingRow(None, currency, tuple(values)) for currency, values in sorted(totals.items())],
    )


def _amount(value: Decimal | None) -> Decimal:
    return ZERO if value is None else Decimal(value).quantize(Decimal("0.01"))
