"""Measure the portal on the benchmark database in one run.

1. Price resolution: `load_company_prices` for 1,000 products of one company
   followed by `.price(product)` for each; median of N runs after a warm-up.
2. SQL statements per catalog page, counted in process (one signed-in request).
3. The catalog page `/catalog?per_page=50` for a signed-in buyer, served by the
   Procfile's `web` process (2 workers) and loaded with wrk at 8 and 32 connections.
4. The ceiling: `bench/ceiling_app.py` (one query, 50 rows, one Jinja table) under
   uvicorn with 2 workers, loaded the same way.

It prints requests/s, p50 and p95 for each, and catalog/ceiling per connection
count. The servers are started and stopped here; every wait is bounded; all
traffic goes to 127.0.0.1. Exit status: 0 when everything ran, 1 when a server
failed (did not start, died, logged a traceback or answered anything but 200).

Usage (after `python bench/generate.py`):

    python bench/run.py [--duration 15] [--connections 8 32] [DATABASE_URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from portal import clock
from portal.models import Company, ContractPrice, Product, User
from portal.services.pricing import load_company_prices

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
PASSWORD = "bench-password"
CATALOG_PATH = "/catalog?per_page=50"
CEILING_PATH = "/products"
ROWS_PER_PAGE = 50
PRICED_PRODUCTS = 1_000
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class BenchFailure(RuntimeError):
    """A server or a check failed: the figures would mean nothing."""


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


# --------------------------------------------------------------------------- statements per page


async def count_catalog_statements(url: str, email: str) -> int:
    """SQL statements that one signed-in GET of the catalog page costs, counted in process."""
    from litestar.testing import AsyncTestClient

    from portal.app import create_app
    from portal.settings import Settings

    settings = Settings.from_env({"PORTAL_DATABASE_URL": url, "PORTAL_ENV": "development"})
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    async with AsyncTestClient(app=create_app(settings)) as client:
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "_csrf_token": csrf_field(page.text)},
            follow_redirects=False,
        )
        if response.status_code != 303:
            raise BenchFailure(f"in-process sign-in answered {response.status_code}")
        await client.get(CATALOG_PATH)  # warm: nothing lazily loaded on the first request counts
        event.listen(Engine, "before_cursor_execute", record)
        try:
            response = await client.get(CATALOG_PATH)
        finally:
            event.remove(Engine, "before_cursor_execute", record)
    check_page(response.status_code, response.text, "catalog (in process)")
    return len(statements)


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def procfile_web_command(port: int) -> list[str]:
    """The Procfile's `web` line, bound to 127.0.0.1:port, run with this interpreter's `portal`."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        kind, _, command = line.partition(":")
        if kind.strip() == "web":
            break
    else:
        raise BenchFailure("the Procfile has no web process")
    argv = shlex.split(command.replace("$PORT", str(port)))
    if "--host" in argv:
        argv[argv.index("--host") + 1] = "127.0.0.1"
    else:
        argv += ["--host", "127.0.0.1"]
    if argv[0] == "portal":
        installed = Path(sys.executable).with_name("portal")
        argv[:1] = [str(installed)] if installed.exists() else [sys.executable, "-m", "portal.cli"]
    return argv


