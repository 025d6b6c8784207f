"""The portal as the Procfile runs it, on PostgreSQL: two web processes and three workers at once.
Requests alternate between the two servers while the workers loop, and the concurrency rules hold
across processes: one cart makes one order, two checkouts or two approvals at once never take a
company past its credit limit, each due recurring delivery is ordered exactly once, every page
answers, and no process logs a traceback.

The processes start once for the module, after the due schedules exist, so the workers' first
passes race for them. The tests do not use the `session` fixture: it empties the database after
each test, which would take locks from under the running workers; each test arranges its own
companies instead, and the database is emptied once the processes have stopped."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import (
    Address,
    OccurrenceStatus,
    Order,
    OrderEvent,
    OrderSource,
    OrderStatus,
    Product,
    Role,
    ScheduleOccurrence,
    User,
)
from portal.services.credit import credit_picture
from tests.conftest import backend, wipe
from tests.factories import make_company, make_order, make_product, make_schedule, make_user
from tests.processes import Browser, Processes, portal_processes

pytestmark = [
    pytest.mark.postgresql_only,
    pytest.mark.skipif(
        backend() != "postgresql", reason="several portal processes on one database need PostgreSQL row locks"
    ),
]

ORDERING_DAY = date(2026, 12, 1)
"""The day the workers run for (a Tuesday): the schedules' deliveries of Thursday 3 December are due."""
DUE_SCHEDULES = 6
WORKER_SLEEP = "2"
PASSES_WANTED = 3
"""Passes every worker must have made before the recurring orders are counted."""
PASSES_WAIT_SECONDS = 30
LIMIT = Decimal("1000.00")
APPROVAL = {"note": "", "confirm_warnings": "on"}


