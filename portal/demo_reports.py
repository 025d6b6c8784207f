"""The demo's history for the reports: about three years of counted orders, invoices and payments,
so every report under /reports has a story to tell. Loaded by `demo.load_demo_data` after the rest
of the demo (and before the reports' summary is made), into the same transaction.

- The eight demo customers bought before the demo's recent history began: the same few products
  again and again, every three to four weeks, growing a little each year; all their invoices are
  paid, on time but for Carpathia Catering's, which come 10 to 35 days late (the direct debits
  returned, `demo._credit_history`). Nothing is added on or after a customer's first order of the
  demo, nor inside an agreement's periods (a closed period keeps the turnover the worker counted),
  so the recent stories stay as they were: Pomerania Retail, whose agreement of last year brought
  no order, bought until the year before and came back this autumn.
- Eleven more customers of Anna Kowalska and Piotr Nowak, each with a buyer, whose first orders fall
  in different quarters (the retention cohorts): a steady canteen chain, mountain inns that buy
  irregularly, resorts and a print house that were lost, a café chain and lodges that stopped a few
  months ago (churn risks, later than usual), bakeries that grow fast, a food-service wholesaler that
  is big but barely profitable (deep discounts, many small deliveries with a fee, paid late), a new
  fitness chain, canteens, and school caterers that buy in every month but the summer holidays.
- And three wholesalers in Northwind Trading's trade (`Buying.like`): they buy the six products it
  bought most of and, besides, one product each of cleaning and dairy (which it never buys),
  beverages, dry goods and paper (the same for all three), so Northwind's growth suggestions show
  the two categories and the five products, each bought regularly by three similar customers.
- The customers later than usual get the task the worker's first pass would make, so the pass
  finds nothing left to do (as `demo_crm` does for the eight).

Orders are made as the portal writes them (`demo._History.draft`, what `_History.order` adds:
submitted by the buyer, approved by the account manager three hours later and counted from that
day, exported, invoiced the next day), with their list value, at the prices of their day; about
700 of them, so they are numbered and written in a few statements, not row by row, to keep the
load within seconds. Its own random stream keeps the rest of the demo as it was."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.demo import SELLER_ZONE, _History, _history_line
from portal.models import (
    Address,
    Agreement,
    Base,
    Company,
    Contact,
    Invoice,
    Order,
    OrderEvent,
    OrderLine,
    OrderNumberSequence,
    OrderStatus,
    Payment,
    Product,
    Role,
    TaskReason,
    User,
)
from portal.services import delivery, task_generation, tasks
from portal.services.report_summary import add_months, month_start
from portal.services.totals import totals

CENT = Decimal("0.01")
YEARS = 3
"""How far back the history goes."""
KEY_PREFIX = "demo-history-"
"""The idempotency keys of the history's orders begin so."""
INVOICE_SERIES = 1001
"""The history's invoices are numbered from here in each month (the demo's own start at 1)."""


@dataclass(frozen=True)
class Buying:
    """How a customer buys over its history."""

    since: int
    """Months before today's of its first order."""
    until: int = 0
    """Months before today's of its last order (0: it buys to this day)."""
    every: tuple[int, int] = (24, 32)
    """Days between two orders (at random between the two)."""
    size: int = 3000
    """Net PLN of an order when it began."""
    growth: float = 1.08
    """Yearly factor of the order size (below 1: it buys less and less)."""
    goods: tuple[str, ...] = ("Beverages", "Dairy", "Dry goods", "Frozen food")
    """The categories it buys from."""
    price: tuple[float, float] = (0.86, 0.95)
    """Unit price as a share of the list price of the day."""
    markup: tuple[float, float] | None = None
    """Unit price as a multiple of the cost, in place of `price` (a customer that barely pays)."""
    paid: tuple[int, int] = (-6, -1)
    """Days after the due date its invoices are paid (negative: before)."""
    summer: float = 1.0
    """Order size factor in June, July and August."""
    breaks: tuple[int, ...] = ()
    """Months of the year it does not order in."""
    fee: bool = False
    """Its small orders carry the company's delivery fee (`delivery.delivery_fee`)."""
    lines: tuple[int, int] = (2, 4)
    """How many of its usual products an order has (at random between the two)."""
    like: str = ""
    """A customer in the same trade: it buys some of the products that one buys and, in each of
    `goods`, a product that one never bought (the same as every other customer like it)."""