class Server:
    """A server subprocess in its own process group, stopped (group and all) on exit."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, health: str, logs: Path) -> None:
        self.name, self.argv, self.env, self.port, self.health = name, argv, env, port, health
        self.log_path = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        try:
            self.wait_ready()
        except BaseException:  # __exit__ does not run when __enter__ raises
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base + self.health, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise BenchFailure(f"{self.name} not ready after {READY_TIMEOUT_S:.0f} s; see {self.log_path}")

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise BenchFailure(f"{self.name} exited with {self.process.returncode}; see {self.log_path}")

    def check_log(self) -> None:
        """A traceback or a 5xx in the server's log fails the run."""
        log = self.log_path.read_text(errors="replace")
        if "Traceback" in log or re.search(r'" 5\d\d\b', log):
            raise BenchFailure(f"{self.name} logged errors; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        group = self.process.pid  # start_new_session: the group id is the server's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
        # Workers that outlived their supervisor are in the same group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)


# --------------------------------------------------------------------------- pages and load


def csrf_field(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    if not match:
        raise BenchFailure("the login page has no _csrf_token field")
    return match.group(1)


def check_page(status: int, html: str, name: str) -> None:
    rows = html.count('data-sku="')
    if status != 200 or rows != ROWS_PER_PAGE or 'name="password"' in html:
        raise BenchFailure(f"{name}: status {status}, {rows} rows (want 200 and {ROWS_PER_PAGE}, not the login page)")


def sign_in(base: str, email: str) -> str:
    """Sign in as a browser would; the Cookie header (session + csrftoken) for wrk."""
    with httpx.Client(base_url=base, timeout=10.0, follow_redirects=False) as client:
        page = client.get("/login")
        response = client.post(
            "/login", data={"email": email, "password": PASSWORD, "_csrf_token": csrf_field(page.text)}
        )
        if response.status_code != 303:
            raise BenchFailure(f"sign-in as {email} answered {response.status_code}")
        cookies = {name: client.cookies.get(name) for name in ("session", "csrftoken")}
        if not all(cookies.values()):
            raise BenchFailure(f"sign-in left cookies {sorted(client.cookies.keys())}")
        return "; ".join(f"{name}={value}" for name, value in cookies.items())


@dataclass(frozen=True)
class Load:
    connections: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    timeouts: int
    """Requests still unanswered after WRK_TIMEOUT_S: overload, reported rather than fatal."""


WRK_TIMEOUT_S = 10


def wrk(url: str, connections: int, duration: int, cookie: str | None = None) -> Load:
    argv = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        f"{WRK_TIMEOUT_S}s",
        "-s",
        str(BENCH / "report.lua"),
    ]
    if cookie:
        argv += ["-H", f"Cookie: {cookie}"]
    completed = subprocess.run(
        argv + [url], capture_output=True, text=True, timeout=duration + WRK_TIMEOUT_S + 30, check=False
    )
    match = re.search(r"^BENCH_RESULT (\{.*\})$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or not match:
        raise BenchFailure(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    result = json.loads(match.group(1))
    # A status other than 2xx or a broken connection means the server failed, not that it was slow.
    failed = sum(result[key] for key in ("connect_errors", "read_errors", "write_errors", "non_2xx"))
    if failed:
        raise BenchFailure(f"{url} at {connections} connections: {failed} failed requests {result}")
    if not result["requests"]:
        raise BenchFailure(f"{url} at {connections} connections: no request completed")
    return Load(
        connections=connections,
        requests_per_s=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p95_ms=result["p95_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        timeouts=result["timeouts"],
    )


def load_series(
    server: Server, path: str, connections: list[int], duration: int, warmup: int, cookie: str | None
) -> list[Load]:
    url = server.base + path
    wrk(url, connections[0], warmup, cookie)  # both workers compiled, pools filled
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


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the servers' `finally` runs."""

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_http_client() -> None:
    """The client's own requests are not worth a log line each."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


def buyer_email(url: str, company_id: int) -> str:
    async def find() -> str:
        engine = create_async_engine(url)
        try:
            async with async_sessionmaker(engine)() as session:
                email = await session.scalar(select(User.email).where(User.company_id == company_id).order_by(User.id))
        finally:
            await engine.dispose()
        if email is None:
            raise BenchFailure(f"company {company_id} has no buyer")
        return email

    return asyncio.run(find())


def report(prices: PriceTiming, statements: int, catalog: list[Load], ceiling: list[Load]) -> None:
    print()
    print(
        f"Price resolution, company {prices.company_id}, {prices.products} products, {prices.entries} rows "
        f"(median): {prices.total_ms:.2f} ms = query {prices.load_ms:.2f} ms + resolve {prices.resolve_ms:.2f} ms"
    )
    print(f"SQL statements per catalog page: {statements}")
    print()
    print(f"{'page':<10}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'timeouts':>10}")
    for name, series in (("catalog", catalog), ("ceiling", ceiling)):
        for load in series:
            print(
                f"{name:<10}{load.connections:>6}{load.requests_per_s:>10.1f}{load.p50_ms:>9.2f}"
                f"{load.p95_ms:>9.2f}{load.p99_ms:>9.2f}{load.timeouts:>10}"
            )
    print()
    for page, top in zip(catalog, ceiling, strict=True):
        print(f"catalog / ceiling at {page.connections} connections: {page.requests_per_s / top.requests_per_s:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of wrk warm-up per server")
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--runs", type=int, default=20, help="timed runs of the price resolution")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 1
    if not 1 <= args.duration <= 300:
        parser.error("--duration must be 1..300 seconds")

    quiet_http_client()
    logs = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    env = {**os.environ, "PORTAL_DATABASE_URL": args.url, "PORTAL_ENV": "development", "BENCH_DATABASE_URL": args.url}
    try:
        with terminate_cleanly():
            print("price resolution ...", flush=True)
            prices = asyncio.run(measure_prices(args.url, args.runs, warmup=3))
            email = buyer_email(args.url, prices.company_id)
            print(f"SQL statements per page (in process, as {email}) ...", flush=True)
            statements = asyncio.run(count_catalog_statements(args.url, email))
            quiet_http_client()  # the in-process app has just configured logging again

            port = free_port()
            with Server("catalog", procfile_web_command(port), env, port, "/health", logs) as server:
                cookie = sign_in(server.base, email)
                page = httpx.get(server.base + CATALOG_PATH, headers={"Cookie": cookie}, timeout=10.0)
                check_page(page.status_code, page.text, "catalog")
                catalog = load_series(server, CATALOG_PATH, args.connections, args.duration, args.warmup, cookie)

            port = free_port()
            ceiling_argv = [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(BENCH),
                "ceiling_app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
                "--proxy-headers",
                "--log-level",
                "info",
            ]  # as `portal serve` runs uvicorn
            with Server("ceiling", ceiling_argv, env, port, "/health", logs) as server:
                page = httpx.get(server.base + CEILING_PATH, timeout=10.0)
                check_page(page.status_code, page.text, "ceiling")
                ceiling = load_series(server, CEILING_PATH, args.connections, args.duration, args.warmup, None)
    except BenchFailure as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    report(prices, statements, catalog, ceiling)
    print(f"\nserver logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