@pytest.fixture(scope="module")
async def due_schedules(engine: AsyncEngine) -> AsyncIterator[list[int]]:
    """One weekly schedule in each of `DUE_SCHEDULES` companies, delivering Thursday 3 December
    with two days' lead time: ordered on `ORDERING_DAY`. Yields the companies' ids; empties the
    database after the module, once the processes (which depend on this) have stopped."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        product = await make_product(session, list_price=Decimal("5.0000"))
        companies = []
        for number in range(DUE_SCHEDULES):
            company = await make_company(session, name=f"Linen {number}")
            await make_schedule(
                session,
                company,
                [(product, 10 + number)],
                first=ORDERING_DAY + timedelta(days=2),
                lead_days=2,
                today=ORDERING_DAY - timedelta(days=1),
                name=f"Linen {number}",
            )
            companies.append(company.id)
        await session.commit()
    yield companies
    await wipe(engine)


@pytest.fixture(scope="module")
def portal(
    database_url: str, due_schedules: list[int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Processes]:
    """Two `portal serve` and three `portal worker` processes (a pass every two seconds,
    for `ORDERING_DAY`), stopped at the end of the module; then the database is emptied."""
    worker_arguments = ["--today", ORDERING_DAY.isoformat(), "--sleep", WORKER_SLEEP]
    log_dir = tmp_path_factory.mktemp("processes")
    with portal_processes(database_url, log_dir, servers=2, workers=3, worker_arguments=worker_arguments) as running:
        yield running


@pytest.fixture
async def database(engine: AsyncEngine, portal: Processes) -> AsyncIterator[AsyncSession]:
    """A session for arranging and reading, on the database the processes use; it is not emptied
    after the test (see the module's docstring)."""
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
        await session.rollback()
    troubled = portal.troubles()
    assert not troubled, portal.explain(f"stopped, or logged a traceback or an error: {troubled}")


SignIn = Callable[[int, str], Awaitable[Browser]]


@pytest.fixture
async def signed_in(portal: Processes) -> AsyncIterator[SignIn]:
    """`await signed_in(server, email)`: a browser signed in once, on that server; its session works
    on both. Closed after the test."""
    opened: list[Browser] = []

    async def sign_in(server: int, email: str) -> Browser:
        browser = Browser(portal.servers)
        opened.append(browser)
        await browser.sign_in(server, email)
        return browser

    yield sign_in
    for browser in opened:
        await browser.aclose()


def tally(responses: Iterable[httpx.Response]) -> str:
    """ "303 x3, 409 x1": what a burst answered."""
    counts = Counter(response.status_code for response in responses)
    return ", ".join(f"{status} x{count}" for status, count in sorted(counts.items()))


async def buying_company(session: AsyncSession, manager: User, *, auto_approve: bool = False, buyers: int = 1) -> dict:
    """A company of `manager` with `LIMIT` credit, a delivery address and an earlier invoiced order
    (so no order is its first), its buyers, and a product at 100.00 net (123.00 gross)."""
    company = await make_company(session, credit_limit=LIMIT, auto_approve=auto_approve, account_manager_id=manager.id)
    session.add(
        Address(
            company_id=company.id,
            label="HQ",
            street="ul. Prosta 1",
            postal_code="00-001",
            city="Warszawa",
            is_default=True,
        )
    )
    await make_order(session, company, gross="10.00", status=OrderStatus.INVOICED)
    people = [await make_user(session, company_id=company.id) for _ in range(buyers)]
    product = await make_product(session, list_price=Decimal("100.0000"))
    await session.commit()
    return {"company": company, "buyers": people, "product": product}


async def checkout_form(client: Browser, server: int) -> dict[str, str]:
    page = (await client.get(server, "/checkout")).text
    found = {
        "key": re.search(r'name="key" value="([^"]+)"', page),
        "address_id": re.search(r'<option value="(\d+)" selected', page),
        "delivery_date": re.search(r'name="delivery_date" type="date" value="([^"]+)"', page),
    }
    assert all(found.values()), page[:2000]
    return {name: match.group(1) for name, match in found.items() if match} | {"po_number": "PO-1", "note": ""}


async def fill_cart(client: Browser, server: int, product: Product, quantity: int) -> dict[str, str]:
    """Puts `quantity` of `product` in the cart and opens the checkout form on the other server."""
    added = await client.post(server, "/cart/add", {"product_id": str(product.id), "quantity": str(quantity)})
    assert added.status_code == 303, added.text[:1000]
    return await checkout_form(client, server + 1)


async def buyer_order(session: AsyncSession, buyer_id: int) -> int:
    """The id of the one order the buyer submitted."""
    (order,) = await session.scalars(select(Order.id).where(Order.buyer_id == buyer_id))
    return order


async def statuses(session: AsyncSession, company_id: int) -> Counter[OrderStatus]:
    """The company's orders by status, leaving out the earlier invoiced one."""
    found = await session.scalars(
        select(Order.status).where(Order.company_id == company_id, Order.status != OrderStatus.INVOICED)
    )
    return Counter(found)


async def test_pages_answer_on_both_servers_while_the_workers_run(
    portal: Processes, database: AsyncSession, signed_in: SignIn
) -> None:
    world = await buying_company(database, await make_user(database, Role.ACCOUNT_MANAGER))
    client = await signed_in(0, world["buyers"][0].email)
    product = f"/catalog/products/{world['product'].id}"
    paths = ["/health", "/dashboard", "/catalog", product, "/cart", "/orders", "/schedules"]
    answers = [(path, server, await client.get(server, path)) for path in paths for server in (0, 1)]
    failed = [
        f"{path} on server {server + 1}: {answer.status_code}"
        for path, server, answer in answers
        if answer.status_code != 200
    ]
    assert not failed, portal.explain(f"pages that did not answer 200: {failed}")
    assert all(worker.running for worker in portal.workers), portal.explain("a worker stopped")


async def test_one_cart_submitted_to_both_servers_at_once_makes_one_order(
    portal: Processes, database: AsyncSession, signed_in: SignIn
) -> None:
    """Three rounds: the buyer fills the cart, then sends the same checkout form four times at once,
    alternating between the servers; each round makes one order, and every answer leads to it."""
    world = await buying_company(database, await make_user(database, Role.ACCOUNT_MANAGER))
    client = await signed_in(1, world["buyers"][0].email)
    rounds, answers, locations = 3, [], []
    for number in range(rounds):
        form = await fill_cart(client, number, world["product"], 2)
        burst = await asyncio.gather(*[client.post(server % 2, "/checkout", form) for server in range(4)])
        answers += burst
        locations.append({response.headers.get("location") for response in burst})
    orders = sum((await statuses(database, world["company"].id)).values())
    figure = f"{orders} orders from {rounds} carts, answers {tally(answers)}, locations {locations}"
    assert orders == rounds, portal.explain(figure)
    assert all(response.status_code == 303 for response in answers), portal.explain(figure)
    assert all(len(places) == 1 and next(iter(places)).startswith("/orders/") for places in locations), figure


async def test_two_buyers_checking_out_at_once_on_different_servers_never_pass_the_limit(
    portal: Processes, database: AsyncSession, signed_in: SignIn
) -> None:
    """A company that approves orders without flags at once: two buyers each check out 738.00 gross
    against a 1,000.00 limit, at the same moment, one on each server. Each cart fits alone, not
    both: one order is approved, the other waits (it would exceed the available credit), and the
    account manager cannot approve it either. Three companies of one account manager, three rounds."""
    account_manager = await make_user(database, Role.ACCOUNT_MANAGER)
    await database.commit()
    manager = await signed_in(0, account_manager.email)
    for _ in range(3):
        world = await buying_company(database, account_manager, auto_approve=True, buyers=2)
        company = world["company"]
        buyers = [await signed_in(server, buyer.email) for server, buyer in enumerate(world["buyers"])]
        forms = [await fill_cart(buyer, server, world["product"], 6) for server, buyer in enumerate(buyers)]
        answers = await asyncio.gather(*[buyer.post(n, "/checkout", forms[n]) for n, buyer in enumerate(buyers)])
        found = await statuses(database, company.id)
        waiting = await database.scalar(
            select(Order.id).where(Order.company_id == company.id, Order.status == OrderStatus.PENDING_APPROVAL)
        )
        forced = await manager.post(1, f"/queue/orders/{waiting}/approve", APPROVAL)
        picture = await credit_picture(database, company.id, today=date.today(), grace_days=7)
        figure = (
            f"answers {tally(answers)}, orders {dict(found)}, forced approval {forced.status_code}, "
            f"approved {picture.approved_orders} + waiting {picture.pending_orders} against {picture.credit_limit}"
        )
        assert tally(answers) == "303 x2", portal.explain(figure)
        assert found == {OrderStatus.APPROVED: 1, OrderStatus.PENDING_APPROVAL: 1}, portal.explain(figure)
        assert forced.status_code == 409 and await statuses(database, company.id) == found, portal.explain(figure)
        assert picture.approved_orders == Decimal("738.00") <= picture.credit_limit, figure


async def test_approvals_on_different_servers_at_once_never_overdraw_the_limit(
    portal: Processes, database: AsyncSession, signed_in: SignIn
) -> None:
    """Two buyers check out 738.00 gross each at the same moment, one on each server, against a
    1,000.00 limit: both orders are taken and wait. The account manager and an admin approve one
    each at once on different servers: both are refused, since each would exceed the credit left
    beside the other. One buyer cancels; both approvers approve the other order at once: it is
    approved once, the second approver is told it was decided. Two companies, two rounds."""
    account_manager = await make_user(database, Role.ACCOUNT_MANAGER)
    admin = await make_user(database, Role.ADMIN)
    await database.commit()
    approvers = [await signed_in(0, account_manager.email), await signed_in(1, admin.email)]

    async def approve_at_once(orders: list[int]) -> list[httpx.Response]:
        """Approver n approves orders[n] on server n + 1, all at the same moment."""
        paths = [f"/queue/orders/{order}/approve" for order in orders]
        return await asyncio.gather(*[approvers[n].post(n, path, APPROVAL) for n, path in enumerate(paths)])

    for _ in range(2):
        world = await buying_company(database, account_manager, buyers=2)
        company = world["company"]
        buyers = [await signed_in(server, buyer.email) for server, buyer in enumerate(world["buyers"])]
        forms = [await fill_cart(buyer, server, world["product"], 6) for server, buyer in enumerate(buyers)]
        submitted = await asyncio.gather(*[buyer.post(n, "/checkout", forms[n]) for n, buyer in enumerate(buyers)])
        orders = [await buyer_order(database, buyer.id) for buyer in world["buyers"]]
        both = await approve_at_once(orders)
        after_both = await statuses(database, company.id)
        cancelled = await buyers[1].post(0, f"/orders/{orders[1]}/cancel", {"reason": "Too much at once"})
        one = await approve_at_once([orders[0], orders[0]])
        picture = await credit_picture(database, company.id, today=date.today(), grace_days=7)
        approvals = await database.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == orders[0], OrderEvent.to_status == OrderStatus.APPROVED)
        )
        figure = (
            f"submitted {tally(submitted)}, two orders approved at once {tally(both)} leaving {dict(after_both)}, "
            f"cancelled {cancelled.status_code}, one order approved twice at once {tally(one)}, {approvals} "
            f"approval(s); approved {picture.approved_orders} + waiting {picture.pending_orders} "
            f"against {picture.credit_limit}"
        )
        assert tally(submitted) == "303 x2" and tally(both) == "409 x2", portal.explain(figure)
        assert after_both == {OrderStatus.PENDING_APPROVAL: 2} and cancelled.status_code == 303, portal.explain(figure)
        assert tally(one) == "303 x1, 409 x1" and approvals == 1, portal.explain(figure)
        assert await statuses(database, company.id) == {OrderStatus.APPROVED: 1, OrderStatus.CANCELLED: 1}, figure
        assert picture.approved_orders == Decimal("738.00") <= picture.credit_limit, figure


