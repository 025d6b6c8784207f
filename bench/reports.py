"""Time the report pages on the benchmark database with its 3-year order history.

Against the database `generate.py` fills (with its order history: 500 customers, about 1,000,000
order lines, staff), in one run:

1. `portal.services.report_summary.refresh` once, as the worker runs it (one transaction), in s.
2. SQL statements per page, counted in process (one signed-in request after a warm-up one), as an
   admin and as an account manager.
3. Every report page (`/reports`, profitability, cost to serve, regularity, retention, account
   managers), their CSV downloads (the `.csv` links each page offers, and `/reports/<page>.csv`
   where it answers) and one customer page `/customers/{id}` (the busiest customer of the
   account manager; it has growth suggestions), served by the Procfile's `web` process (2
   workers): N sequential requests by one signed-in user after a warm-up, p50 / p95 / max in ms.

The target is p95 < 300 ms per page for one user. Exit status 1 when a page answers anything but
200 (or the sign-in page), when the server fails or logs a traceback or a 5xx; 0 otherwise, whether
or not the target is met (the table says).

Usage (after `python bench/generate.py --fresh`):

    python bench/reports.py [--runs 30] [--warmup 3] [--as admin manager] [DATABASE_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from generate import ZONE, refresh_summary
from harness import (
    BenchFailure,
    Server,
    count_statements,
    free_port,
    procfile_web_command,
    quiet_http_client,
    sign_in,
    terminate_cleanly,
)
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from portal import clock
from portal.models import Company, OrderLine, User

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench_reports"
TARGET_P95_MS = 300.0
USERS = {"admin": "admin@bench.example", "manager": "manager-01@bench.example"}
"""Who reads: an admin (every customer) and account manager 01 (their own customers and, this week,
manager 02's, whom they cover)."""
REPORT_PAGES = [
    "/reports",
    "/reports/profitability",
    "/reports/cost-to-serve",
    "/reports/regularity",
    "/reports/retention",
    "/reports/managers",
]
CSV_LINK = re.compile(r'href="([^"]*\.csv(?:\?[^"]*)?)"')


@dataclass(frozen=True)
class Timing:
    user: str
    path: str
    statements: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    size: int


# --------------------------------------------------------------------------- what to read


async def busiest_customer(url: str, email: str) -> int:
    """The customer of `email` (an account manager) with the most order lines."""
    engine = create_async_engine(url)
    try:
        async with async_sessionmaker(engine)() as session:
            manager_id = await session.scalar(select(User.id).where(User.email == email))
            if manager_id is None:
                raise BenchFailure(f"no user {email}: run bench/generate.py with its order history first")
            company_id = await session.scalar(
                select(OrderLine.company_id)
                .join(Company, Company.id == OrderLine.company_id)
                .where(Company.account_manager_id == manager_id)
                .group_by(OrderLine.company_id)
                .order_by(func.count().desc(), OrderLine.company_id)
                .limit(1)
            )
    finally:
        await engine.dispose()
    if company_id is None:
        raise BenchFailure(f"{email} has no customer with orders")
    return int(company_id)


def check(response: httpx.Response, path: str) -> None:
    if response.status_code != 200:
        raise BenchFailure(f"{path} answered {response.status_code}")
    if "text/html" in response.headers.get("content-type", "") and 'name="password"' in response.text:
        raise BenchFailure(f"{path} answered the sign-in page")


def downloads(client: httpx.Client, pages: list[str]) -> list[str]:
    """The CSV downloads the pages link to (one per path, the first flavour linked), and
    `/reports/<page>.csv` where it exists without a link."""
    found: dict[str, str] = {}
    for page in pages:
        response = client.get(page)
        check(response, page)
        for href in CSV_LINK.findall(response.text):
            link = urljoin(page, href.replace("&amp;", "&"))
            found.setdefault(urlsplit(link).path, link)
    for page in pages:
        guess = page + ".csv"
        if page != "/reports" and guess not in found:
            status = client.get(guess).status_code
            if status == 200:
                found[guess] = guess
            elif status not in (404, 405):
                raise BenchFailure(f"{guess} answered {status}")
    return list(found.values())


# --------------------------------------------------------------------------- timings


def time_pages(
    server: Server, user: str, cookie: str, paths: list[str], counts: dict[str, int], runs: int, warmup: int
) -> list[Timing]:
    timings = []
    with httpx.Client(base_url=server.base, headers={"Cookie": cookie}, timeout=30.0) as client:
        for path in paths:
            elapsed: list[float] = []
            size = 0
            for run in range(warmup + runs):
                started = time.perf_counter()
                response = client.get(path)
                ms = (time.perf_counter() - started) * 1000
                check(response, path)
                size = len(response.content)
                if run >= warmup:
                    elapsed.append(ms)
            server.check_alive()
            elapsed.sort()
            timing = Timing(
                user,
                path,
                counts.get(path, -1),
                statistics.median(elapsed),
                statistics.quantiles(elapsed, n=20, method="inclusive")[18] if len(elapsed) > 1 else elapsed[0],
                elapsed[-1],
                size,
            )
            timings.append(timing)
            print(
                f"  {user:<8} {short(path):<44} p50 {timing.p50_ms:7.1f}  p95 {timing.p95_ms:7.1f}  "
                f"max {timing.max_ms:7.1f} ms  {timing.statements:>3} statements",
                flush=True,
            )
    return timings


def short(path: str) -> str:
    """The path without the period and flavour parameters a download link carries."""
    parts = urlsplit(path)
    return parts.path + ("?…" if parts.query else "")


def report(summary: tuple[int, float] | None, timings: list[Timing]) -> None:
    print()
    if summary is None:
        print("report_summary.refresh: not timed (--no-refresh)")
    else:
        print(f"report_summary.refresh: {summary[0]} customer-months in {summary[1]:.2f} s")
    print()
    print(f"{'as':<8} {'page':<32} {'statements':>10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'KiB':>7}  p95 < 300")
    for t in timings:
        met = "yes" if t.p95_ms < TARGET_P95_MS else "NO"
        print(
            f"{t.user:<8} {short(t.path):<32} {t.statements:>10} {t.p50_ms:>8.1f} {t.p95_ms:>8.1f} "
            f"{t.max_ms:>8.1f} {t.size / 1024:>7.1f}  {met}"
        )
    missed = [t for t in timings if t.p95_ms >= TARGET_P95_MS]
    print()
    print(f"{len(timings) - len(missed)} of {len(timings)} pages meet p95 < {TARGET_P95_MS:.0f} ms")
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page and user")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first")
    parser.add_argument("--as", dest="users", nargs="+", choices=sorted(USERS), default=["admin", "manager"])
    parser.add_argument("--no-refresh", action="store_true", help="do not time report_summary.refresh")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 1000 or not 0 <= args.warmup <= 100:
        parser.error("--runs must be 1..1000 and --warmup 0..100")
    if make_url(args.url).get_backend_name() != "postgresql":
        parser.error("the benchmark database must be PostgreSQL")

    quiet_http_client()
    logs = Path(tempfile.mkdtemp(prefix="portal-bench-reports-"))
    env = {**os.environ, "PORTAL_DATABASE_URL": args.url, "PORTAL_ENV": "test", "BENCH_DATABASE_URL": args.url}
    today = clock.today(ZONE)
    timings: list[Timing] = []
    try:
        with terminate_cleanly():
            customer = asyncio.run(busiest_customer(args.url, USERS["manager"]))
            summary = None
            if not args.no_refresh:
                print("report_summary.refresh ...", flush=True)
                summary = asyncio.run(refresh_summary(args.url, today))
                print(f"  {summary[0]} customer-months in {summary[1]:.2f} s", flush=True)
            port = free_port()
            with Server("web", procfile_web_command(port), env, port, "/health", logs) as server:
                cookies = {user: sign_in(server.base, USERS[user]) for user in args.users}
                for user in args.users:
                    with httpx.Client(base_url=server.base, headers={"Cookie": cookies[user]}, timeout=30.0) as client:
                        paths = REPORT_PAGES + downloads(client, REPORT_PAGES) + [f"/customers/{customer}"]
                    print(f"SQL statements per page (in process, as {USERS[user]}) ...", flush=True)
                    counts = asyncio.run(count_statements(args.url, USERS[user], paths))
                    print(f"{args.runs} requests per page as {USERS[user]} ...", flush=True)
                    timings += time_pages(server, user, cookies[user], paths, counts, args.runs, args.warmup)
                server.check_log()
    except BenchFailure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    report(summary, timings)
    print(f"\nserver log: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
