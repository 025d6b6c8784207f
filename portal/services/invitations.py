"""One-time links sent by e-mail: an invitation to join (a buyer of a company, or a staff member)
and a forgotten password. The link carries a random token (`secrets.token_urlsafe(32)`); only its
SHA-256 is stored, so the table never holds a working link. A link works once, until it expires
(72 hours for an invitation, 2 hours for a password), unless it was withdrawn or a newer one
replaced it.

Who may be invited is decided by one function, `check`, shared by the admin's form, the users CSV
and the API: a well-formed address nobody uses yet (no user, no invitation waiting), a name, and a
company for a buyer (an active one) and none for staff.

Asking for a password link answers the same whatever the address, and is throttled per address
and per client with the sign-in throttle's atomic counting (`accounts._count_in_window`), in
rows of `LoginThrottle` with scopes of their own."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal import clock
from portal.errors import NotFound, Refused
from portal.i18n import gettext
from portal.models import AccessToken, Company, LoginThrottle, NotificationKind, Role, TokenPurpose, User
from portal.services import accounts, audit, notifications
from portal.services.listing import ListQuery, Page, paginate, searched
from portal.services.passwords import MIN_PASSWORD_LENGTH, hash_password_async

INVITATION_VALID = timedelta(hours=72)
RESET_VALID = timedelta(hours=2)
VALID_FOR = {TokenPurpose.INVITATION: INVITATION_VALID, TokenPurpose.PASSWORD_RESET: RESET_VALID}
TOKEN_MAX_LENGTH = 100
"""Longer than any token this module makes (43 characters); a longer one is not looked up."""
NAME_MAX_LENGTH = 200
RESET_PER_EMAIL = 3
RESET_EMAIL_WINDOW = timedelta(hours=1)
RESET_PER_ADDRESS = 10
RESET_ADDRESS_WINDOW = timedelta(minutes=15)
RESET_EMAIL_SCOPE, RESET_ADDRESS_SCOPE = "reset", "reset_addr"
"""`LoginThrottle.scope` of the password-link counters (at most 10 characters)."""
RECENT = timedelta(days=30)
"""Used, withdrawn and expired invitations stay on the list this long."""

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _now() -> datetime:
    return clock.now()


def token_hash(token: str) -> str:
    """The stored form of a token: its SHA-256 in hex."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and its hash."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


class LinkInvalid(NotFound):
    """The link is unknown, used, expired or withdrawn: one answer for all, and nothing happens."""

    status_code = 410

    def __init__(self, purpose: TokenPurpose) -> None:
        super().__init__(gettext("This link is no longer valid."))
        self.purpose = purpose


# Who may be invited: one rule for the form, the CSV and the API.
@dataclass(frozen=True)
class Invitee:
    email: str
    full_name: str
    role: Role
    company_id: int | None = None


@dataclass(frozen=True)
class Known:
    """What `check` compares an invitee with, loaded once for a whole batch (three queries)."""

    users: dict[str, User]
    pending: dict[str, AccessToken]
    companies: dict[int, Company]


def normalize_email(email: str) -> str:
    return accounts.normalize_email(email)


def pending_condition(now: datetime) -> ColumnElement[bool]:
    """An invitation waiting to be followed at `now`."""
    return and_(
        AccessToken.purpose == TokenPurpose.INVITATION,
        AccessToken.used_at.is_(None),
        AccessToken.withdrawn_at.is_(None),
        AccessToken.expires_at > now,
    )


async def known(session: AsyncSession, emails: Iterable[str], company_ids: Iterable[int | None]) -> Known:
    addresses = sorted({normalize_email(email) for email in emails})
    ids = sorted({company_id for company_id in company_ids if company_id is not None})
    users = list(await session.scalars(select(User).where(User.email.in_(addresses)))) if addresses else []
    pending = (
        list(
            await session.scalars(
                select(AccessToken).where(AccessToken.email.in_(addresses), pending_condition(_now()))
            )
        )
        if addresses
        else []
    )
    companies = list(await session.scalars(select(Company).where(Company.id.in_(ids)))) if ids else []
    return Known(
        {user.email: user for user in users},
        {token.email: token for token in pending},
        {company.id: company for company in companies},
    )