async def test_three_workers_order_each_due_recurring_delivery_exactly_once(
    portal: Processes, database: AsyncSession, due_schedules: list[int]
) -> None:
    deadline = time.monotonic() + PASSES_WAIT_SECONDS
    while min(len(worker.events("worker pass")) for worker in portal.workers) < PASSES_WANTED:
        assert time.monotonic() < deadline, portal.explain(f"the workers did not make {PASSES_WANTED} passes each")
        await asyncio.sleep(0.2)
    occurrences = (
        await database.execute(
            select(ScheduleOccurrence.company_id, ScheduleOccurrence.delivery_date, ScheduleOccurrence.status)
        )
    ).all()
    recurring = Counter(await database.scalars(select(Order.company_id).where(Order.source == OrderSource.RECURRING)))
    reported = [sum(event["generated"] for event in worker.events("worker pass")) for worker in portal.workers]
    figure = (
        f"occurrences {occurrences}, recurring orders per company {dict(recurring)}, generated per worker {reported}"
    )
    delivery = ORDERING_DAY + timedelta(days=2)
    assert sorted(occurrences) == [(company, delivery, OccurrenceStatus.GENERATED) for company in due_schedules], (
        portal.explain(figure)
    )
    assert recurring == Counter(due_schedules) and sum(reported) == DUE_SCHEDULES, portal.explain(figure)


async def test_no_process_stopped_or_logged_a_traceback(portal: Processes, database: AsyncSession) -> None:
    assert all(process.running for process in portal.processes), portal.explain("a process stopped")
    troubled = [process.name for process in portal.processes if process.troubled]
    assert not troubled, portal.explain(f"tracebacks or errors in the logs of {troubled}")
