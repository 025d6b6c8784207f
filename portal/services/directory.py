"""Who and what the portal holds, as each home page shows it: counts and stuck e-mails for
the admin; for a buyer, the company's account with what is overdue and the next deliveries,
and one invoice of the company."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal import clock
from portal.errors import NotFound
from portal.models import (
    AccessToken,
    Company,
    DeliverySchedule,
    Invoice,
    OutboxMessage,
    PriceList,
    PriceListItem,
    Product,
    TokenPurpose,
    User,
)
from portal.services import credit, notifications, schedules
from portal.services.credit import CreditPicture


@dataclass(frozen=True)
class Counts:
    companies: int
    users: int
    active_users: int
    products: int
    active_products: int


async def counts(session: AsyncSession) -> Counts:
    row = (
        await session.execute(
            select(
                select(func.count()).select_from(Company).scalar_subquery(),
                select(func.count()).select_from(User).scalar_subquery(),
                select(func.count()).select_from(User).where(User.is_active).scalar_subquery(),
                select(func.count()).select_from(Product).scalar_subquery(),
                select(func.count()).select_from(Product).where(Product.is_active).scalar_subquery(),
            )
        )
    ).one()
    return Counts(*row)


@dataclass(frozen=True)
class Attention:
    """What is unfinished in the master data: each count links to the list that shows it."""

    pending_invitations: int
    companies_without_manager: int
    products_without_price: int
    """Active products on no price list: customers without a contract price see only list price less discount."""

    @property
    def any(self) -> bool:
        return bool(self.pending_invitations or self.companies_without_manager or self.products_without_price)


async def attention(session: AsyncSession) -> Attention:
    """One query, whatever the size of the data."""
    now = clock.now()
    row = (
        await session.execute(
            select(
                select(func.count())
                .select_from(AccessToken)
                .where(
                    AccessToken.purpose == TokenPurpose.INVITATION,
                    AccessToken.used_at.is_(None),
                    AccessToken.withdrawn_at.is_(None),
                    AccessToken.expires_at > now,
                )
                .scalar_subquery(),
                select(func.count())
                .select_from(Company)
                .where(Company.is_active, Company.account_manager_id.is_(None))
                .scalar_subquery(),
                select(func.count())
                .select_from(Product)
                .where(Product.is_active, ~exists().where(PriceListItem.product_id == Product.id))
                .scalar_subquery(),
            )
        )
    ).one()
    return Attention(*row)


@dataclass(frozen=True)
class AdminHome:
    counts: Counts
    attention: Attention
    stuck: list[OutboxMessage]
    """E-mails that need an admin: failed for good, or interrupted mid-send."""


async def admin_home(session: AsyncSession) -> AdminHome:
    return AdminHome(await counts(session), await attention(session), await notifications.messages_for_admins(session))


@dataclass(frozen=True)
class InvoiceView:
    """An invoice as its buyer reads it, with the days it is overdue (0 when not yet due or paid)."""

    invoice: Invoice
    days_overdue: int

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0

    @property
    def paid_in_full(self) -> bool:
        return self.invoice.balance <= 0


def invoice_view(invoice: Invoice, today: date) -> InvoiceView:
    return InvoiceView(invoice, credit.days_overdue(invoice, today) if invoice.balance > 0 else 0)


async def company_invoice(session: AsyncSession, company_id: int, invoice_id: int, today: date) -> InvoiceView:
    """The invoice if it belongs to this company; another company's invoice does not exist here (`NotFound`)."""
    invoice = await session.scalar(select(Invoice).where(Invoice.id == invoice_id, Invoice.company_id == company_id))
    if invoice is None:
        raise NotFound()
    return invoice_view(invoice, today)


@dataclass(frozen=True)
class BuyerHome:
    """What a buyer sees first: the credit picture, the terms its prices come from, what is
    overdue, the next deliveries."""

    picture: CreditPicture
    overdue: list[InvoiceView]
    upcoming: list[tuple[schedules.Delivery, DeliverySchedule]]
    price_list_name: str | None = None
    """The company's price list; None: list prices less its general discount."""

    @property
    def discount_pct(self) -> Decimal:
        return self.picture.company.general_discount_pct


async def buyer_home(session: AsyncSession, company_id: int, *, today: date, grace_days: int) -> BuyerHome:
    """The company with its credit and its price list's name in one statement, then what is overdue
    and the next deliveries."""
    price_list_name = select(PriceList.name).where(PriceList.id == Company.price_list_id).scalar_subquery()
    row = (
        await session.execute(
            credit.with_credit(select(Company, price_list_name).where(Company.id == company_id), today).options(
                joinedload(Company.account_manager)
            )
        )
    ).one()
    company, name, *figures = row.tuple()
    overdue = await credit.overdue_invoices(session, company_id, today=today)
    return BuyerHome(
        picture=credit.picture_from(company, figures, today=today, grace_days=grace_days),
        overdue=[invoice_view(invoice, today) for invoice in overdue],
        upcoming=await schedules.next_deliveries(session, company_id),
        price_list_name=name,
    )
