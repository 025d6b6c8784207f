"""Signing in: the right password opens, everything else is refused in words
that never tell whether an address has an account; repeated failures slow down,
then lock."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.models import LoginThrottle, Role, User
from portal.services.accounts import (
    EMAIL_MAX_LENGTH,
    FREE_ATTEMPTS,
    LOCK_AFTER,
    LOCK_DURATION,
    AccountLocked,
    InvalidUser,
    SlowDown,
    WrongCredentials,
    authenticate,
    create_user,
    wait_after,
)
from tests.conftest import Clock
from tests.factories import PASSWORD, make_company, make_user


async def fail_once(session: AsyncSession, clock: Clock, email: str) -> None:
    with pytest.raises(WrongCredentials):
        await authenticate(session, email, "wrong password")
    clock.advance(seconds=31)


async def test_right_password_signs_in_whatever_the_case_of_the_email(session: AsyncSession) -> None:
    user = await make_user(session, email="nina@northwind.example")
    assert await authenticate(session, "  Nina@NorthWind.example ", PASSWORD) is user


async def test_wrong_password_and_unknown_email_get_the_same_message(session: AsyncSession) -> None:
    await make_user(session, email="nina@northwind.example")
    with pytest.raises(WrongCredentials) as wrong_password:
        await authenticate(session, "nina@northwind.example", "not it")
    with pytest.raises(WrongCredentials) as unknown:
        await authenticate(session, "nobody@northwind.example", "not it")
    assert wrong_password.value.message == unknown.value.message == "Wrong email or password."


async def test_inactive_user_cannot_sign_in(session: AsyncSession) -> None:
    await make_user(session, email="gone@northwind.example", is_active=False)
    with pytest.raises(WrongCredentials):
        await authenticate(session, "gone@northwind.example", PASSWORD)


async def test_after_free_attempts_the_next_one_must_wait(session: AsyncSession, frozen_clock: Clock) -> None:
    await make_user(session, email="nina@northwind.example")
    for _ in range(FREE_ATTEMPTS - 1):
        await fail_once(session, frozen_clock, "nina@northwind.example")
    with pytest.raises(WrongCredentials):
        await authenticate(session, "nina@northwind.example", "wrong")

    with pytest.raises(SlowDown) as slowed:
        await authenticate(session, "nina@northwind.example", PASSWORD)
    assert slowed.value.retry_at == frozen_clock.moment + wait_after(FREE_ATTEMPTS)

    frozen_clock.advance(seconds=wait_after(FREE_ATTEMPTS).total_seconds())
    assert (await authenticate(session, "nina@northwind.example", PASSWORD)).email == "nina@northwind.example"


async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    session: AsyncSession, frozen_clock: Clock
) -> None:
    await make_user(session, email="nina@northwind.example")
    for _ in range(LOCK_AFTER):
        await fail_once(session, frozen_clock, "nina@northwind.example")

    with pytest.raises(AccountLocked) as locked:
        await authenticate(session, "nina@northwind.example", PASSWORD)
    assert "locked" in locked.value.message

    frozen_clock.advance(seconds=LOCK_DURATION.total_seconds())
    assert await authenticate(session, "nina@northwind.example", PASSWORD)


async def test_unknown_addresses_are_throttled_like_known_ones(session: AsyncSession, frozen_clock: Clock) -> None:
    for _ in range(LOCK_AFTER):
        await fail_once(session, frozen_clock, "nobody@northwind.example")
    with pytest.raises(AccountLocked):
        await authenticate(session, "nobody@northwind.example", PASSWORD)


async def test_success_forgets_earlier_failures(session: AsyncSession, frozen_clock: Clock) -> None:
    await make_user(session, email="nina@northwind.example")
    for _ in range(LOCK_AFTER - 1):
        await fail_once(session, frozen_clock, "nina@northwind.example")
    await authenticate(session, "nina@northwind.example", PASSWORD)
    for _ in range(LOCK_AFTER - 1):
        await fail_once(session, frozen_clock, "nina@northwind.example")
    assert await authenticate(session, "nina@northwind.example", PASSWORD)


async def test_a_failure_is_counted_even_though_the_refusal_is_rolled_back(session: AsyncSession) -> None:
    await make_user(session, email="nina@northwind.example")
    await session.commit()
    with pytest.raises(WrongCredentials) as refused:
        await authenticate(session, "nina@northwind.example", "wrong password")
    await session.rollback()  # what the web layer does with a refused request
    throttle = await session.get(LoginThrottle, "nina@northwind.example")
    assert throttle is not None and throttle.failed_count == 1
    assert isinstance(refused.value, Refused) and refused.value.errors == {"": "Wrong email or password."}


async def test_an_address_longer_than_any_account_is_refused_like_a_wrong_password(session: AsyncSession) -> None:
    for email in ["n" * 10_000 + "@northwind.example", "nina\x00@northwind.example"]:
        with pytest.raises(WrongCredentials):
            await authenticate(session, email, PASSWORD)
    with pytest.raises(WrongCredentials):
        await authenticate(session, "nina@northwind.example", "p" * 10_000)
    assert await session.scalar(select(func.count()).select_from(LoginThrottle)) == 0


def test_the_longest_address_is_the_length_of_the_column() -> None:
    assert User.__table__.c.email.type.length == EMAIL_MAX_LENGTH
    assert LoginThrottle.__table__.c.email.type.length == EMAIL_MAX_LENGTH


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
    assert await authenticate(session, "new@buyer.example", "a long password") is user


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
