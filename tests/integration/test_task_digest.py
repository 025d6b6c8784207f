"""The daily task digest: one e-mail per member of staff and day, through the outbox to a real mail
server, listing their tasks overdue, due today and due in the next 7 days with due dates, customers
and links; a deputy's lists the covered colleague's tasks of the covered customers; nobody who
switched it off or has nothing due gets one."""

from __future__ import annotations

import asyncio
from datetime import date, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar.testing import AsyncTestClient
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import (
    Deputy,
    NotificationKind,
    OutboxMessage,
    Prospect,
    Role,
    Task,
    TaskDigest,
    TaskReason,
    TaskStatus,
    User,
)
from portal.services import task_digest
from portal.services.notifications import SmtpSender, deliver_pending
from tests.factories import csrf_from, make_company, make_user, sign_in, text_of
from tests.smtp import Inbox, SmtpServer

TODAY = date(2026, 11, 27)
WARSAW = ZoneInfo("Europe/Warsaw")


async def task(session: AsyncSession, title: str, due_in: int, **fields: Any) -> Task:
    made = Task(
        title=title, due_on=TODAY + timedelta(days=due_in), status=fields.pop("status", TaskStatus.OPEN), **fields
    )
    session.add(made)
    await session.flush()
    return made


async def send(engine: AsyncEngine, today: date = TODAY) -> int:
    return await task_digest.send_digests(async_sessionmaker(engine, expire_on_commit=False), today, zone=WARSAW)


async def deliver(engine: AsyncEngine, smtp_server: SmtpServer) -> None:
    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example")
    await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)


async def office(session: AsyncSession) -> dict[str, Any]:
    """Anna manages Warta and the prospect Nowa Hurtownia and is away; Bartek covers her today;
    Carl manages Odra; Fiona is in finance."""
    anna = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example", full_name="Anna Kowalska")
    bartek = await make_user(session, Role.ACCOUNT_MANAGER, email="bartek@seller.example", full_name="Bartek Nowak")
    carl = await make_user(session, Role.ACCOUNT_MANAGER, email="carl@seller.example")
    fiona = await make_user(session, Role.FINANCE, email="fiona@seller.example")
    warta = await make_company(session, name="Warta", account_manager_id=anna.id)
    odra = await make_company(session, name="Odra", account_manager_id=carl.id)
    prospect = Prospect(name="Nowa Hurtownia", owner_id=anna.id)
    session.add_all([prospect, Deputy(manager_id=anna.id, deputy_id=bartek.id, starts_on=TODAY, ends_on=TODAY)])
    await session.flush()
    return {"anna": anna, "bartek": bartek, "fiona": fiona, "warta": warta, "odra": odra, "prospect": prospect}


async def test_each_member_of_staff_gets_their_day_once_by_e_mail(
    session: AsyncSession, engine: AsyncEngine, smtp_server: SmtpServer
) -> None:
    o = await office(session)
    anna, bartek, warta = o["anna"], o["bartek"], o["warta"]
    pallets = await task(session, "Ask about the broken pallets", -2, owner_id=anna.id, company_id=warta.id)
    catalogue = await task(
        session, "Send the catalogue", 0, owner_id=anna.id, prospect_id=o["prospect"].id, due_time=time(14, 0)
    )
    odra_call = await task(session, "Meet Odra's buyer at the fair", 0, owner_id=anna.id, company_id=o["odra"].id)
    late = await task(
        session,
        "Call Warta about their usual order",
        5,
        owner_id=anna.id,
        company_id=warta.id,
        reason=TaskReason.LATE_CUSTOMER,
        origin_key=f"late_customer:{warta.id}:2026-10-27",
    )
    await task(session, "Plan next year's prices", 8, owner_id=anna.id)  # beyond the 7 days
    await task(session, "Done already", 0, owner_id=anna.id, company_id=warta.id, status=TaskStatus.DONE)
    own = await task(session, "Visit the new warehouse", 3, owner_id=bartek.id)
    team = await task(session, "Check Warta's credit limit", 1, team=Role.FINANCE, company_id=warta.id)
    await session.commit()

    sent = await asyncio.gather(*(send(engine) for _ in range(3)))  # three workers at once
    assert sum(sent) == 3
    assert await send(engine) == 0
    assert await session.scalar(select(func.count()).select_from(TaskDigest)) == 3
    await deliver(engine, smtp_server)

    (mail,) = smtp_server.inbox.to("anna@seller.example")
    assert mail["Subject"] == "My day 27 Nov 2026: 1 overdue, 1 due today, 1 in the next 7 days"
    text = Inbox.text(mail).replace("\r\n", "\n")
    assert text.startswith("Hello Anna Kowalska,\n\nYour open tasks overdue, due today and due in the next 7 days:")
    assert (
        "\n\nOverdue (1)\n\n"
        "- Ask about the broken pallets · Warta\n"
        "  Due 25 Nov 2026 · 2 days overdue\n"
        f"  http://localhost:8000/tasks/{pallets.id}\n\n"
        "Due today (1)\n\n"
        "- Send the catalogue · Nowa Hurtownia\n"
        "  Due 27 Nov 2026, 14:00\n"
        f"  http://localhost:8000/tasks/{catalogue.id}\n\n"
        "In the next 7 days (1)\n\n"
        "- Call Warta about their usual order · Warta\n"
        "  Due 2 Dec 2026\n"
        f"  http://localhost:8000/tasks/{late.id}\n\n"
        "All your tasks:\n"
    ) in text
    assert "next year" not in text and "Done already" not in text and "Check Warta" not in text
    assert f"/tasks/{odra_call.id}" not in text  # about Carl's customer: not a page she can open, as on "My day"
    assert text.endswith("All your tasks:\n\nhttp://localhost:8000/tasks\n\n-- \nB2B buyer portal\n")
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert f'<a href="http://localhost:8000/tasks/{pallets.id}">Ask about the broken pallets</a>' in html

    (covering,) = smtp_server.inbox.to("bartek@seller.example")
    listed = Inbox.text(covering).replace("\r\n", "\n")
    for shown in (pallets, catalogue, late, own):  # Anna's customers' and prospect's tasks, and his own
        assert f"/tasks/{shown.id}\n" in listed
    assert "Odra" not in listed  # Carl's customer: not covered
    assert covering["Subject"] == "My day 27 Nov 2026: 1 overdue, 1 due today, 2 in the next 7 days"

    (finance,) = smtp_server.inbox.to("fiona@seller.example")
    assert f"- Check Warta's credit limit · Warta\n  Due 28 Nov 2026\n  http://localhost:8000/tasks/{team.id}" in (
        Inbox.text(finance).replace("\r\n", "\n")
    )
    assert smtp_server.inbox.to("carl@seller.example") == []  # nothing due


