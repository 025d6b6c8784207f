"""Fill a PostgreSQL database with a catalog large enough to benchmark the portal.

The schema comes from the portal's own Alembic migrations (never `create_all`),
then the data goes in with bulk Core inserts:

- 20,000 products in 40 categories (VAT 23, 8 or 5 %);
- 3 PLN price lists, each covering a large share of the products with 2-3
  quantity breaks, some rows valid only in a window (current, expired, future);
- 500 companies, some on a price list, some with a general discount, some both;
- contract prices (20-100 products) for about half of the companies;
- one buyer per company, `buyer-NNN@bench.example`, password `bench-password`;
- a default address per company and a few invoices.

Everything is drawn from one seeded random generator, so two runs on the same
day produce the same rows. Validity windows are placed around the seller's
today (or `--today`), so that the benchmark always meets current, expired and
future rows.

Usage:

    python bench/generate.py [--fresh] [DATABASE_URL]

DATABASE_URL defaults to the environment variable BENCH_DATABASE_URL, then to
postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench. The database is
created when missing; `--fresh` drops and recreates it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, create_engine, func, insert, select, text
from sqlalchemy.engine import URL, make_url

from portal import clock, migrate
from portal.models import (
    Address,
    Company,
    ContractPrice,
    Invoice,
    PriceList,
    PriceListItem,
    Product,
    ProductCategory,
    User,
)
from portal.services.passwords import hash_password

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
SEED = 20261127
BENCH_PASSWORD = "bench-password"

PRODUCT_COUNT = 20_000
COMPANY_COUNT = 500
BATCH = 5_000

# 40 categories: (name, SKU prefix, VAT rate, unit).
CATEGORIES: list[tuple[str, str, str, str]] = [
    ("Beverages", "BEV", "5", "pcs"),
    ("Dairy", "DAI", "5", "pcs"),
    ("Dry goods", "DRY", "5", "kg"),
    ("Frozen food", "FRZ", "8", "kg"),
    ("Bakery", "BAK", "5", "pcs"),
    ("Meat", "MEA", "5", "kg"),
    ("Fish & seafood", "FSH", "5", "kg"),
    ("Fruit", "FRU", "5", "kg"),
    ("Vegetables", "VEG", "5", "kg"),
    ("Spices", "SPI", "5", "pcs"),
    ("Sauces", "SAU", "5", "pcs"),
    ("Confectionery", "CON", "8", "pcs"),
    ("Snacks", "SNK", "8", "pcs"),
    ("Ready meals", "RDY", "8", "pcs"),
    ("Baby food", "BAB", "5", "pcs"),
    ("Pet food", "PET", "8", "kg"),
    ("Cleaning", "CLN", "23", "pcs"),
    ("Paper & hygiene", "PAP", "23", "pack"),
    ("Packaging", "PCK", "23", "pack"),
    ("Office supplies", "OFF", "23", "pcs"),
    ("Kitchen equipment", "KIT", "23", "pcs"),
    ("Protective wear", "PPE", "8", "box"),
    ("Tableware", "TAB", "23", "pcs"),
    ("Glassware", "GLA", "23", "pcs"),
    ("Cutlery", "CUT", "23", "pcs"),
    ("Textiles", "TEX", "23", "pcs"),
    ("Furniture", "FUR", "23", "pcs"),
    ("Lighting", "LIG", "23", "pcs"),
    ("Electrical", "ELE", "23", "pcs"),
    ("Tools", "TOO", "23", "pcs"),
    ("Garden", "GAR", "8", "pcs"),
    ("Pharmacy", "PHA", "8", "box"),
    ("Cosmetics", "COS", "23", "pcs"),
    ("Laundry", "LAU", "23", "kg"),
    ("Batteries", "BAT", "23", "pack"),
    ("Stationery", "STA", "23", "pcs"),
    ("IT accessories", "ITA", "23", "pcs"),
    ("Books", "BOO", "5", "pcs"),
    ("Wine & spirits", "WIN", "23", "pcs"),
    ("Tobacco-free goods", "TFG", "23", "pcs"),
]
ADJECTIVES = [
    "Premium",
    "Classic",
    "Organic",
    "Eco",
    "Professional",
    "Economy",
    "Deluxe",
    "Compact",
    "Heavy-duty",
    "Fresh",
    "Natural",
    "Extra",
    "Select",
    "Basic",
    "Smart",
    "Ultra",
    "Gold",
    "Silver",
    "Nordic",
    "Alpine",
]
NOUNS = [
    "mix",
    "set",
    "pack",
    "box",
    "bundle",
    "refill",
    "roll",
    "bottle",
    "tin",
    "jar",
    "bag",
    "tray",
    "sheet",
    "block",
    "bar",
    "cup",
    "kit",
    "case",
    "carton",
    "sachet",
]
SIZES = ["XS", "S", "M", "L", "XL", "250 g", "500 g", "1 kg", "5 kg", "0.5 l", "1 l", "5 l", "10 pcs", "100 pcs"]
CITIES = ["Warszawa", "Kraków", "Gdańsk", "Wrocław", "Poznań", "Łódź", "Szczecin", "Lublin", "Katowice", "Białystok"]
PRICE_LISTS = [
    ("Wholesale", 0.70, Decimal("0.93")),
    ("Horeca", 0.60, Decimal("0.95")),
    ("Key accounts", 0.85, Decimal("0.88")),
]
"""(name, share of products covered, factor on the list price)."""


def money(value: float | Decimal, places: str = "0.01") -> Decimal:
    return Decimal(str(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def validity_window(rng: random.Random, today: date) -> tuple[date | None, date | None]:
    """Mostly open-ended; 10 % current with an end, 5 % expired, 5 % starting later."""
    draw = rng.random()
    if draw < 0.10:
        return today - timedelta(days=rng.randint(1, 60)), today + timedelta(days=rng.randint(10, 180))
    if draw < 0.15:
        return today - timedelta(days=400), today - timedelta(days=rng.randint(1, 30))
    if draw < 0.20:
        return today + timedelta(days=rng.randint(5, 60)), None
    return None, None


def generate(rng: random.Random, today: date, password_hash: str) -> dict[Table, list[dict[str, Any]]]:
    """Every row to insert, by table, in an order that respects the foreign keys."""
    now = datetime.combine(today, datetime.min.time()).replace(tzinfo=ZoneInfo("UTC"))
    categories = [{"id": i + 1, "name": name} for i, (name, _, _, _) in enumerate(CATEGORIES)]

    products: list[dict[str, Any]] = []
    for product_id in range(1, PRODUCT_COUNT + 1):
        category_index = rng.randrange(len(CATEGORIES))
        name, prefix, vat, unit = CATEGORIES[category_index]
        list_price = money(rng.uniform(1.5, 450))
        products.append(
            {
                "id": product_id,
                "sku": f"{prefix}-{product_id:05d}",
                "name": f"{rng.choice(ADJECTIVES)} {name.lower()} {rng.choice(NOUNS)}, {rng.choice(SIZES)}",
                "description": f"{name} for professional kitchens, offices and shops.",
                "category_id": category_index + 1,
                "unit": unit,
                "pack_size": rng.choice([1, 1, 1, 6, 12, 24]),
                "list_price": list_price,
                "cost": money(list_price * Decimal(str(rng.uniform(0.55, 0.8))), "0.0001"),
                "vat_rate": Decimal(vat).quantize(Decimal("0.01")),
                "is_active": rng.random() > 0.03,
                "stock": rng.choice([0, 3, 8, 40, 120, 500, 1200, 5000]),
            }
        )

    price_lists = [{"id": i + 1, "name": name, "currency": "PLN"} for i, (name, _, _) in enumerate(PRICE_LISTS)]
    price_list_items: list[dict[str, Any]] = []
    for list_id, (_, share, factor) in enumerate(PRICE_LISTS, start=1):
        for product in products:
            if rng.random() > share:
                continue
            valid_from, valid_to = validity_window(rng, today)
            pack = product["pack_size"]
            breaks = [(1, Decimal("1")), (pack * 10, Decimal("0.96"))]
            if rng.random() < 0.5:
                breaks.append((pack * 50, Decimal("0.92")))
            for min_quantity, step in breaks:
                price_list_items.append(
                    {
                        "id": len(price_list_items) + 1,
                        "price_list_id": list_id,
                        "product_id": product["id"],
                        "unit_price": money(product["list_price"] * factor * step),
                        "min_quantity": min_quantity,
                        "valid_from": valid_from,
                        "valid_to": valid_to,
                    }
                )

    companies: list[dict[str, Any]] = []
    addresses: list[dict[str, Any]] = []
    users: list[dict[str, Any]] = []
    for company_id in range(1, COMPANY_COUNT + 1):
        on_list = rng.random() < 0.6
        discounted = rng.random() < (0.3 if on_list else 0.6)
        city = rng.choice(CITIES)
        companies.append(
            {
                "id": company_id,
                "name": f"Bench Customer {company_id:03d} ({city})",
                "tax_id": f"PL{9_000_000_000 + company_id:010d}",
                "payment_terms_days": rng.choice([14, 30, 30, 60]),
                "credit_limit": money(rng.choice([10_000, 25_000, 50_000, 100_000, 250_000])),
                "currency": "PLN",
                "general_discount_pct": money(rng.choice([1, 2, 3, 5, 7.5, 10])) if discounted else Decimal("0.00"),
                "price_list_id": rng.randint(1, len(PRICE_LISTS)) if on_list else None,
                "on_hold": False,
                "hold_reason": None,
                "account_manager_id": None,
                "created_at": now,
            }
        )
        addresses.append(
            {
                "id": company_id,
                "company_id": company_id,
                "label": "Head office",
                "street": f"ul. Główna {rng.randint(1, 200)}",
                "postal_code": f"{rng.randint(10, 99)}-{rng.randint(100, 999)}",
                "city": city,
                "country_code": "PL",
                "is_default": True,
            }
        )
        users.append(
            {
                "id": company_id,
                "email": f"buyer-{company_id:03d}@bench.example",
                "full_name": f"Buyer {company_id:03d}",
                "password_hash": password_hash,
                "role": "buyer",
                "company_id": company_id,
                "is_active": True,
                "locale": "en",
                "timezone": "Europe/Warsaw",
                "created_at": now,
            }
        )

    active_ids = [p["id"] for p in products if p["is_active"]]
    list_price_of = {p["id"]: p["list_price"] for p in products}
    contract_prices: list[dict[str, Any]] = []
    for company in companies:
        # Company 1 always has contracts: it is the one the price benchmark uses.
        if company["id"] != 1 and rng.random() >= 0.5:
            continue
        for product_id in rng.sample(active_ids, rng.randint(20, 100)):
            valid_from, valid_to = validity_window(rng, today)
            breaks = [(1, Decimal("0.82"))] + ([(20, Decimal("0.78"))] if rng.random() < 0.3 else [])
            for min_quantity, factor in breaks:
                contract_prices.append(
                    {
                        "id": len(contract_prices) + 1,
                        "company_id": company["id"],
                        "product_id": product_id,
                        "unit_price": money(list_price_of[product_id] * factor),
                        "min_quantity": min_quantity,
                        "valid_from": valid_from,
                        "valid_to": valid_to,
                    }
                )

    invoices: list[dict[str, Any]] = []
    for company in companies[::5]:
        for _ in range(rng.randint(1, 4)):
            issue = today - timedelta(days=rng.randint(1, 120))
            gross = money(rng.uniform(200, 20_000))
            paid = rng.choice([gross, gross, Decimal("0.00"), money(gross / 2)])
            invoices.append(
                {
                    "id": len(invoices) + 1,
                    "company_id": company["id"],
                    "number": f"FV/BENCH/{len(invoices) + 1:05d}",
                    "issue_date": issue,
                    "due_date": issue + timedelta(days=company["payment_terms_days"]),
                    "currency": "PLN",
                    "gross_amount": gross,
                    "paid_amount": paid,
                }
            )

    return {
        ProductCategory.__table__: categories,
        Product.__table__: products,
        PriceList.__table__: price_lists,
        PriceListItem.__table__: price_list_items,
        Company.__table__: companies,
        Address.__table__: addresses,
        User.__table__: users,
        ContractPrice.__table__: contract_prices,
        Invoice.__table__: invoices,
    }


def batches(rows: Sequence[dict[str, Any]], size: int) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def ensure_database(url: URL, fresh: bool) -> None:
    """Create the database when missing; drop it first with `fresh`."""
    name = url.database
    if not name:
        raise SystemExit("the database URL names no database")
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            quoted = admin.dialect.identifier_preparer.quote(name)
            if exists and fresh:
                connection.execute(text(f"DROP DATABASE {quoted} WITH (FORCE)"))
                exists = None
            if not exists:
                connection.execute(text(f"CREATE DATABASE {quoted}"))
                print(f"created database {name}")
    finally:
        admin.dispose()


def insert_all(connection: Connection, rows_by_table: dict[Table, list[dict[str, Any]]]) -> None:
    for table, rows in rows_by_table.items():
        started = time.perf_counter()
        for batch in batches(rows, BATCH):
            connection.execute(insert(table), list(batch))
        # Explicit ids were inserted: move each serial sequence past them.
        if rows and "id" in table.c:
            connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), :value)"), {"value": len(rows)}
            )
        print(f"  {table.name:<20} {len(rows):>7} rows  {time.perf_counter() - started:5.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument(
        "--today", type=date.fromisoformat, help="anchor of the validity windows (default: seller's today)"
    )
    args = parser.parse_args(argv)

    url = make_url(args.url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("the benchmark database must be PostgreSQL")
    started = time.perf_counter()
    ensure_database(url, args.fresh)
    migrate.upgrade(url.render_as_string(hide_password=False))

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if connection.scalar(select(func.count()).select_from(Product.__table__)):
                print(f"{url.database} already holds products; run with --fresh to regenerate it", file=sys.stderr)
                return 1
        today = args.today or clock.today(ZoneInfo("Europe/Warsaw"))
        rng = random.Random(SEED)
        password_hash = hash_password(BENCH_PASSWORD)  # argon2 is slow on purpose: hash once, reuse
        rows = generate(rng, today, password_hash)
        print(f"inserting into {url.database} (validity windows around {today.isoformat()})")
        with engine.begin() as connection:
            insert_all(connection, rows)
    finally:
        engine.dispose()

    # Fresh statistics and visibility map, as a long-running database would have.
    maintenance = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        maintenance.dispose()
    print(
        f"done in {time.perf_counter() - started:.1f} s; buyers buyer-001..{COMPANY_COUNT:03d}@bench.example, "
        f"password {BENCH_PASSWORD!r}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
