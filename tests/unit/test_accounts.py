"""Signing in: the right password opens, everything else is refused in words that never tell
whether an address has an account; failures slow down the (account, address) pair, lock the
account for the addresses that failed on it only, and limit one address across all accounts.
Changing the password and signing out everywhere end the user's other sessions; the worker
purges what has expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from passlib.context import CryptContext
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.models import LoginThrottle, Role, User, WebSession
from portal.services import passwords
from portal.services.accounts import (
    ACCOUNT,
    ACCOUNT_LOCK_AFTER,
    ACCOUNT_WINDOW,
    ADDRESS,
    ADDRESS_LIMIT,
    ADDRESS_WINDOW,
    EMAIL_MAX_LENGTH,
    FREE_ATTEMPTS,
    MAX_WAIT,
    PAIR,
    AccountLocked,
    AddressLimited,
    InvalidUser,
    SlowDown,
    WrongCredentials,
    authenticate,
    change_password,
    create_user,
    end_sessions,
    purge_expired,
    wait_after,
)
from tests import factories
from tests.conftest import Clock
from tests.factories import PASSWORD, make_company, make_user

CHEAP = CryptContext(schemes=["argon2"], deprecated="auto", argon2__memory_cost=512, argon2__rounds=1)
"""These tests check a password dozens of times: a cheap argon2 cost keeps them fast. The rules do
not depend on the cost; the real cost is checked in `test_argon2_runs_off_the_event_loop`."""


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hash = CHEAP.hash(PASSWORD)
    monkeypatch.setattr(passwords, "_context", CHEAP)
    monkeypatch.setattr(factories, "password_hash", lambda: cheap_hash)


NINA = "nina@northwind.example"
ATTACKER = "203.0.113.66"
HOME = "198.51.100.7"
"""The user's own address."""
ELSEWHERE = "192.0.2.40"


async def sign_in(session: AsyncSession, email: str = NINA, password: str = PASSWORD, address: str = HOME) -> User:
    return await authenticate(session, email, password, address=address)


async def fail_patiently(
    session: AsyncSession, clock: Clock, times: int, *, email: str = NINA, address: str = ATTACKER
) -> None:
    """`times` wrong passwords, each waiting exactly as long as the slow-down asks (the last one
    too: the next attempt would wait)."""
    for _ in range(times):
        pair = await session.get(LoginThrottle, (PAIR, email, address), populate_existing=True)
        if pair is not None and pair.next_attempt_at is not None:
            clock.moment = max(clock.moment, pair.next_attempt_at)
        with pytest.raises(WrongCredentials):
            await sign_in(session, email, "wrong password", address)


async def test_right_password_signs_in_whatever_the_case_of_the_email(session: AsyncSession) -> None:
    user = await make_user(session, email=NINA)
    assert await sign_in(session, "  Nina@NorthWind.example ") is user


async def test_wrong_password_and_unknown_email_get_the_same_message(session: AsyncSession) -> None:
    await make_user(session, email=NINA)
    with pytest.raises(WrongCredentials) as wrong_password:
        await sign_in(session, NINA, "not it")
    with pytest.raises(WrongCredentials) as unknown:
        await sign_in(session, "nobody@northwind.example", "not it")
    assert wrong_password.value.message == unknown.value.message == "Wrong email or password."


async def test_inactive_user_cannot_sign_in(session: AsyncSession) -> None:
    await make_user(session, email="gone@northwind.example", is_active=False)
    with pytest.raises(WrongCredentials):
        await sign_in(session, "gone@northwind.example")


async def test_after_free_attempts_each_next_one_waits_twice_as_long(
    session: AsyncSession, frozen_clock: Clock
) -> None:
    await make_user(session, email=NINA)
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(WrongCredentials):
            await sign_in(session, NINA, "wrong", ATTACKER)

    with pytest.raises(SlowDown) as slowed:
        await sign_in(session, NINA, PASSWORD, ATTACKER)
    assert slowed.value.retry_at == frozen_clock.moment + wait_after(FREE_ATTEMPTS)
    frozen_clock.advance(seconds=wait_after(FREE_ATTEMPTS).total_seconds())
    with pytest.raises(WrongCredentials):
        await sign_in(session, NINA, "wrong", ATTACKER)
    with pytest.raises(SlowDown) as slowed_longer:
        await sign_in(session, NINA, PASSWORD, ATTACKER)
    assert slowed_longer.value.retry_at == frozen_clock.moment + 2 * wait_after(FREE_ATTEMPTS)
    assert wait_after(FREE_ATTEMPTS + 1) == 2 * wait_after(FREE_ATTEMPTS)
    assert wait_after(40) == MAX_WAIT

    frozen_clock.advance(seconds=wait_after(FREE_ATTEMPTS + 1).total_seconds())
    assert (await sign_in(session, NINA, PASSWORD, ATTACKER)).email == NINA


