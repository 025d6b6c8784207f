"""Exposure against hand-computed cases, the overview's filters, and the ageing
buckets at their boundaries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import OrderStatus
from portal.services.ageing import ageing_report
from portal.services.credit import credit_picture, credit_pictures, filter_pictures
from tests.factories import make_company, make_invoice, make_order

TODAY = date(2026, 11, 27)
GRACE = 7


async def test_exposure_adds_unpaid_balances_approved_and_pending_orders(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("10000.00"))
    await make_invoice(session, company, gross="2460.00", paid="1000.50", due=TODAY + timedelta(days=10))  # 1459.50
    await make_invoice(session, company, gross="300.00", paid="300.00", due=TODAY - timedelta(days=5))  # paid
    await make_order(session, company, gross="1845.00", status=OrderStatus.APPROVED)
    await make_order(session, company, gross="155.25", status=OrderStatus.EXPORTED)
    await make_order(session, company, gross="615.00", status=OrderStatus.PENDING_APPROVAL)
    for status in (OrderStatus.INVOICED, OrderStatus.REJECTED, OrderStatus.CANCELLED):
        await make_order(session, company, gross="999.00", status=status)

    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)

    assert (picture.unpaid_invoices, picture.approved_orders, picture.pending_orders) == (
        Decimal("1459.50"),
        Decimal("2000.25"),
        Decimal("615.00"),
    )
    assert picture.exposure == Decimal("4074.75")
    assert picture.available_credit == Decimal("5925.25")
    assert picture.utilisation_pct == Decimal("40.7")


async def test_an_order_with_its_invoice_is_counted_once_even_before_it_moves(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("5000.00"))
    order = await make_order(session, company, gross="1200.00", status=OrderStatus.EXPORTED)
    invoice = await make_invoice(session, company, gross="1200.00", paid="200.00", due=TODAY + timedelta(days=30))
    invoice.order_number = order.number
    await session.flush()

    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)

    assert (picture.unpaid_invoices, picture.approved_orders, picture.exposure) == (
        Decimal("1000.00"),
        Decimal("0.00"),
        Decimal("1000.00"),
    )


async def test_the_overview_filters(session: AsyncSession) -> None:
    busy = await make_company(session, name="Busy", credit_limit=Decimal("1000.00"))
    await make_invoice(session, busy, gross="800.01", due=TODAY + timedelta(days=5))
    edge = await make_company(session, name="Edge", credit_limit=Decimal("1000.00"))
    await make_invoice(session, edge, gross="800.00", due=TODAY + timedelta(days=5))
    late = await make_company(session, name="Late")
    await make_invoice(session, late, gross="10.00", due=TODAY - timedelta(days=GRACE + 1))
    zero = await make_company(session, name="Zero limit", credit_limit=Decimal("0.00"))
    await make_order(session, zero, gross="1.00", status=OrderStatus.PENDING_APPROVAL)
    await make_company(session, name="Held", on_hold=True, hold_reason="Returned cheque")

    pictures = await credit_pictures(session, today=TODAY, grace_days=GRACE)

    def names(show: str) -> list[str]:
        return [p.company.name for p in filter_pictures(pictures, show)]

    assert names("highly_utilised") == ["Busy", "Zero limit"]  # 80.0 % exactly is not over 80 %
    assert names("past_due") == ["Late"]
    assert names("on_hold") == ["Held"]
    assert len(names("")) == len(names("anything else")) == 5


@pytest.mark.parametrize(
    ("days_past_due", "bucket"),
    [
        (-10, 0),
        (0, 0),
        (1, 1),
        (30, 1),
        (31, 2),
        (60, 2),
        (61, 3),
        (90, 3),
        (91, 4),
        (400, 4),
    ],
)
async def test_ageing_buckets_at_their_boundaries(session: AsyncSession, days_past_due: int, bucket: int) -> None:
    company = await make_company(session)
    await make_invoice(session, company, gross="150.00", paid="50.00", due=TODAY - timedelta(days=days_past_due))

    report = await ageing_report(session, today=TODAY)

    (row,) = report.rows
    expected = [Decimal("0.00")] * 5
    expected[bucket] = Decimal("100.00")
    assert list(row.buckets) == expected


async def test_ageing_per_company_and_in_total_leaves_out_paid_invoices(session: AsyncSession) -> None:
    alpha = await make_company(session, name="Alpha")
    bravo = await make_company(session, name="Bravo")
    settled = await make_company(session, name="Settled")
    await make_invoice(session, alpha, gross="100.00", due=TODAY + timedelta(days=3))
    await make_invoice(session, alpha, gross="200.00", paid="20.00", due=TODAY - timedelta(days=45))
    await make_invoice(session, bravo, gross="300.00", due=TODAY - timedelta(days=100))
    await make_invoice(session, settled, gross="999.00", paid="999.00", due=TODAY - timedelta(days=100))

    report = await ageing_report(session, today=TODAY)

    assert [(row.company.name, row.total) for row in report.rows if row.company] == [
        ("Alpha", Decimal("280.00")),
        ("Bravo", Decimal("300.00")),
    ]
    (total,) = report.totals
    assert (total.currency, total.buckets, total.total) == (
        "PLN",
        (Decimal("100.00"), Decimal("0.00"), Decimal("180.00"), Decimal("0.00"), Decimal("300.00")),
        Decimal("580.00"),
    )


async def test_a_company_over_its_limit_is_over_limit_not_in_good_standing(session: AsyncSession) -> None:
    company = await make_company(session, credit_limit=Decimal("1000.00"))
    await make_invoice(session, company, gross="1000.01", due=TODAY + timedelta(days=10))
    picture = await credit_picture(session, company.id, today=TODAY, grace_days=GRACE)
    assert (picture.over_limit, picture.standing) == (True, "over_limit")
