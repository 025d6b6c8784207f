"""Time the staff's search (`portal.services.staff_search.search`) on the benchmark database.

The catalog data of `generate.py` has no staff, orders, quotes or contacts, so `--fill` adds them
once, from a fixed seed: 10 account managers (`manager-NN@bench.example`) sharing the 500
companies, an admin (`admin@bench.example`), 100,000 orders (40 % with a PO number), 10,000
quotes, 50,000 invoices, 2,000 contacts of customers, 300 prospects with 600 contacts.

Then, for a handful of typical searches (a part of a customer's name, a city with Polish letters,
a NIP typed with dashes, an order number in full, a PO number, a quote number, a contact's surname),
as an account manager and as an admin: 3 warm-up runs, then the median and the slowest of `--runs`
runs in ms, the slowest of the six kinds' queries, and the rows found.

The schema is the migrations' own, with the pg_trgm GIN indexes of migration 0016 on the searched
expressions; `--without-indexes` repeats the timings without them (dropped for the run and made
again afterwards), to show what they buy.

Usage (after `python bench/generate.py`):

    python bench/search.py [--fill] [--runs 20] [--without-indexes] [DATABASE_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, create_engine, event, func, insert, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from portal import clock
from portal.models import Company, Contact, Invoice, Order, Prospect, Quote, Role, User
from portal.services import staff_search
from portal.services.staff_search import PLAIN_LETTERS, POLISH_LETTERS

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
SEED = 20261206
MANAGERS = 10
ORDERS = 100_000
QUOTES = 10_000
INVOICES = 50_000
CONTACTS_PER_COMPANY = 4
PROSPECTS = 300
BATCH = 5_000

FIRST_NAMES = ["Anna", "Piotr", "Katarzyna", "Tomasz", "Magdalena", "Paweł", "Agnieszka", "Michał", "Ewa", "Łukasz"]
SURNAMES = [
    "Nowak",
    "Kowalski",
    "Wiśniewska",
    "Wójcik",
    "Kowalczyk",
    "Kamińska",
    "Lewandowski",
    "Zielińska",
    "Szymański",
    "Woźniak",
    "Dąbrowski",
    "Kozłowska",
    "Jankowski",
    "Mazur",
    "Krawczyk",
    "Piotrowska",
    "Grabowski",
    "Nowakowska",
    "Pawłowski",
    "Michalska",
]
TITLES = ["Christmas stock", "Spring restock", "Horeca bundle", "Cleaning supplies", "Office year", "Kitchen refit"]

SEARCHES: list[tuple[str, Any]] = [
    ("a customer's name, part", "customer 04"),
    ("a city, Polish letters", "łódź"),
    ("a NIP with dashes", "900-000-01-23"),
    ("an order number in full", select(Order.number).where(Order.id == 12_345)),
    ("a PO number", select(Order.po_number).where(Order.po_number.is_not(None)).order_by(Order.id).limit(1)),
    ("a quote number", select(Quote.number).where(Quote.id == 1_234)),
    ("a contact's surname", "wiśniewsk"),
]
"""(what is looked for, the text typed or the query that reads it from the filled data)."""

TRIGRAM_INDEXES = {
    "ix_trgm_orders_number": "orders USING gin (number gin_trgm_ops)",
    "ix_trgm_orders_po_number": "orders USING gin (lower(po_number) gin_trgm_ops)",
    "ix_trgm_invoices_number": "invoices USING gin (lower(number) gin_trgm_ops)",
    "ix_trgm_invoices_order_number": "invoices USING gin (lower(order_number) gin_trgm_ops)",
    "ix_trgm_quotes_number": "quotes USING gin (number gin_trgm_ops)",
    "ix_trgm_quotes_title": (
        f"quotes USING gin (lower(translate(title, '{POLISH_LETTERS}', '{PLAIN_LETTERS}')) gin_trgm_ops)"
    ),
    "ix_trgm_crm_contacts_full_name": (
        f"crm_contacts USING gin (lower(translate(full_name, '{POLISH_LETTERS}', '{PLAIN_LETTERS}')) gin_trgm_ops)"
    ),
    "ix_trgm_crm_contacts_email": "crm_contacts USING gin (lower(email) gin_trgm_ops)",
}
"""The trigram indexes migration 0016 makes (same names and expressions), dropped for a comparison
run by `--without-indexes` and made again afterwards."""


# --- the data the search needs ----------------------------------------------------------------------


def batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def fill(connection: Connection, today: date) -> None:
    """Staff, orders, quotes, invoices, contacts and prospects on top of `generate.py`'s data."""
    rng = random.Random(SEED)
    now = datetime.combine(today, datetime.min.time(), UTC)
    password_hash = connection.scalar(select(User.password_hash).limit(1))
    companies = list(connection.execute(select(Company.id, Company.payment_terms_days).order_by(Company.id)))
    next_user = (connection.scalar(select(func.max(User.id))) or 0) + 1
    staff = [
        {
            "id": next_user + n,
            "email": f"manager-{n + 1:02d}@bench.example",
            "full_name": f"{FIRST_NAMES[n]} {SURNAMES[n]}",
            "role": Role.ACCOUNT_MANAGER.value,
        }
        for n in range(MANAGERS)
    ]
    staff.append(
        {"id": next_user + MANAGERS, "email": "admin@bench.example", "full_name": "Bench Admin", "role": "admin"}
    )
    for user in staff:
        user.update(password_hash=password_hash, is_active=True, locale="en", timezone="Europe/Warsaw", created_at=now)
    connection.execute(insert(User), staff)
    managers = [user["id"] for user in staff[:MANAGERS]]
    for company_id, _ in companies:
        connection.execute(
            update(Company).where(Company.id == company_id).values(account_manager_id=managers[company_id % MANAGERS])
        )

    orders: list[dict[str, Any]] = []
    invoices: list[dict[str, Any]] = []
    for n in range(1, ORDERS + 1):
        company_id, terms = rng.choice(companies)
        submitted = now - timedelta(days=rng.randint(0, 720), minutes=rng.randint(0, 1440))
        gross = Decimal(rng.randint(2_000, 2_000_000)) / 100
        status = rng.choice(["invoiced"] * 6 + ["approved", "exported", "pending_approval", "rejected", "cancelled"])
        orders.append(
            {
                "id": n,
                "company_id": company_id,
                "number": f"ORD-{submitted.year}-{n:06d}",
                "status": status,
                "source": "portal",
                "idempotency_key": f"bench-search-{n}",
                "po_number": f"PO-{rng.randint(10_000, 99_999)}" if rng.random() < 0.4 else None,
                "requested_delivery_date": submitted.date() + timedelta(days=2),
                "delivery_address": "ul. Główna 1, 00-001 Warszawa",
                "note": "",
                "currency": "PLN",
                "net_total": gross,
                "vat_total": Decimal("0.00"),
                "gross_total": gross,
                "cost_total": (gross * Decimal("0.7")).quantize(Decimal("0.01")),
                "payment_terms_days": terms,
                "submitted_at": submitted,
            }
        )
        if status == "invoiced" and len(invoices) < INVOICES:
            issued = submitted.date() + timedelta(days=3)
            invoices.append(
                {
                    "company_id": company_id,
                    "number": f"FV/{issued.year}/{len(invoices) + 1:06d}",
                    "issue_date": issued,
                    "due_date": issued + timedelta(days=terms),
                    "currency": "PLN",
                    "gross_amount": gross,
                    "paid_amount": gross if issued < today - timedelta(days=terms) else Decimal("0.00"),
                    "order_number": f"ORD-{submitted.year}-{n:06d}",
                }
            )
    quotes = []
    for n in range(1, QUOTES + 1):
        company_id, _ = rng.choice(companies)
        created = now - timedelta(days=rng.randint(0, 720))
        quotes.append(
            {
                "company_id": company_id,
                "number": f"Q-{created.year}-{n:06d}",
                "status": rng.choice(["draft", "sent", "accepted", "declined", "expired"]),
                "title": rng.choice(TITLES),
                "created_at": created,
                "updated_at": created + timedelta(days=rng.randint(0, 10)),
            }
        )

    def person(**owner: Any) -> dict[str, Any]:
        first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
        return {
            **owner,
            "full_name": f"{first} {last}",
            "position": rng.choice(["Purchasing", "Accounts payable", "Owner", "Chef", ""]),
            "phone": f"+48 {rng.randint(500, 899)} {rng.randint(100, 999)} {rng.randint(100, 999)}",
            "email": f"{first.lower()}.{len(contacts)}@customer.example",
            "notes": "",
            "primary_purchasing": False,
            "primary_payables": False,
            "retired": rng.random() < 0.05,
            "created_at": now,
            "updated_at": now,
        }

    contacts: list[dict[str, Any]] = []
    for company_id, _ in companies:
        for _ in range(CONTACTS_PER_COMPANY):
            contacts.append(person(company_id=company_id, prospect_id=None))
    prospects = [
        {
            "id": n,
            "name": f"Bench Prospect {n:03d}",
            "tax_id": f"{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(10, 99)}-{rng.randint(10, 99)}",
            "owner_id": rng.choice(managers),
            "notes": "",
            "created_at": now,
        }
        for n in range(1, PROSPECTS + 1)
    ]
    for prospect in prospects:
        for _ in range(2):
            contacts.append(person(company_id=None, prospect_id=prospect["id"]))

    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (Order, orders),
        (Invoice, invoices),
        (Quote, quotes),
        (Prospect, prospects),
        (Contact, contacts),
    ]
    for model, rows in tables:
        started = time.perf_counter()
        for batch in batches(rows):
            connection.execute(insert(model), batch)
        name = model.__tablename__
        if "id" in rows[0]:
            connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            )
        print(f"  {name:<14} {len(rows):>7} rows  {time.perf_counter() - started:5.1f} s")