async def test_a_refused_early_attempt_does_not_make_the_wait_longer(
    session: AsyncSession, frozen_clock: Clock
) -> None:
    await make_user(session, email=NINA)
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(WrongCredentials):
            await sign_in(session, NINA, "wrong", ATTACKER)
    for _ in range(5):
        with pytest.raises(SlowDown):
            await sign_in(session, NINA, "wrong", ATTACKER)
    pair = await session.get(LoginThrottle, (PAIR, NINA, ATTACKER), populate_existing=True)
    assert pair is not None and pair.failed_count == FREE_ATTEMPTS


async def test_the_slow_down_of_one_address_leaves_the_user_at_home_alone(
    session: AsyncSession, frozen_clock: Clock
) -> None:
    await make_user(session, email=NINA)
    await fail_patiently(session, frozen_clock, FREE_ATTEMPTS + 2)
    with pytest.raises(SlowDown):
        await sign_in(session, NINA, PASSWORD, ATTACKER)
    assert (await sign_in(session, NINA, PASSWORD, HOME)).email == NINA


async def test_the_account_lock_holds_only_for_the_addresses_that_failed(
    session: AsyncSession, frozen_clock: Clock
) -> None:
    await make_user(session, email=NINA)
    await fail_patiently(session, frozen_clock, ACCOUNT_LOCK_AFTER)

    with pytest.raises(AccountLocked) as locked:
        await sign_in(session, NINA, PASSWORD, ATTACKER)  # even the right password, from the attacker
    assert "locked" in locked.value.message
    assert (await sign_in(session, NINA, PASSWORD, HOME)).email == NINA  # the user still gets in


async def test_while_locked_a_new_address_gets_one_attempt(session: AsyncSession, frozen_clock: Clock) -> None:
    await make_user(session, email=NINA)
    await fail_patiently(session, frozen_clock, ACCOUNT_LOCK_AFTER)
    with pytest.raises(WrongCredentials):
        await sign_in(session, NINA, "wrong again", ELSEWHERE)
    with pytest.raises(AccountLocked):
        await sign_in(session, NINA, PASSWORD, ELSEWHERE)


async def test_an_address_that_signed_in_before_is_not_locked_by_others_failures(
    session: AsyncSession, frozen_clock: Clock
) -> None:
    await make_user(session, email=NINA)
    await session.commit()
    await sign_in(session, NINA, PASSWORD, HOME)
    await session.commit()
    await fail_patiently(session, frozen_clock, ACCOUNT_LOCK_AFTER)
    with pytest.raises(WrongCredentials):
        await sign_in(session, NINA, "a typo", HOME)  # the user mistypes while under attack
    assert (await sign_in(session, NINA, PASSWORD, HOME)).email == NINA


async def test_the_account_lock_ends_with_its_window(session: AsyncSession, frozen_clock: Clock) -> None:
    await make_user(session, email=NINA)
    await fail_patiently(session, frozen_clock, ACCOUNT_LOCK_AFTER)
    account = await session.get(LoginThrottle, (ACCOUNT, NINA, ""), populate_existing=True)
    assert account is not None
    frozen_clock.moment = account.counted_since + ACCOUNT_WINDOW + MAX_WAIT
    assert (await sign_in(session, NINA, PASSWORD, ATTACKER)).email == NINA


async def test_one_address_is_limited_across_all_accounts(session: AsyncSession, frozen_clock: Clock) -> None:
    await make_user(session, email=NINA)
    for number in range(ADDRESS_LIMIT):
        with pytest.raises(WrongCredentials):
            await sign_in(session, f"buyer{number}@northwind.example", "guess", ATTACKER)

    with pytest.raises(AddressLimited) as limited:
        await sign_in(session, NINA, PASSWORD, ATTACKER)
    assert "wait 15 minutes" in limited.value.message
    assert (await sign_in(session, NINA, PASSWORD, HOME)).email == NINA  # other addresses are not slowed
    frozen_clock.advance(seconds=ADDRESS_WINDOW.total_seconds())
    assert (await sign_in(session, NINA, PASSWORD, ATTACKER)).email == NINA


