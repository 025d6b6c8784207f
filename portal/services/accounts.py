"""Who may sign in: password check, slowing down and locking repeated failures
per e-mail address, and creating users."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import Company, LoginThrottle, Role, User
from portal.services.passwords import MIN_PASSWORD_LENGTH, dummy_verify, hash_password, verify_password

FREE_ATTEMPTS = 3
"""Failures allowed before each further attempt must wait."""
LOCK_AFTER = 8
LOCK_DURATION = timedelta(minutes=15)


class SignInRefused(Exception):
    """The sign-in did not succeed; `message` is safe to show."""

    def __init__(self, message: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_at = retry_at


class WrongCredentials(SignInRefused):
    def __init__(self) -> None:
        super().__init__("Wrong email or password.")


class SlowDown(SignInRefused):
    pass


class AccountLocked(SignInRefused):
    pass


class InvalidUser(ValueError):
    """A user could not be created; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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
    answers never reveal which addresses have accounts.
    """
    email = normalize_email(email)
    now = clock.now()
    throttle = await session.get(LoginThrottle, email, with_for_update=True)
    if throttle is not None:
        if throttle.locked_until is not None and throttle.locked_until > now:
            raise AccountLocked(
                "Too many failed attempts: sign-in for this account is locked for a while. "
                "Try again later or ask your administrator.",
                retry_at=throttle.locked_until,
            )
        if throttle.last_failed_at is not None and now < throttle.last_failed_at + wait_after(throttle.failed_count):
            raise SlowDown(
                "Too many failed attempts: wait a few seconds before trying again.",
                retry_at=throttle.last_failed_at + wait_after(throttle.failed_count),
            )

    user = await session.scalar(select(User).where(User.email == email))
    if user is None:
        dummy_verify()
    if user is None or not verify_password(password, user.password_hash) or not user.is_active:
        await _record_failure(session, throttle, email, now)
        raise WrongCredentials()

    if throttle is not None:
        await session.delete(throttle)
    await session.flush()
    return user


async def _record_failure(
    session: AsyncSession, throttle: LoginThrottle | None, email: str, now: datetime
) -> None:
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
        raise InvalidUser("email", "Enter a valid email address.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUser("password", f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if role is Role.BUYER:
        if company_id is None or await session.get(Company, company_id) is None:
            raise InvalidUser("company", "A buyer must belong to an existing company.")
    elif company_id is not None:
        raise InvalidUser("company", "Only buyers belong to a customer company.")
    taken = await session.scalar(select(func.count()).select_from(User).where(User.email == email))
    if taken:
        raise InvalidUser("email", "A user with this email already exists.")
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