def already_there(invitee: Invitee, known: Known) -> bool:
    """The same person is there already: an active user, or an invitation waiting, with this role and company."""
    email = normalize_email(invitee.email)
    user = known.users.get(email)
    same = (user if user is not None and user.is_active else None) or known.pending.get(email)
    return same is not None and same.role is invitee.role and same.company_id == invitee.company_id


def check(invitee: Invitee, known: Known) -> dict[str, str]:
    """Why this person cannot be invited, field by field (fields: email, full_name, role, company_id);
    empty when they can."""
    errors: dict[str, str] = {}
    email = normalize_email(invitee.email)
    if not _EMAIL.fullmatch(email):
        errors["email"] = gettext("Enter a valid email address.")
    elif len(email) > accounts.EMAIL_MAX_LENGTH:
        errors["email"] = gettext("Use at most %(limit)s characters.") % {"limit": accounts.EMAIL_MAX_LENGTH}
    elif (user := known.users.get(email)) is not None and user.is_active:
        errors["email"] = (
            gettext(
                "A user with this email already exists; move a buyer's company only by re-inviting: "
                "deactivate the account, then invite the person for the other company."
            )
            if user.role is Role.BUYER and invitee.role is Role.BUYER and user.company_id != invitee.company_id
            else gettext("A user with this email already exists.")
        )
    elif email in known.pending:
        errors["email"] = gettext("An invitation to this address is waiting: resend or withdraw it.")
    name = invitee.full_name.strip()
    if not name:
        errors["full_name"] = gettext("Enter the person's name.")
    elif len(name) > NAME_MAX_LENGTH:
        errors["full_name"] = gettext("Use at most %(limit)s characters.") % {"limit": NAME_MAX_LENGTH}
    if invitee.role is Role.BUYER:
        company = known.companies.get(invitee.company_id) if invitee.company_id is not None else None
        if company is None:
            errors["company_id"] = gettext("A buyer belongs to a company: choose one.")
        elif not company.is_active:
            errors["company_id"] = gettext("This company is deactivated; reactivate it first.")
    elif invitee.company_id is not None:
        errors["company_id"] = gettext("Only buyers belong to a customer company.")
    return errors


class InvitationRefused(Refused):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(gettext("Please correct the marked fields."), errors=errors)


async def invite(session: AsyncSession, actor: User, invitee: Invitee) -> AccessToken:
    """Invites one person (the admin's form): refused with a message per field, or the invitation
    made and its e-mail queued, audited, in the caller's transaction."""
    errors = check(invitee, await known(session, [invitee.email], [invitee.company_id]))
    if errors:
        raise InvitationRefused(errors)
    return await issue(session, actor, invitee)


async def issue(session: AsyncSession, actor: User | str | None, invitee: Invitee) -> AccessToken:
    """Makes the invitation of someone already checked, queues its e-mail and audits it."""
    token, hashed = new_token()
    invitation = AccessToken(
        purpose=TokenPurpose.INVITATION,
        token_hash=hashed,
        email=normalize_email(invitee.email),
        full_name=invitee.full_name.strip(),
        role=invitee.role,
        company_id=invitee.company_id,
        created_by_id=actor.id if isinstance(actor, User) else None,
        created_at=_now(),
        expires_at=_now() + INVITATION_VALID,
    )
    session.add(invitation)
    await session.flush()
    await _send_invitation(session, invitation, token)
    audit.record(
        session,
        actor,
        "invite",
        "invitation",
        invitation.id,
        invitation.email,
        company_id=invitation.company_id,
        changes=audit.changed({}, audit.snapshot(invitation, ("email", "full_name", "role", "company_id"))),
    )
    return invitation


