"""Framework agreements' volume tiers, computed by hand: the turnover of a settlement period
counts the orders that count on the day they were approved; a tier is reached at its threshold
and not a cent below; a counted order cancelled later leaves the turnover; each period is closed
once, however many workers run."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import OrderStatus, RebateLine, Role, SettlementClose, SettlementPeriod
from portal.services import agreements
from portal.services.agreements import Period, calendar_period
from portal.services.ordering import move_order
from tests.factories import make_agreement, make_company, make_counted_order, make_order, make_product, make_user

TIERS = [("100000.00", "3.00"), ("50000.00", "1.50"), ("200000.00", "5.00")]


def at(day: int, month: int = 11, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_calendar_periods() -> None:
    assert calendar_period(SettlementPeriod.QUARTER, date(2026, 11, 5)) == Period(date(2026, 10, 1), date(2026, 12, 31))
    assert calendar_period(SettlementPeriod.QUARTER, date(2026, 2, 28)) == Period(date(2026, 1, 1), date(2026, 3, 31))
    assert calendar_period(SettlementPeriod.MONTH, date(2028, 2, 10)) == Period(date(2028, 2, 1), date(2028, 2, 29))
    assert calendar_period(SettlementPeriod.YEAR, date(2026, 7, 1)) == Period(date(2026, 1, 1), date(2026, 12, 31))


async def test_a_tier_is_reached_at_its_threshold_and_not_a_cent_below(session: AsyncSession) -> None:
    company = await make_company(session)
    await make_agreement(session, company, tiers=TIERS)
    await make_counted_order(session, company, net="60000.00", approved_at=at(3))
    await make_counted_order(session, company, net="39999.99", approved_at=at(20))
    today = date(2026, 11, 30)

    below = await agreements.standing(session, company.id, today)
    assert below is not None
    (scope,) = below.scopes
    assert scope.turnover == Decimal("99999.99")
    assert scope.reached == agreements.Tier(Decimal("50000.00"), Decimal("1.50"))
    assert scope.reached_on == date(2026, 11, 3)
    assert scope.remaining() == Decimal("0.01")
    assert scope.next_tier() == agreements.Tier(Decimal("100000.00"), Decimal("3.00"))
    assert scope.remaining(Decimal("50000.00")) == Decimal("50000.01")  # a cart of 50,000 passes 100,000, not 200,000
    assert scope.remaining(Decimal("100000.01")) is None  # past the top tier

    await make_counted_order(session, company, net="0.01", approved_at=at(28))
    exactly = await agreements.standing(session, company.id, today)
    assert exactly is not None
    (scope,) = exactly.scopes
    assert scope.turnover == Decimal("100000.00")
    assert scope.reached == agreements.Tier(Decimal("100000.00"), Decimal("3.00"))
    assert scope.reached_on == date(2026, 11, 28)
    # 92 days in Q4, 61 of them elapsed on 30 November: 100,000 × 92 / 61 = 150,819.67, still on the 3 % tier
    assert scope.projected == Decimal("150819.67")
    assert exactly.expected_rebate_pct(1) == Decimal("3.00")


async def test_only_orders_that_count_count_and_a_cancelled_one_leaves(session: AsyncSession) -> None:
    company = await make_company(session)
    await make_agreement(session, company, tiers=TIERS)
    counted = await make_counted_order(session, company, net="100000.00", approved_at=at(10))
    await make_order(session, company, gross="5000.00")  # pending: not a sale
    await make_order(session, company, gross="7000.00", status=OrderStatus.REJECTED)
    await make_counted_order(session, company, net="900.00", approved_at=at(30, month=9))  # the previous quarter
    standing = await agreements.standing(session, company.id, date(2026, 12, 1))
    assert standing is not None and standing.scopes[0].turnover == Decimal("100000.00")

    counted.status = OrderStatus.CANCELLED
    await session.flush()
    standing = await agreements.standing(session, company.id, date(2026, 12, 1))
    assert standing is not None
    assert standing.scopes[0].turnover == Decimal("0.00") and standing.scopes[0].reached is None


async def test_an_order_counts_from_the_sellers_day_of_its_approval(session: AsyncSession) -> None:
    """Submitted in December, approved on the seller's 1 January: a sale of the next quarter."""
    company = await make_company(session)
    manager = await make_user(session, Role.ACCOUNT_MANAGER)
    order = await make_order(session, company, gross="50000.00", submitted_at=datetime(2026, 12, 30, 9, tzinfo=UTC))
    await move_order(session, order.id, OrderStatus.APPROVED, manager, today=date(2027, 1, 1))
    q4 = await agreements.counted_sales(session, company.id, Period(date(2026, 10, 1), date(2026, 12, 31)))
    q1 = await agreements.counted_sales(session, company.id, Period(date(2027, 1, 1), date(2027, 3, 31)))
    assert q4 == [] and [(sale.day, sale.net) for sale in q1] == [(date(2027, 1, 1), Decimal("50000.00"))]


async def test_per_category_tiers_count_their_category_only(session: AsyncSession) -> None:
    company = await make_company(session)
    cleaning = await make_product(session)
    other = await make_product(session)
    await make_agreement(session, company, tiers=[("10000.00", "2.00")], category=cleaning.category)
    await make_counted_order(session, company, net="9000.00", approved_at=at(2), product=cleaning)
    await make_counted_order(session, company, net="5000.00", approved_at=at(3), product=other)
    standing = await agreements.standing(session, company.id, date(2026, 11, 30))
    assert standing is not None
    (scope,) = standing.scopes
    assert scope.category_id == cleaning.category_id and scope.turnover == Decimal("9000.00")
    assert scope.remaining() == Decimal("1000.00")


async def test_three_workers_close_each_period_once(session: AsyncSession, engine: AsyncEngine) -> None:
    """Q3 and Q4 2026 have ended on 10 January 2027: three workers at once close each of them
    exactly once, Q4 with 3 % of 120,000.00 = 3,600.00 and Q3 (40,000.00) with nothing."""
    company = await make_company(session)
    agreement = await make_agreement(session, company, tiers=TIERS, valid_from=date(2026, 7, 1))
    await make_counted_order(session, company, net="40000.00", approved_at=at(15, month=8))
    await make_counted_order(session, company, net="70000.00", approved_at=at(5, month=10))
    await make_counted_order(session, company, net="50000.00", approved_at=at(20, month=12))
    await session.commit()

    maker = async_sessionmaker(engine, expire_on_commit=False)
    reports = await asyncio.gather(*(agreements.close_due(maker, date(2027, 1, 10)) for _ in range(3)))
    assert sum(len(report.closed) for report in reports) == 2

    closes = list(await session.scalars(select(SettlementClose).order_by(SettlementClose.starts_on)))
    assert [(c.starts_on, c.ends_on, c.turnover, c.rebate) for c in closes] == [
        (date(2026, 7, 1), date(2026, 9, 30), Decimal("40000.00"), Decimal("0.00")),
        (date(2026, 10, 1), date(2026, 12, 31), Decimal("120000.00"), Decimal("3600.00")),
    ]
    assert await session.scalar(select(func.count()).select_from(RebateLine)) == 2
    await session.refresh(agreement)
    assert agreement.closed_through == date(2026, 12, 31)
    again = await agreements.close_due(maker, date(2027, 1, 11))
    assert again.closed == []
