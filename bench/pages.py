"""Every main page of the portal under load, each read by the role it is made for.

The cast comes from the benchmark database: the buyer of the company `run.py` prices (the
heaviest on prices; it must have orders), that company's account manager (so its customer page
and a review of its pending order are theirs to read), `finance@bench.example`, and
`manager-01@bench.example` for the report pages. Before loading anything the buyer's cart is given
30 lines (written as the cart service writes them, its earlier lines replaced), and every page is
fetched once and must answer 200, not the sign-in page (the product lists with their rows). Then,
per page: the SQL statements of one signed-in request counted in process, and wrk at 8
connections for a few seconds after a 1 s warm-up (req/s, p50, p95). The catalog's page of 50 is
always measured: the other pages are compared with it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from itertools import groupby

import httpx
from harness import WRK_TIMEOUT_S, BenchFailure, Load, Server, count_statements, is_sign_in_page, wrk
from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from portal import clock
from portal.models import Cart, CartLine, Company, ContractPrice, Order, OrderStatus, Product, Role, User
from portal.services.cart import new_checkout_key

FINANCE = "finance@bench.example"
READER = "manager-01@bench.example"
"""Who reads the report pages: account manager 01 (their 50 customers and, this week, the 50 of
manager 02, whom they cover), as in `reports.py`, which also times them as an admin."""
SEARCH_WORD = "garden"
"""In about 500 of the 20,000 product names."""
CART_LINES = 30
CONNECTIONS = 8
WARMUP_S = 1
LONGER = 4
"""A page that answered fewer than CONNECTIONS requests in its run is run again this many times longer."""
REFERENCE = "catalog-50"
STATEMENT_LIMIT = 6
SLOW_FACTOR = 3.0
"""Pages are marked when they cost more statements than this, or when their p50 is more than this
many times the catalog's."""


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    """With `{product}`, `{order}`, `{pending}` or `{company}` for the cast's ids."""
    role: str
    rows: int = 0
    """The least number of products (`data-sku="`) the page must list."""


PAGES = [
    Page("dashboard", "/dashboard", "buyer"),
    Page("catalog", "/catalog", "buyer", rows=20),
    Page(REFERENCE, "/catalog?per_page=50", "buyer", rows=50),
    Page("search", f"/catalog?q={SEARCH_WORD}", "buyer", rows=1),
    Page("product", "/catalog/products/{product}", "buyer"),
    Page("cart", "/cart", "buyer"),
    Page("orders", "/orders", "buyer"),
    Page("order", "/orders/{order}", "buyer"),
    Page("manager", "/manager", "manager"),
    Page("queue", "/queue", "manager"),
    Page("review", "/queue/orders/{pending}", "manager"),
    Page("customer", "/customers/{company}", "manager"),
    Page("finance", "/finance", "finance"),
    Page("reports", "/reports", "reader"),
    Page("profitability", "/reports/profitability", "reader"),
    Page("cost-to-serve", "/reports/cost-to-serve", "reader"),
    Page("regularity", "/reports/regularity", "reader"),
    Page("retention", "/reports/retention", "reader"),
    Page("managers", "/reports/managers", "reader"),
]
PAGE_NAMES = [page.name for page in PAGES]


@dataclass(frozen=True)
class Cast:
    company_id: int
    emails: dict[str, str]
    """Who reads, by role: buyer, manager (the company's account manager), finance, reader (of the reports)."""
    buyer_id: int
    product_id: int
    """A product the company has a contract price for."""
    order_id: int
    """The company's latest invoiced order (the one under review is another page)."""
    pending_id: int
    """An order waiting for the manager's decision: the company's, else another customer's of theirs."""
    cart: list[tuple[int, int]]
    """(product id, pack size) of the 30 products put in the cart: contract products first."""

    def path(self, page: Page) -> str:
        ids = {"product": self.product_id, "order": self.order_id, "pending": self.pending_id}
        return page.path.format(company=self.company_id, **ids)


