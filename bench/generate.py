"""Fill a PostgreSQL database with a catalog large enough to benchmark the portal.

The schema comes from the portal's own Alembic migrations (never `create_all`),
then the data goes in with bulk Core inserts:

- 20,000 products in 40 categories (VAT 23, 8 or 5 %);
- 3 PLN price lists, each covering a large share of the products with 2-3
  quantity breaks, some rows valid only in a window (current, expired, future);
- 500 companies, some on a price list, some with a general discount, some both;
- contract prices (20-100 products) for about half of the companies;
- one buyer per company, `buyer-NNN@bench.example`, password `bench-password`;
- a default address per company and a few invoices;
- unless `--order-lines 0`, staff and a 3-year order history for the reports
  (`reports.py`): 10 account managers (`manager-NN@bench.example`, as
  `search.py --fill` names them; 01 covers 02 this week), `admin@` and
  `finance@bench.example`; about `--order-lines` order lines (default
  1,000,000: ~100,000 orders of ~10 lines) written as the portal writes them
  (totals, VAT per rate, list value, delivery fee under the free-delivery
  threshold, skonto, `counted_on` = the approval day, events: submitted, decided
  by the account manager a few hours later, exported, invoiced); customers start
  in different quarters, some stop ordering, rhythms (several a week … monthly,
  irregular) and baskets differ; invoices (issue = approval + 1 day, due = +
  terms) with payments (most on time, some late, some open); quotes with sent
  versions, about a third of them accepted into an order. Then the worker's
  monthly summary (`report_summary.refresh`) is made once and timed.

Everything is drawn from seeded random generators, so two runs on the same
day produce the same rows. Validity windows are placed around the seller's
today (or `--today`), so that the benchmark always meets current, expired and
future rows; the history ends at noon of that day.

Usage:

    python bench/generate.py [--fresh] [--order-lines N] [--today YYYY-MM-DD] [DATABASE_URL]

DATABASE_URL defaults to the environment variable BENCH_DATABASE_URL, then to
postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench. The database is
created when missing; `--fresh` drops and recreates it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, create_engine, func, insert, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from portal import clock, migrate
from portal.models import (
    Address,
    Base,
    Company,
    ContractPrice,
    Deputy,
    Invoice,
    Order,
    OrderEvent,
    OrderLine,
    OrderNumberSequence,
    Payment,
    PriceList,
    PriceListItem,
    Product,
    ProductCategory,
    Quote,
    QuoteEvent,
    QuoteLine,
    QuoteNumberSequence,
    QuoteVersion,
    User,
)
from portal.services import report_summary
from portal.services.passwords import hash_password

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
Rows = dict[type[Base], list[dict[str, Any]]]
Plan = list[tuple[type[Base], list[dict[str, Any]]]]
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


def generate(rng: random.Random, today: date, password_hash: str) -> Rows:
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
        ProductCategory: categories,
        Product: products,
        PriceList: price_lists,
        PriceListItem: price_list_items,
        Company: companies,
        Address: addresses,
        User: users,
        ContractPrice: contract_prices,
        Invoice: invoices,
    }


# --------------------------------------------------------------------------- order history

HISTORY_SEED = SEED + 1
DEFAULT_ORDER_LINES = 1_000_000
LINES_PER_ORDER = 10
HISTORY_DAYS = 3 * 365
MANAGERS = 10
ZONE = ZoneInfo("Europe/Warsaw")
MANAGER_NAMES = [
    "Anna Nowak",
    "Piotr Kowalski",
    "Katarzyna Wiśniewska",
    "Tomasz Wójcik",
    "Magdalena Kowalczyk",
    "Paweł Kamińska",
    "Agnieszka Lewandowski",
    "Michał Zielińska",
    "Ewa Szymański",
    "Łukasz Woźniak",
]
"""The names `search.py --fill` gives its managers (same e-mails too: `manager-NN@bench.example`)."""
RHYTHMS: list[tuple[str, float, float, float]] = [
    ("several a week", 0.25, 1.5, 6),
    ("twice a week", 0.25, 3.5, 9),
    ("weekly", 0.20, 7, 14),
    ("fortnightly", 0.10, 14, 20),
    ("monthly", 0.08, 30, 28),
    ("irregular", 0.12, 12, 12),
]
"""(name, share of customers, days between orders, lines per order) before scaling to the target."""
PAYERS = [("prompt", 0.70), ("slow", 0.22), ("bad", 0.08)]
REJECT_REASONS = ["Credit limit exceeded", "Duplicate order", "Wrong delivery address", "Prices to be agreed"]
QUOTE_TITLES = [
    "Christmas stock",
    "Spring restock",
    "Horeca bundle",
    "Cleaning supplies",
    "Office year",
    "Kitchen refit",
]
ZERO = Decimal("0.00")
CENT = Decimal("0.01")
UNIT = Decimal("0.0001")
FEE_VAT = Decimal("23.00")


@dataclass
class Item:
    """A product a customer buys, at the customer's price of today."""

    product_id: int
    sku: str
    name: str
    unit: str
    vat_rate: Decimal
    list_price: Decimal
    cost: Decimal
    price: Decimal
    source: str
    note: str
    quantity: int
    """The customer's usual quantity."""


