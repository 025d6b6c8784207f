"""The summary the report pages read, made by the worker from the book of record.

Reports cover months to years of a million order lines; reading the orders, invoices and payments
afresh on every page would cost seconds. The worker (`refresh_due`, every `EVERY`) rebuilds two
small tables in one transaction instead, and the pages say when it last did (`ReportRefresh`):

- `ReportMonth`, per customer and month: the orders that count (approved, exported, invoiced;
  by `Order.counted_on`, the seller's day they were approved), their revenue, cost, list value,
  deliveries under the free-delivery threshold and skonto; the rebates of settlement periods that
  ended in the month; quote versions sent; orders a person decided; the unpaid invoice balance ×
  days (the credit extended); payments and how late they came.
- `ReportCategoryMix`, per customer and category: the trailing 12 months' net and in how many of
  them the customer bought from it.

A rebuild is whole (delete, then insert), so it is right whatever changed: a backdated payment, a
cancelled order, an invoice the ERP sent late. On PostgreSQL the refresh row is locked first, so
two workers never rebuild at once; SQLite has a single writer anyway. Money stays in the company's
currency: every customer buys in one, and all buy in PLN today; a report adding customers of
different currencies would have to convert first (the pages show the currency they sum in)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Table, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import clock
from portal.models import (
    Invoice,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    Product,
    QuoteVersion,
    ReportCategoryMix,
    ReportMonth,
    ReportRefresh,
    Role,
    SettlementClose,
    User,
)
from portal.services.flags import COUNTED

EVERY = timedelta(minutes=10)
"""How often the worker rebuilds the summary; the pages say how fresh it is."""
MIX_MONTHS = 12
ZERO = Decimal("0.00")
SUMMED = ("net", "cost", "goods_net", "list_total", "skonto", "rebates", "balance_days", "paid", "late_days")
COUNTS = ("orders", "small_orders", "quotes_sent", "approvals")


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, count: int) -> date:
    """The first day of the month `count` months after (or before) `month`'s."""
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


@dataclass
class _Month:
    values: dict[str, Any]

    @classmethod
    def empty(cls) -> _Month:
        return cls({**{name: ZERO for name in SUMMED}, **{name: 0 for name in COUNTS}})

    def add(self, name: str, value: Any) -> None:
        self.values[name] += value


class _Months(defaultdict[tuple[int, date], _Month]):
    def __init__(self) -> None:
        super().__init__(_Month.empty)

    def at(self, company_id: int, day: date) -> _Month:
        return self[(company_id, month_start(day))]


async def refresh(session: AsyncSession, today: date, zone: ZoneInfo) -> int:
    """Rebuild the summary up to `today` (the seller's day) in the caller's transaction; the number
    of customer-months written."""
    await _claim(session)
    months = _Months()
    await _orders(session, months, today)
    await _rebates(session, months, today)
    await _quotes(session, months, today, zone)
    await _approvals(session, months, today, zone)
    await _credit(session, months, today)
    await session.execute(delete(ReportMonth))
    rows = [{"company_id": c, "month": m, **month.values} for (c, m), month in sorted(months.items())]
    if rows:
        await session.execute(insert(ReportMonth), rows)
    await session.execute(delete(ReportCategoryMix))
    mix = await _category_mix(session, today)
    if mix:
        await session.execute(insert(ReportCategoryMix), mix)
    await session.execute(
        update(ReportRefresh).where(ReportRefresh.id == 1).values(refreshed_at=clock.now(), through=today)
    )
    return len(rows)


async def refresh_due(maker: async_sessionmaker[AsyncSession], today: date, zone: ZoneInfo) -> bool:
    """The worker's call: rebuild when the summary is older than `EVERY` or from another day."""
    async with maker() as session, session.begin():
        state = await _claim(session)
        refreshed = state.refreshed_at if state.through == today else None
        if refreshed is not None and clock.now() - refreshed < EVERY:
            return False
        await refresh(session, today, zone)
        return True


async def _claim(session: AsyncSession) -> ReportRefresh:
    """The one refresh row, locked for this transaction (made first where it is missing, by
    whichever worker comes first: the others find it, wait for the lock, then read it afresh)."""
    table = ReportRefresh.__table__
    assert isinstance(table, Table)
    dialect = session.get_bind().dialect.name
    insert_into = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(insert_into(table).values(id=1).on_conflict_do_nothing(index_elements=["id"]))
    state = await session.get(ReportRefresh, 1, with_for_update=True, populate_existing=True)
    assert state is not None, "made just above"
    return state


async def freshness(session: AsyncSession) -> ReportRefresh | None:
    """When the summary was made (None, or a row whose `refreshed_at` is None: never yet)."""
    return await session.get(ReportRefresh, 1)