@dataclass(frozen=True)
class Measured:
    page: Page
    path: str
    email: str
    statements: int
    load: Load


async def find_cast(url: str, company_id: int) -> Cast:
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            company = await session.get(Company, company_id)
            assert company is not None
            buyer = await session.scalar(
                select(User).where(User.company_id == company_id, User.role == Role.BUYER).order_by(User.id).limit(1)
            )
            manager = await session.get(User, company.account_manager_id) if company.account_manager_id else None
            staff = set(await session.scalars(select(User.email).where(User.email.in_([READER, FINANCE]))))
            if buyer is None or manager is None or manager.role != Role.ACCOUNT_MANAGER or staff != {READER, FINANCE}:
                raise BenchFailure(
                    f"company {company_id} needs a buyer and an account manager, and {READER} and {FINANCE} must "
                    "exist: run bench/generate.py --fresh (with its order history)"
                )
            contracted = (
                select(Product.id, Product.pack_size)
                .join(ContractPrice, ContractPrice.product_id == Product.id)
                .where(ContractPrice.company_id == company_id, Product.is_active)
                .distinct()
                .order_by(Product.id)
                .limit(CART_LINES)
            )
            cart = [(int(pid), int(pack)) for pid, pack in await session.execute(contracted)]
            if len(cart) < CART_LINES:
                others = (
                    select(Product.id, Product.pack_size)
                    .where(Product.is_active, Product.id.not_in([pid for pid, _ in cart]))
                    .order_by(Product.id)
                    .limit(CART_LINES - len(cart))
                )
                cart += [(int(pid), int(pack)) for pid, pack in await session.execute(others)]
            latest = (
                select(Order.id)
                .where(Order.company_id == company_id)
                .order_by((Order.status == OrderStatus.INVOICED).desc(), Order.id.desc())
                .limit(1)
            )
            order_id = await session.scalar(latest)
            pending = (
                select(Order.id)
                .join(Company, Company.id == Order.company_id)
                .where(Order.status == OrderStatus.PENDING_APPROVAL, Company.account_manager_id == manager.id)
                .order_by((Order.company_id == company_id).desc(), Order.id.desc())
                .limit(1)
            )
            pending_id = await session.scalar(pending)
    finally:
        await engine.dispose()
    if order_id is None or pending_id is None:
        raise BenchFailure(
            f"company {company_id} has no order, or {manager.email} no pending order to review: "
            "run bench/generate.py --fresh (it leaves the last days' orders pending)"
        )
    emails = {"buyer": buyer.email, "manager": manager.email, "finance": FINANCE, "reader": READER}
    return Cast(company_id, emails, buyer.id, cart[0][0], order_id, pending_id, cart)


async def fill_cart(url: str, cast: Cast) -> None:
    """The buyer's cart holds exactly the cast's 30 lines, one pack each, written as the cart service
    writes them (`portal.services.cart`): the cart claimed with a new checkout key (made on first
    use), its lines replaced, in one transaction."""
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            values = postgresql.insert(Cart).values(
                user_id=cast.buyer_id,
                company_id=cast.company_id,
                checkout_key=new_checkout_key(),
                updated_at=clock.now(),
            )
            claim = values.on_conflict_do_update(
                index_elements=["user_id", "company_id"],
                set_={"checkout_key": values.excluded.checkout_key, "updated_at": values.excluded.updated_at},
            ).returning(Cart.id)
            cart_id = (await session.execute(claim)).scalar_one()
            await session.execute(delete(CartLine).where(CartLine.cart_id == cart_id))
            lines = [
                {"cart_id": cart_id, "company_id": cast.company_id, "product_id": product_id, "quantity": pack}
                for product_id, pack in cast.cart
            ]
            await session.execute(insert(CartLine), lines)
            held = await session.scalar(select(func.count()).where(CartLine.cart_id == cart_id))
    finally:
        await engine.dispose()
    if held != CART_LINES:
        raise BenchFailure(f"the cart of {cast.emails['buyer']} holds {held} lines, not {CART_LINES}")


