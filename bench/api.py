"""Measure the ERP API on PostgreSQL over real HTTP.

1. `PUT /api/v1/products` (at most 10,000 items a call): 20,000 new products in two calls of
   10,000, then the same 20,000 changed in two calls (each call timed, and the total).
2. `GET /api/v1/orders?status=approved`: 10,000 approved orders (three lines each) pulled page by
   page (`limit` 500, following `next`), timed from the first request to the last page.

It creates its own database (dropped at the end unless --keep), runs the portal's migrations,
inserts the orders with bulk Core statements, starts `portal serve` (2 workers) on a free port
and prints the figures. Targets: products under 10 s either way; the orders under 5 s.

Usage:

    python bench/api.py [--admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from portal import migrate
from portal.models import Company, Order, OrderLine, OrderStatus, Product, ProductCategory, Role, User
from portal.services import api_keys
from portal.settings import DEVELOPMENT_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent
PRODUCTS = 20_000
ORDERS = 10_000
LINES_PER_ORDER = 3
PAGE = 500


def product_items(count: int, price_shift: int = 0) -> list[dict[str, object]]:
    categories = ["Linen", "Glass", "Cleaning", "Paper"]
    return [
        {
            "sku": f"SKU-{n:06d}",
            "name": f"Product number {n}",
            "category": categories[n % len(categories)],
            "vat_rate": ("23", "8", "5", "0")[n % 4],
            "list_price": f"{10 + (n + price_shift) % 997}.{n % 100:02d}",
            "cost": f"{5 + n % 500}.{n % 10000:04d}",
            "unit": "pcs" if n % 5 else "kg",
            "pack_size": 1 + n % 12,
            "active": bool(n % 50),
        }
        for n in range(count)
    ]


async def prepare(url: str) -> str:
    """Categories, a key and 10,000 approved orders; the key's secret."""
    engine = create_async_engine(url)
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add_all(ProductCategory(name=name) for name in ("Linen", "Glass", "Cleaning", "Paper"))
        admin = User(email="admin@bench.example", full_name="Admin", password_hash="-", role=Role.ADMIN)
        company = Company(name="Bench Buyer", tax_id="PL5250001003", credit_limit=Decimal("0"))
        session.add_all([admin, company])
        await session.flush()
        _, secret = await api_keys.create_key(
            session,
            admin,
            api_keys.KeyRecord("bench", frozenset(api_keys.ALL_SCOPES), None),
            signing_key=DEVELOPMENT_SECRET_KEY,
            today=date(2026, 1, 1),
        )
        category_id = await session.scalar(select(ProductCategory.id).limit(1))
        product_ids = list(
            (
                await session.execute(
                    insert(Product).returning(Product.id),
                    [
                        {
                            "sku": f"ORD-SKU-{n}",
                            "name": f"Ordered product {n}",
                            "category_id": category_id,
                            "list_price": Decimal("10"),
                            "cost": Decimal("6"),
                            "vat_rate": Decimal("23"),
                        }
                        for n in range(LINES_PER_ORDER)
                    ],
                )
            ).scalars()
        )
        now = datetime.now(UTC)
        order_ids = list(
            (
                await session.execute(
                    insert(Order).returning(Order.id, sort_by_parameter_order=True),
                    [
                        {
                            "company_id": company.id,
                            "number": f"ORD-2026-{n:06d}",
                            "status": OrderStatus.APPROVED,
                            "idempotency_key": uuid.uuid4().hex,
                            "po_number": f"PO-{n}",
                            "requested_delivery_date": date(2026, 12, 10),
                            "delivery_address": "ul. Prosta 1, 00-001 Warszawa",
                            "currency": "PLN",
                            "net_total": Decimal("30.00"),
                            "vat_total": Decimal("6.90"),
                            "gross_total": Decimal("36.90"),
                            "cost_total": Decimal("18.00"),
                            "payment_terms_days": 30,
                            "submitted_at": now,
                        }
                        for n in range(ORDERS)
                    ],
                )
            ).scalars()
        )
        await session.execute(
            insert(OrderLine),
            [
                {
                    "order_id": order_id,
                    "company_id": company.id,
                    "product_id": product_id,
                    "sku": f"ORD-SKU-{k}",
                    "name": f"Ordered product {k}",
                    "unit": "pcs",
                    "quantity": 1,
                    "unit_price": Decimal("10"),
                    "price_source": "list",
                    "unit_cost": Decimal("6"),
                    "vat_rate": Decimal("23"),
                    "line_net": Decimal("10.00"),
                }
                for order_id in order_ids
                for k, product_id in enumerate(product_ids)
            ],
        )
        await session.commit()
    await engine.dispose()
    return secret


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_API_RATE_PER_MINUTE": "100000"}
    server = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the portal did not start")


def measure(base: str, secret: str) -> None:
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as http:
        for label, items, outcome in (
            ("new", product_items(PRODUCTS), "created"),
            ("changed", product_items(PRODUCTS, price_shift=1), "updated"),
        ):
            calls = []
            for part in (items[: PRODUCTS // 2], items[PRODUCTS // 2 :]):
                started = time.perf_counter()
                answer = http.put("/api/v1/products", json={"items": part})
                calls.append(time.perf_counter() - started)
                assert answer.status_code == 200 and answer.json()[outcome] == len(part), answer.text[:500]
            print(
                f"PUT /api/v1/products, {PRODUCTS:,} {label} in 2 calls of {PRODUCTS // 2:,}: "
                f"{calls[0]:.2f} s + {calls[1]:.2f} s = {sum(calls):.2f} s"
            )

        started = time.perf_counter()
        pulled, pages, cursor = 0, 0, None
        while True:
            params: dict[str, str | int] = {"status": "approved", "limit": PAGE}
            if cursor:
                params["after"] = cursor
            answer = http.get("/api/v1/orders", params=params)
            assert answer.status_code == 200, answer.text[:500]
            body = answer.json()
            pulled += len(body["orders"])
            pages += 1
            cursor = body["next"]
            if not cursor:
                break
        seconds = time.perf_counter() - started
        assert pulled == ORDERS, pulled
        print(f"GET /api/v1/orders, {pulled:,} approved orders in {pages} pages of {PAGE}: {seconds:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    options = parser.parse_args()
    name = f"portal_bench_api_{uuid.uuid4().hex[:8]}"
    admin = options.admin_url
    base_url = admin.rsplit("/", 1)[0]
    url = f"{base_url}/{name}"

    async def admin_sql(sql: str) -> None:
        engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as connection:
            await connection.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        migrate.upgrade(url)
        started = time.perf_counter()
        secret = asyncio.run(prepare(url))
        print(f"database {name}: {ORDERS:,} approved orders inserted in {time.perf_counter() - started:.1f} s")
        port = free_port()
        server = serve(url, port)
        try:
            measure(f"http://127.0.0.1:{port}", secret)
        finally:
            server.terminate()
            server.wait(timeout=10)
    finally:
        if not options.keep:
            asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
