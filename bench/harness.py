"""What the benchmarks share: the servers they start, signing in, wrk, and SQL statements counted
in process.

Every server runs in its own process group and is stopped with it; every wait is bounded; all
traffic goes to 127.0.0.1. A failure (a server that does not start or dies, a traceback or a 5xx
in its log, an answer other than 2xx) raises `BenchFailure`: the figures would mean nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PASSWORD = "bench-password"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
WRK_TIMEOUT_S = 10


class BenchFailure(RuntimeError):
    """A server or a check failed: the figures would mean nothing."""


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


def uvicorn_command(factory: str, port: int) -> list[str]:
    """uvicorn serving `bench/<module>:<factory>` as `portal serve` runs it: 2 workers, same options."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(BENCH),
        factory,
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
    ]


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


# --------------------------------------------------------------------------- signing in


def csrf_field(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    if not match:
        raise BenchFailure("the page has no _csrf_token field")
    return match.group(1)


def is_sign_in_page(html: str) -> bool:
    return 'name="password"' in html


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


# --------------------------------------------------------------------------- statements per page


async def count_statements(url: str, email: str, paths: list[str]) -> dict[str, int]:
    """SQL statements that one signed-in GET of each path costs, counted in process (an event
    listener on every engine), after a warm-up GET: nothing lazily loaded on the first request
    counts. A path that answers anything but 200, or the sign-in page, fails the run."""
    from litestar.testing import AsyncTestClient

    from portal.app import create_app
    from portal.settings import Settings

    settings = Settings.from_env({"PORTAL_DATABASE_URL": url, "PORTAL_ENV": "test"})
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    counts: dict[str, int] = {}
    async with AsyncTestClient(app=create_app(settings)) as client:
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "_csrf_token": csrf_field(page.text)},
            follow_redirects=False,
        )
        if response.status_code != 303:
            raise BenchFailure(f"in-process sign-in as {email} answered {response.status_code}")
        for path in paths:
            await client.get(path)
            statements.clear()
            event.listen(Engine, "before_cursor_execute", record)
            try:
                response = await client.get(path)
            finally:
                event.remove(Engine, "before_cursor_execute", record)
            if response.status_code != 200 or is_sign_in_page(response.text):
                raise BenchFailure(f"{path} (in process, as {email}) answered {response.status_code}")
            counts[path] = len(statements)
    quiet_http_client()  # the in-process app has just configured logging again
    return counts


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Load:
    connections: int
    requests: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    timeouts: int
    """Requests still unanswered after WRK_TIMEOUT_S: overload, reported rather than fatal."""


def wrk(url: str, connections: int, duration: int, cookie: str | None = None, *, allow_empty: bool = False) -> Load:
    """One wrk run. Unless `allow_empty` (a warm-up, or a caller that tries longer), a run that ends
    before its first answer fails."""
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
    if not result["requests"] and not allow_empty:
        raise BenchFailure(f"{url} at {connections} connections: no request completed")
    return Load(
        connections=connections,
        requests=result["requests"],
        requests_per_s=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p95_ms=result["p95_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        timeouts=result["timeouts"],
    )
