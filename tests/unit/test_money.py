"""Money keeps its exact decimal value through the database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Invoice, Product
from tests.factories import make_company, make_invoice, make_product


async def test_unit_prices_keep_four_places_and_amounts_two(session: AsyncSession) -> None:
    product = await make_product(session, list_price=Decimal("1234567890.1234"), cost=Decimal("0.0001"))
    company = await make_company(session)
    await make_invoice(session, company, gross="999999999999.99", paid="0.01", due=date(2026, 12, 31))
    await session.commit()
    session.expunge_all()

    stored = await session.scalar(select(Product).where(Product.id == product.id))
    invoice = await session.scalar(select(Invoice).where(Invoice.company_id == company.id))

    assert stored is not None and invoice is not None
    assert (stored.list_price, stored.cost) == (Decimal("1234567890.1234"), Decimal("0.0001"))
    assert isinstance(stored.list_price, Decimal)
    assert (invoice.gross_amount, invoice.balance) == (Decimal("999999999999.99"), Decimal("999999999999.98"))
