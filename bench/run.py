"""Measure the portal on the benchmark database in one run.

1. Price resolution: `load_company_prices` for 1,000 products of one company
   followed by `.price(product)` for each; median of N runs after a warm-up.
2. SQL statements per catalog page, counted in process (one signed-in request).
3. The catalog page `/catalog?per_page=50` for a signed-in buyer of that company, served
   by the Procfile's `web` process (2 workers) and loaded with wrk at 8 and 32 connections.
4. Every main page (`pages.py`), each as the role it is made for, on the same server:
   statements per request and wrk at 8 connections for a few seconds each.
5. Two ceilings of the same 50-row page (one query, one Jinja table) under uvicorn with
   2 workers, loaded as the catalog: `ceiling_app.py` (advanced-alchemy and the ORM) and
   `raw_ceiling_app.py` (psycopg and Jinja2 directly).

It prints markdown tables: requests/s, p50, p95 and p99 of the catalog and both ceilings,
catalog ÷ raw ceiling (the headline) and catalog ÷ ORM ceiling per connection count, and
the pages with their statements and p50 ÷ the catalog's. The servers are started and
stopped here; every wait is bounded; all traffic goes to 127.0.0.1. Exit status: 0 when
everything ran, 1 when a check or a server failed (did not start, died, logged a traceback
or a 5xx, or answered anything but 2xx).

Usage (after `python bench/generate.py --fresh`):

    python bench/run.py [--duration 15] [--connections 8 32] [--page-duration 5]
                        [--pages catalog-50 cart ...] [DATABASE_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pages
from harness import (
    BenchFailure,
    Load,
    Server,
    count_statements,
    free_port,
    is_sign_in_page,
    procfile_web_command,
    quiet_http_client,
    sign_in,
    terminate_cleanly,
    uvicorn_command,
    wrk,
)
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from portal import clock
from portal.models import Company, ContractPrice, Product
from portal.services.pricing import load_company_prices

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
CATALOG_PATH = "/catalog?per_page=50"
CEILING_PATH = "/products"
ROWS_PER_PAGE = 50
PRICED_PRODUCTS = 1_000
CEILINGS = {"ceiling": "ceiling_app:create_app", "raw": "raw_ceiling_app:create_app"}
"""The ORM ceiling and the raw one, by the name the tables give them."""


# --------------------------------------------------------------------------- price resolution


@dataclass(frozen=True)
class PriceTiming:
    company_id: int
    products: int
    entries: int
    total_ms: float
    load_ms: float
    resolve_ms: float


async def pick_company(session: AsyncSession) -> Company:
    """The heaviest case: a company on a price list with the most contract rows."""
    company_id = await session.scalar(
        select(Company.id)
        .join(ContractPrice, ContractPrice.company_id == Company.id)
        .where(Company.price_list_id.is_not(None))
        .group_by(Company.id)
        .order_by(func.count(ContractPrice.id).desc(), Company.id)
        .limit(1)
    )
    if company_id is None:
        raise BenchFailure("no company with a price list and contract prices: run bench/generate.py first")
    company = await session.get(Company, company_id)
    assert company is not None
    return company


async def measure_prices(url: str, runs: int, warmup: int) -> PriceTiming:
    engine = create_async_engine(url)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session:
            company = await pick_company(session)
            # All of its contract products plus a seeded sample of the rest: 1,000 in all.
            contracted = set(
                await session.scalars(select(ContractPrice.product_id).where(ContractPrice.company_id == company.id))
            )
            others = sorted(set(await session.scalars(select(Product.id).where(Product.is_active))) - contracted)
            wanted = sorted(contracted)[:PRICED_PRODUCTS]
            wanted += random.Random(7).sample(others, PRICED_PRODUCTS - len(wanted))
            products = list(await session.scalars(select(Product).where(Product.id.in_(wanted))))
        day = clock.today(ZoneInfo("Europe/Warsaw"))
        ids = [p.id for p in products]

        totals: list[float] = []
        loads: list[float] = []
        entries = 0
        for run in range(warmup + runs):
            async with sessions() as session:
                started = time.perf_counter()
                prices = await load_company_prices(session, company, day, ids)
                loaded = time.perf_counter()
                for product in products:
                    prices.price(product)
                finished = time.perf_counter()
            if run >= warmup:
                totals.append((finished - started) * 1000)
                loads.append((loaded - started) * 1000)
            entries = sum(len(rows) for rows in prices.entries.values())
        total, load = statistics.median(totals), statistics.median(loads)
        return PriceTiming(company.id, len(products), entries, total, load, total - load)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- pages and load


def check_page(status: int, html: str, name: str) -> None:
    rows = html.count('data-sku="')
    if status != 200 or rows != ROWS_PER_PAGE or is_sign_in_page(html):
        raise BenchFailure(f"{name}: status {status}, {rows} rows (want 200 and {ROWS_PER_PAGE}, not the login page)")


def load_series(
    server: Server, path: str, connections: list[int], duration: int, warmup: int, cookie: str | None
) -> list[Load]:
    url = server.base + path
    wrk(url, connections[0], warmup, cookie, allow_empty=True)  # both workers compiled, pools filled
    results = []
    for count in connections:
        results.append(wrk(url, count, duration, cookie))
        server.check_alive()
        print(
            f"  {server.name:<8} c={count:<3} {results[-1].requests_per_s:8.1f} req/s  "
            f"p50 {results[-1].p50_ms:6.2f} ms  p95 {results[-1].p95_ms:6.2f} ms",
            flush=True,
        )
    server.check_log()
    return results


# --------------------------------------------------------------------------- main


def measure_ceiling(
    name: str, env: dict[str, str], logs: Path, args: argparse.Namespace, same_as: str | None
) -> tuple[str, list[Load]]:
    """One ceiling app under load; its page, which must be the other ceiling's byte for byte."""
    port = free_port()
    with Server(name, uvicorn_command(CEILINGS[name], port), env, port, "/health", logs) as server:
        page = httpx.get(server.base + CEILING_PATH, timeout=10.0)
        check_page(page.status_code, page.text, name)
        if same_as is not None and page.text != same_as:
            raise BenchFailure(f"{name}: {CEILING_PATH} differs from the other ceiling's")
        return page.text, load_series(server, CEILING_PATH, args.connections, args.duration, args.warmup, None)


