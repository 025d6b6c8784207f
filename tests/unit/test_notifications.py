"""E-mail notifications: written in the transaction of the change, sent by the worker over
SMTP to a real server, retried with backoff, never sent twice, marked failed in the end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal import clock
from portal.i18n import format_money
from portal.models import MessageStatus, NotificationKind, Order, OutboxMessage, Role
from portal.services import approvals, credit_control, notifications
from portal.services.notifications import MAX_ATTEMPTS, SmtpSender, deliver_pending
from tests.factories import make_company, make_order, make_user
from tests.smtp import Inbox

TODAY = date(2026, 11, 27)


def smtp(server) -> SmtpSender:  # type: ignore[no-untyped-def]
    return SmtpSender("127.0.0.1", server.port, "portal@seller.example")


async def people(session: AsyncSession):  # type: ignore[no-untyped-def]
    manager = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    company = await make_company(session, account_manager_id=manager.id, name="Vistula Hotels")
    buyer = await make_user(session, company_id=company.id)
    return manager, company, buyer


async def test_the_rejection_reaches_the_buyer_with_reason_and_link(
    session: AsyncSession, engine: AsyncEngine, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    manager, company, buyer = await people(session)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    await approvals.reject_order(session, manager, order.id, reason="Wrong address", today=TODAY)
    await session.commit()

    result = await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), smtp(smtp_server))

    assert result.sent == 1
    (mail,) = smtp_server.inbox.to(buyer.email)
    assert mail["Subject"] == f"Order {order.number} was rejected"
    assert "Wrong address" in Inbox.text(mail)
    assert f"http://localhost:8000/orders/{order.id}" in Inbox.text(mail)


async def test_a_message_is_never_sent_twice(session: AsyncSession, engine: AsyncEngine, smtp_server) -> None:  # type: ignore[no-untyped-def]
    manager, company, buyer = await people(session)
    await credit_control.hold_account(session, manager, company.id, "Overdue invoices")
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)
    assert (await deliver_pending(maker, smtp(smtp_server))).sent == 2
    assert (await deliver_pending(maker, smtp(smtp_server))).sent == 0
    assert sorted(m["To"] for m in smtp_server.inbox.messages) == sorted([manager.email, buyer.email])
    assert "on hold" in smtp_server.inbox.messages[0]["Subject"]
    (to_manager,) = smtp_server.inbox.to(manager.email)
    assert f"http://localhost:8000/customers/{company.id}/credit" in Inbox.text(to_manager)
    (to_buyer,) = smtp_server.inbox.to(buyer.email)
    assert "http://localhost:8000/dashboard" in Inbox.text(to_buyer)


@dataclass
class DiesAfterSending:
    """Hands the message to the mail server, then the worker process dies before it records that."""

    server: SmtpSender

    async def send(self, message: OutboxMessage) -> None:
        await self.server.send(message)
        raise SystemExit(1)


async def test_a_worker_dying_after_the_server_accepted_never_sends_the_message_again(
    session: AsyncSession,
    engine: AsyncEngine,
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    manager, company, buyer = await people(session)
    order = await make_order(session, company, gross="100.00", buyer=buyer)
    await approvals.reject_order(session, manager, order.id, reason="Duplicate", today=TODAY)
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)

    with pytest.raises(SystemExit):
        await deliver_pending(maker, DiesAfterSending(smtp(smtp_server)))
    assert len(smtp_server.inbox.to(buyer.email)) == 1
    restarted = await deliver_pending(maker, smtp(smtp_server), clock.now() + timedelta(days=1))
    assert restarted.sent == 0 and len(smtp_server.inbox.messages) == 1

    (message,) = await session.scalars(select(OutboxMessage).execution_options(populate_existing=True))
    assert message.status is MessageStatus.SENDING
    assert await notifications.messages_for_admins(session) == []  # it may still be on its way
    later = clock.now() + notifications.INTERRUPTED_AFTER + timedelta(minutes=1)
    assert [m.id for m in await notifications.messages_for_admins(session, later)] == [message.id]
    with pytest.raises(LookupError):
        await notifications.send_again(session, message.id)  # not yet interrupted


async def test_messages_queued_while_the_server_is_down_arrive_once_when_it_is_back(
    session: AsyncSession,
    engine: AsyncEngine,
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    manager, company, buyer = await people(session)
    orders = [await make_order(session, company, gross="100.00", buyer=buyer) for _ in range(3)]
    for order in orders:
        await approvals.reject_order(session, manager, order.id, reason="Duplicate", today=TODAY)
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)

    smtp_server.stop()
    down = await deliver_pending(maker, smtp(smtp_server))
    assert down.failed == 3 and down.sent == 0
    waiting = list(await session.scalars(select(OutboxMessage).execution_options(populate_existing=True)))
    assert all(m.status is MessageStatus.PENDING and m.attempts == 1 for m in waiting)

    smtp_server.start()
    assert (await deliver_pending(maker, smtp(smtp_server))).sent == 0  # backoff: not due yet
    later = clock.now() + timedelta(minutes=3)
    assert (await deliver_pending(maker, smtp(smtp_server), later)).sent == 3
    assert (await deliver_pending(maker, smtp(smtp_server), later + timedelta(hours=1))).sent == 0
    assert sorted(m["Subject"] for m in smtp_server.inbox.to(buyer.email)) == sorted(
        f"Order {o.number} was rejected" for o in orders
    )


async def test_a_message_that_keeps_failing_is_marked_failed_and_shown_to_admins(
    session: AsyncSession,
    engine: AsyncEngine,
    smtp_server,  # type: ignore[no-untyped-def]
) -> None:
    manager, company, buyer = await people(session)
    await credit_control.change_limit(session, manager, company.id, company.credit_limit, Decimal("500.00"), "Review")
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)
    smtp_server.stop()
    moment = clock.now()
    for attempt in range(MAX_ATTEMPTS):
        await deliver_pending(maker, smtp(smtp_server), moment)
        moment += timedelta(minutes=2 ** (attempt + 1) + 1)
    failed = await notifications.messages_for_admins(session)
    assert {m.recipient for m in failed} == {manager.email, buyer.email}
    assert all(m.status is MessageStatus.FAILED and m.attempts == MAX_ATTEMPTS and m.last_error for m in failed)
    assert (await deliver_pending(maker, smtp(smtp_server), moment + timedelta(days=30))).failed == 0  # given up

    smtp_server.start()
    again = next(m for m in failed if m.recipient == buyer.email)
    await notifications.send_again(session, again.id)
    await session.commit()
    assert (await deliver_pending(maker, smtp(smtp_server))).sent == 1
    assert [m["To"] for m in smtp_server.inbox.messages] == [buyer.email]
    assert [m.recipient for m in await notifications.messages_for_admins(session)] == [manager.email]


async def test_opted_out_kinds_are_not_sent_but_decisions_always_are(session: AsyncSession) -> None:
    manager, company, buyer = await people(session)
    await notifications.set_preferences(session, buyer, set())
    await credit_control.hold_account(session, manager, company.id, "Overdue")
    order = await make_order(session, company, gross="100.00", buyer=buyer)
    await approvals.reject_order(session, manager, order.id, reason="No", today=TODAY)
    kinds = {(m.recipient, m.kind) for m in await session.scalars(select(OutboxMessage))}
    assert (buyer.email, NotificationKind.CREDIT_CHANGED) not in kinds
    assert (manager.email, NotificationKind.CREDIT_CHANGED) in kinds
    assert (buyer.email, NotificationKind.ORDER_DECIDED) in kinds


async def test_a_queued_message_keeps_only_the_path_and_the_sender_adds_its_own_base_url(
    session: AsyncSession, engine: AsyncEngine, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PORTAL_BASE_URL", "http://queued-by-web.example")
    manager, company, buyer = await people(session)
    order = await make_order(session, company, gross="300.00", buyer=buyer)
    await approvals.reject_order(session, manager, order.id, reason="Wrong address", today=TODAY)
    await session.commit()
    (queued,) = await session.scalars(select(OutboxMessage))
    assert queued.link == f"/orders/{order.id}"
    assert "queued-by-web" not in queued.body_text + queued.body_html

    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example", base_url="https://portal.example/")
    await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)

    (mail,) = smtp_server.inbox.to(buyer.email)
    assert f"https://portal.example/orders/{order.id}" in Inbox.text(mail)
    html = mail.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert f'href="https://portal.example/orders/{order.id}"' in html and "Wrong address" in html
    assert "queued-by-web" not in Inbox.text(mail) + html


async def test_a_message_queued_with_a_whole_url_before_the_change_is_sent_as_it_was_written(
    session: AsyncSession, engine: AsyncEngine, smtp_server
) -> None:  # type: ignore[no-untyped-def]
    session.add(
        OutboxMessage(
            kind=NotificationKind.ORDER_DECIDED,
            recipient="old@hotel.example",
            subject="Old",
            body_text="Hello,\n\nOld news.\n\nhttp://old.example/orders/1\n",
            body_html="<html><body><p>Old news.</p></body></html>",
            link="http://old.example/orders/1",
            status=MessageStatus.PENDING,
            attempts=0,
        )
    )
    await session.commit()
    sender = SmtpSender("127.0.0.1", smtp_server.port, "portal@seller.example", base_url="https://portal.example")
    await deliver_pending(async_sessionmaker(engine, expire_on_commit=False), sender)
    (mail,) = smtp_server.inbox.messages
    assert Inbox.text(mail).replace("\r\n", "\n").strip() == "Hello,\n\nOld news.\n\nhttp://old.example/orders/1"


async def test_a_recurring_order_tells_its_buyers_the_total_and_who_approves_it(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    from portal.services.recurring import run_pass
    from tests.unit.test_schedules import arrange

    manager, company, buyer, *_ = await arrange(session)
    await run_pass(async_sessionmaker(engine, expire_on_commit=False), date(2026, 12, 2))
    (told,) = await session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.recipient == buyer.email, OutboxMessage.kind == NotificationKind.RECURRING_GENERATED
        )
    )
    (order,) = await session.scalars(select(Order))
    assert f"Total (gross): {format_money(order.gross_total, order.currency)}" in told.body_text
    assert f"Approved by: {manager.full_name}" in told.body_text
