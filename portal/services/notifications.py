"""E-mail notifications through a transactional outbox: `notify` writes the messages in the
transaction of the change they tell about; `deliver_pending` (the worker) sends them, retrying
failures with exponential backoff until they are sent once or marked failed.

A queued message holds its text and the path it links to (`/orders/12`), never a whole URL: the
sender puts its own `base_url` (the worker's `PORTAL_BASE_URL`) in front when it sends
(`compose`), so the web process's setting at queue time has no say."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from portal import clock, i18n
from portal.i18n import gettext
from portal.models import (
    Company,
    Deputy,
    MessageStatus,
    NotificationKind,
    NotificationOptOut,
    Order,
    OutboxMessage,
    Role,
    User,
)
from portal.services import documents
from portal.services.transactions import lock_rows, retried
from portal.settings import TEMPLATES_DIR, Settings

log = logging.getLogger("portal.notifications")

MAX_ATTEMPTS = 6
"""After this many failed attempts a message is marked failed and shown to admins."""

_templates = i18n.install(
    Environment(
        loader=FileSystemLoader(TEMPLATES_DIR / "emails"),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
    )
)
"""E-mails are written like pages: in the language being written in (the recipient's, see
`notify`), with the same money and date formats."""

Subject = Callable[[], str]
"""An e-mail's subject, worded when called: once per recipient, in the recipient's language
(`lambda: gettext("Order %(number)s was approved") % {"number": order.number}`)."""


DEFAULT_BASE_URL = "http://localhost:8000"
"""`Settings.base_url`'s default, for a sender made without settings (tests)."""
PORTAL = "{portal}"
"""Where a message's text names a further page of the portal: `PORTAL + "/tasks/12"`. The sender puts
its own base URL in its place when it sends (`compose`), as it does before the message's link."""


async def notify(
    session: AsyncSession,
    kind: NotificationKind,
    recipients: Iterable[User | None],
    subject: Subject,
    template: str,
    context: dict[str, Any],
    link: str,
) -> list[OutboxMessage]:
    """Queues one message per recipient who wants this kind, in the caller's transaction, each
    written in its recipient's language (subject, text, money and dates). `link` is a path
    ("/orders/12"); the sender makes it a URL with its own base URL when it sends."""
    if not link.startswith("/"):
        raise ValueError(f"an e-mail links to a path of the portal, not {link!r}")
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
    messages = []
    for user in people.values():
        message = _written(kind, user.email, user, i18n.user_locale(user.locale), subject, template, context, link)
        message.user_id = user.id
        message.company_id = user.company_id
        session.add(message)
        messages.append(message)
    return messages


def _written(
    kind: NotificationKind,
    recipient: str,
    user: User | Addressee,
    locale: str,
    subject: Subject,
    template: str,
    context: dict[str, Any],
    link: str,
) -> OutboxMessage:
    """One message as its recipient reads it: subject and text in `locale`, which it keeps."""
    with i18n.speaking(locale, getattr(user, "timezone", None)):
        worded = subject()
        values = {**context, "user": user, "subject": worded}
        return OutboxMessage(
            kind=kind,
            recipient=recipient,
            subject=worded[:200],
            body_text=_templates.get_template(f"{template}.txt").render(values),
            body_html=_templates.get_template(f"{template}.html").render(values),
            link=link,
            locale=i18n.locale(),
            status=MessageStatus.PENDING,
            attempts=0,
            next_attempt_at=clock.now(),
            created_at=clock.now(),
        )


@dataclass(frozen=True)
class Addressee:
    """Someone written to by address, perhaps without an account yet (an invitation)."""

    email: str
    full_name: str


async def send_link(
    session: AsyncSession,
    kind: NotificationKind,
    *,
    email: str,
    full_name: str,
    subject: Subject,
    template: str,
    context: dict[str, Any],
    link: str,
    user_id: int | None = None,
) -> OutboxMessage:
    """Queues a one-time link (an invitation, a password link) to an address, in the caller's
    transaction, in the language of the user it is for (the portal's default when nobody has an
    account yet). Never optional and never opted out of: the person asked for it, or an admin did."""
    if kind not in (NotificationKind.INVITATION, NotificationKind.PASSWORD_RESET) or not link.startswith("/"):
        raise ValueError(f"a one-time link of kind {kind} to {link!r}")
    user = await session.get(User, user_id) if user_id is not None else None
    locale = i18n.user_locale(user.locale if user is not None else None)
    addressee = Addressee(email, full_name or email)
    message = _written(kind, email, addressee, locale, subject, template, context, link)
    message.user_id = user_id
    message.company_id = user.company_id if user is not None else None
    session.add(message)
    return message


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


async def approver(session: AsyncSession, company: Company) -> User | None:
    """Who approves the company's orders, as a buyer is told: its account manager (None: the sales team)."""
    manager = await account_manager(session, company)
    return manager if manager is not None and manager.is_active else None


async def confirm_submission(session: AsyncSession, order: Order, company: Company, buyer: User) -> None:
    """Tells the buyer who submitted `order` that it arrived: its number, gross total, requested
    delivery date and who approves it. Optional (`ORDER_SUBMITTED`): the buyer may switch it off."""
    await notify(
        session,
        NotificationKind.ORDER_SUBMITTED,
        [buyer],
        lambda: gettext("Order %(number)s is submitted and waits for approval") % {"number": order.number},
        "order_received",
        await order_facts(session, order, company),
        f"/orders/{order.id}",
    )


async def order_facts(session: AsyncSession, order: Order, company: Company) -> dict[str, Any]:
    """What a buyer's e-mail about a new order states: number, total, delivery date, approver
    (the templates format the amount and the date in the reader's language)."""
    person = await approver(session, company)
    return {
        "order": order,
        "company": company,
        "total": order.gross_total,
        "delivery": order.requested_delivery_date,
        "approver": person.full_name if person is not None else "",
    }