HORECA = ("Beverages", "Dairy", "Dry goods", "Frozen food", "Cleaning")
HOTELS = ("Beverages", "Paper & hygiene", "Cleaning", "Kitchen equipment", "Dairy")
OFFICES = ("Office supplies", "Paper & hygiene", "Cleaning")
CLINICS = ("Cleaning", "Paper & hygiene", "Protective wear")

EXISTING = {
    "Northwind Trading": Buying(36, size=11000, growth=1.12, goods=OFFICES + ("Beverages",), every=(20, 30)),
    "Baltic Foods": Buying(35, size=4000, growth=1.1, goods=HORECA, every=(18, 26), summer=1.3),
    "Vistula Hotels": Buying(34, size=12000, growth=1.1, goods=HOTELS, price=(0.84, 0.9), summer=1.25),
    "Carpathia Catering": Buying(31, size=6000, growth=1.05, goods=HORECA, every=(24, 31), paid=(10, 35)),
    "Mazovia Office Supplies": Buying(29, size=3200, goods=OFFICES, every=(18, 26)),
    "Pomerania Retail": Buying(
        36, size=16000, growth=1.1, goods=("Dry goods", "Beverages", "Cleaning", "Paper & hygiene")
    ),
    "Silesia Build": Buying(26, size=1500, growth=1.05, goods=("Protective wear", "Cleaning", "Office supplies")),
    "Warta Clinics": Buying(24, size=3500, growth=1.1, goods=CLINICS, every=(20, 30)),
}
"""The demo's customers before their recent history (which ends each one's `Buying`)."""


@dataclass(frozen=True)
class Customer:
    name: str
    tax_id: str
    city: str
    manager: str
    buyer: tuple[str, str]
    buying: Buying
    terms: int = 30
    limit: str = "30000"
    discount: str = "0"
    fee: tuple[str, str] | None = None
    """The delivery fee and the net order value it is free from."""