async def test_the_digest_is_written_in_the_readers_language(session: AsyncSession, engine: AsyncEngine) -> None:
    o = await office(session)
    o["anna"].locale = "pl"
    await task(session, "Zadzwoń do Warty", -1, owner_id=o["anna"].id, company_id=o["warta"].id)
    await session.commit()
    assert await send(engine) == 2  # Anna, and Bartek who covers her
    message = await session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == "anna@seller.example"))
    assert message is not None and message.kind is NotificationKind.TASK_DIGEST and message.locale == "pl"
    assert message.link == "/tasks" and "26.11.2026" in message.body_text


async def test_nothing_is_sent_with_nothing_due_nor_to_whoever_switched_it_off(
    client: AsyncTestClient, session: AsyncSession, engine: AsyncEngine
) -> None:
    olga = await make_user(session, Role.ACCOUNT_MANAGER, email="olga@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, email="piotr@seller.example")
    gone = await make_user(session, Role.ACCOUNT_MANAGER, email="gone@seller.example", is_active=False)
    await task(session, "Call the printer", 0, owner_id=olga.id)
    await task(session, "Next month's visit", 8, owner_id=piotr.id)
    await task(session, "Left behind", 0, owner_id=gone.id)
    await session.commit()

    await sign_in(client, "olga@seller.example")
    page = await client.get("/account/notifications")
    label = "Every morning, listing my tasks overdue, due today and due in the next 7 days"
    assert label in text_of(page.text) and 'value="task_digest" checked' in page.text
    wanted = [kind.value for kind in NotificationKind if kind.optional and kind is not NotificationKind.TASK_DIGEST]
    saved = await client.post(
        "/account/notifications", data={"_csrf_token": csrf_from(page.text), "kind": wanted}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert 'value="task_digest" checked' not in (await client.get("/account/notifications")).text

    assert await send(engine) == 0
    assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert await session.scalar(select(func.count()).select_from(TaskDigest)) == 0


async def test_finding_the_digests_costs_three_queries_for_any_number(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    o = await office(session)
    await task(session, "One", 0, owner_id=o["anna"].id, company_id=o["warta"].id)
    await session.commit()

    async def counted() -> tuple[int, int]:
        seen: list[str] = []

        def record(*_: Any) -> None:
            seen.append("statement")

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            async with async_sessionmaker(engine)() as reading:
                found = await task_digest.digests(reading, TODAY, zone=WARSAW)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        return len(found), len(seen)

    assert await counted() == (2, 3)
    for number in range(6):
        manager = await make_user(session, Role.ACCOUNT_MANAGER)
        company = await make_company(session, account_manager_id=manager.id)
        await task(session, f"Task {number}", number - 2, owner_id=manager.id, company_id=company.id)
        await task(session, f"Team task {number}", number, team=Role.FINANCE)
    session.add(User(email="x@seller.example", full_name="X", password_hash="x", role=Role.ADMIN))
    await session.commit()
    assert await counted() == (10, 3)  # Anna, Bartek, Fiona, six managers, the admin (finance's team tasks)
