"""A company's credit picture: exposure, available credit, overdue invoices and
past-due state, computed for many companies in one query. A prepaid order is not in exposure."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.base import ExecutableOption

from portal.models import Amount, Company, Invoice, Order, OrderStatus

ZERO = Decimal("0.00")
ORDERS_AWAITING_INVOICE = (OrderStatus.APPROVED, OrderStatus.EXPORTED)
HIGH_UTILISATION_PCT = Decimal("80")


@dataclass(frozen=True)
class CreditPicture:
    company: Company
    unpaid_invoices: Decimal
    overdue_amount: Decimal
    oldest_overdue_days: int
    past_due: bool
    approved_orders: Decimal = ZERO
    """Gross value of orders approved (or taken by the ERP) and not yet invoiced."""
    pending_orders: Decimal = ZERO
    """Gross value of orders waiting for approval."""

    @property
    def credit_limit(self) -> Decimal:
        return self.company.credit_limit

    @property
    def exposure(self) -> Decimal:
        return self.unpaid_invoices + self.approved_orders + self.pending_orders

    @property
    def available_credit(self) -> Decimal:
        """May be negative: the company owes more than its limit allows."""
        return self.credit_limit - self.exposure

    @property
    def utilisation_pct(self) -> Decimal | None:
        if self.credit_limit <= 0:
            return None
        return (self.exposure * 100 / self.credit_limit).quantize(Decimal("0.1"))

    @property
    def on_hold(self) -> bool:
        return self.company.on_hold

    @property
    def over_limit(self) -> bool:
        """Owes more than the limit allows: available credit below zero."""
        return self.available_credit < 0

    @property
    def standing(self) -> str:
        """The one word for the account's state, worst first: on_hold, past_due, over_limit,
        highly_utilised (over 80 % of the limit used), overdue (within the grace period) or good."""
        if self.on_hold:
            return "on_hold"
        if self.past_due:
            return "past_due"
        if self.over_limit:
            return "over_limit"
        if self.highly_utilised:
            return "highly_utilised"
        return "overdue" if self.overdue_amount > 0 else "good"

    @property
    def highly_utilised(self) -> bool:
        """Over `HIGH_UTILISATION_PCT` of the limit used, or anything owed against a zero limit."""
        if self.credit_limit <= 0:
            return self.exposure > 0
        return self.exposure * 100 > self.credit_limit * HIGH_UTILISATION_PCT


@dataclass(frozen=True)
class OrderCredit:
    """The credit picture of one order (or of a cart about to become one), the same figures for
    the buyer at checkout, the approver on the queue and review page, the approval itself and
    the e-mails: exposure without this order, this order's gross value, available before it
    and after approving it. "Exceeds available credit" compares exactly these numbers."""

    credit_limit: Decimal
    exposure_without: Decimal
    gross: Decimal
    available_before: Decimal

    @property
    def available_after(self) -> Decimal:
        return self.available_before - self.gross

    @property
    def exceeds(self) -> bool:
        return self.gross > self.available_before

    @property
    def shortfall(self) -> Decimal:
        return max(self.gross - self.available_before, ZERO)


def credit_use(gross: Decimal, *, prepaid: bool) -> Decimal:
    """What an order puts on the company's credit: its gross value, nothing when it is prepaid."""
    return ZERO if prepaid else gross


def order_credit(picture: CreditPicture, gross: Decimal, *, pending: bool) -> OrderCredit:
    """`pending`: the order is waiting for approval, so its gross value is already in the
    picture's exposure and is taken out; a cart (not yet an order) is not in it."""
    without = picture.exposure - gross if pending else picture.exposure
    available = picture.available_credit + gross if pending else picture.available_credit
    return OrderCredit(
        credit_limit=picture.credit_limit, exposure_without=without, gross=gross, available_before=available
    )


def _credit_query(today: date) -> Select:
    return with_credit(select(Company), today).options(joinedload(Company.account_manager))


def _credit_figures(today: date) -> tuple[Subquery, Subquery]:
    """Per company: its open invoices' balances (unpaid, overdue, the oldest overdue due date), and
    the gross value of its orders approved and not invoiced, and of those waiting for approval."""
    balance = Invoice.gross_amount - Invoice.paid_amount
    unpaid = balance > 0
    overdue = and_(unpaid, Invoice.due_date < today)
    invoices = (
        select(
            Invoice.company_id,
            type_coerce(func.sum(case((unpaid, balance), else_=0)), Amount).label("unpaid"),
            type_coerce(func.sum(case((overdue, balance), else_=0)), Amount).label("overdue"),
            func.min(case((overdue, Invoice.due_date))).label("oldest_due"),
        )
        .where(Invoice.paid_amount < Invoice.gross_amount)  # the open ones (`ix_invoices_open`)
        .group_by(Invoice.company_id)
        .subquery()
    )
    # A prepaid order uses no credit (`credit_use`): it counts neither pending nor approved.
    pending = and_(Order.status == OrderStatus.PENDING_APPROVAL, Order.prepaid.is_(False))
    # An order billed by an invoice counts through that invoice's balance, never twice.
    invoiced = select(Invoice.id).where(Invoice.order_number == Order.number).exists()
    approved = and_(Order.status.in_(ORDERS_AWAITING_INVOICE), Order.prepaid.is_(False), ~invoiced)
    orders = (
        select(
            Order.company_id,
            type_coerce(func.sum(case((approved, Order.gross_total), else_=0)), Amount).label("approved"),
            type_coerce(func.sum(case((pending, Order.gross_total), else_=0)), Amount).label("pending"),
        )
        .where(Order.status.in_([OrderStatus.PENDING_APPROVAL, *ORDERS_AWAITING_INVOICE]))
        .group_by(Order.company_id)
        .subquery()
    )
    return invoices, orders