# --- the timings ----------------------------------------------------------------------------------


class Statements:
    """The time each SQL statement of a search took, in order."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._started = 0.0

    def before(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def after(self, *_: Any) -> None:
        self.times.append((time.perf_counter() - self._started) * 1000)


KINDS = ("customers", "prospects", "contacts", "orders", "quotes", "invoices")


async def time_searches(url: str, runs: int, today: date) -> list[tuple[str, str, str, float, float, str, str]]:
    engine = create_async_engine(url, pool_size=1)
    statements = Statements()
    event.listen(engine.sync_engine, "before_cursor_execute", statements.before)
    event.listen(engine.sync_engine, "after_cursor_execute", statements.after)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    rows = []
    try:
        async with sessions() as session:
            manager = await session.scalar(select(User).where(User.email == "manager-01@bench.example"))
            admin = await session.scalar(select(User).where(User.email == "admin@bench.example"))
            searches = [
                (label, typed if isinstance(typed, str) else await session.scalar(typed)) for label, typed in SEARCHES
            ]
        if manager is None or admin is None:
            raise SystemExit("no bench staff: run with --fill first")
        for user in (manager, admin):
            for label, typed in searches:
                totals: list[float] = []
                per_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
                found = ""
                for run in range(3 + runs):
                    async with sessions() as session:
                        statements.times.clear()
                        started = time.perf_counter()
                        results = await staff_search.search(session, user, typed, today)
                        elapsed = (time.perf_counter() - started) * 1000
                    if run < 3:
                        continue
                    totals.append(elapsed)
                    for kind, ms in zip(KINDS, statements.times[-len(KINDS) :], strict=True):
                        per_kind[kind].append(ms)
                    found = " ".join(
                        f"{kind[:4]} {len(group)}{'+' if group.more else ''}"
                        for kind, group in zip(KINDS, results.groups, strict=True)
                        if len(group)
                    )
                slowest = max(KINDS, key=lambda kind: statistics.median(per_kind[kind]))
                rows.append(
                    (
                        user.role.value,
                        label,
                        typed,
                        statistics.median(totals),
                        max(totals),
                        f"{slowest} {statistics.median(per_kind[slowest]):.1f}",
                        found,
                    )
                )
    finally:
        await engine.dispose()
    return rows


def report(title: str, rows: list[tuple[str, str, str, float, float, str, str]]) -> None:
    print(f"\n{title}")
    print(f"{'as':<16} {'search':<26} {'typed':<17} {'median':>8} {'max':>8}  {'slowest kind (median ms)':<20}  found")
    for role, label, typed, median, slowest, kind, found in rows:
        print(f"{role:<16} {label:<26} {typed:<17} {median:7.1f}ms {slowest:7.1f}ms  {kind:<24}  {found}")


def set_trigram_indexes(url: str, present: bool) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            if present:
                connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            for name, definition in TRIGRAM_INDEXES.items():
                if present:
                    connection.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}"))
                else:
                    connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--fill", action="store_true", help="add staff, orders, quotes, invoices and contacts first")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--without-indexes", action="store_true", help="time again without the trigram indexes (made again afterwards)"
    )
    args = parser.parse_args(argv)
    url = make_url(args.url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("the benchmark database must be PostgreSQL")
    plain = url.render_as_string(hide_password=False)
    today = clock.today(ZoneInfo("Europe/Warsaw"))
    if args.fill:
        engine = create_engine(plain)
        try:
            with engine.begin() as connection:
                if connection.scalar(select(func.count()).select_from(Order.__table__)):
                    print(f"{url.database} already holds orders; not filling again", file=sys.stderr)
                else:
                    print(f"filling {url.database}")
                    fill(connection, today)
        finally:
            engine.dispose()
    set_trigram_indexes(plain, present=True)  # and ANALYZE, as a database in use would be
    report(f"staff search, {args.runs} runs each", asyncio.run(time_searches(plain, args.runs, today)))
    if args.without_indexes:
        set_trigram_indexes(plain, present=False)
        try:
            report("without the trigram indexes", asyncio.run(time_searches(plain, args.runs, today)))
        finally:
            set_trigram_indexes(plain, present=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