@dataclass
class Customer:
    id: int
    manager_id: int
    terms: int
    start: date
    stop: date
    """The day after the last one the customer orders on (today + 1 for those who still buy)."""
    gap: float
    irregular: bool
    lines: float
    favourites: list[Item]
    auto_approve: bool
    fee: Decimal
    free_from: Decimal | None
    skonto: tuple[Decimal, int] | None
    payer: str
    po: bool
    orders: list[datetime] = field(default_factory=list)


def line_net(price: Decimal, quantity: int) -> Decimal:
    return (price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)


def staff_rows(password_hash: str, now: datetime) -> list[dict[str, Any]]:
    """10 account managers, an admin and a finance user (ids after the buyers)."""
    people = [(f"manager-{n + 1:02d}@bench.example", name, "account_manager") for n, name in enumerate(MANAGER_NAMES)]
    people += [("admin@bench.example", "Bench Admin", "admin"), ("finance@bench.example", "Bench Finance", "finance")]
    return [
        {
            "id": COMPANY_COUNT + n + 1,
            "email": email,
            "full_name": name,
            "password_hash": password_hash,
            "role": role,
            "company_id": None,
            "is_active": True,
            "locale": "en",
            "timezone": "Europe/Warsaw",
            "created_at": now,
        }
        for n, (email, name, role) in enumerate(people)
    ]