ANNA, PIOTR = "manager@seller.example", "manager2@seller.example"
BESIDES_NORTHWIND = ("Cleaning", "Dairy", "Beverages", "Dry goods", "Paper & hygiene")
"""What the wholesalers in Northwind Trading's trade buy besides its products, a product of each:
cleaning and dairy, which Northwind never buys, and three of its own categories (what its page
suggests)."""
CUSTOMERS = [
    Customer(
        "Odra Canteens",
        "PL8940009001",
        "Wrocław",
        ANNA,
        ("buyer@odra.example", "Olga Odrzańska"),
        Buying(36, size=3500, growth=1.06, goods=HORECA, every=(26, 34)),
    ),
    Customer(
        "Tatra Mountain Inns",
        "PL7360010004",
        "Zakopane",
        PIOTR,
        ("buyer@tatra.example", "Tadeusz Tatrzański"),
        Buying(32, size=4000, growth=1.05, goods=HOTELS, every=(6, 80), summer=1.6),
        terms=14,
        limit="40000",
    ),
    Customer(
        "Masuria Resorts",
        "PL7390011008",
        "Olsztyn",
        ANNA,
        ("buyer@masuria.example", "Marta Mazurska"),
        Buying(34, until=15, size=6000, goods=HOTELS, every=(20, 30), summer=1.4),
        limit="50000",
    ),
    Customer(
        "Kashubia Cafés",
        "PL5890012004",
        "Kartuzy",
        PIOTR,
        ("buyer@kashubia.example", "Kazimierz Kaszubski"),
        Buying(30, until=3, size=2200, growth=0.75, goods=HORECA, every=(14, 20)),
        terms=14,
        limit="15000",
    ),
    Customer(
        "Warmia Bakeries",
        "PL5780013008",
        "Elbląg",
        ANNA,
        ("buyer@warmia.example", "Weronika Warmińska"),
        Buying(24, size=900, growth=3.0, goods=("Dry goods", "Dairy", "Packaging", "Cleaning"), every=(14, 22)),
        limit="60000",
    ),
    Customer(
        "Kujawy Food Service",
        "PL5540014008",
        "Bydgoszcz",
        PIOTR,
        ("buyer@kujawy.example", "Krystian Kujawski"),
        Buying(
            30,
            size=1700,
            growth=1.1,
            goods=HORECA + ("Packaging",),
            every=(3, 6),
            markup=(1.0, 1.05),
            paid=(3, 16),
            fee=True,
        ),
        limit="80000",
        discount="12",
        fee=("30.00", "3000.00"),
    ),
    Customer(
        "Lublin Print House",
        "PL7120015002",
        "Lublin",
        ANNA,
        ("buyer@lublinprint.example", "Lucyna Lubelska"),
        Buying(27, until=19, size=2000, goods=OFFICES, every=(25, 35)),
        terms=14,
        limit="10000",
    ),
    Customer(
        "Opole Fitness Clubs",
        "PL7540016008",
        "Opole",
        PIOTR,
        ("buyer@opolefit.example", "Oskar Opolski"),
        Buying(5, size=1500, growth=2.0, goods=("Beverages", "Paper & hygiene", "Cleaning"), every=(18, 26)),
        limit="20000",
    ),
    Customer(
        "Noteć Canteens",
        "PL7640017007",
        "Piła",
        ANNA,
        ("buyer@notec.example", "Natalia Notecka"),
        Buying(18, size=2500, growth=1.05, goods=HORECA, every=(25, 32)),
    ),
    Customer(
        "Bieszczady Lodges",
        "PL6870018004",
        "Sanok",
        PIOTR,
        ("buyer@bieszczady.example", "Bogdan Bieszczadzki"),
        Buying(14, until=5, size=3000, goods=HOTELS, every=(25, 40), summer=1.3),
        terms=14,
        limit="20000",
    ),
    Customer(
        "Sudety Schools Catering",
        "PL6110019009",
        "Jelenia Góra",
        ANNA,
        ("buyer@sudety.example", "Sabina Sudecka"),
        Buying(9, size=1200, growth=1.05, goods=HORECA, every=(10, 16), breaks=(7, 8)),
        terms=14,
        limit="15000",
    ),
    Customer(
        "Wielkopolska Trading",
        "PL7790020005",
        "Poznań",
        ANNA,
        ("buyer@wielkopolska.example", "Wiktor Wielkopolski"),
        Buying(28, size=2500, goods=BESIDES_NORTHWIND, every=(20, 28), lines=(4, 7), like="Northwind Trading"),
        limit="50000",
    ),
    Customer(
        "Łódź Wholesale",
        "PL7250021001",
        "Łódź",
        PIOTR,
        ("buyer@lodzwholesale.example", "Łucja Łódzka"),
        Buying(20, size=2000, goods=BESIDES_NORTHWIND, every=(20, 28), lines=(4, 7), like="Northwind Trading"),
        limit="40000",
    ),
    Customer(
        "Lubusz Trading",
        "PL9290022002",
        "Zielona Góra",
        ANNA,
        ("buyer@lubusz.example", "Leon Lubuski"),
        Buying(14, size=2000, goods=BESIDES_NORTHWIND, every=(20, 28), lines=(4, 7), like="Northwind Trading"),
        limit="30000",
    ),
]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _first_day(today: date, months_back: int, rng: random.Random) -> date:
    return add_months(month_start(today), -months_back) + timedelta(days=rng.randint(0, 20))


async def load_report_history(
    session: AsyncSession, companies: dict[str, Company], staff: dict[str, User], products: list[Product], today: date
) -> None:
    """The history above, for the demo's `companies` (by name) and the new customers."""
    rng = random.Random(36)
    sold = [p for p in products if p.is_active and p.list_price * p.pack_size <= 900]
    by_category: dict[str, list[Product]] = {}
    for product in sold:
        by_category.setdefault(product.category.name, []).append(product)
    planned: list[_Planned] = []
    for name, buying in EXISTING.items():
        company = companies[name]
        before = await _recent_history_starts(session, company)
        first = _first_day(today, buying.since, rng)
        company.created_at = min(company.created_at, datetime.combine(first - timedelta(days=30), time(9), UTC))
        last = before - timedelta(days=buying.every[1])
        history = await _History.of(session, company)
        planned += _plan(history, buying, _usual(buying, by_category, rng), first, last, rng, today)
    bought = await _bought(session, planned)
    alike: dict[tuple[str, tuple[str, ...]], list[Product]] = {}
    for spec in CUSTOMERS:
        first = _first_day(today, spec.buying.since, rng)
        company = await _customer(session, spec, staff[spec.manager], first, rng)
        last = add_months(month_start(today), -spec.buying.until) + timedelta(days=27) if spec.buying.until else today
        if spec.buying.like:
            usual = _alike(bought[companies[spec.buying.like].id], spec.buying, products, by_category, alike, rng)
        else:
            usual = _usual(spec.buying, by_category, rng)
        planned += _plan(await _History.of(session, company), spec.buying, usual, first, last, rng, today)
    bills = await _orders(session, planned, {product.id: product.list_price for product in products})
    await _invoices(session, bills, rng, today)
    await _late_customers(session, today)


