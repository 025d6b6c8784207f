"""`make test`: the whole suite on SQLite, again on PostgreSQL when one is
reachable, then the browser tests in Chromium (their own pytest process, since
sync Playwright and async tests cannot share one). Exits non-zero if any leg fails.

With more than one core two legs run at a time, the browser leg starting when the first database
leg ends; each prints its output when it ends (var/test-results/<leg>.log keeps it).

Set PORTAL_TEST_REQUIRE_ALL=1 (CI does) to fail instead of skipping a leg whose
PostgreSQL or Chromium is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "test-results"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECOND_FUZZ_REQUESTS = "15"
"""The route fuzz sends 60 odd requests per route on SQLite; the PostgreSQL leg repeats it with
fewer, since what it tests (decoding input at the edge) does not depend on the database and it is
the slowest test of the suite."""


def postgres_reachable(url: str) -> bool:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


Leg = tuple[str, list[str], dict[str, str]]
Result = tuple[str, bool, dict[str, int], float]


def start_leg(name: str, args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], float, Path]:
    """Starts one leg's pytest, its output going to var/test-results/<name>.log."""
    report = RESULTS / f"{name}.xml"
    report.unlink(missing_ok=True)
    log = RESULTS / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args, f"--junitxml={report}"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return process, time.monotonic(), log


def run_queued(legs: list[Leg], slots: int) -> list[Result]:
    """The legs run `slots` at a time (one per core), in their order: each waiting leg starts as soon
    as a running one ends, so the browser leg runs beside the longer database leg instead of after
    both. Each leg's output is printed whole when it ends, with a line every minute meanwhile."""
    waiting = list(legs)
    running: list[tuple[str, subprocess.Popen[bytes], float, Path]] = []
    ended: dict[str, tuple[bool, dict[str, int], float]] = {}
    last_beat = time.monotonic()
    while waiting or running:
        while waiting and len(running) < slots:
            name, args, env = waiting.pop(0)
            running.append((name, *start_leg(name, args, env)))
            print(f"started: {name}", flush=True)
        time.sleep(1)
        for leg in list(running):
            name, process, began, log = leg
            code = process.poll()
            if code is None:
                continue
            running.remove(leg)
            print(f"\n=== {name} ===\n{log.read_text(errors='replace')}", flush=True)
            ended[name] = _outcome(name, code, time.monotonic() - began)
        if time.monotonic() - last_beat >= 60:
            last_beat = time.monotonic()
            print(", ".join(f"{name}: {(last_beat - began) / 60:.0f} min" for name, _, began, _ in running), flush=True)
    return [(name, *ended[name]) for name, _, _ in legs]


def run_leg(name: str, args: list[str], env: dict[str, str]) -> tuple[bool, dict[str, int], float]:
    print(f"\n=== {name} ===", flush=True)
    report = RESULTS / f"{name}.xml"
    report.unlink(missing_ok=True)
    started = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", *args, f"--junitxml={report}"], cwd=ROOT, env=env)
    return _outcome(name, code, time.monotonic() - started)


def _outcome(name: str, code: int, elapsed: float) -> tuple[bool, dict[str, int], float]:
    report = RESULTS / f"{name}.xml"
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if report.exists():
        suite = ElementTree.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        counts = {key: int(suite.get(key, 0)) for key in counts} if suite is not None else counts
    return code == 0 and counts["tests"] > 0, counts, elapsed


def main() -> int:
    RESULTS.mkdir(parents=True, exist_ok=True)
    require_all = os.environ.get("PORTAL_TEST_REQUIRE_ALL") == "1"
    base_env = {**os.environ}
    legs: list[tuple[str, list[str], dict[str, str]]] = [
        ("sqlite", ["tests", "--ignore=tests/browser"], {**base_env, "PORTAL_TEST_BACKEND": "sqlite"})
    ]
    missing: list[str] = []

    postgres_url = os.environ.get("PORTAL_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL
    if postgres_reachable(postgres_url):
        legs.append(
            (
                "postgresql",
                ["tests", "--ignore=tests/browser"],
                {
                    **base_env,
                    "PORTAL_TEST_BACKEND": "postgresql",
                    "PORTAL_TEST_DATABASE_URL": postgres_url,
                    "PORTAL_FUZZ_REQUESTS": base_env.get("PORTAL_FUZZ_REQUESTS", SECOND_FUZZ_REQUESTS),
                },
            )
        )
    else:
        missing.append(f"postgresql: no server answers at {make_url(postgres_url).render_as_string()}")

    if shutil.which("chromium") or shutil.which("chromium-browser"):
        legs.append(("browser", ["tests/browser"], base_env))
    else:
        missing.append("browser: no chromium on PATH (apt-get install chromium)")

    if (os.cpu_count() or 1) > 1:
        results = run_queued(legs, slots=2)
    else:
        results = [(name, *run_leg(name, args, env)) for name, args, env in legs]

    print("\n=== summary ===")
    passed_total = failed_total = 0
    for name, ok, counts, elapsed in results:
        failed = counts["failures"] + counts["errors"]
        passed = counts["tests"] - failed - counts["skipped"]
        passed_total += passed
        failed_total += failed
        print(
            f"{name:<11} {'ok    ' if ok else 'FAILED'} {passed} passed, {failed} failed, "
            f"{counts['skipped']} skipped in {elapsed:.1f} s"
        )
    for reason in missing:
        print(f"{'REQUIRED' if require_all else 'skipped'} leg {reason}")
    all_ok = all(ok for _, ok, _, _ in results) and not (require_all and missing)
    if require_all and missing:
        failed_total += len(missing)
    print(f"total: {passed_total} passed, {failed_total} failed")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