def working_day(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def at_local(day: date, hour: float) -> datetime:
    """The UTC instant of `hour` (fractional) on the seller's `day`."""
    local = datetime.combine(day, datetime.min.time(), ZONE) + timedelta(hours=hour)
    return local.astimezone(UTC)


def usual_quantity(rng: random.Random, price: Decimal) -> int:
    """Lines are worth about 250 PLN (log-normal)."""
    return max(1, round(rng.lognormvariate(math.log(250), 0.7) / float(price)))


def customer_items(
    rng: random.Random,
    company: dict[str, Any],
    by_category: list[list[dict[str, Any]]],
    list_prices: dict[tuple[int, int], Decimal],
    contracts: dict[tuple[int, int], Decimal],
    count: int,
) -> list[Item]:
    """Products from a handful of categories, priced as the portal resolves them (contract, price
    list, list price less the general discount), at quantity 1."""
    categories = rng.sample(range(len(by_category)), rng.randint(3, 8))
    pool = [product for index in categories for product in by_category[index]]
    list_name = PRICE_LISTS[company["price_list_id"] - 1][0] if company["price_list_id"] else ""
    discount = 1 - company["general_discount_pct"] / 100
    items = []
    for product in rng.sample(pool, min(count, len(pool))):
        key = (company["id"], product["id"])
        listed = (company["price_list_id"] or 0, product["id"])
        if key in contracts:
            price, source, note = contracts[key], "contract", ""
        elif listed in list_prices:
            price, source, note = list_prices[listed], "price_list", list_name
        else:
            price, source, note = money(product["list_price"] * discount, "0.0001"), "list_less_discount", ""
        items.append(
            Item(
                product["id"],
                product["sku"],
                product["name"],
                product["unit"],
                product["vat_rate"],
                product["list_price"],
                product["cost"],
                price,
                source,
                note,
                usual_quantity(rng, price),
            )
        )
    return items


def customers(rng: random.Random, catalog: Rows, today: date, orders: int) -> list[Customer]:
    """Each company's behaviour: when it started (its cohort), whether and when it stopped, its
    rhythm, basket and payment habits; rhythms scaled so that the orders come to about `orders`."""
    products = [p for p in catalog[Product] if p["is_active"]]
    by_category: list[list[dict[str, Any]]] = [[] for _ in CATEGORIES]
    for product in products:
        by_category[product["category_id"] - 1].append(product)
    list_prices: dict[tuple[int, int], Decimal] = {}
    for row in catalog[PriceListItem]:
        list_prices.setdefault((row["price_list_id"], row["product_id"]), row["unit_price"])
    contracts: dict[tuple[int, int], Decimal] = {}
    for row in catalog[ContractPrice]:
        contracts.setdefault((row["company_id"], row["product_id"]), row["unit_price"])

    first_day = today - timedelta(days=HISTORY_DAYS)
    found = []
    for company in catalog[Company]:
        # Cohorts: a third were customers before the history starts, the rest joined since.
        if rng.random() < 0.35:
            start = first_day + timedelta(days=rng.randint(0, 20))
        else:
            start = first_day + timedelta(days=rng.randint(0, HISTORY_DAYS - 30))
        stop = today + timedelta(days=1)
        if (today - start).days > 180 and rng.random() < 0.22:  # churn: stopped ordering at some point
            stop = start + timedelta(days=rng.randint(60, (today - start).days - 30))
        name, _, gap, lines = rng.choices(RHYTHMS, weights=[r[1] for r in RHYTHMS])[0]
        fee = rng.random() < 0.6
        skonto = rng.random() < 0.15
        found.append(
            Customer(
                id=company["id"],
                manager_id=company["account_manager_id"],
                terms=company["payment_terms_days"],
                start=start,
                stop=stop,
                gap=gap * rng.uniform(0.8, 1.25),
                irregular=name == "irregular",
                lines=lines * rng.uniform(0.6, 1.4),
                favourites=[],
                auto_approve=rng.random() < 0.1,
                fee=Decimal("49.00") if fee else Decimal("0.00"),
                free_from=Decimal(rng.choice([300, 500, 800])) if fee else None,
                skonto=(Decimal("2.00"), 10) if skonto else None,
                payer=rng.choices([p for p, _ in PAYERS], weights=[w for _, w in PAYERS])[0],
                po=rng.random() < 0.4,
            )
        )
        company.update(
            created_at=at_local(start - timedelta(days=rng.randint(3, 60)), 10),
            auto_approve=found[-1].auto_approve,
            delivery_fee=found[-1].fee,
            free_delivery_from=found[-1].free_from,
        )
    expected = sum((c.stop - c.start).days / c.gap for c in found)
    scale = expected / max(orders, 1)
    for customer in found:
        customer.gap *= scale
        customer.orders = order_times(rng, customer, at_local(today, 12))
    lines = sum(c.lines * len(c.orders) for c in found)
    for customer, company in zip(found, catalog[Company], strict=True):
        customer.lines *= orders * LINES_PER_ORDER / max(lines, 1)
        count = max(20, int(customer.lines * 4))
        customer.favourites = customer_items(rng, company, by_category, list_prices, contracts, count)
    return found


def order_times(rng: random.Random, customer: Customer, now: datetime) -> list[datetime]:
    """Submission instants from the customer's start to its stop, on working days, 7:00-17:00."""
    times = []
    day = float(rng.uniform(0, customer.gap))
    span = (customer.stop - customer.start).days
    while day < span:
        when = working_day(customer.start + timedelta(days=int(day)))
        moment = at_local(when, rng.uniform(7, 17))
        if when < customer.stop and moment <= now:
            times.append(moment)
        if customer.irregular:
            day += rng.expovariate(1 / customer.gap)
        else:
            day += customer.gap * rng.uniform(0.8, 1.2) * (2 if rng.random() < 0.04 else 1)
    return times


def decision_time(rng: random.Random, submitted: datetime) -> datetime:
    """A few hours later, within the manager's working hours (8:00-18:00, working days)."""
    local = submitted.astimezone(ZONE) + timedelta(hours=rng.uniform(0.3, 5))
    if local.hour >= 18 or local.weekday() >= 5:
        return at_local(working_day(local.date() + timedelta(days=1)), rng.uniform(8, 11))
    return local.astimezone(UTC)


class History:
    """Orders with their lines and events, invoices and payments, quotes with their versions, lines
    and events: rows ready to insert."""

    def __init__(self, rng: random.Random, today: date, customers: list[Customer]) -> None:
        self.rng, self.today, self.now = rng, today, at_local(today, 12)
        self.customers = {c.id: c for c in customers}
        self.orders: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.order_events: list[dict[str, Any]] = []
        self.invoices: list[dict[str, Any]] = []
        self.payments: list[dict[str, Any]] = []
        self.quotes: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.quote_lines: list[dict[str, Any]] = []
        self.quote_events: list[dict[str, Any]] = []
        self.order_numbers: dict[int, int] = defaultdict(int)
        self.invoice_numbers: dict[int, int] = defaultdict(int)
        self.next_invoice = 1

    def price_factor(self, day: date) -> Decimal:
        """Prices and costs rose about 4 % a year: what a line cost then, against today."""
        return Decimal(1 - 0.04 * (self.today - day).days / 365).quantize(UNIT)

    def build(self, first_invoice_id: int) -> None:
        submitted = sorted((moment, customer.id) for customer in self.customers.values() for moment in customer.orders)
        self.next_invoice = first_invoice_id
        for moment, company_id in submitted:
            self.order(self.customers[company_id], moment)
        self.quotes_from_orders()
        self.other_quotes()

    def event(
        self, order: dict[str, Any], at: datetime, actor: int | None, moved: tuple[str | None, str], reason: str = ""
    ) -> None:
        self.order_events.append(
            {
                "order_id": order["id"],
                "company_id": order["company_id"],
                "at": at,
                "actor_id": actor,
                "from_status": moved[0],
                "to_status": moved[1],
                "reason": reason,
                "on_behalf_of_id": None,
            }
        )

    def order(self, customer: Customer, submitted: datetime) -> None:
        rng = self.rng
        day = submitted.astimezone(ZONE).date()
        factor = self.price_factor(day)
        order_id = len(self.orders) + 1
        count = min(len(customer.favourites), max(1, round(rng.gauss(customer.lines, customer.lines * 0.35))))
        nets: dict[Decimal, Decimal] = defaultdict(Decimal)
        cost = listed = ZERO
        for item in rng.sample(customer.favourites, count):
            quantity = max(1, round(item.quantity * rng.uniform(0.5, 1.6)))
            price = (item.price * factor).quantize(UNIT)
            unit_cost = (item.cost * factor).quantize(UNIT)
            net = line_net(price, quantity)
            nets[item.vat_rate] += net
            cost += line_net(unit_cost, quantity)
            listed += line_net(item.list_price * factor, quantity)
            self.lines.append(
                {
                    "order_id": order_id,
                    "company_id": customer.id,
                    "product_id": item.product_id,
                    "sku": item.sku,
                    "name": item.name,
                    "unit": item.unit,
                    "quantity": quantity,
                    "unit_price": price,
                    "price_source": item.source,
                    "price_note": item.note,
                    "price_min_quantity": 1,
                    "unit_cost": unit_cost,
                    "vat_rate": item.vat_rate,
                    "line_net": net,
                }
            )
        goods = sum(nets.values(), ZERO)
        fee = customer.fee if customer.fee and customer.free_from is not None and goods < customer.free_from else ZERO
        if fee:
            nets[FEE_VAT] += fee
        net = sum(nets.values(), ZERO)
        vat = sum(((value * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP) for rate, value in nets.items()), ZERO)
        self.order_numbers[day.year] += 1
        number = f"ORD-{day.year}-{self.order_numbers[day.year]:06d}"
        placed_by = customer.manager_id if rng.random() < 0.05 else None
        order: dict[str, Any] = {
            "id": order_id,
            "company_id": customer.id,
            "number": number,
            "status": "pending_approval",
            "source": "portal",
            "buyer_id": customer.id,
            "idempotency_key": f"bench-history-{order_id}",
            "po_number": f"PO/{day.year}/{rng.randint(1000, 99999)}" if customer.po else None,
            "requested_delivery_date": working_day(day + timedelta(days=1)),
            "delivery_address_id": customer.id,
            "delivery_address": "Head office",
            "note": "",
            "currency": "PLN",
            "net_total": net,
            "vat_total": vat,
            "gross_total": net + vat,
            "cost_total": cost,
            "delivery_fee": fee,
            "delivery_fee_vat_rate": FEE_VAT,
            "payment_terms_days": customer.terms,
            "submitted_at": submitted,
            "quote_id": None,
            "quote_version": None,
            "placed_by_id": placed_by,
            "agreement_id": None,
            "payment_effect_pct": ZERO,
            "prepaid": False,
            "skonto_pct": customer.skonto[0] if customer.skonto else None,
            "skonto_days": customer.skonto[1] if customer.skonto else None,
            "counted_on": None,
            "list_total": listed,
        }
        self.orders.append(order)
        self.event(order, submitted, placed_by or customer.id, (None, "pending_approval"))
        self.decide(customer, order)

    def decide(self, customer: Customer, order: dict[str, Any]) -> None:
        rng, submitted = self.rng, order["submitted_at"]
        draw = rng.random()
        if draw < 0.015:
            at = submitted + timedelta(minutes=rng.randint(5, 90))
            if at <= self.now:
                order["status"] = "cancelled"
                self.event(order, at, customer.id, ("pending_approval", "cancelled"), "Ordered by mistake")
            return
        decided = submitted if customer.auto_approve else decision_time(rng, submitted)
        if decided > self.now:
            return  # still waiting for its account manager
        actor = None if customer.auto_approve else customer.manager_id
        if draw < 0.03 and not customer.auto_approve:
            order["status"] = "rejected"
            self.event(order, decided, actor, ("pending_approval", "rejected"), rng.choice(REJECT_REASONS))
            return
        order["status"] = "approved"
        approved_on = decided.astimezone(ZONE).date()
        order["counted_on"] = approved_on
        self.event(order, decided, actor, ("pending_approval", "approved"))
        exported = decided + timedelta(hours=rng.uniform(1, 16))
        age = (self.today - approved_on).days
        if exported > self.now or (age <= 1 and rng.random() < 0.5):
            return
        order["status"] = "exported"
        self.event(order, exported, None, ("approved", "exported"))
        issued = approved_on + timedelta(days=1)
        invoiced = at_local(issued, rng.uniform(6, 9))
        if invoiced > self.now or (age <= 4 and rng.random() < 0.4) or rng.random() < 0.015:
            return
        order["status"] = "invoiced"
        self.event(order, invoiced, None, ("exported", "invoiced"))
        self.invoice(customer, order, issued)

    def invoice(self, customer: Customer, order: dict[str, Any], issued: date) -> None:
        rng = self.rng
        invoice_id = self.next_invoice
        self.next_invoice += 1
        self.invoice_numbers[issued.year] += 1
        due = issued + timedelta(days=customer.terms)
        gross = order["gross_total"]
        on_time = {"prompt": 0.95, "slow": 0.6, "bad": 0.3}[customer.payer]
        if customer.skonto and rng.random() < 0.7:
            paid_on = issued + timedelta(days=rng.randint(1, customer.skonto[1]))
        elif rng.random() < on_time:
            paid_on = issued + timedelta(days=rng.randint(max(0, customer.terms - 10), customer.terms))
        elif customer.payer == "bad" and rng.random() < 0.1:
            paid_on = None  # never paid
        else:
            paid_on = due + timedelta(days=rng.randint(1, 30 if customer.payer == "slow" else 90))
        parts: list[tuple[date, Decimal]] = []
        if paid_on is not None:
            if rng.random() < 0.05:  # in two instalments
                half = (gross / 2).quantize(CENT)
                parts = [(paid_on, half), (paid_on + timedelta(days=rng.randint(7, 20)), gross - half)]
            else:
                parts = [(paid_on, gross)]
        paid = ZERO
        for n, (day, amount) in enumerate(parts, start=1):
            if day > self.today or amount <= 0:
                continue
            paid += amount
            self.payments.append(
                {
                    "company_id": customer.id,
                    "invoice_id": invoice_id,
                    "reference": f"BANK/{invoice_id}/{n}",
                    "paid_on": day,
                    "amount": amount,
                    "recorded_at": at_local(day, 15),
                }
            )
        self.invoices.append(
            {
                "id": invoice_id,
                "company_id": customer.id,
                "number": f"FV/{issued.year}/{self.invoice_numbers[issued.year]:06d}",
                "issue_date": issued,
                "due_date": due,
                "currency": "PLN",
                "gross_amount": gross,
                "paid_amount": paid,
                "order_number": order["number"],
            }
        )

    # ---- quotes

    def new_quote(self, customer: Customer, created: datetime, status: str, requested: bool) -> dict[str, Any]:
        quote = {
            "id": len(self.quotes) + 1,
            "company_id": customer.id,
            "number": "",
            "status": status,
            "title": self.rng.choice(QUOTE_TITLES),
            "requested_by_id": customer.id if requested else None,
            "created_by_id": customer.manager_id,
            "wanted_by": None,
            "sent_version": 0,
            "valid_until": None,
            "reminded_at": None,
            "created_at": created,
            "updated_at": created,
            "opportunity_id": None,
        }
        self.quotes.append(quote)
        self.quote_event(
            quote,
            created,
            customer.id if requested else customer.manager_id,
            None,
            "requested" if requested else "draft",
            0,
        )
        return quote

    def quote_event(
        self, quote: dict[str, Any], at: datetime, actor: int | None, before: str | None, after: str, version: int
    ) -> None:
        self.quote_events.append(
            {
                "quote_id": quote["id"],
                "company_id": quote["company_id"],
                "at": at,
                "actor_id": actor,
                "from_status": before,
                "to_status": after,
                "version": version,
                "reason": "",
            }
        )
        quote["updated_at"] = at

    def versions_of(
        self, customer: Customer, quote: dict[str, Any], sent: list[datetime], lines: list[tuple[Item, int, Decimal]]
    ) -> None:
        """Versions 1..n sent at `sent` (a draft version when `sent` is empty), each a little
        cheaper than the one before; the last at the prices `lines` give."""
        status = quote["requested_by_id"] and "requested" or "draft"
        for number, at in enumerate(sent or [None], start=1):
            version_id = len(self.versions) + 1
            valid = (at.astimezone(ZONE).date() + timedelta(days=14)) if at else None
            self.versions.append(
                {
                    "id": version_id,
                    "quote_id": quote["id"],
                    "company_id": customer.id,
                    "number": number,
                    "valid_until": valid,
                    "delivery_terms": "",
                    "payment_terms": f"{customer.terms} days",
                    "currency": "PLN",
                    "created_at": at - timedelta(hours=2) if at else quote["created_at"],
                    "sent_at": at,
                    "sent_by_id": customer.manager_id if at else None,
                }
            )
            markup = Decimal(1 + 0.03 * (len(sent) - number)).quantize(UNIT)
            for key, (item, quantity, price) in enumerate(lines, start=1):
                self.quote_lines.append(
                    {
                        "version_id": version_id,
                        "company_id": customer.id,
                        "line_key": key,
                        "position": key,
                        "product_id": item.product_id,
                        "sku": item.sku,
                        "name": item.name,
                        "unit": item.unit,
                        "quantity": quantity,
                        "requested_quantity": quantity if quote["requested_by_id"] else None,
                        "target_price": None,
                        "unit_price": (price * markup).quantize(UNIT),
                        "unit_cost": item.cost,
                        "catalogue_price": item.price,
                        "vat_rate": item.vat_rate,
                        "below_floor_reason": "",
                    }
                )
            if at is not None:
                self.quote_event(quote, at, customer.manager_id, status, "sent", number)
                quote.update(sent_version=number, valid_until=valid)
                if number < len(sent):
                    asked = at + (sent[number] - at) / 3
                    self.quote_event(quote, asked, customer.id, "sent", "changes_requested", number)
                    status = "changes_requested"

    def sent_times(self, last: datetime) -> list[datetime]:
        count = self.rng.choice([1, 1, 1, 2, 2, 3])
        times = [last]
        for _ in range(count - 1):
            times.insert(0, times[0] - timedelta(days=self.rng.uniform(2, 5)))
        return times

    def quotes_from_orders(self) -> None:
        """About 3 % of the orders that count came from an accepted quote: the quote's last version
        holds the order's lines at its prices."""
        by_product = {c.id: {i.product_id: i for i in c.favourites} for c in self.customers.values()}
        lines_of: dict[int, list[dict[str, Any]]] = defaultdict(list)
        chosen = {order["id"] for order in self.orders if order["counted_on"] is not None and self.rng.random() < 0.03}
        for line in self.lines:
            if line["order_id"] in chosen:
                lines_of[line["order_id"]].append(line)
        for order in self.orders:
            if order["id"] not in chosen:
                continue
            customer = self.customers[order["company_id"]]
            sent = self.sent_times(order["submitted_at"] - timedelta(days=self.rng.uniform(0.5, 8)))
            quote = self.new_quote(
                customer, sent[0] - timedelta(days=self.rng.uniform(1, 3)), "accepted", self.rng.random() < 0.5
            )
            lines = [
                (by_product[customer.id][line["product_id"]], line["quantity"], line["unit_price"])
                for line in lines_of[order["id"]]
            ]
            self.versions_of(customer, quote, sent, lines)
            self.quote_event(quote, order["submitted_at"], customer.id, "sent", "accepted", len(sent))
            order.update(
                source="quote", quote_id=quote["id"], quote_version=len(sent), idempotency_key=f"quote-{quote['id']}"
            )
            for line in lines_of[order["id"]]:
                line.update(price_source="quote", price_note=f"#{quote['id']}/{len(sent)}")  # numbered below

    def other_quotes(self) -> None:
        """Twice as many quotes again that made no order: declined, expired, withdrawn, still open."""
        rng = self.rng
        for _ in range(2 * len(self.quotes)):
            customer = rng.choice(list(self.customers.values()))
            end = min(customer.stop, self.today)
            if end <= customer.start:
                continue
            day = customer.start + timedelta(days=rng.randint(0, (end - customer.start).days))
            created = at_local(working_day(day), rng.uniform(8, 17))
            if created > self.now - timedelta(hours=12):
                continue
            sent = [t for t in self.sent_times(created + timedelta(days=rng.uniform(0.5, 3))) if t > created]
            sent = [t for t in sent if t <= self.now]
            age = (self.now - (sent[-1] if sent else created)).days
            requested = rng.random() < 0.5
            if not sent or rng.random() < 0.05:
                status, sent = "requested" if requested else "draft", []
            elif age <= 14:
                status = rng.choice(["sent", "sent", "changes_requested"])
            else:
                status = rng.choices(["declined", "expired", "withdrawn"], weights=[40, 45, 10])[0]
            quote = self.new_quote(customer, created, status, requested)
            factor = self.price_factor(day)
            items = rng.sample(customer.favourites, min(len(customer.favourites), rng.randint(2, 6)))
            lines = [
                (item, item.quantity * 5, (item.price * factor * Decimal("0.95")).quantize(UNIT)) for item in items
            ]
            self.versions_of(customer, quote, sent, lines)
            if sent and status != "sent":
                last = sent[-1]
                moved = last + timedelta(days=15 if status == "expired" else rng.uniform(1, 10))
                if status == "changes_requested":
                    moved = last + (self.now - last) / 2
                actor = {"expired": None, "withdrawn": customer.manager_id}.get(status, customer.id)
                self.quote_event(quote, min(moved, self.now), actor, "sent", status, len(sent))

    def number_quotes(self) -> dict[int, int]:
        """Q-YYYY-NNNNNN in the order they were made; the accepted ones' order lines name theirs."""
        counters: dict[int, int] = defaultdict(int)
        for quote in sorted(self.quotes, key=lambda q: (q["created_at"], q["id"])):
            year = quote["created_at"].astimezone(ZONE).year
            counters[year] += 1
            quote["number"] = f"Q-{year}-{counters[year]:06d}"
        numbers = {q["id"]: q["number"] for q in self.quotes}
        for line in self.lines:
            if line["price_source"] == "quote":
                quote_id, version = line["price_note"][1:].split("/")
                line["price_note"] = f"{numbers[int(quote_id)]}/{version}"
        return counters


def with_history(rng: random.Random, today: date, catalog: Rows, password_hash: str, order_lines: int) -> Plan:
    """The catalog's rows with staff and an order history of about `order_lines` lines added, in an
    order that respects the foreign keys."""
    now = datetime.combine(today, datetime.min.time(), UTC)
    staff = staff_rows(password_hash, now)
    managers = [user["id"] for user in staff[:MANAGERS]]
    for company in catalog[Company]:
        company["account_manager_id"] = managers[company["id"] % MANAGERS]  # as `search.py --fill` shares them
    history = History(rng, today, customers(rng, catalog, today, order_lines // LINES_PER_ORDER))
    history.build(first_invoice_id=len(catalog[Invoice]) + 1)
    quote_years = history.number_quotes()
    # Manager 01 covers manager 02 this week: the account manager's reports show covered customers.
    cover = {"manager_id": managers[1], "deputy_id": managers[0], "created_at": now}
    cover.update(id=1, starts_on=today - timedelta(days=2), ends_on=today + timedelta(days=5))
    return [
        (User, staff),
        *catalog.items(),
        (Deputy, [cover]),
        (Quote, history.quotes),
        (QuoteVersion, history.versions),
        (QuoteLine, history.quote_lines),
        (QuoteEvent, history.quote_events),
        (Order, history.orders),
        (OrderLine, history.lines),
        (OrderEvent, history.order_events),
        (Invoice, history.invoices),
        (Payment, history.payments),
        (
            OrderNumberSequence,
            [{"year": y, "last_number": n} for y, n in sorted(history.order_numbers.items())],
        ),
        (QuoteNumberSequence, [{"year": y, "last_number": n} for y, n in sorted(quote_years.items())]),
    ]


async def refresh_summary(url: str, today: date) -> tuple[int, float]:
    """`report_summary.refresh` as the worker runs it (one transaction); customer-months and seconds."""
    engine = create_async_engine(url)
    try:
        started = time.perf_counter()
        async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
            written = await report_summary.refresh(session, today, ZONE)
        return written, time.perf_counter() - started
    finally:
        await engine.dispose()


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


def insert_all(connection: Connection, plan: Plan) -> None:
    for model, rows in plan:
        started = time.perf_counter()
        name = model.__tablename__
        for batch in batches(rows, BATCH):
            connection.execute(insert(model), list(batch))
        # Explicit ids were inserted: move each serial sequence past them.
        if rows and "id" in rows[0]:
            connection.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))")
            )
        print(f"  {name:<22} {len(rows):>9} rows  {time.perf_counter() - started:5.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database first")
    parser.add_argument(
        "--today", type=date.fromisoformat, help="anchor of the validity windows (default: seller's today)"
    )
    parser.add_argument(
        "--order-lines",
        type=int,
        default=DEFAULT_ORDER_LINES,
        help="order lines of the 3-year history, about (default 1,000,000; 0: the catalog alone, no staff or orders)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.order_lines <= 20_000_000:
        parser.error("--order-lines must be 0..20,000,000")

    url = make_url(args.url)
    if url.get_backend_name() != "postgresql":
        raise SystemExit("the benchmark database must be PostgreSQL")
    started = time.perf_counter()
    ensure_database(url, args.fresh)
    migrate.upgrade(url.render_as_string(hide_password=False))

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if connection.scalar(select(func.count()).select_from(Product)):
                print(f"{url.database} already holds products; run with --fresh to regenerate it", file=sys.stderr)
                return 1
        today = args.today or clock.today(ZoneInfo("Europe/Warsaw"))
        rng = random.Random(SEED)
        password_hash = hash_password(BENCH_PASSWORD)  # argon2 is slow on purpose: hash once, reuse
        catalog = generate(rng, today, password_hash)
        plan: Plan = list(catalog.items())
        if args.order_lines:
            drawn = time.perf_counter()
            plan = with_history(random.Random(HISTORY_SEED), today, catalog, password_hash, args.order_lines)
            print(f"order history drawn in {time.perf_counter() - drawn:.1f} s", flush=True)
        print(f"inserting into {url.database} (validity windows around {today.isoformat()})", flush=True)
        inserted = time.perf_counter()
        with engine.begin() as connection:
            insert_all(connection, plan)
        print(f"inserted in {time.perf_counter() - inserted:.1f} s", flush=True)
    finally:
        engine.dispose()

    # Fresh statistics and visibility map, as a long-running database would have.
    maintenance = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with maintenance.connect() as connection:
            connection.execute(text("VACUUM ANALYZE"))
            if args.order_lines:
                written, seconds = asyncio.run(refresh_summary(url.render_as_string(hide_password=False), today))
                print(f"report summary (report_summary.refresh): {written} customer-months in {seconds:.1f} s")
                connection.execute(text("ANALYZE report_months, report_category_mix"))
    finally:
        maintenance.dispose()
    if args.order_lines:
        print("staff: manager-01..10@bench.example (01 covers 02 this week), admin@, finance@bench.example")
    print(
        f"done in {time.perf_counter() - started:.1f} s; buyers buyer-001..{COMPANY_COUNT:03d}@bench.example, "
        f"password {BENCH_PASSWORD!r}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