async def _recent_history_starts(session: AsyncSession, company: Company) -> date:
    """The first day of the demo's recent history of `company`: its first order, or the start of
    an agreement, whichever comes first (a closed period's turnover is kept as the worker counted it,
    so no order is added inside an agreement)."""
    first_order = await session.scalar(select(func.min(Order.submitted_at)).where(Order.company_id == company.id))
    agreed = await session.scalar(select(func.min(Agreement.valid_from)).where(Agreement.company_id == company.id))
    days = [day for day in (first_order.date() if first_order else None, agreed) if day is not None]
    assert days, company.name
    return min(days)


async def _customer(session: AsyncSession, spec: Customer, manager: User, since: date, rng: random.Random) -> Company:
    """A new customer of `manager` with its head office and its buyer (who signs in with the demo's
    password, the manager's, and is its contact for purchasing and payables)."""
    joined = datetime.combine(since - timedelta(days=30), time(9), UTC)
    fee, free_from = (Decimal(spec.fee[0]), Decimal(spec.fee[1])) if spec.fee else (Decimal("0.00"), None)
    company = Company(
        name=spec.name,
        tax_id=spec.tax_id,
        payment_terms_days=spec.terms,
        credit_limit=Decimal(spec.limit).quantize(CENT),
        currency="PLN",
        general_discount_pct=Decimal(spec.discount).quantize(CENT),
        account_manager_id=manager.id,
        created_at=joined,
        delivery_fee=fee,
        free_delivery_from=free_from,
    )
    session.add(company)
    await session.flush()
    email, full_name = spec.buyer
    buyer = User(
        email=email, full_name=full_name, role=Role.BUYER, company_id=company.id, password_hash=manager.password_hash
    )
    session.add_all(
        [
            buyer,
            Address(
                company_id=company.id,
                label="Head office",
                street=f"ul. Kwiatowa {rng.randint(1, 90)}",
                postal_code=f"{rng.randint(10, 99)}-{rng.randint(100, 999)}",
                city=spec.city,
                is_default=True,
            ),
        ]
    )
    await session.flush()
    session.add(
        Contact(
            company_id=company.id,
            user_id=buyer.id,
            full_name=full_name,
            position="Purchasing",
            email=email,
            primary_purchasing=True,
            primary_payables=True,
            created_at=joined,
            updated_at=joined,
        )
    )
    return company


@dataclass(frozen=True)
class _Planned:
    """An order to make: `_History.order`'s arguments, and how its customer buys."""

    history: _History
    buying: Buying
    lines: list[OrderLine]
    status: OrderStatus
    submitted: datetime
    key: str
    po_sequence: int


async def _bought(session: AsyncSession, planned: list[_Planned]) -> dict[int, dict[int, Decimal]]:
    """The products each company ever bought, in the demo's recent history or in the `planned`
    orders, and for how much (net), by company id."""
    bought: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    rows = await session.execute(
        select(Order.company_id, OrderLine.product_id, func.sum(OrderLine.line_net))
        .join(OrderLine, OrderLine.order_id == Order.id)
        .group_by(Order.company_id, OrderLine.product_id)
    )
    for company_id, product_id, net in rows.tuples():
        bought[company_id][product_id] += net
    for plan in planned:
        for line in plan.lines:
            bought[plan.history.company.id][line.product_id] += line.line_net
    return bought


def _usual(buying: Buying, by_category: dict[str, list[Product]], rng: random.Random) -> list[Product]:
    """The seven products a customer buys again and again, from its `buying.goods`."""
    return rng.sample([p for name in buying.goods for p in by_category[name]], 7)


def _alike(
    theirs: dict[int, Decimal],
    buying: Buying,
    catalog: list[Product],
    by_category: dict[str, list[Product]],
    alike: dict[tuple[str, tuple[str, ...]], list[Product]],
    rng: random.Random,
) -> list[Product]:
    """The products a customer in the same trade as `buying.like` (who bought `theirs`, for so much)
    buys again and again: the six that one bought most of, still sold, and in each of `buying.goods`
    a product that one never bought, the same for every customer like it (kept in `alike`): what
    that one could be offered."""
    besides = alike.get((buying.like, buying.goods))
    if besides is None:
        besides = [rng.choice([p for p in by_category[name] if p.id not in theirs]) for name in buying.goods]
        alike[(buying.like, buying.goods)] = besides
    same = sorted((p for p in catalog if p.is_active and p.id in theirs), key=lambda p: (-theirs[p.id], p.id))
    return same[:6] + besides


