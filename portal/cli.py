"""The `portal` command: database migrations, demo data, users, the web server and the worker."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from portal import clock, i18n, migrate
from portal.models import Company, Role
from portal.settings import PACKAGE_DIR, TEMPLATES_DIR, Settings


def _ensure_sqlite_folder(url: str) -> None:
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)


async def _in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    engine = create_async_engine(settings.database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    _ensure_sqlite_folder(settings.database_url)
    migrate.upgrade(settings.database_url, args.revision)
    print(f"Database is at migration {args.revision}.")
    return 0


def db_downgrade(settings: Settings, args: argparse.Namespace) -> int:
    migrate.downgrade(settings.database_url, args.revision)
    print(f"Database is at migration {args.revision}.")
    return 0


def db_sharding_plan(settings: Settings, args: argparse.Namespace) -> int:
    from portal.sharding import citus_plan

    print(";\n".join(citus_plan()) + ";")
    return 0


def demo_data(settings: Settings, args: argparse.Namespace) -> int:
    from portal import demo

    async def load(session: AsyncSession) -> str | None:
        """The demo ERP key's secret, or None when the demo data was loaded before."""
        if await session.scalar(select(Company.id).where(Company.tax_id == demo.COMPANIES[0].tax_id)):
            return None
        today = clock.today(settings.seller_zone)
        return await demo.load_demo_data(session, today, signing_key=settings.secret_key)

    try:
        secret = asyncio.run(_in_transaction(settings, load))
    except demo.DemoDataRefused as refused:
        print(f"Demo data not loaded: {refused}")
        return 0
    print("Demo data loaded." if secret else "Demo data is already loaded.")
    if secret:
        print(f"API key for the ERP: {secret}")
    print(f"Demo logins (password {demo.DEMO_PASSWORD!r}):")
    for email, _, role in demo.STAFF:
        print(f"  {role.value:<16} {email}")
    for company in demo.COMPANIES:
        for email, _ in company.buyers:
            print(f"  {'buyer':<16} {email:<28} {company.name}")
    return 0


def create_user(settings: Settings, args: argparse.Namespace) -> int:
    from portal.services import tax_ids
    from portal.services.accounts import InvalidUser
    from portal.services.accounts import create_user as create

    password = os.environ.get("PORTAL_NEW_USER_PASSWORD") or getpass.getpass("Password: ")
    role = Role(args.role)

    async def work(session: AsyncSession) -> str:
        company_id = None
        if args.company_tax_id:
            company_id = await session.scalar(
                select(Company.id).where(Company.tax_id == tax_ids.normalise(args.company_tax_id))
            )
            if company_id is None:
                raise InvalidUser("company", f"No company has tax id {args.company_tax_id}.")
        user = await create(
            session, email=args.email, full_name=args.name or "", password=password, role=role, company_id=company_id
        )
        return user.email

    try:
        email = asyncio.run(_in_transaction(settings, work))
    except InvalidUser as invalid:
        print(f"User not created: {invalid.message}", file=sys.stderr)
        return 1
    print(f"Created {role.value} {email}.")
    return 0


def serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from portal import logs

    uvicorn.run(
        "portal.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        reload=args.reload,
        reload_dirs=[str(PACKAGE_DIR), str(TEMPLATES_DIR)] if args.reload else None,
        proxy_headers=True,
        log_level="info",
        log_config=logs.logging_config(),  # JSON lines, applied again in each worker process
        access_log=False,  # portal.logs writes one line per request, with more in it
    )
    return 0


