"""Who and what the portal holds: counts for the admin, a buyer's company, a company's invoice."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Invoice, Product, User


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


async def company_invoice(session: AsyncSession, company_id: int, invoice_id: int) -> Invoice | None:
    """The invoice if it belongs to this company; another company's invoice does not exist here."""
    return await session.scalar(select(Invoice).where(Invoice.id == invoice_id, Invoice.company_id == company_id))
