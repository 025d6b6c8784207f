"""A small dataset whose report figures are computed by hand (the numbers are written in the tests
that use it): two customers of two account managers, a few orders that count and some that do not,
an invoice paid 10 days late and one still open. The seller's today is `TODAY`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, OrderEvent, OrderStatus, Payment, Role, User
from portal.services import report_summary
from tests.factories import make_company, make_counted_order, make_invoice, make_order, make_user

TODAY = date(2026, 12, 6)
ZONE = ZoneInfo("Europe/Warsaw")


@dataclass(frozen=True)
class ReportData:
    manager: User
    """Anna: her customer is `alpha`."""
    colleague: User
    """Piotr: his customer is `beta`."""
    admin: User
    alpha: Company
    beta: Company


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def small_dataset(session: AsyncSession, *, summarise: bool = True) -> ReportData:
    """Alpha (Anna's): counted orders of 1,000.00 on 10 Mar 2026 (list value 1,250.00, skonto 2 %,
    approved by Anna), of 500.00 on 12 May 2026 (a delivery fee of 20.00: a small delivery; list
    value 500.00) and of 2,000.00 on 20 Nov 2025 (list value 2,000.00); costs are 70 % of net; a
    pending order of 900.00 and a cancelled one of 300.00 do not count. An invoice of 1,230.00
    issued 11 Mar 2026, due 10 Apr, paid 20 Apr 2026 (10 days late); one of 100.00 issued 1 Nov
    2026, due 1 Dec, open. Beta (Piotr's): one counted order of 400.00 on 1 Jul 2026, its list
    value unknown."""
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Report")
    colleague = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Report")
    admin = await make_user(session, Role.ADMIN, full_name="Ada Admin")
    alpha = await make_company(session, name="Alpha Hurt", account_manager_id=manager.id)
    beta = await make_company(session, name="Beta Detal", account_manager_id=colleague.id)

    march = await make_counted_order(session, alpha, net="1000.00", approved_at=_at(date(2026, 3, 10)))
    march.list_total, march.skonto_pct = Decimal("1250.00"), Decimal("2.00")
    approval = await session.scalar(
        select(OrderEvent).where(OrderEvent.order_id == march.id, OrderEvent.to_status == OrderStatus.APPROVED)
    )
    assert approval is not None
    approval.actor_id = manager.id
    may = await make_counted_order(session, alpha, net="500.00", approved_at=_at(date(2026, 5, 12)))
    may.list_total, may.delivery_fee = Decimal("500.00"), Decimal("20.00")
    older = await make_counted_order(session, alpha, net="2000.00", approved_at=_at(date(2025, 11, 20)))
    older.list_total = Decimal("2000.00")
    await make_order(session, alpha, gross="900.00", submitted_at=_at(date(2026, 6, 2)))
    cancelled = await make_counted_order(session, alpha, net="300.00", approved_at=_at(date(2026, 6, 3)))
    cancelled.status = OrderStatus.CANCELLED
    session.add(
        OrderEvent(
            order_id=cancelled.id,
            company_id=alpha.id,
            at=_at(date(2026, 6, 4)),
            from_status=OrderStatus.APPROVED,
            to_status=OrderStatus.CANCELLED,
        )
    )
    paid = await make_invoice(
        session, alpha, gross="1230.00", paid="1230.00", issued=date(2026, 3, 11), due=date(2026, 4, 10)
    )
    session.add(
        Payment(
            company_id=alpha.id,
            invoice_id=paid.id,
            reference="PAY-1",
            paid_on=date(2026, 4, 20),
            amount=Decimal("1230.00"),
        )
    )
    await make_invoice(session, alpha, gross="100.00", issued=date(2026, 11, 1), due=date(2026, 12, 1))
    await make_counted_order(session, beta, net="400.00", approved_at=_at(date(2026, 7, 1)))
    await session.flush()
    if summarise:
        await report_summary.refresh(session, TODAY, ZONE)
        await session.flush()
    return ReportData(manager, colleague, admin, alpha, beta)
