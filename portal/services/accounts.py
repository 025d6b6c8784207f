"""Who may sign in: password check, slowing down and locking repeated failures
per e-mail address, and creating users.

A failed attempt is counted even though the sign-in is refused: `authenticate` commits
the counter itself before it raises, since the refusal rolls back everything else."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.errors import Refused
from portal.i18n import gettext
from portal.models import Company, LoginThrottle, Role, User
from portal.services.passwords import MIN_PASSWORD_LENGTH, dummy_verify, hash_password, verify_password

FREE_ATTEMPTS = 3
"""Failures allowed before each further attempt must wait."""
LOCK_AFTER = 8
LOCK_DURATION = timedelta(minutes=15)
EMAIL_MAX_LENGTH = 254
"""The length of `users.email` (and `login_throttles.email`), the longest address an e-mail can have."""
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


class InvalidUser(Refused):
    """A user could not be created; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def wait_after(failed_count: int) -> timedelta:
    """How long to wait after the last failure before the next attempt is heard."""
    if failed_count < FREE_ATTEMPTS:
        return timedelta(0)
    return timedelta(seconds=min(2 ** (failed_count - FREE_ATTEMPTS + 1), 30))


async def authenticate(session: AsyncSession, email: str, password: str) -> User:
    """The active user with these credentials, or `SignInRefused` saying why.

    Throttling is kept per address whether or not an account exists, so the
    answers never reveal which addresses have accounts. A failure is committed
    before `WrongCredentials` is raised: the counter must outlive the refusal.
    """
    email = normalize_email(email)
    if len(email) > EMAIL_MAX_LENGTH or "\x00" in email or len(password) > PASSWORD_MAX_LENGTH:
        dummy_verify()  # no such account can exist, and no throttle row could hold the address
        raise WrongCredentials()
    now = clock.now()
    throttle = await session.get(LoginThrottle, email, with_for_update=True)
    if throttle is not None:
        if throttle.locked_until is not None and throttle.locked_until > now:
            raise AccountLocked(
                gettext(
                    "Too many failed attempts: sign-in for this account is locked for a while. "
                    "Try again later or ask your administrator."
                ),
                retry_at=throttle.locked_until,
            )
        if throttle.last_failed_at is not None and now < throttle.last_failed_at + wait_after(throttle.failed_count):
            raise SlowDown(
                gettext("Too many failed attempts: wait a few seconds before trying again."),
                retry_at=throttle.last_failed_at + wait_after(throttle.failed_count),
            )

    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_verify()
    if user is None or not verify_password(password, user.password_hash) or not user.is_active:
        await _record_failure(session, throttle, email, now)
        await session.commit()
        raise WrongCredentials()

    if throttle is not None:
        await session.delete(throttle)
    await session.flush()
    return user


async def _record_failure(session: AsyncSession, throttle: LoginThrottle | None, email: str, now: datetime) -> None:
    if throttle is None:
        throttle = LoginThrottle(email=email, failed_count=0)
        session.add(throttle)
    if throttle.locked_until is not None and throttle.locked_until <= now:
        throttle.failed_count = 0
        throttle.locked_until = None
    throttle.failed_count += 1
    throttle.last_failed_at = now
    if throttle.failed_count >= LOCK_AFTER:
        throttle.locked_until = now + LOCK_DURATION
    await session.flush()


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
        password_hash=hash_password(password),
        role=role,
        company_id=company_id,
    )
    session.add(user)
    await session.flush()
    return user
