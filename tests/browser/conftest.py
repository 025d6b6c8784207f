"""A real portal server (migrations, demo data, uvicorn) for the browser tests,
driven by Playwright in the system Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.settings import PROJECT_ROOT


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return browser_type_launch_args
    return {
        **browser_type_launch_args,
        "executable_path": chromium,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the portal server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the portal server did not answer within 30 s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def portal_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of the portal's processes: the server, and the worker a test runs."""
    folder = tmp_path_factory.mktemp("portal")
    return {
        **os.environ,
        "PORTAL_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'portal.db'}",
        "PORTAL_ENV": "development",
        "PORTAL_DEFAULT_LOCALE": "en",
        "PORTAL_FOLDER": str(folder),
    }


@pytest.fixture(scope="session")
def portal_server(portal_env: dict[str, str]) -> Iterator[str]:
    env = portal_env
    folder = Path(env["PORTAL_FOLDER"])
    portal = [sys.executable, "-m", "portal.cli"]
    subprocess.run([*portal, "db", "upgrade"], env=env, check=True, cwd=PROJECT_ROOT, capture_output=True)
    subprocess.run([*portal, "demo-data"], env=env, check=True, cwd=PROJECT_ROOT, capture_output=True)
    port = _free_port()
    log = folder / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*portal, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base_url}/health", server, log)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture(scope="session")
def base_url(portal_server: str) -> str:
    return portal_server