async def _send_invitation(session: AsyncSession, invitation: AccessToken, token: str) -> None:
    company = await session.get(Company, invitation.company_id) if invitation.company_id else None
    await notifications.send_link(
        session,
        NotificationKind.INVITATION,
        email=invitation.email,
        full_name=invitation.full_name,
        subject=lambda: gettext("You are invited to the buyer portal"),
        template="invitation",
        context={"company": company.name if company else "", "hours": int(INVITATION_VALID.total_seconds() // 3600)},
        link=f"/join/{token}",
    )


async def _invitation(session: AsyncSession, invitation_id: int) -> AccessToken:
    invitation = await session.get(AccessToken, invitation_id)
    if invitation is None or invitation.purpose is not TokenPurpose.INVITATION:
        raise NotFound()
    return invitation


async def resend(session: AsyncSession, actor: User, invitation_id: int) -> AccessToken:
    """A new link for an invitation not yet used nor withdrawn (expired ones too): the old link stops
    working, the new one is valid for another 72 hours, a new e-mail goes out."""
    invitation = await _invitation(session, invitation_id)
    if invitation.used_at is not None or invitation.withdrawn_at is not None:
        raise Refused(gettext("This invitation was used or withdrawn; invite the person again."))
    taken = await session.scalar(
        select(func.count()).select_from(User).where(User.email == invitation.email, User.is_active)
    )
    if taken:
        raise Refused(gettext("A user with this email already exists."))
    company = await session.get(Company, invitation.company_id) if invitation.company_id else None
    if company is not None and not company.is_active:
        raise Refused(gettext("This company is deactivated; reactivate it first."))
    token, hashed = new_token()
    before = audit.snapshot(invitation, ("expires_at",))
    invitation.token_hash, invitation.expires_at = hashed, _now() + INVITATION_VALID
    await session.flush()
    await _send_invitation(session, invitation, token)
    audit.record(
        session,
        actor,
        "resend",
        "invitation",
        invitation.id,
        invitation.email,
        company_id=invitation.company_id,
        changes=audit.changed(before, audit.snapshot(invitation, ("expires_at",))),
    )
    return invitation


async def withdraw(session: AsyncSession, actor: User, invitation_id: int) -> AccessToken:
    """The link stops working; a used or already withdrawn invitation is refused."""
    invitation = await _invitation(session, invitation_id)
    if invitation.used_at is not None or invitation.withdrawn_at is not None:
        raise Refused(gettext("This invitation was used or withdrawn already."))
    invitation.withdrawn_at = _now()
    await session.flush()
    audit.record(
        session,
        actor,
        "withdraw",
        "invitation",
        invitation.id,
        invitation.email,
        company_id=invitation.company_id,
        changes={"withdrawn_at": [None, audit.as_text(invitation.withdrawn_at)]},
    )
    return invitation


@dataclass(frozen=True)
class InvitationRow:
    invitation: AccessToken
    state: str
    """pending, expired, used, withdrawn."""


def state_of(token: AccessToken, now: datetime) -> str:
    if token.used_at is not None:
        return "used"
    if token.withdrawn_at is not None:
        return "withdrawn"
    return "expired" if token.expires_at <= now else "pending"


INVITATION_SORTS: dict[str, ColumnElement[Any]] = {
    "email": AccessToken.email.expression,
    "name": AccessToken.full_name.expression,
    "sent": AccessToken.created_at.expression,
    "expires": AccessToken.expires_at.expression,
}


async def invitations(session: AsyncSession, query: ListQuery) -> Page[InvitationRow]:
    """Invitations waiting, and those used, withdrawn or expired in the last 30 days; newest first
    unless sorted otherwise (two queries)."""
    now = _now()
    recent = now - RECENT
    statement = (
        select(AccessToken)
        .options(joinedload(AccessToken.company))
        .where(
            AccessToken.purpose == TokenPurpose.INVITATION,
            or_(
                pending_condition(now),
                AccessToken.used_at > recent,
                AccessToken.withdrawn_at > recent,
                AccessToken.expires_at > recent,
            ),
        )
    )
    statement = searched(statement, query.search, [AccessToken.email.expression, AccessToken.full_name.expression])
    if query.filter("pending"):
        statement = statement.where(pending_condition(now))
    descending = query.descending if query.sort else True
    page = await paginate(
        session,
        statement,
        ListQuery(query.search, query.sort or "sent", descending, query.page, query.filters),
        sorts=INVITATION_SORTS,
        default_sort="sent",
        tiebreak=AccessToken.id.expression,
    )
    return Page([InvitationRow(token, state_of(token, now)) for token in page.rows], page.total, query, page.per_page)


async def pending_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(AccessToken).where(pending_condition(_now()))) or 0


# Following a link.
async def valid_link(session: AsyncSession, token: str, purpose: TokenPurpose) -> AccessToken | None:
    """The valid token behind a link; None when it is unknown, used, expired, withdrawn, or an
    invitation whose company was deactivated since. Found by its hash (unique)."""
    if not 0 < len(token) <= TOKEN_MAX_LENGTH:
        return None
    found = await session.scalar(
        select(AccessToken)
        .options(joinedload(AccessToken.company))
        .where(AccessToken.token_hash == token_hash(token), AccessToken.purpose == purpose)
    )
    if found is None or state_of(found, _now()) != "pending":
        return None
    if found.company is not None and not found.company.is_active:
        return None
    return found


async def opened(session: AsyncSession, token: str, purpose: TokenPurpose) -> AccessToken:
    """The valid token behind a link, or `LinkInvalid`: one answer whatever is wrong with it."""
    found = await valid_link(session, token, purpose)
    if found is None:
        raise LinkInvalid(purpose)
    return found


def _check_password(password: str, repeat: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Refused(
            gettext("The password must have at least %(num)d characters.") % {"num": MIN_PASSWORD_LENGTH}, "password"
        )
    if password != repeat:
        raise Refused(gettext("The two passwords are not the same."), "repeat_password")


async def _use(session: AsyncSession, found: AccessToken) -> None:
    """Marks the token used, once: of two requests at once with one link, only one gets here."""
    now = _now()
    result = await session.execute(
        update(AccessToken)
        .where(
            AccessToken.id == found.id,
            AccessToken.token_hash == found.token_hash,
            AccessToken.used_at.is_(None),
            AccessToken.withdrawn_at.is_(None),
            AccessToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise LinkInvalid(found.purpose)
    found.used_at = now


async def accept(session: AsyncSession, token: str, password: str, repeat: str) -> User:
    """Follows an invitation: the user is created with the invited role and company and the chosen
    password, and the link is used up."""
    invitation = await opened(session, token, TokenPurpose.INVITATION)
    _check_password(password, repeat)
    await _use(session, invitation)
    former = await session.scalar(select(User).where(User.email == invitation.email))
    if former is not None:
        before = audit.snapshot(former, USER_FIELDS)
        user = await _rejoin(session, former, invitation, password)
    else:
        before = {}
        user = await accounts.create_user(
            session,
            email=invitation.email,
            full_name=invitation.full_name,
            password=password,
            role=invitation.role,
            company_id=invitation.company_id,
        )
    invitation.user_id = user.id
    audit.record(
        session,
        user,
        "update" if before else "create",
        "user",
        user.id,
        user.email,
        company_id=user.company_id,
        changes=audit.changed(before, audit.snapshot(user, USER_FIELDS)),
        note=f"invitation {invitation.id}",
    )
    await session.flush()
    return user


USER_FIELDS = ("email", "full_name", "role", "company_id", "is_active")


async def _rejoin(session: AsyncSession, former: User, invitation: AccessToken, password: str) -> User:
    """A deactivated user invited again (a buyer moving to another company, a colleague coming back)
    keeps their account: it takes the invited role, company and name, the new password, and is
    active again; sessions from before stay ended. An active user cannot be invited at all."""
    if former.is_active:
        raise Refused(gettext("A user with this email already exists."), "email")
    former.role, former.company_id, former.full_name = invitation.role, invitation.company_id, invitation.full_name
    former.password_hash = await hash_password_async(password)
    former.is_active = True
    await accounts.end_sessions(session, former)
    return former


# Forgotten passwords.
async def request_reset(session: AsyncSession, email: str, *, address: str) -> None:
    """Sends a password link to `email` if it belongs to a user who may sign in, within the limits
    (per client address, then per e-mail); otherwise nothing. The caller says the same either way."""
    email, address, now = normalize_email(email), accounts.normalize_address(address), _now()
    if not email or len(email) > accounts.EMAIL_MAX_LENGTH:
        return
    by_address = (RESET_ADDRESS_SCOPE, "", address)
    if await accounts._count_in_window(session, by_address, now, RESET_ADDRESS_WINDOW, limit=RESET_PER_ADDRESS) is None:
        return
    by_email = (RESET_EMAIL_SCOPE, email, "")
    if await accounts._count_in_window(session, by_email, now, RESET_EMAIL_WINDOW, limit=RESET_PER_EMAIL) is None:
        return
    user = await session.scalar(select(User).where(User.email == email))
    if user is None or not await accounts.may_sign_in(session, user):
        return
    await _withdraw_resets(session, user, now)
    token, hashed = new_token()
    session.add(
        AccessToken(
            purpose=TokenPurpose.PASSWORD_RESET,
            token_hash=hashed,
            email=user.email,
            full_name=user.full_name,
            role=user.role,
            company_id=user.company_id,
            user_id=user.id,
            created_at=now,
            expires_at=now + RESET_VALID,
        )
    )
    await session.flush()
    await notifications.send_link(
        session,
        NotificationKind.PASSWORD_RESET,
        email=user.email,
        full_name=user.full_name,
        subject=lambda: gettext("Set a new password for the buyer portal"),
        template="password_reset",
        context={"hours": int(RESET_VALID.total_seconds() // 3600)},
        link=f"/password/reset/{token}",
        user_id=user.id,
    )


async def _withdraw_resets(session: AsyncSession, user: User, now: datetime) -> None:
    """Only the newest password link of a user works."""
    await session.execute(
        update(AccessToken)
        .where(
            AccessToken.purpose == TokenPurpose.PASSWORD_RESET,
            AccessToken.user_id == user.id,
            AccessToken.used_at.is_(None),
            AccessToken.withdrawn_at.is_(None),
        )
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )


async def reset_password(session: AsyncSession, token: str, password: str, repeat: str) -> User:
    """Sets the new password through a password link: the link is used up and every session of the
    user ends."""
    found = await opened(session, token, TokenPurpose.PASSWORD_RESET)
    user = await session.get(User, found.user_id) if found.user_id else None
    if user is None or not await accounts.may_sign_in(session, user):
        raise LinkInvalid(TokenPurpose.PASSWORD_RESET)
    _check_password(password, repeat)
    await _use(session, found)
    user.password_hash = await hash_password_async(password)
    await _withdraw_resets(session, user, _now())
    await accounts.end_sessions(session, user)
    return user


async def forget_throttles(session: AsyncSession, now: datetime) -> None:
    """Drops the password-link counters whose windows have ended (for the worker's tidy-up)."""
    await session.execute(
        delete(LoginThrottle).where(
            or_(
                and_(LoginThrottle.scope == RESET_EMAIL_SCOPE, LoginThrottle.counted_since <= now - RESET_EMAIL_WINDOW),
                and_(
                    LoginThrottle.scope == RESET_ADDRESS_SCOPE,
                    LoginThrottle.counted_since <= now - RESET_ADDRESS_WINDOW,
                ),
            )
        )
    )