async def test_successful_sign_ins_do_not_use_up_the_address_limit(session: AsyncSession) -> None:
    """An office behind one address: many people signing in is no attack."""
    await make_user(session, email=NINA)
    for _ in range(ADDRESS_LIMIT + 5):
        await sign_in(session, NINA, PASSWORD, ATTACKER)
    address = await session.get(LoginThrottle, (ADDRESS, "", ATTACKER), populate_existing=True)
    assert address is not None and address.failed_count == 0


async def test_unknown_addresses_are_throttled_like_known_ones(session: AsyncSession, frozen_clock: Clock) -> None:
    await fail_patiently(session, frozen_clock, ACCOUNT_LOCK_AFTER, email="nobody@northwind.example")
    with pytest.raises(AccountLocked):
        await sign_in(session, "nobody@northwind.example", PASSWORD, ATTACKER)


async def test_success_forgets_the_failures_of_that_address(session: AsyncSession, frozen_clock: Clock) -> None:
    await make_user(session, email=NINA)
    await fail_patiently(session, frozen_clock, FREE_ATTEMPTS + 1, address=HOME)
    frozen_clock.advance(seconds=wait_after(FREE_ATTEMPTS + 1).total_seconds())
    await sign_in(session, NINA, PASSWORD, HOME)
    pair = await session.get(LoginThrottle, (PAIR, NINA, HOME), populate_existing=True)
    assert pair is not None and (pair.failed_count, pair.next_attempt_at) == (0, None)
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(WrongCredentials):
            await sign_in(session, NINA, "wrong", HOME)  # free again, no waiting


async def test_a_failure_is_counted_even_though_the_refusal_is_rolled_back(session: AsyncSession) -> None:
    await make_user(session, email=NINA)
    await session.commit()
    with pytest.raises(WrongCredentials) as refused:
        await sign_in(session, NINA, "wrong password", ATTACKER)
    await session.rollback()  # what the web layer does with a refused request
    counts = {row.scope: row.failed_count for row in await session.scalars(select(LoginThrottle))}
    assert counts == {PAIR: 1, ACCOUNT: 1, ADDRESS: 1}
    assert isinstance(refused.value, Refused) and refused.value.errors == {"": "Wrong email or password."}


async def test_an_address_longer_than_any_account_is_refused_like_a_wrong_password(session: AsyncSession) -> None:
    for email in ["n" * 10_000 + "@northwind.example", "nina\x00@northwind.example", ""]:
        with pytest.raises(WrongCredentials):
            await sign_in(session, email)
    with pytest.raises(WrongCredentials):
        await sign_in(session, NINA, "p" * 10_000)
    assert await session.scalar(select(func.count()).select_from(LoginThrottle)) == 0


def test_the_longest_address_is_the_length_of_the_column() -> None:
    assert User.__table__.c.email.type.length == EMAIL_MAX_LENGTH
    assert LoginThrottle.__table__.c.email.type.length == EMAIL_MAX_LENGTH


async def test_a_hash_made_with_older_parameters_is_replaced_at_sign_in(session: AsyncSession) -> None:
    older = CryptContext(schemes=["argon2"], argon2__memory_cost=256, argon2__rounds=2).hash(PASSWORD)
    user = await make_user(session, email=NINA, password_hash=older)
    await sign_in(session)
    assert user.password_hash != older
    assert "m=512,t=1" in user.password_hash and await passwords.verify_password(PASSWORD, user.password_hash)
    current = user.password_hash
    await sign_in(session)
    assert user.password_hash == current  # a current hash is kept


async def test_argon2_runs_off_the_event_loop() -> None:
    import asyncio
    import time

    real_cost = CryptContext(schemes=["argon2"]).hash(PASSWORD)  # the production parameters
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    assert await passwords.verify_password(PASSWORD, real_cost)
    elapsed = time.monotonic() - started
    ticker.cancel()
    assert elapsed > 0.05 and ticks >= elapsed / 0.01 / 3  # the loop kept running meanwhile


async def test_changing_the_password_needs_the_current_one(session: AsyncSession) -> None:
    user = await make_user(session, email=NINA)
    with pytest.raises(Refused) as wrong:
        await change_password(
            session, user, current="not it at all", new="a new password", repeat="a new password", address=HOME
        )
    assert wrong.value.errors == {"current_password": "This is not your current password."}
    with pytest.raises(Refused) as short:
        await change_password(session, user, current=PASSWORD, new="short", repeat="short", address=HOME)
    assert short.value.errors == {"new_password": "The password must have at least 10 characters."}
    with pytest.raises(Refused) as differ:
        await change_password(
            session, user, current=PASSWORD, new="a new password", repeat="a new passwort", address=HOME
        )
    assert differ.value.errors == {"repeat_password": "The two new passwords are not the same."}
    assert (await sign_in(session)).session_version == 0