def with_credit(query: Select, today: date) -> Select:
    """`query` (one that selects from `Company`) with the figures of each company's credit picture
    added as its last five columns (`picture_from` reads them), so a page that loads a company with
    something else reads its credit in the same statement."""
    invoices, orders = _credit_figures(today)
    return (
        query.add_columns(
            invoices.c.unpaid, invoices.c.overdue, invoices.c.oldest_due, orders.c.approved, orders.c.pending
        )
        .outerjoin(invoices, invoices.c.company_id == Company.id)
        .outerjoin(orders, orders.c.company_id == Company.id)
    )


def picture_from(company: Company, figures: Sequence[Any], *, today: date, grace_days: int) -> CreditPicture:
    """The credit picture of a company read `with_credit`, from the five figures of its row."""
    unpaid, overdue, oldest_due, approved, pending = figures
    return _picture(company, unpaid, overdue, oldest_due, today, grace_days, approved, pending)


async def credit_pictures(
    session: AsyncSession,
    *,
    today: date,
    grace_days: int,
    company_ids: Iterable[int] | None = None,
    account_manager_ids: Collection[int] | None = None,
    loading: Sequence[ExecutableOption] = (),
) -> list[CreditPicture]:
    """Credit pictures of all companies, or of the given ones, or of the given account
    managers' (`services/scoping.py` says whose a user sees), ordered by company name; `loading`:
    what to load with each company in the same statement (`joinedload(Company.addresses)`)."""
    query = _credit_query(today).options(*loading).order_by(Company.name, Company.id)
    if company_ids is not None:
        query = query.where(Company.id.in_(list(company_ids)))
    if account_manager_ids is not None:
        query = query.where(Company.account_manager_id.in_(sorted(account_manager_ids)))
    rows = (await session.execute(query)).unique().all()
    return [
        _picture(company, unpaid, overdue, oldest_due, today, grace_days, approved, pending)
        for company, unpaid, overdue, oldest_due, approved, pending in rows
    ]


async def credit_picture(session: AsyncSession, company_id: int, *, today: date, grace_days: int) -> CreditPicture:
    (picture,) = await credit_pictures(session, today=today, grace_days=grace_days, company_ids=[company_id])
    return picture


def _picture(
    company: Company,
    unpaid: Decimal | None,
    overdue: Decimal | None,
    oldest_due: date | None,
    today: date,
    grace_days: int,
    approved: Decimal | None,
    pending: Decimal | None,
) -> CreditPicture:
    days = (today - oldest_due).days if oldest_due is not None else 0
    return CreditPicture(
        company=company,
        unpaid_invoices=_amount(unpaid),
        overdue_amount=_amount(overdue),
        oldest_overdue_days=days,
        past_due=oldest_due is not None and days > grace_days,
        approved_orders=_amount(approved),
        pending_orders=_amount(pending),
    )


def _amount(value: Decimal | None) -> Decimal:
    return ZERO if value is None else Decimal(value).quantize(Decimal("0.01"))


async def overdue_invoices(session: AsyncSession, company_id: int, *, today: date) -> list[Invoice]:
    """Unpaid invoices past their due date, oldest first."""
    query = (
        select(Invoice)
        .where(Invoice.company_id == company_id, overdue(today))
        .order_by(Invoice.due_date, Invoice.number)
    )
    return list((await session.scalars(query)).all())


def overdue(today: date) -> ColumnElement[bool]:
    """The condition on `Invoice` that keeps the unpaid ones past their due date."""
    return and_(Invoice.gross_amount > Invoice.paid_amount, Invoice.due_date < today)


SORT_KEYS = {
    "name": lambda p: p.company.name.lower(),
    "limit": lambda p: p.credit_limit,
    "exposure": lambda p: p.exposure,
    "available": lambda p: p.available_credit,
    "utilisation": lambda p: p.utilisation_pct if p.utilisation_pct is not None else Decimal("-1"),
    "overdue": lambda p: p.overdue_amount,
    "oldest_overdue": lambda p: p.oldest_overdue_days,
}

FILTERS = {
    "highly_utilised": lambda p: p.highly_utilised,
    "past_due": lambda p: p.past_due,
    "on_hold": lambda p: p.on_hold,
}
"""What the credit overview can narrow to: over 80 % utilised, past due, on hold."""


def filter_pictures(pictures: list[CreditPicture], show: str) -> list[CreditPicture]:
    """Only the pictures that match one of `FILTERS`; an unknown filter shows all."""
    keep = FILTERS.get(show)
    return [p for p in pictures if keep(p)] if keep else pictures


def sort_pictures(pictures: list[CreditPicture], key: str, descending: bool) -> list[CreditPicture]:
    """Pictures sorted by one of `SORT_KEYS`; ties keep name order."""
    return sorted(pictures, key=SORT_KEYS.get(key, SORT_KEYS["name"]), reverse=descending)


def days_overdue(invoice: Invoice, today: date) -> int:
    return max((today - invoice.due_date).days, 0)


@dataclass(frozen=True)
class CompanyAccount:
    """What a buyer sees first: the credit picture and what is overdue."""

    picture: CreditPicture
    overdue: list[Invoice]


async def company_account(session: AsyncSession, company_id: int, *, today: date, grace_days: int) -> CompanyAccount:
    picture = await credit_picture(session, company_id, today=today, grace_days=grace_days)
    return CompanyAccount(picture=picture, overdue=await overdue_invoices(session, company_id, today=today))