async def opted_out_kinds(session: AsyncSession, user: User) -> set[NotificationKind]:
    return set(await session.scalars(select(NotificationOptOut.kind).where(NotificationOptOut.user_id == user.id)))


@retried
async def set_preferences(session: AsyncSession, user: User, wanted: set[NotificationKind]) -> None:
    """Keeps exactly the optional kinds not in `wanted` switched off, in two statements. The user's
    row is held first, so two saves at once go one after the other and the later one wins whole."""
    await lock_rows(session, User, [user.id])
    off = sorted(kind for kind in NotificationKind if kind.optional and kind not in wanted)
    await session.execute(
        delete(NotificationOptOut)
        .where(NotificationOptOut.user_id == user.id, NotificationOptOut.kind.not_in(off))
        .execution_options(synchronize_session=False)
    )
    if off:
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        rows = [{"user_id": user.id, "kind": kind} for kind in off]
        await session.execute(insert(NotificationOptOut).values(rows).on_conflict_do_nothing())


class Sender(Protocol):
    async def send(self, message: OutboxMessage, *attachments: documents.Document) -> None: ...


def compose(message: OutboxMessage, base_url: str) -> tuple[str, str]:
    """The message's plain text and HTML as sent: its stored text (with `base_url` before each
    further page it names, `PORTAL`), then the link made from `base_url` and the stored path, then
    the signature. A message queued before links were
    paths holds a whole URL and its complete text, and is sent as it was written. What is added
    is in the message's language (`OutboxMessage.locale`; empty: the portal's default)."""
    if not message.link.startswith("/"):
        return message.body_text, message.body_html
    base = base_url.rstrip("/")
    values = {"link": base + message.link}
    stored = Markup(message.body_html.replace(PORTAL, escape(base)))  # escaped by the templates when it was queued
    with i18n.speaking(message.locale):
        body = message.body_text.rstrip("\n").replace(PORTAL, base)
        text = _templates.get_template("_frame.txt").render(body=body, **values)
        html = _templates.get_template("_frame.html").render(body=stored, **values)
    return text, html


@dataclass(frozen=True)
class LogSender:
    """Development: the message goes to the log instead of a mail server."""

    sender: str = "portal@localhost"
    base_url: str = DEFAULT_BASE_URL

    async def send(self, message: OutboxMessage, *attachments: documents.Document) -> None:
        text = compose(message, self.base_url)[0]
        files = "".join(f"\n[{document.filename}, {len(document.content)} bytes]" for document in attachments)
        log.info("E-mail to %s: %s\n%s%s", message.recipient, message.subject, text, files)


@dataclass(frozen=True)
class SmtpSender:
    host: str
    port: int
    sender: str
    tls: bool = False
    user: str = ""
    password: str = ""
    timeout: float = 10.0
    base_url: str = DEFAULT_BASE_URL

    def _send(self, message: OutboxMessage, attachments: tuple[documents.Document, ...]) -> None:
        text, html = compose(message, self.base_url)
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = self.sender, message.recipient, message.subject
        mail["Message-ID"] = f"<outbox-{message.id}@portal>"
        mail.set_content(text)
        mail.add_alternative(html, subtype="html")
        for document in attachments:
            mail.add_attachment(document.content, maintype="application", subtype="pdf", filename=document.filename)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.tls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(mail)

    async def send(self, message: OutboxMessage, *attachments: documents.Document) -> None:
        await asyncio.to_thread(self._send, message, attachments)


def sender_for(settings: Settings) -> Sender:
    """The worker's sender; links in what it sends start with the worker's own `base_url`."""
    if not settings.smtp_host:
        return LogSender(settings.smtp_sender, settings.base_url)
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        settings.smtp_tls,
        settings.smtp_user,
        settings.smtp_password,
        base_url=settings.base_url,
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


async def _attachments(
    session_maker: async_sessionmaker[AsyncSession], message: OutboxMessage, seller: documents.Seller
) -> tuple[documents.Document, ...]:
    """The document a message carries (`OutboxMessage.attachment`), made now in the message's
    language: its data read in a session of its own, the PDF drawn in a thread. Nothing when the
    thing it names is gone: the message is sent without it."""
    if not message.attachment:
        return ()
    async with session_maker() as session:
        with i18n.speaking(message.locale):
            document = await documents.attachment(session, message.attachment, seller)
    return (document,) if document is not None else ()


async def deliver_pending(
    session_maker: async_sessionmaker[AsyncSession],
    sender: Sender,
    now: datetime | None = None,
    *,
    seller: documents.Seller | None = None,
) -> Delivery:
    """Sends the due messages one at a time: claimed in one transaction, sent, and the outcome recorded
    in another. A failure goes back to the queue with exponential backoff, or is marked failed after
    MAX_ATTEMPTS; a message the mail server accepted is never claimed again. Documents a message
    carries name `seller` (the worker's settings; by default the portal's)."""
    now = now or clock.now()
    seller = seller or documents.Seller.default()
    sent = failed = 0
    tried: set[int] = set()
    while (message := await _claim(session_maker, now, tried)) is not None:
        tried.add(message.id)
        try:
            await sender.send(message, *await _attachments(session_maker, message, seller))
        except Exception as error:
            await _record(session_maker, message, now, error)
            failed += 1
            log.warning(
                "e-mail failed",
                extra={"message_id": message.id, "attempt": message.attempts + 1, "error": type(error).__name__},
            )
        else:
            await _record(session_maker, message, now, None)
            sent += 1
            log.info("e-mail sent", extra={"message_id": message.id, "kind": message.kind.value})
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