async def test_a_changed_password_opens_and_the_old_one_no_longer_does(session: AsyncSession) -> None:
    user = await make_user(session, email=NINA)
    version = await change_password(
        session, user, current=PASSWORD, new="a new password", repeat="a new password", address=HOME
    )
    assert version == user.session_version == 1
    assert await sign_in(session, NINA, "a new password") is user
    with pytest.raises(WrongCredentials):
        await sign_in(session, NINA, PASSWORD)


async def test_guessing_the_current_password_is_throttled_like_a_sign_in(session: AsyncSession) -> None:
    user = await make_user(session, email=NINA)
    for _ in range(FREE_ATTEMPTS):
        with pytest.raises(Refused):
            await change_password(
                session, user, current="guess", new="a new password", repeat="a new password", address=ATTACKER
            )
    with pytest.raises(SlowDown):
        await change_password(
            session, user, current=PASSWORD, new="a new password", repeat="a new password", address=ATTACKER
        )


async def test_ending_sessions_raises_the_version(session: AsyncSession) -> None:
    user = await make_user(session, email=NINA)
    assert await end_sessions(session, user) == 1
    assert await end_sessions(session, user) == 2
    await session.refresh(user)
    assert user.session_version == 2


async def test_purge_deletes_expired_sessions_and_throttle_rows_nothing_needs(
    session: AsyncSession, frozen_clock: Clock
) -> None:
    now = frozen_clock.moment
    session.add_all(
        [
            WebSession(key="old", namespace="sessions", value=b"{}", expires_at=now - timedelta(seconds=1)),
            WebSession(key="live", namespace="sessions", value=b"{}", expires_at=now + timedelta(days=3)),
        ]
    )
    await make_user(session, email=NINA)
    await session.commit()
    await sign_in(session, NINA, PASSWORD, HOME)  # HOME becomes a known address
    await fail_patiently(session, frozen_clock, 2, address=ATTACKER)
    await session.commit()

    frozen_clock.moment = now + timedelta(days=2)
    sessions, throttles = await purge_expired(session, now + timedelta(seconds=1))
    assert (sessions, throttles) == (1, 0)  # at that moment every throttle row still counts
    sessions, throttles = await purge_expired(session, frozen_clock.moment)
    await session.commit()
    assert sessions == 0
    assert set(await session.scalars(select(WebSession.key))) == {"live"}
    kept = [(row.scope, row.address) for row in await session.scalars(select(LoginThrottle))]
    assert kept == [(PAIR, HOME)]  # the known address is remembered; the rest is gone
    assert throttles == 4  # account, two addresses, the attacker's pair


async def test_created_user_can_sign_in_with_the_chosen_password(session: AsyncSession) -> None:
    company = await make_company(session)
    user = await create_user(
        session,
        email="New@Buyer.example",
        full_name="New Buyer",
        password="a long password",
        role=Role.BUYER,
        company_id=company.id,
    )
    assert user.email == "new@buyer.example"
    assert user.password_hash.startswith("$argon2")
    assert await sign_in(session, "new@buyer.example", "a long password") is user


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"email": "no-at-sign"}, "email", "Enter a valid email address."),
        ({"password": "short"}, "password", "The password must have at least 10 characters."),
        ({"company_id": None}, "company", "A buyer must belong to an existing company."),
        ({"company_id": 999_999}, "company", "A buyer must belong to an existing company."),
        ({"role": Role.FINANCE}, "company", "Only buyers belong to a customer company."),
    ],
)
async def test_invalid_users_are_refused_with_the_field_at_fault(
    session: AsyncSession, fields: dict, field: str, message: str
) -> None:
    company = await make_company(session)
    values = {
        "email": "a@b.example",
        "full_name": "A",
        "password": "long enough pw",
        "role": Role.BUYER,
        "company_id": company.id,
        **fields,
    }
    with pytest.raises(InvalidUser) as invalid:
        await create_user(session, **values)
    assert (invalid.value.field, invalid.value.message) == (field, message)


async def test_email_is_unique_whatever_its_case(session: AsyncSession) -> None:
    await make_user(session, Role.FINANCE, email="finance@seller.example")
    with pytest.raises(InvalidUser) as invalid:
        await create_user(
            session, email="FINANCE@seller.example", full_name="F", password="long enough pw", role=Role.FINANCE
        )
    assert invalid.value.message == "A user with this email already exists."
