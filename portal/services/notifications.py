"""E-mail notifications through a transactional outbox: `notify` writes the messages in the
transaction of the change they tell about; `deliver_pending` (the worker) sends them, retrying
failures with exponential backoff until they are sent once or marked failed."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import clock
from portal.models import (
    Company,
    Deputy,
    MessageStatus,
    NotificationKind,
    NotificationOptOut,
    OutboxMessage,
    Role,
    User,
)
from portal.settings import TEMPLATES_DIR, Settings

log = logging.getLogger("portal.notifications")

MAX_ATTEMPTS = 6
"""After this many failed attempts a message is marked failed and shown to admins."""

_templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR / "emails"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def base_url() -> str:
    return Settings.from_env().base_url.rstrip("/")


async def notify(
    session: AsyncSession,
    kind: NotificationKind,
    recipients: Iterable[User | None],
    subject: str,
    template: str,
    context: dict[str, Any],
    link: str,
) -> list[OutboxMessage]:
    """Queues one message per recipient who wants this kind, in the caller's transaction."""
    people = {user.id: user for user in recipients if user is not None and user.is_active}
    if kind.optional and people:
        opted_out = set(
            await session.scalars(
                select(NotificationOptOut.user_id).where(
                    NotificationOptOut.kind == kind, NotificationOptOut.user_id.in_(list(people))
                )
            )
        )
        people = {uid: user for uid, user in people.items() if uid not in opted_out}
    url = base_url() + link
    messages = []
    for user in people.values():
        values = {**context, "user": user, "link": url, "subject": subject}
        message = OutboxMessage(
            kind=kind,
            user_id=user.id,
            recipient=user.email,
            subject=subject[:200],
            body_text=_templates.get_template(f"{template}.txt").render(values),
            body_html=_templates.get_template(f"{template}.html").render(values),
            link=url,
            status=MessageStatus.PENDING,
            attempts=0,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
        )
        session.add(message)
        messages.append(message)
    return messages


async def company_buyers(session: AsyncSession, company_id: int) -> list[User]:
    return list(
        await session.scalars(
            select(User)
            .where(User.company_id == company_id, User.role == Role.BUYER, User.is_active.is_(True))
            .order_by(User.id)
        )
    )


async def account_manager(session: AsyncSession, company: Company) -> User | None:
    return await session.get(User, company.account_manager_id) if company.account_manager_id else None


async def managers_on_duty(session: AsyncSession, company: Company, today: date) -> list[User]:
    """The company's account manager and whoever deputises for them today."""
    manager = await account_manager(session, company)
    if manager is None:
        return []
    deputies = await session.scalars(
        select(User)
        .join(Deputy, Deputy.deputy_id == User.id)
        .where(Deputy.manager_id == manager.id, Deputy.starts_on <= today, Deputy.ends_on >= today)
    )
    return [manager, *deputies]


async def opted_out_kinds(session: AsyncSession, user: User) -> set[NotificationKind]:
    return set(await session.scalars(select(NotificationOptOut.kind).where(NotificationOptOut.user_id == user.id)))


async def set_preferences(session: AsyncSession, user: User, wanted: set[NotificationKind]) -> None:
    """Keeps exactly the optional kinds not in `wanted` switched off."""
    current = await opted_out_kinds(session, user)
    off = {kind for kind in NotificationKind if kind.optional and kind not in wanted}
    for kind in off - current:
        session.add(NotificationOptOut(user_id=user.id, kind=kind))
    for kind in current - off:
        row = await session.get(NotificationOptOut, (user.id, kind))
        if row is not None:
            await session.delete(row)
    await session.flush()


class Sender(Protocol):
    async def send(self, message: OutboxMessage) -> None: ...


@dataclass(frozen=True)
class LogSender:
    """Development: the message goes to the log instead of a mail server."""

    sender: str = "portal@localhost"

    async def send(self, message: OutboxMessage) -> None:
        log.info("E-mail to %s: %s\n%s", message.recipient, message.subject, message.body_text)


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    sender: str
    tls: bool = False
    user: str = ""
    password: str = ""
    timeout: float = 10.0

    def _send(self, message: OutboxMessage) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.recipient, message.subject
        mail["Message-ID"] = f"<outbox-{message.id}@portal>"
        mail.set_content(message.body_text)
        mail.add_alternative(message.body_html, subtype="html")
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.tls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(mail)

    async def send(self, message: OutboxMessage) -> None:
        await asyncio.to_thread(self._send, message)