def month_key(session: AsyncSession, column: Any) -> ColumnElement[str]:
    """ "YYYY-MM" of a date column, in SQL."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.strftime("%Y-%m", column)


def _month_of(key: str) -> date:
    return date(int(key[:4]), int(key[5:7]), 1)


def _counted(today: date) -> list[ColumnElement[bool]]:
    return [Order.status.in_(COUNTED), Order.counted_on.is_not(None), Order.counted_on <= today]


async def _orders(session: AsyncSession, months: _Months, today: date) -> None:
    key = month_key(session, Order.counted_on).label("month")
    known = Order.list_total.is_not(None)
    rows = await session.execute(
        select(
            Order.company_id,
            key,
            func.count(),
            func.sum(Order.net_total),
            func.sum(Order.cost_total),
            func.sum(case((known, Order.net_total - Order.delivery_fee), else_=0)),
            func.sum(func.coalesce(Order.list_total, 0)),
            func.sum(case((Order.delivery_fee > 0, 1), else_=0)),
            func.sum(Order.net_total * func.coalesce(Order.skonto_pct, 0)),
        )
        .where(*_counted(today))
        .group_by(Order.company_id, key)
    )
    for company_id, month, count, net, cost, goods, listed, small, skonto_x100 in rows:
        summary = months[(company_id, _month_of(month))]
        for name, value in (
            ("orders", count),
            ("net", net),
            ("cost", cost),
            ("goods_net", goods),
            ("list_total", listed),
            ("small_orders", small),
            ("skonto", (Decimal(skonto_x100) / 100).quantize(ZERO)),
        ):
            summary.add(name, Decimal(str(value)).quantize(ZERO) if name in SUMMED else int(value))


async def _rebates(session: AsyncSession, months: _Months, today: date) -> None:
    rows = await session.execute(
        select(SettlementClose.company_id, SettlementClose.ends_on, SettlementClose.rebate).where(
            SettlementClose.ends_on <= today, SettlementClose.rebate > 0
        )
    )
    for company_id, ends_on, rebate in rows:
        months.at(company_id, ends_on).add("rebates", rebate)


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


async def _quotes(session: AsyncSession, months: _Months, today: date, zone: ZoneInfo) -> None:
    rows = await session.execute(
        select(QuoteVersion.company_id, QuoteVersion.sent_at).where(QuoteVersion.sent_at.is_not(None))
    )
    for company_id, sent_at in rows:
        if sent_at is not None and (day := _local_day(sent_at, zone)) <= today:
            months.at(company_id, day).add("quotes_sent", 1)


async def _approvals(session: AsyncSession, months: _Months, today: date, zone: ZoneInfo) -> None:
    rows = await session.execute(
        select(OrderEvent.company_id, OrderEvent.at)
        .join(User, User.id == OrderEvent.actor_id)
        .where(
            OrderEvent.from_status == OrderStatus.PENDING_APPROVAL,
            OrderEvent.to_status.in_((OrderStatus.APPROVED, OrderStatus.REJECTED)),
            User.role != Role.BUYER,
        )
    )
    for company_id, at in rows:
        if (day := _local_day(at, zone)) <= today:
            months.at(company_id, day).add("approvals", 1)


def _spread(months: _Months, company_id: int, balance: Decimal, start: date, end: date) -> None:
    """Add `balance` × each day from `start` up to (not including) `end` to the days' months."""
    while start < end:
        next_month = add_months(month_start(start), 1)
        stop = min(end, next_month)
        months.at(company_id, start).add("balance_days", balance * (stop - start).days)
        start = stop


async def _credit(session: AsyncSession, months: _Months, today: date) -> None:
    """Balance × days of every invoice from its issue to each payment (a paid amount the ERP gave
    without a payment row counts as paid on the due date), payments and their lateness."""
    paid_by_invoice: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for invoice_id, paid_on, amount in await session.execute(
        select(Payment.invoice_id, Payment.paid_on, Payment.amount).order_by(Payment.invoice_id, Payment.paid_on)
    ):
        paid_by_invoice[invoice_id].append((paid_on, amount))
    end = today + timedelta(days=1)
    invoices = await session.execute(
        select(
            Invoice.id,
            Invoice.company_id,
            Invoice.issue_date,
            Invoice.due_date,
            Invoice.gross_amount,
            Invoice.paid_amount,
        ).where(Invoice.issue_date <= today)
    )
    for invoice_id, company_id, issued, due, gross, paid_total in invoices:
        payments = [(day, amount) for day, amount in paid_by_invoice.get(invoice_id, []) if day <= today]
        recorded = sum((amount for _, amount in payments), ZERO)
        if paid_total > recorded:
            payments.append((min(due, today), paid_total - recorded))
            payments.sort()
        balance, since = gross, issued
        for paid_on, amount in payments:
            day = max(paid_on, issued)
            _spread(months, company_id, balance, since, day)
            balance, since = balance - amount, day
            month = months.at(company_id, paid_on)
            month.add("paid", amount)
            month.add("late_days", amount * max((paid_on - due).days, 0))
        if balance > 0:
            _spread(months, company_id, balance, since, end)


async def _category_mix(session: AsyncSession, today: date) -> list[dict[str, Any]]:
    since = add_months(month_start(today), 1 - MIX_MONTHS)
    key = month_key(session, Order.counted_on)
    rows = await session.execute(
        select(Order.company_id, Product.category_id, func.sum(OrderLine.line_net), func.count(key.distinct()))
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(*_counted(today), Order.counted_on >= since)
        .group_by(Order.company_id, Product.category_id)
    )
    return [
        {"company_id": company_id, "category_id": category_id, "net": net, "months": count}
        for company_id, category_id, net, count in _sorted(rows)
    ]


def _sorted(rows: Iterable[Any]) -> list[Any]:
    return sorted(rows, key=lambda row: (row[0], row[1]))
