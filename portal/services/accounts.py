"""Who may sign in: password check, throttling of failed attempts, password change, ending
a user's sessions, a user's language, and creating users.

Throttling counts attempts three ways, so that an attacker cannot turn it against a user:
- per (account, client address): after `FREE_ATTEMPTS` the next attempt must wait, doubling
  each time up to `MAX_WAIT`;
- per account: after `ACCOUNT_LOCK_AFTER` attempts within `ACCOUNT_WINDOW` the account is
  locked, but only for the addresses that have failed on it and never signed in to it; the
  user's own address (one that signed in before), or any address that has not failed, is heard;
- per client address, across all accounts: `ADDRESS_LIMIT` attempts per `ADDRESS_WINDOW`.
Known and unknown e-mails are counted alike, so the answers never reveal which have accounts.

Each attempt is reserved (an atomic upsert that counts it) and committed before the password
is checked, so concurrent attempts see each other and a burst gets no more checks than the
rules allow; a success gives the reservation back. The refusal rolls back everything else,
which is why `authenticate` commits the counters itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import and_, case, delete, func, literal, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from portal import clock
from portal.errors import Refused
from portal.i18n import LOCALES, gettext, ngettext
from portal.models import Company, LoginThrottle, Role, User, WebSession
from portal.services.passwords import (
    MIN_PASSWORD_LENGTH,
    dummy_verify,
    hash_password_async,
    verify_and_update,
    verify_password,
)

FREE_ATTEMPTS = 3
"""Failures of one account from one address allowed before each further attempt must wait."""
MAX_WAIT = timedelta(minutes=15)
"""The longest wait between two attempts of one account from one address."""
ACCOUNT_LOCK_AFTER = 10
ACCOUNT_WINDOW = timedelta(hours=1)
"""After this many attempts on one account within the window, the addresses that failed on it
(and never signed in to it) are no longer heard until the window ends."""
ADDRESS_LIMIT = 20
ADDRESS_WINDOW = timedelta(minutes=15)
"""Attempts one client address may make, on any accounts, per window."""
PAIR_MEMORY = timedelta(days=1)
"""The failures of an (account, address) pair are forgotten this long after the last one."""
KNOWN_ADDRESS_MEMORY = timedelta(days=90)
"""An address that signed in to an account stays exempt from its lock this long."""
PAIR, ACCOUNT, ADDRESS = "pair", "account", "address"
"""The scopes of `LoginThrottle` rows."""
EMAIL_MAX_LENGTH = 254
"""The length of `users.email` (and `login_throttles.email`), the longest address an e-mail can have."""
ADDRESS_MAX_LENGTH = 100
"""The length of `login_throttles.address`; an IPv6 address has at most 45 characters."""
PASSWORD_MAX_LENGTH = 1000
"""Longer is no password anyone types; it would only make the hash expensive."""


class SignInRefused(Refused):
    """The sign-in did not succeed; `message` is safe to show and says nothing about whether
    the address has an account. It concerns the form as a whole."""

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class WrongCredentials(SignInRefused):
    def __init__(self) -> None:
        super().__init__(gettext("Wrong email or password."))


class SlowDown(SignInRefused):
    pass


class AccountLocked(SignInRefused):
    pass


class AddressLimited(SignInRefused):
    pass


class InvalidUser(Refused):
    """A user could not be created; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def normalize_address(address: str) -> str:
    return address.strip()[:ADDRESS_MAX_LENGTH] or "unknown"


def wait_after(failed_count: int) -> timedelta:
    """How long to wait after the last failure before the next attempt is heard."""
    if failed_count < FREE_ATTEMPTS:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failed_count - FREE_ATTEMPTS + 1)), MAX_WAIT)


_WAIT_STEPS = next(n for n in range(FREE_ATTEMPTS, 64) if wait_after(n) == MAX_WAIT)
"""From this count on, every wait is `MAX_WAIT`."""


async def may_sign_in(session: AsyncSession, user: User) -> bool:
    """An active user, and for a buyer an active company: a deactivated company's buyers are kept out."""
    if not user.is_active:
        return False
    if user.company_id is None:
        return True
    return bool(await session.scalar(select(Company.is_active).where(Company.id == user.company_id)))


async def authenticate(session: AsyncSession, email: str, password: str, *, address: str) -> User:
    """The active user with these credentials, coming from client `address`, or `SignInRefused`
    saying why. The counters are committed before the password is checked."""
    email = normalize_email(email)
    if not email or len(email) > EMAIL_MAX_LENGTH or "\x00" in email or len(password) > PASSWORD_MAX_LENGTH:
        await dummy_verify()  # no such account can exist, and no throttle row could hold the address
        raise WrongCredentials()
    address, now = normalize_address(address), clock.now()
    await _reserve_attempt(session, email, address, now)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        await dummy_verify()
        raise WrongCredentials()
    valid, new_hash = await verify_and_update(password, user.password_hash)
    if not valid or not await may_sign_in(session, user):
        raise WrongCredentials()
    if new_hash:
        user.password_hash = new_hash
    await _give_back(session, email, address, now)
    await session.flush()
    return user


