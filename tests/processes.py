"""The portal as the Procfile runs it, for tests: `portal serve` and `portal worker` processes
against one test database, each in its own process group with its log in a file, and a browser-like
HTTP client that signs in once and then talks to any of the servers (sessions live in the database)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from portal.settings import PROJECT_ROOT
from tests.factories import PASSWORD

STARTUP_SECONDS = 45
"""How long a server may take to answer /health (five processes start at once on two cores)."""
STOP_SECONDS = 10
"""How long a process may take to end after SIGTERM before it is killed."""
REQUEST_SECONDS = 30
TAIL_LINES = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines whose event is `name`."""
        return [entry for entry in self._entries(self.text()) if entry.get("event") == name]

    @staticmethod
    def _entries(text: str) -> Iterator[dict[str, Any]]:
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry

    @property
    def troubled(self) -> bool:
        """A traceback, or a line logged at error level or worse, anywhere in the log."""
        text = self.text()
        return "Traceback" in text or any(
            entry.get("level") in ("error", "critical", "exception") for entry in self._entries(text)
        )

    def tail(self) -> str:
        lines = self.text().splitlines()[-TAIL_LINES:]
        state = "running" if self.running else f"exited with {self.popen.returncode}"
        return f"--- {self.name} ({state}), last {len(lines)} log lines ---\n" + "\n".join(lines)

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL to it when it does not end in time."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=STOP_SECONDS)
                return
            except subprocess.TimeoutExpired:
                continue


@dataclass
class Processes:
    """The running servers (their base URLs, in start order) and workers."""

    servers: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)

    @property
    def workers(self) -> list[Process]:
        return [process for process in self.processes if process.name.startswith("worker")]

    def troubles(self) -> list[str]:
        """Processes that stopped, or logged a traceback or an error."""
        return [process.name for process in self.processes if not process.running or process.troubled]

    def logs(self) -> str:
        """The end of every process's log, for a failure message."""
        return "\n".join(process.tail() for process in self.processes)

    def explain(self, figure: str) -> str:
        return f"{figure}\n{self.logs()}"

    def start(self, name: str, arguments: list[str], log_dir: Path, env: dict[str, str]) -> Process:
        log = log_dir / f"{name}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [sys.executable, "-m", "portal.cli", *arguments],
                cwd=PROJECT_ROOT,
                env={**env, "PGAPPNAME": name},
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        servers = [p for p in self.processes if p.name.startswith("server")]
        for base_url, process in zip(self.servers, servers, strict=True):
            while not _healthy(base_url):
                if not process.running:
                    raise RuntimeError(self.explain(f"{process.name} exited before it answered"))
                if time.monotonic() > deadline:
                    raise RuntimeError(self.explain(f"{process.name} did not answer within {STARTUP_SECONDS} s"))
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def portal_processes(
    database_url: str, log_dir: Path, *, servers: int, workers: int, worker_arguments: list[str]
) -> Iterator[Processes]:
    """`servers` web processes (one uvicorn worker each, on free ports) and `workers` worker
    processes on `database_url`, until the block ends; all are stopped however it ends."""
    env = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_ENV": "test",
        "PORTAL_DEFAULT_LOCALE": "en",
        "PYTHONUNBUFFERED": "1",  # each log line reaches its file as it is written
    }
    running = Processes()
    try:
        for number in range(servers):
            port = _free_port()
            running.servers.append(f"http://127.0.0.1:{port}")
            arguments = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
            running.start(f"server-{number + 1}", arguments, log_dir, env)
        for number in range(workers):
            running.start(f"worker-{number + 1}", ["worker", *worker_arguments], log_dir, env)
        running.wait_until_serving()
        yield running
    finally:
        running.stop()


def csrf_of(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Browser:
    """One person's HTTP client for all the servers: `server` picks which one answers a request."""

    def __init__(self, servers: list[str]) -> None:
        self.servers = servers
        self.client = httpx.AsyncClient(timeout=REQUEST_SECONDS)

    def url(self, server: int, path: str) -> str:
        return self.servers[server % len(self.servers)] + path

    async def get(self, server: int, path: str) -> httpx.Response:
        return await self.client.get(self.url(server, path))

    async def post(self, server: int, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(self.url(server, path), data=data)

    async def sign_in(self, server: int, email: str, password: str = PASSWORD) -> None:
        page = await self.get(server, "/login")
        form = {"email": email, "password": password, "_csrf_token": csrf_of(page.text)}
        response = await self.post(server, "/login", form)
        assert response.status_code == 303, f"{email} could not sign in: {response.status_code}"
        self.client.headers["x-csrftoken"] = self.client.cookies.get("csrftoken") or ""

    async def aclose(self) -> None:
        await self.client.aclose()
