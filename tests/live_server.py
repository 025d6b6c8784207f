"""A real portal server (uvicorn, several worker processes) on the test database, for tests
that need requests truly at the same moment: concurrency on PostgreSQL."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from portal.settings import PROJECT_ROOT
from tests.factories import PASSWORD


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def live_server(database_url: str, log_dir: Path, *, workers: int = 2, **env: str) -> Iterator[str]:
    """Runs `portal serve` against `database_url` until the block ends; yields its base URL.
    Extra `env` entries are PORTAL_* settings for the server."""
    port = _free_port()
    log = log_dir / f"server-{port}.log"
    environment = {
        **os.environ,
        "PORTAL_DATABASE_URL": database_url,
        "PORTAL_ENV": "test",
        "PORTAL_DEFAULT_LOCALE": "en",
        **env,
    }
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
            + ["--workers", str(workers)],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the portal server exited:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(f"{base_url}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the portal server did not answer within 30 s:\n{log.read_text()}") from None
                time.sleep(0.2)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def csrf_of(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def signed_in(base_url: str, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    """An HTTP client signed in as `email`, with the CSRF header set for POSTs. Close it after use."""
    client = httpx.AsyncClient(base_url=base_url, timeout=60)
    page = await client.get("/login")
    response = await client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": csrf_of(page.text)}
    )
    assert response.status_code in (200, 303), response.text[:500]
    client.headers["x-csrftoken"] = client.cookies.get("csrftoken") or ""
    return client
