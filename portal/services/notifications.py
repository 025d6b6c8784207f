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
from sqlalchemy import select
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
from portal.settings import PROJECT_ROOT, Settings

log = logging.getLogger("portal.notifications")

MAX_ATTEMPTS = 6
"""After this many failed attempts a message is marked failed and shown to admins."""

_templates = Environment(
    loader=FileSystemLoader(PROJECT_ROOT / "templates" / "emails"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)


def base_url() -> str:
    return Settings.from_env().base_url.rstrip("/")


async def notify(
    session: AsyncSession, kind: NotificationKind, recipients: Iterable[User], subject: str, template: str,
    context: dict[str, Any], link: str,
) -> list[OutboxMessage]:
    """Queues one message per recipient who wants this kind, in the caller's transaction."""
    people = {user.id: user for user in recipients if user is not None and user.is_active}
    if kind.optional and people:
        opted_out = set(await session.scalars(
            select(NotificationOptOut.user_id).where(NotificationOptOut.kind == kind,
                                                     NotificationOptOut.user_id.in_(list(people)))))
        people = {uid: user for uid, user in people.items() if uid not in opted_out}
    url = base_url() + link
    messages = []
    for user in people.values():
        values = {**context, "user": user, "link": url, "subject": subject}
        message = OutboxMessage(
            kind=kind, user_id=user.id, recipient=user.email, subject=subject[:200],
            body_text=_templates.get_template(f"{template}.txt").render(values),
            body_html=_templates.get_template(f"{template}.html").render(values),
            link=url, status=MessageStatus.PENDING, attempts=0, next_attempt_at=clock.now(), created_at=clock.now(),
        )
        session.add(message)
        messages.append(message)
    return messages


async def company_buyers(session: AsyncSession, company_id: int) -> list[User]:
    return list(await session.scalars(
        select(User).where(User.company_id == company_id, User.role == Role.BUYER, User.is_active.is_(True))
        .order_by(User.id)))


async def account_manager(session: AsyncSession, company: Company) -> User | None:
    return await session.get(User, company.account_manager_id) if company.account_manager_id else None


async def managers_on_duty(session: AsyncSession, company: Company, today: date) -> list[User]:
    """The company's account manager and whoever deputises for them today."""
    manager = await account_manager(session, company)
    if manager is None:
        return []
    deputies = await session.scalars(
        select(User).join(Deputy, Deputy.deputy_id == User.id)
        .where(Deputy.manager_id == manager.id, Deputy.starts_on <= today, Deputy.ends_on >= today))
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


async def failed_messages(session: AsyncSession, limit: int = 50) -> list[OutboxMessage]:
    return list(await session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == MessageStatus.FAILED)
        .order_by(OutboxMessage.id.desc()).limit(limit)))


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
    return SmtpSender(settings.smtp_host, settings.smtp_port, settings.smtp_sender, settings.smtp_tls,
                      settings.smtp_user, settings.smtp_password)


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=2 ** attempts)


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int


async def deliver_pending(session_maker: async_sessionmaker[AsyncSession], sender: Sender, now: datetime | None = None) -> Delivery:
    """Sends the due messages one at a time. Each is claimed with its row locked (SKIP LOCKED on
    PostgreSQL, so workers share the queue) and marked sent in the same transaction."""
    now = now or clock.now()
    sent = failed = 0
    tried: set[int] = set()
    while True:
        async with session_maker() as session, session.begin():
            query = (select(OutboxMessage)
                     .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now)
                     .order_by(OutboxMessage.id).limit(1))
            if tried:
                query = query.where(OutboxMessage.id.not_in(tried))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            message = await session.scalar(query)
            if message is None:
                return Delivery(sent, failed)
            tried.add(message.id)
            try:
                await sender.send(message)
            except Exception as error:  # noqa: BLE001 - any failure of the mail server is retried
                message.attempts += 1
                message.last_error = f"{type(error).__name__}: {error}"[:2000]
                message.next_attempt_at = now + backoff(message.attempts)
                if message.attempts >= MAX_ATTEMPTS:
                    message.status = MessageStatus.FAILED
                failed += 1
                log.warning("Sending message %s failed (attempt %s): %s", message.id, message.attempts, error)
            else:
                message.status = MessageStatus.SENT
                message.sent_at = clock.now()
                sent += 1
