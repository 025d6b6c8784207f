"""Collisions between transactions: locks in one order, a bounded retry when the database gives
a transaction up (deadlock, serialization failure, SQLite locked), "try again" when it runs out;
notification settings saved at once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.models import Company, NotificationKind, NotificationOptOut, User
from portal.services import notifications, transactions
from portal.services.transactions import ATTEMPTS, Busy, is_collision, lock_rows, retried
from tests.conftest import backend
from tests.factories import make_company, make_user


class _DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def collision(sqlstate: str | None = "40P01", message: str = "deadlock detected") -> OperationalError:
    return OperationalError("UPDATE …", {}, _DriverError(message, sqlstate))


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transactions.random, "uniform", lambda low, high: 0.0)


def test_only_a_collision_is_retried() -> None:
    assert is_collision(collision("40P01"))
    assert is_collision(collision("40001", "could not serialize access"))
    assert is_collision(collision(None, "database is locked"))
    assert not is_collision(collision("42P01", "relation does not exist"))
    assert not is_collision(IntegrityError("INSERT …", {}, _DriverError("duplicate key", "23505")))
    assert not is_collision(ValueError("database is locked"))


async def test_a_collision_starts_the_unit_of_work_over_with_the_objects_loaded_again(session: AsyncSession) -> None:
    buyer = await make_user(session, email="nina@northwind.example")
    await session.refresh(buyer, ["company"])
    await session.commit()  # the rollback takes back the unit of work only
    calls: list[str] = []

    @retried
    async def rename_company(session: AsyncSession, user: User, name: str) -> str:
        assert user.company is not None
        calls.append(user.company.name)
        user.company.name = name
        await session.flush()
        if len(calls) == 1:
            raise collision()
        return f"{user.email}: {user.company.name}"

    before = buyer.company.name if buyer.company else ""
    assert await rename_company(session, buyer, "Renamed") == "nina@northwind.example: Renamed"
    assert calls == [before, before]  # the first run's change was rolled back before the second


async def test_collisions_that_go_on_end_in_busy_and_nothing_saved(session: AsyncSession) -> None:
    buyer = await make_user(session)
    calls = 0

    @retried
    async def always(session: AsyncSession, user: User) -> None:
        nonlocal calls
        calls += 1
        raise collision("40001", "could not serialize access")

    with pytest.raises(Busy, match="please try again") as busy:
        await always(session, buyer)
    assert calls == ATTEMPTS and busy.value.status_code == 409


async def test_other_database_errors_are_not_retried(session: AsyncSession) -> None:
    calls = 0

    @retried
    async def broken(session: AsyncSession) -> None:
        nonlocal calls
        calls += 1
        raise collision("42P01", "relation does not exist")

    with pytest.raises(OperationalError):
        await broken(session)
    assert calls == 1


async def test_a_retried_function_inside_another_is_started_over_by_the_outer_one(session: AsyncSession) -> None:
    runs = {"outer": 0, "inner": 0}

    @retried
    async def inner(session: AsyncSession) -> None:
        runs["inner"] += 1
        if runs["inner"] == 1:
            raise collision()

    @retried
    async def outer(session: AsyncSession) -> None:
        runs["outer"] += 1
        await inner(session)

    await outer(session)
    assert runs == {"outer": 2, "inner": 2}


async def _two_companies(session: AsyncSession) -> tuple[int, int]:
    first, second = await make_company(session), await make_company(session)
    await session.commit()
    return first.id, second.id


async def test_a_real_deadlock_is_retried_and_both_succeed(engine: AsyncEngine, session: AsyncSession) -> None:
    """Two transactions take two rows in opposite order: PostgreSQL gives one up (40P01); it is
    started over once the other has committed, and both changes are kept."""
    if backend() != "postgresql":
        pytest.skip("row locks and deadlocks are a PostgreSQL matter")
    ids = await _two_companies(session)
    makers = async_sessionmaker(engine, expire_on_commit=False)
    runs = 0

    @retried
    async def both(own: AsyncSession, order: tuple[int, int], name: str) -> None:
        nonlocal runs
        runs += 1
        for company_id in order:
            await own.execute(select(Company.id).where(Company.id == company_id).with_for_update())
            await asyncio.sleep(0.2)
        for company_id in order:
            company = await own.get(Company, company_id)
            assert company is not None
            company.name = f"{company.name} {name}"
        await own.flush()

    async def transaction(order: tuple[int, int], name: str) -> None:
        async with makers() as own:
            await both(own, order, name)
            await own.commit()

    await asyncio.gather(transaction(ids, "A"), transaction(ids[::-1], "B"))
    assert runs == 3  # one of the two ran twice
    session.expire_all()
    names = [(await session.get(Company, company_id)).name for company_id in ids]  # type: ignore[union-attr]
    assert all(name.endswith((" A B", " B A")) for name in names)


async def test_rows_locked_in_one_order_never_deadlock(engine: AsyncEngine, session: AsyncSession) -> None:
    if backend() != "postgresql":
        pytest.skip("row locks and deadlocks are a PostgreSQL matter")
    ids = await _two_companies(session)
    makers = async_sessionmaker(engine, expire_on_commit=False)
    runs = 0

    @retried
    async def both(own: AsyncSession, order: tuple[int, int]) -> None:
        nonlocal runs
        runs += 1
        await lock_rows(own, Company, order)
        await asyncio.sleep(0.2)

    async def transaction(order: tuple[int, int]) -> None:
        async with makers() as own:
            await both(own, order)
            await own.commit()

    await asyncio.gather(transaction(ids), transaction(ids[::-1]))
    assert runs == 2


async def test_lock_rows_on_sqlite_takes_the_write_lock_and_changes_nothing(session: AsyncSession) -> None:
    ids = await _two_companies(session)
    names = [(await session.get(Company, company_id)).name for company_id in ids]  # type: ignore[union-attr]
    await lock_rows(session, Company, ids)
    await lock_rows(session, Company, [])
    session.expire_all()
    assert [(await session.get(Company, company_id)).name for company_id in ids] == names  # type: ignore[union-attr]


async def _off(session: AsyncSession, user_id: int) -> set[NotificationKind]:
    return set(await session.scalars(select(NotificationOptOut.kind).where(NotificationOptOut.user_id == user_id)))


async def test_notification_settings_are_saved_whole_each_time(session: AsyncSession) -> None:
    buyer = await make_user(session)
    optional = {kind for kind in NotificationKind if kind.optional}
    await notifications.set_preferences(session, buyer, set())
    assert await _off(session, buyer.id) == optional
    await notifications.set_preferences(session, buyer, set())  # the same again changes nothing
    assert await _off(session, buyer.id) == optional
    await notifications.set_preferences(session, buyer, {NotificationKind.CREDIT_CHANGED})
    assert await _off(session, buyer.id) == optional - {NotificationKind.CREDIT_CHANGED}
    await notifications.set_preferences(session, buyer, set(NotificationKind))
    assert await _off(session, buyer.id) == set()


async def test_notification_settings_saved_at_once_end_as_one_of_them(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    if backend() != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite serialises them by design")
    buyer = await make_user(session)
    await session.commit()
    makers = async_sessionmaker(engine, expire_on_commit=False)
    optional = sorted(kind for kind in NotificationKind if kind.optional)
    choices = [set(optional[:number]) for number in range(len(optional) + 1)] * 3

    async def save(wanted: set[NotificationKind]) -> None:
        async with makers() as own:
            user = await own.get(User, buyer.id)
            assert user is not None
            await notifications.set_preferences(own, user, wanted)
            await asyncio.sleep(0.05)
            await own.commit()

    await asyncio.gather(*[save(wanted) for wanted in choices])
    assert await _off(session, buyer.id) in [set(optional) - wanted for wanted in choices]