def _plan(
    history: _History,
    buying: Buying,
    usual: list[Product],
    first: date,
    last: date,
    rng: random.Random,
    today: date,
) -> list[_Planned]:
    """The customer's orders from `first` to `last`, every `buying.every` days (on working days), each
    of a few of its `usual` products: invoiced, but for those of the last two days (approved, not
    invoiced yet)."""
    company = history.company
    planned: list[_Planned] = []
    day = first
    while day <= last:
        day += timedelta(days=max(0, 7 - day.weekday()) if day.weekday() >= 5 else 0)
        if day > last or day >= today:
            break
        if day.month not in buying.breaks:
            years = (day - first).days / 365
            target = buying.size * buying.growth**years * rng.uniform(0.75, 1.25)
            target *= buying.summer if day.month in (6, 7, 8) else 1.0
            lines = _basket(
                company, rng.sample(usual, rng.randint(*buying.lines)), Decimal(str(round(target))), buying, rng
            )
            index = len(planned)
            submitted = datetime.combine(day, time(7 + index % 6, 20), UTC)
            status = OrderStatus.INVOICED if day < today - timedelta(days=2) else OrderStatus.APPROVED
            key = f"{KEY_PREFIX}{company.id}-{index}"
            planned.append(_Planned(history, buying, lines, status, submitted, key, index + 1))
        day += timedelta(days=rng.randint(*buying.every))
    return planned


async def _orders(
    session: AsyncSession, planned: list[_Planned], list_prices: dict[int, Decimal]
) -> list[tuple[Order, Buying]]:
    """The planned orders as `_History.order` makes them, numbered in the order they were submitted,
    written in a few statements (the ORM would write them row by row); the invoiced ones."""
    drafts: list[tuple[Order, Buying]] = []
    chronological = sorted(planned, key=lambda plan: (plan.submitted, plan.key))
    numbers: dict[int, Iterator[int]] = {}
    for year in sorted({plan.submitted.year for plan in planned}):
        count = sum(1 for plan in planned if plan.submitted.year == year)
        numbers[year] = iter(await _reserve_order_numbers(session, year, count))
    for plan in chronological:
        number = f"ORD-{plan.submitted.year}-{next(numbers[plan.submitted.year]):06d}"
        order = plan.history.draft(
            plan.lines, plan.status, plan.submitted, plan.key, plan.po_sequence, number, list_prices
        )
        _charge_delivery(order, plan.history.company, plan.buying.fee)
        drafts.append((order, plan.buying))
    await _insert(session, Order, [order for order, _ in drafts])
    ids = dict(
        (
            await session.execute(
                select(Order.idempotency_key, Order.id).where(Order.idempotency_key.like(f"{KEY_PREFIX}%"))
            )
        )
        .tuples()
        .all()
    )
    for order, _ in drafts:
        order.id = ids[order.idempotency_key]
        for line in order.lines:
            line.order_id = order.id
        for event in order.events:
            event.order_id = order.id
    await _insert(session, OrderLine, [line for order, _ in drafts for line in order.lines])
    await _insert(session, OrderEvent, [event for order, _ in drafts for event in order.events])
    return [(order, buying) for order, buying in drafts if order.status is OrderStatus.INVOICED]