def sender_for(settings: Settings) -> Sender:
    if not settings.smtp_host:
        return LogSender(settings.smtp_sender)
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        settings.smtp_tls,
        settings.smtp_user,
        settings.smtp_password,
    )


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=2**attempts)


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int


INTERRUPTED_AFTER = timedelta(minutes=15)
"""A message still `sending` this long after its claim was interrupted: its worker died between asking
the mail server and recording the answer. Whether it arrived is unknown, so an admin decides."""


async def _claim(
    session_maker: async_sessionmaker[AsyncSession], now: datetime, tried: set[int]
) -> OutboxMessage | None:
    """Takes the next due message, with its row locked (SKIP LOCKED on PostgreSQL, so workers share
    the queue), and commits it as `sending` before anything is sent."""
    async with session_maker() as session, session.begin():
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if tried:
            query = query.where(OutboxMessage.id.not_in(tried))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        message = await session.scalar(query)
        if message is not None:
            message.status = MessageStatus.SENDING
            message.claimed_at = clock.now()
            await session.flush()
            session.expunge(message)  # read while it is sent, after this transaction has ended
        return message


async def _record(
    session_maker: async_sessionmaker[AsyncSession], message: OutboxMessage, now: datetime, error: Exception | None
) -> None:
    async with session_maker() as session, session.begin():
        if error is None:
            values: dict[str, Any] = {"status": MessageStatus.SENT, "sent_at": clock.now()}
        else:
            attempts = message.attempts + 1
            values = {
                "attempts": attempts,
                "last_error": f"{type(error).__name__}: {error}"[:2000],
                "next_attempt_at": now + backoff(attempts),
                "status": MessageStatus.FAILED if attempts >= MAX_ATTEMPTS else MessageStatus.PENDING,
            }
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message.id, OutboxMessage.status == MessageStatus.SENDING)
            .values(**values)
        )


async def deliver_pending(
    session_maker: async_sessionmaker[AsyncSession], sender: Sender, now: datetime | None = None
) -> Delivery:
    """Sends the due messages one at a time: claimed in one transaction, sent, and the outcome recorded
    in another. A failure goes back to the queue with exponential backoff, or is marked failed after
    MAX_ATTEMPTS; a message the mail server accepted is never claimed again."""
    now = now or clock.now()
    sent = failed = 0
    tried: set[int] = set()
    while (message := await _claim(session_maker, now, tried)) is not None:
        tried.add(message.id)
        try:
            await sender.send(message)
        except Exception as error:
            await _record(session_maker, message, now, error)
            failed += 1
            log.warning("Sending message %s failed (attempt %s): %s", message.id, message.attempts + 1, error)
        else:
            await _record(session_maker, message, now, None)
            sent += 1
    return Delivery(sent, failed)


async def messages_for_admins(
    session: AsyncSession, now: datetime | None = None, limit: int = 50
) -> list[OutboxMessage]:
    """Messages that need a person: failed for good, or interrupted mid-send."""
    stale = (now or clock.now()) - INTERRUPTED_AFTER
    return list(
        await session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.status == MessageStatus.FAILED,
                    (OutboxMessage.status == MessageStatus.SENDING) & (OutboxMessage.claimed_at < stale),
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


async def send_again(session: AsyncSession, message_id: int, now: datetime | None = None) -> OutboxMessage:
    """An admin's decision: a failed or interrupted message goes back to the queue with fresh attempts.
    Any other message (sent, on its way, unknown) is `NotFound`: there is nothing to send again."""
    from portal.errors import NotFound

    stale = (now or clock.now()) - INTERRUPTED_AFTER
    message = await session.scalar(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            or_(
                OutboxMessage.status == MessageStatus.FAILED,
                (OutboxMessage.status == MessageStatus.SENDING) & (OutboxMessage.claimed_at < stale),
            ),
        )
        .values(status=MessageStatus.PENDING, attempts=0, next_attempt_at=clock.now(), claimed_at=None)
        .returning(OutboxMessage)
        .execution_options(populate_existing=True)
    )
    if message is None:
        raise NotFound()
    return message