async def _reserve_attempt(session: AsyncSession, email: str, address: str, now: datetime) -> None:
    """Count one attempt on every scope, or refuse it; committed either way."""
    if await _count_in_window(session, (ADDRESS, "", address), now, ADDRESS_WINDOW, limit=ADDRESS_LIMIT) is None:
        await session.commit()
        raise AddressLimited(
            ngettext(
                "Too many failed sign-ins from your network: wait %(num)d minute before trying again.",
                "Too many failed sign-ins from your network: wait %(num)d minutes before trying again.",
                window := int(ADDRESS_WINDOW.total_seconds() // 60),
            )
            % {"num": window}
        )
    in_account = await _count_in_window(session, (ACCOUNT, email, ""), now, ACCOUNT_WINDOW, limit=None)
    locked = (in_account or 0) > ACCOUNT_LOCK_AFTER
    heard = await _count_pair(session, email, address, now, locked=locked)
    await session.commit()
    if heard is None:
        pair = await session.get(LoginThrottle, (PAIR, email, address), populate_existing=True)
        if locked and pair is not None and pair.failed_count > 0 and pair.succeeded_at is None:
            raise AccountLocked(
                gettext(
                    "Too many failed attempts: sign-in for this account is locked for a while. "
                    "Try again later or ask your administrator."
                )
            )
        retry_at = pair.next_attempt_at if pair is not None else None
        if retry_at is None or retry_at - now < timedelta(minutes=1):
            raise SlowDown(
                gettext("Too many failed attempts: wait a few seconds before trying again."), retry_at=retry_at
            )
        minutes = max(1, round((retry_at - now).total_seconds() / 60))
        raise SlowDown(
            ngettext(
                "Too many failed attempts: wait %(num)d minute before trying again.",
                "Too many failed attempts: wait %(num)d minutes before trying again.",
                minutes,
            )
            % {"num": minutes},
            retry_at=retry_at,
        )


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _at(moment: datetime) -> ColumnElement[datetime]:
    return literal(moment, DateTimeUTC(timezone=True))


def _is(key: tuple[str, str, str]) -> ColumnElement[bool]:
    scope, email, address = key
    return and_(LoginThrottle.scope == scope, LoginThrottle.email == email, LoginThrottle.address == address)


async def _count_in_window(
    session: AsyncSession, key: tuple[str, str, str], now: datetime, window: timedelta, *, limit: int | None
) -> int | None:
    """Add one attempt to the row's window (a new window when the last has ended); the new count,
    or None when the window already holds `limit` attempts. One atomic statement."""
    table = LoginThrottle
    scope, email, address = key
    current = table.counted_since > _at(now - window)
    statement = (
        _insert(session)(table)
        .values(scope=scope, email=email, address=address, failed_count=1, counted_since=now, last_failed_at=now)
        .on_conflict_do_update(
            index_elements=[table.scope, table.email, table.address],
            set_={
                "failed_count": case((current, table.failed_count + 1), else_=1),
                "counted_since": case((current, table.counted_since), else_=_at(now)),
                "last_failed_at": _at(now),
            },
            where=None if limit is None else or_(not_(current), table.failed_count < limit),
        )
        .returning(table.failed_count)
    )
    count: int | None = await session.scalar(statement)
    return count


async def _count_pair(session: AsyncSession, email: str, address: str, now: datetime, *, locked: bool) -> int | None:
    """Reserve one attempt of `email` from `address` when it may be heard now; the new count, or
    None. While the account is locked only an address that has not failed, or has signed in
    before, is heard. One atomic statement: concurrent attempts wait for each other's row."""
    table = LoginThrottle
    heard = or_(table.next_attempt_at.is_(None), table.next_attempt_at <= _at(now))
    if locked:
        heard = and_(heard, or_(table.failed_count == 0, table.succeeded_at.is_not(None)))
    next_attempt = case(
        *[(table.failed_count == count - 1, _at(now + wait_after(count))) for count in range(1, _WAIT_STEPS)],
        else_=_at(now + MAX_WAIT),
    )
    statement = (
        _insert(session)(table)
        .values(
            scope=PAIR,
            email=email,
            address=address,
            failed_count=1,
            counted_since=now,
            last_failed_at=now,
            next_attempt_at=now + wait_after(1),
        )
        .on_conflict_do_update(
            index_elements=[table.scope, table.email, table.address],
            set_={"failed_count": table.failed_count + 1, "last_failed_at": _at(now), "next_attempt_at": next_attempt},
            where=heard,
        )
        .returning(table.failed_count)
    )
    count: int | None = await session.scalar(statement)
    return count


async def _give_back(session: AsyncSession, email: str, address: str, now: datetime) -> None:
    """A success: the pair forgets its failures and remembers the address; the account's and the
    address's windows get this attempt back (the others stay counted)."""
    await session.execute(
        update(LoginThrottle)
        .where(_is((PAIR, email, address)))
        .values(failed_count=0, next_attempt_at=None, succeeded_at=now, counted_since=now)
    )
    await session.execute(
        update(LoginThrottle)
        .where(or_(_is((ACCOUNT, email, "")), _is((ADDRESS, "", address))), LoginThrottle.failed_count > 0)
        .values(failed_count=LoginThrottle.failed_count - 1)
    )


async def change_password(
    session: AsyncSession, user: User, *, current: str, new: str, repeat: str, address: str
) -> int:
    """Set a new password after checking the current one (throttled like a sign-in); the user's
    other sessions end. Returns the session version the current session must carry now."""
    if len(new) < MIN_PASSWORD_LENGTH:
        raise Refused(
            gettext("The password must have at least %(num)d characters.") % {"num": MIN_PASSWORD_LENGTH},
            "new_password",
        )
    if new != repeat:
        raise Refused(gettext("The two new passwords are not the same."), "repeat_password")
    address, now = normalize_address(address), clock.now()
    await _reserve_attempt(session, user.email, address, now)
    if not await verify_password(current, user.password_hash):
        raise Refused(gettext("This is not your current password."), "current_password")
    await _give_back(session, user.email, address, now)
    user.password_hash = await hash_password_async(new)
    return await end_sessions(session, user)


async def choose_language(session: AsyncSession, user: User, locale: str) -> str:
    """Keeps the language the portal speaks to `user`, on pages and in e-mails: one of
    `i18n.LOCALES`, or "" to follow the browser (e-mails then go in the portal's default)."""
    if locale and locale not in LOCALES:
        raise Refused(gettext("Choose one of the languages."), "language")
    await session.execute(update(User).where(User.id == user.id).values(locale=locale))
    user.locale = locale
    await session.flush()
    return locale


async def end_sessions(session: AsyncSession, user: User) -> int:
    """End every session of `user` started so far (sign out everywhere); the new session version."""
    result = await session.execute(
        update(User)
        .where(User.id == user.id)
        .values(session_version=User.session_version + 1)
        .returning(User.session_version)
    )
    version: int = result.scalar_one()
    user.session_version = version
    await session.flush()
    return version


async def purge_expired(session: AsyncSession, now: datetime) -> tuple[int, int]:
    """Delete the sessions past their expiry and the throttle rows nothing depends on any more;
    how many of each. The worker calls this once per pass."""
    sessions = await session.execute(delete(WebSession).where(WebSession.expires_at < now))
    table = LoginThrottle
    forgotten = or_(table.last_failed_at.is_(None), table.last_failed_at < now - PAIR_MEMORY)
    throttles = await session.execute(
        delete(table).where(
            or_(
                and_(table.scope == ACCOUNT, table.counted_since <= now - ACCOUNT_WINDOW),
                and_(table.scope == ADDRESS, table.counted_since <= now - ADDRESS_WINDOW),
                and_(
                    table.scope == PAIR,
                    forgotten,
                    or_(table.succeeded_at.is_(None), table.succeeded_at < now - KNOWN_ADDRESS_MEMORY),
                ),
            )
        )
    )
    await session.execute(
        update(table)
        .where(table.scope == PAIR, forgotten, table.failed_count > 0)
        .values(failed_count=0, next_attempt_at=None)
    )
    return _rowcount(sessions), _rowcount(throttles)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    full_name: str,
    password: str,
    role: Role,
    company_id: int | None = None,
) -> User:
    """A new user; buyers belong to a company, staff to none."""
    email = normalize_email(email)
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise InvalidUser("email", gettext("Enter a valid email address."))
    if len(email) > EMAIL_MAX_LENGTH:
        raise InvalidUser("email", gettext("Use at most %(limit)s characters.") % {"limit": EMAIL_MAX_LENGTH})
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUser(
            "password",
            gettext("The password must have at least %(num)d characters.") % {"num": MIN_PASSWORD_LENGTH},
        )
    if role is Role.BUYER:
        if company_id is None or await session.get(Company, company_id) is None:
            raise InvalidUser("company", gettext("A buyer must belong to an existing company."))
    elif company_id is not None:
        raise InvalidUser("company", gettext("Only buyers belong to a customer company."))
    taken = await session.scalar(select(func.count()).select_from(User).where(User.email == email))
    if taken:
        raise InvalidUser("email", gettext("A user with this email already exists."))
    user = User(
        email=email,
        full_name=full_name.strip() or email,
        password_hash=await hash_password_async(password),
        role=role,
        company_id=company_id,
    )
    session.add(user)
    await session.flush()
    return user