async def _reserve_order_numbers(session: AsyncSession, year: int, count: int) -> range:
    """The next `count` order numbers of `year`, taken at once: the year's counter moves on by
    `count` in one statement, as `ordering.next_order_number` moves it by one."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(OrderNumberSequence)
        .values(year=year, last_number=count)
        .on_conflict_do_update(
            index_elements=[OrderNumberSequence.year], set_={"last_number": OrderNumberSequence.last_number + count}
        )
        .returning(OrderNumberSequence.last_number)
    )
    last = (await session.execute(statement)).scalar_one()
    return range(last - count + 1, last + 1)


async def _insert(session: AsyncSession, model: type[Base], made: Sequence[Base]) -> None:
    """Objects made in memory (not added to the session), written in one INSERT of many rows."""
    if made:
        await session.execute(insert(model).execution_options(render_nulls=True), _rows(model, made))


def _rows(model: type[Base], made: Sequence[Base]) -> list[dict[str, Any]]:
    """The column values of objects made in memory, the same keys in each (a nullable column
    without a default that some did not set is None in those)."""
    columns = {column.key: column for column in model.__table__.columns}
    rows = [{key: value for key, value in vars(thing).items() if key in columns} for thing in made]
    keys = set().union(*rows)
    for row in rows:
        for key in keys - row.keys():
            assert columns[key].nullable and columns[key].default is None, key
            row[key] = None
    return rows


def _basket(
    company: Company, chosen: list[Product], target: Decimal, buying: Buying, rng: random.Random
) -> list[OrderLine]:
    """Lines of the `chosen` products worth about `target` together, at the prices of their day."""
    lines = []
    for product in chosen:
        if buying.markup:
            price = _cents(product.cost * Decimal(str(rng.uniform(*buying.markup))))
        else:
            price = _cents(product.list_price * Decimal(str(rng.uniform(*buying.price))))
        packs = max(1, round(target / len(chosen) / (price * product.pack_size)))
        lines.append(_history_line(company, product, packs * product.pack_size, price))
    return lines


def _charge_delivery(order: Order, company: Company, charged: bool) -> None:
    """The company's delivery fee on an order under its free-delivery value, in its totals (when
    its small orders are `charged`)."""
    goods = sum((line.line_net for line in order.lines), Decimal("0.00"))
    fee = delivery.delivery_fee(company, goods) if charged else Decimal("0.00")
    order.delivery_fee, order.delivery_fee_vat_rate = fee, delivery.FEE_VAT_RATE
    if not fee:
        return
    with_fee = totals([*((line.line_net, line.vat_rate) for line in order.lines), (fee, delivery.FEE_VAT_RATE)])
    order.net_total, order.vat_total, order.gross_total = with_fee.net, with_fee.vat, with_fee.gross


async def _invoices(session: AsyncSession, bills: list[tuple[Order, Buying]], rng: random.Random, today: date) -> None:
    """An invoice for each invoiced order, issued the day after its approval, and its payment on the
    day the customer pays (none yet when that day is still to come)."""
    sequence: dict[tuple[int, int], int] = {}
    invoices: list[Invoice] = []
    paid: list[tuple[Invoice, date]] = []
    for order, buying in sorted(bills, key=lambda bill: (bill[0].submitted_at, bill[0].number)):
        assert order.counted_on is not None
        issued = order.counted_on + timedelta(days=1)
        number = sequence[(issued.year, issued.month)] = (
            sequence.get((issued.year, issued.month), INVOICE_SERIES - 1) + 1
        )
        due = issued + timedelta(days=order.payment_terms_days)
        paid_on = max(issued, due + timedelta(days=rng.randint(*buying.paid)))
        invoice = Invoice(
            company_id=order.company_id,
            number=f"FV/{issued.year}/{issued.month:02d}/{number:04d}",
            issue_date=issued,
            due_date=due,
            currency=order.currency,
            gross_amount=order.gross_total,
            paid_amount=order.gross_total if paid_on < today else Decimal("0.00"),
            order_number=order.number,
        )
        invoices.append(invoice)
        if paid_on < today:
            paid.append((invoice, paid_on))
    await _insert(session, Invoice, invoices)
    numbers = [invoice.order_number for invoice in invoices]
    ids = dict(
        (await session.execute(select(Invoice.order_number, Invoice.id).where(Invoice.order_number.in_(numbers))))
        .tuples()
        .all()
    )
    payments = [
        Payment(
            company_id=invoice.company_id,
            invoice_id=ids[invoice.order_number],
            reference=f"DEMO/{invoice.number}",
            paid_on=paid_on,
            amount=invoice.gross_amount,
            recorded_at=datetime.combine(paid_on, time(18), UTC),
        )
        for invoice, paid_on in paid
    ]
    await _insert(session, Payment, payments)


async def _late_customers(session: AsyncSession, today: date) -> None:
    """The tasks this morning's pass of the worker makes for customers later than usual (those the
    CRM's demo made already are kept: a task is made once per key)."""
    due = await task_generation.due_tasks(session, today, grace_days=7, zone=SELLER_ZONE)
    real_now = clock.now
    clock.now = lambda: datetime.combine(today, time(0, 30), UTC)
    try:
        for task in due:
            if task.reason is TaskReason.LATE_CUSTOMER:
                await tasks.add_system_task(session, task)
    finally:
        clock.now = real_now