def worker(settings: Settings, args: argparse.Namespace) -> int:
    """Orders the recurring deliveries that are due, reminds buyers of quotes about to expire and
    expires those past their validity, makes the system's tasks and writes the daily task digests,
    closes the agreements' settlement periods that ended, sums up the reports' figures (every 10
    minutes), and sends the queued e-mails; `--once` for
    cron and tests."""
    import time
    from datetime import date

    import structlog

    from portal import logs
    from portal.services import (
        accounts,
        agreements,
        api_keys,
        documents,
        invitations,
        notifications,
        quotes,
        recurring,
        report_summary,
        task_digest,
        task_generation,
    )

    logs.configure()
    log = structlog.stdlib.get_logger("portal.worker")
    sender = notifications.sender_for(settings)

    async def one_pass(today: date) -> None:
        engine = create_async_engine(settings.database_url)
        try:
            maker = async_sessionmaker(engine, expire_on_commit=False)
            report = await recurring.run_pass(
                maker, today, grace_days=settings.past_due_grace_days, margin_floor=settings.margin_floor_pct
            )
            expiry = await quotes.expire_due(maker, today)
            zone = settings.seller_zone
            made = await task_generation.generate_due(maker, today, grace_days=settings.past_due_grace_days, zone=zone)
            digests = await task_digest.send_digests(maker, today, zone=zone)
            closes = await agreements.close_due(maker, today)
            summarised = await report_summary.refresh_due(maker, today, zone)
            delivery = await notifications.deliver_pending(maker, sender, seller=documents.Seller.of(settings))
            async with maker() as session, session.begin():
                purged_sessions, purged_throttles = await accounts.purge_expired(session, clock.now())
                await invitations.forget_throttles(session, clock.now())
                purged_replays = await api_keys.forget_responses(session, clock.now())
            log.info(
                "purged", sessions=purged_sessions, throttle_rows=purged_throttles, idempotent_responses=purged_replays
            )
            log.info(
                "worker pass",
                day=today.isoformat(),
                generated=report.generated,
                missed=report.missed,
                skipped=report.skipped,
                quotes_reminded=expiry.reminded,
                quotes_expired=expiry.expired,
                tasks_made={reason.value: count for reason, count in made.made.items()},
                task_digests=digests,
                periods_closed=len(closes.closed),
                reports_summarised=summarised,
                emails_sent=delivery.sent,
                emails_failed=delivery.failed,
            )
        finally:
            await engine.dispose()

    while True:
        today = date.fromisoformat(args.today) if args.today else clock.today(settings.seller_zone)
        asyncio.run(one_pass(today))
        if args.once:
            return 0
        time.sleep(args.sleep)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="portal", description="B2B buyer portal")
    commands = root.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply migrations")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(run=db_upgrade)
    down = db.add_parser("downgrade", help="revert migrations")
    down.add_argument("revision", nargs="?", default="base")
    down.set_defaults(run=db_downgrade)
    db.add_parser("sharding-plan", help="print the SQL that would distribute the schema on Citus").set_defaults(
        run=db_sharding_plan
    )

    commands.add_parser("demo-data", help="load demo data into an empty database").set_defaults(run=demo_data)

    user = commands.add_parser("create-user", help="create a user (password from PORTAL_NEW_USER_PASSWORD or prompt)")
    user.add_argument("--email", required=True)
    user.add_argument("--name", default="")
    user.add_argument("--role", required=True, choices=[role.value for role in Role])
    user.add_argument("--company-tax-id", help="the buyer's company")
    user.set_defaults(run=create_user)

    web = commands.add_parser("serve", help="run the web server")
    web.add_argument("--host")
    web.add_argument("--port", type=int)
    web.add_argument("--workers", type=int, default=1)
    web.add_argument("--reload", action="store_true")
    web.set_defaults(run=serve)

    work = commands.add_parser("worker", help="order recurring deliveries, expire quotes and send e-mails")
    work.add_argument("--once", action="store_true", help="one pass, then exit")
    work.add_argument("--today", help="the day to run for, YYYY-MM-DD (default: the seller's today)")
    work.add_argument("--sleep", type=float, default=60.0, help="seconds between passes")
    work.set_defaults(run=worker)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = Settings.from_env()
    i18n.configure(settings.default_locale)
    return args.run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