def check_pages(server: Server, cast: Cast, cookies: dict[str, str], pages: list[Page]) -> None:
    for page in pages:
        path = cast.path(page)
        response = httpx.get(server.base + path, headers={"Cookie": cookies[page.role]}, timeout=30.0)
        rows = response.text.count('data-sku="')
        if response.status_code != 200 or is_sign_in_page(response.text) or rows < page.rows:
            raise BenchFailure(
                f"{path} as {cast.emails[page.role]}: status {response.status_code}, {rows} products "
                f"(want 200, at least {page.rows}, not the sign-in page)"
            )


def measure(
    server: Server, url: str, cast: Cast, cookies: dict[str, str], pages: list[Page], duration: int
) -> list[Measured]:
    """Statements per page (in process), then wrk on each page; the reference page first."""
    pages = sorted(pages, key=lambda page: page.name != REFERENCE)
    check_pages(server, cast, cookies, pages)
    statements: dict[tuple[str, str], int] = {}
    for role, group in groupby(sorted(pages, key=lambda page: page.role), key=lambda page: page.role):
        print(f"SQL statements per page (in process, as {cast.emails[role]}) ...", flush=True)
        counts = asyncio.run(count_statements(url, cast.emails[role], [cast.path(page) for page in group]))
        statements.update({(role, path): count for path, count in counts.items()})
    print(f"{len(pages)} pages, {duration} s each at {CONNECTIONS} connections ...", flush=True)
    measured = []
    for page in pages:
        path = cast.path(page)
        wrk(server.base + path, CONNECTIONS, WARMUP_S, cookies[page.role], allow_empty=True)
        load = wrk(server.base + path, CONNECTIONS, duration, cookies[page.role], allow_empty=True)
        if load.requests < CONNECTIONS:  # slower than the run is long: once more, longer
            load = wrk(server.base + path, CONNECTIONS, duration * LONGER, cookies[page.role])
        server.check_alive()
        measured.append(Measured(page, path, cast.emails[page.role], statements[(page.role, path)], load))
        print(
            f"  {page.name:<14} {load.requests_per_s:8.1f} req/s  p50 {load.p50_ms:8.2f} ms  "
            f"p95 {load.p95_ms:8.2f} ms  {measured[-1].statements:>3} statements",
            flush=True,
        )
    server.check_log()
    return measured


def report(measured: list[Measured]) -> None:
    """A markdown table; the pages over the statement limit or slower than SLOW_FACTOR × the catalog
    are marked."""
    reference = next(item for item in measured if item.page.name == REFERENCE).load.p50_ms
    print(
        f"| page | path | as | statements | requests | req/s | p50 ms | p95 ms | p50 ÷ catalog(50) | over "
        f"{STATEMENT_LIMIT} statements / {SLOW_FACTOR:g} × catalog |"
    )
    print("|---|---|---|--:|--:|--:|--:|--:|--:|---|")
    for item in measured:
        ratio = item.load.p50_ms / reference
        marks = [f"**{item.statements} statements**"] if item.statements > STATEMENT_LIMIT else []
        marks += [f"**{ratio:.1f} × slower**"] if ratio > SLOW_FACTOR else []
        print(
            f"| {item.page.name} | `{item.path}` | {item.email.split('@')[0]} | {item.statements} | {item.load.requests} "
            f"| {item.load.requests_per_s:.1f} | {item.load.p50_ms:.1f} | {item.load.p95_ms:.1f} | {ratio:.2f} "
            f"| {', '.join(marks)} |"
        )
    timeouts = sum(item.load.timeouts for item in measured)
    if timeouts:
        print(f"\nrequests timed out after {WRK_TIMEOUT_S} s (not in the latencies): {timeouts}")