def report(prices: PriceTiming, statements: int, catalog: list[Load], ceilings: dict[str, list[Load]]) -> None:
    print()
    print(
        f"Price resolution, company {prices.company_id}, {prices.products} products, {prices.entries} rows "
        f"(median): {prices.total_ms:.2f} ms = query {prices.load_ms:.2f} ms + resolve {prices.resolve_ms:.2f} ms"
    )
    print(f"SQL statements per catalog page: {statements}")
    print()
    print("| page | connections | req/s | p50 ms | p95 ms | p99 ms | timeouts |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for name, series in (("catalog", catalog), ("ORM ceiling", ceilings["ceiling"]), ("raw ceiling", ceilings["raw"])):
        for load in series:
            print(
                f"| {name} | {load.connections} | {load.requests_per_s:.1f} | {load.p50_ms:.2f} "
                f"| {load.p95_ms:.2f} | {load.p99_ms:.2f} | {load.timeouts} |"
            )
    print()
    print("| connections | catalog ÷ raw ceiling | catalog ÷ ORM ceiling |")
    print("|--:|--:|--:|")
    for page, raw, orm in zip(catalog, ceilings["raw"], ceilings["ceiling"], strict=True):
        print(
            f"| {page.connections} | **{page.requests_per_s / raw.requests_per_s:.3f}** "
            f"| {page.requests_per_s / orm.requests_per_s:.3f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run of the catalog and ceilings")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk warm-up per server")
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of the price resolution")
    parser.add_argument("--page-duration", type=int, default=5, help="seconds of wrk per main page")
    parser.add_argument(
        "--pages",
        nargs="+",
        choices=pages.PAGE_NAMES,
        default=pages.PAGE_NAMES,
        help=f"main pages to load, by name ({pages.REFERENCE} always)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 1
    if not 1 <= args.duration <= 300 or not 1 <= args.page_duration <= 300:
        parser.error("--duration and --page-duration must be 1..300 seconds")
    if not all(1 <= count <= 1000 for count in args.connections):
        parser.error("--connections must be 1..1000")
    chosen = [page for page in pages.PAGES if page.name in args.pages or page.name == pages.REFERENCE]

    quiet_http_client()
    logs = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = {**os.environ, "PORTAL_DATABASE_URL": args.url, "PORTAL_ENV": "test", "BENCH_DATABASE_URL": args.url}
    try:
        with terminate_cleanly():
            print("price resolution ...", flush=True)
            prices = asyncio.run(measure_prices(args.url, args.runs, warmup=3))
            cast = asyncio.run(pages.find_cast(args.url, prices.company_id))
            email = cast.emails["buyer"]
            print(f"SQL statements per catalog page (in process, as {email}) ...", flush=True)
            statements = asyncio.run(count_statements(args.url, email, [CATALOG_PATH]))[CATALOG_PATH]
            print(f"the cart of {email}: {pages.CART_LINES} lines ...", flush=True)
            asyncio.run(pages.fill_cart(args.url, cast))

            port = free_port()
            with Server("web", procfile_web_command(port), env, port, "/health", logs) as server:
                cookies = {role: sign_in(server.base, address) for role, address in cast.emails.items()}
                page = httpx.get(server.base + CATALOG_PATH, headers={"Cookie": cookies["buyer"]}, timeout=10.0)
                check_page(page.status_code, page.text, "catalog")
                catalog = load_series(
                    server, CATALOG_PATH, args.connections, args.duration, args.warmup, cookies["buyer"]
                )
                measured = pages.measure(server, args.url, cast, cookies, chosen, args.page_duration)

            html, orm = measure_ceiling("ceiling", env, logs, args, same_as=None)
            _, raw = measure_ceiling("raw", env, logs, args, same_as=html)
    except BenchFailure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    report(prices, statements, catalog, {"ceiling": orm, "raw": raw})
    print()
    pages.report(measured)
    print()
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    print(f"server logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
