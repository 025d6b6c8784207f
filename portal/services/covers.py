"""Out-of-office cover: an account manager names a colleague who, from the first to the last
day of the absence (inclusive), sees and decides the queue of the manager's companies; an admin
may set or remove a cover for anyone. Both go through one rule (`checked_cover`) and are audited.
Each decision the deputy makes records on whose behalf it was made (`services/approvals.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal.errors import NotFound, Refused
from portal.i18n import format_date, gettext
from portal.models import Deputy, Role, User
from portal.services import audit
from portal.services.listing import ListQuery, Page, paginate, searched


class CoverInvalid(Refused):
    """The cover cannot be named as asked; `errors` says why, field by field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(gettext("Please correct the marked fields."), errors=errors)


_KNOWN = "covers.known"
"""`session.info` key: the colleagues each user covers on a day, as read with the signed-in user
(`services/visitors.py`), so the pages of that request ask no more."""


def absent_colleagues(deputy_id: SQLColumnExpression[int] | int, today: date | ColumnElement[date]) -> Select[int]:
    """SQL: the account managers whom `deputy_id` covers on `today`."""
    return select(Deputy.manager_id).where(
        Deputy.deputy_id == deputy_id, Deputy.starts_on <= today, Deputy.ends_on >= today
    )


def remember_covered(session: AsyncSession, user_id: int, today: date, absent: Iterable[int]) -> None:
    """What `absent_colleagues` gave for this user today, already read; `covered_managers` trusts it."""
    session.info.setdefault(_KNOWN, {})[(user_id, today)] = frozenset(absent)


async def covered_managers(session: AsyncSession, user: User, today: date) -> set[int]:
    """The account managers whose queue this user works today: their own, and those they deputise for."""
    known = session.info.get(_KNOWN, {}).get((user.id, today))
    absent = known if known is not None else await session.scalars(absent_colleagues(user.id, today))
    return {user.id, *absent} if user.role is Role.ACCOUNT_MANAGER else set(absent)


MAX_DAYS_AHEAD = 90
"""A cover ends at most this many days after today."""
COVER_FIELDS = ("manager", "deputy", "starts_on", "ends_on")


async def checked_cover(
    session: AsyncSession,
    manager: User | None,
    deputy_id: int | None,
    starts: date | None,
    ends: date | None,
    today: date,
    *,
    manager_field: str = "manager_id",
) -> Deputy:
    """The one rule of covers, for a manager naming their deputy and an admin setting a cover for
    anyone: manager and deputy are two different active account managers; both days are given, in
    order, the last not over yet and at most `MAX_DAYS_AHEAD` days ahead; and no other cover of the
    same manager shares a day. The cover, not yet added, or `CoverInvalid` field by field."""
    errors: dict[str, str] = {}
    if manager is None or manager.role is not Role.ACCOUNT_MANAGER or not manager.is_active:
        errors[manager_field] = gettext("Choose an active account manager.")
    deputy = await session.get(User, deputy_id) if deputy_id else None
    if (
        deputy is None
        or deputy.role is not Role.ACCOUNT_MANAGER
        or not deputy.is_active
        or (manager is not None and deputy.id == manager.id)
    ):
        errors["deputy_id"] = gettext("Choose another account manager.")
    if starts is None:
        errors["starts_on"] = gettext("Enter the first day of your absence.")
    if ends is None:
        errors["ends_on"] = gettext("Enter the last day of your absence.")
    elif starts is not None and ends < starts:
        errors["ends_on"] = gettext("The last day cannot be before the first.")
    elif ends < today:
        errors["ends_on"] = gettext("The absence is already over.")
    elif ends > today + timedelta(days=MAX_DAYS_AHEAD):
        errors["ends_on"] = gettext("A cover ends at most %(days)d days ahead, on %(day)s at the latest.") % {
            "days": MAX_DAYS_AHEAD,
            "day": format_date(today + timedelta(days=MAX_DAYS_AHEAD)),
        }
    if errors or manager is None or deputy is None or starts is None or ends is None:
        raise CoverInvalid(errors)
    other = await session.scalar(
        select(Deputy)
        .options(joinedload(Deputy.deputy))
        .where(Deputy.manager_id == manager.id, Deputy.starts_on <= ends, Deputy.ends_on >= starts)
        .order_by(Deputy.starts_on)
        .limit(1)
    )
    if other is not None:
        raise CoverInvalid(
            {
                "starts_on": gettext(
                    "%(manager)s is already covered by %(deputy)s from %(starts)s to %(ends)s; choose other days."
                )
                % {
                    "manager": manager.full_name,
                    "deputy": other.deputy.full_name,
                    "starts": format_date(other.starts_on),
                    "ends": format_date(other.ends_on),
                }
            }
        )
    return Deputy(
        manager_id=manager.id, deputy_id=deputy.id, starts_on=starts, ends_on=ends, manager=manager, deputy=deputy
    )


async def set_cover(
    session: AsyncSession,
    actor: User,
    manager_id: int | None,
    deputy_id: int | None,
    starts: date | None,
    ends: date | None,
    today: date,
) -> Deputy:
    """An admin sets a cover for any account manager (the rules of `checked_cover`), audited."""
    manager = await session.get(User, manager_id) if manager_id else None
    return await _save(session, actor, await checked_cover(session, manager, deputy_id, starts, ends, today))


async def name_deputy(
    session: AsyncSession, manager: User, deputy_id: int | None, starts: date | None, ends: date | None, today: date
) -> Deputy:
    """The manager names `deputy_id` to cover them from `starts` to `ends` (the rules of
    `checked_cover`), audited."""
    cover = await checked_cover(session, manager, deputy_id, starts, ends, today, manager_field="")
    return await _save(session, manager, cover)


def _cover_text(cover: Deputy) -> dict[str, str | None]:
    return {
        "manager": cover.manager.email,
        "deputy": cover.deputy.email,
        "starts_on": audit.as_text(cover.starts_on),
        "ends_on": audit.as_text(cover.ends_on),
    }


def _label(cover: Deputy) -> str:
    return f"{cover.manager.full_name} → {cover.deputy.full_name}, {cover.starts_on} – {cover.ends_on}"


async def _save(session: AsyncSession, actor: User, cover: Deputy) -> Deputy:
    session.info.pop(_KNOWN, None)
    session.add(cover)
    await session.flush()
    audit.record(
        session, actor, "create", "cover", cover.id, _label(cover), changes=audit.changed({}, _cover_text(cover))
    )
    return cover


async def _remove(session: AsyncSession, actor: User, cover: Deputy) -> None:
    await session.refresh(cover, ["manager", "deputy"])
    audit.record(
        session,
        actor,
        "remove",
        "cover",
        cover.id,
        _label(cover),
        changes={name: [value, None] for name, value in _cover_text(cover).items()},
    )
    session.info.pop(_KNOWN, None)
    await session.delete(cover)
    await session.flush()


@dataclass(frozen=True)
class Covers:
    """A manager's cover page: the covers they named and may end, those in which they are the
    deputy, and the colleagues who could cover."""

    mine: list[Deputy]
    covering: list[Deputy]
    colleagues: list[User]

    @property
    def any(self) -> bool:
        return bool(self.mine or self.covering)


async def covers_of(session: AsyncSession, manager: User, today: date) -> Covers:
    """The manager's current and coming covers, either way round, and who could cover."""
    covers = list(
        await session.scalars(
            select(Deputy)
            .options(joinedload(Deputy.deputy), joinedload(Deputy.manager))
            .where(Deputy.ends_on >= today, (Deputy.manager_id == manager.id) | (Deputy.deputy_id == manager.id))
            .order_by(Deputy.starts_on, Deputy.id)
        )
    )
    colleagues = list(
        await session.scalars(
            select(User)
            .where(User.role == Role.ACCOUNT_MANAGER, User.is_active, User.id != manager.id)
            .order_by(User.full_name)
        )
    )
    return Covers(
        mine=[c for c in covers if c.manager_id == manager.id],
        covering=[c for c in covers if c.manager_id != manager.id],
        colleagues=colleagues,
    )


async def end_cover(session: AsyncSession, manager: User, cover_id: int) -> None:
    """Removes a cover the manager named; another's cover does not exist for them."""
    cover = await session.get(Deputy, cover_id)
    if cover is None or cover.manager_id != manager.id:
        raise NotFound()
    await _remove(session, manager, cover)


async def remove_cover(session: AsyncSession, actor: User, cover_id: int) -> None:
    """An admin removes any cover, audited."""
    cover = await session.get(Deputy, cover_id)
    if cover is None:
        raise NotFound()
    await _remove(session, actor, cover)


COVER_STATES = ("current", "future", "ended", "all")
"""The admin list's `state` filter; none: current and future."""


async def cover_list(session: AsyncSession, query: ListQuery, today: date) -> Page[Deputy]:
    """A page of covers for the admin, searched by the manager's or the deputy's name; filters
    `manager` (an id) and `state` (`COVER_STATES`; none: in force today or to come); sorted by
    `starts` (the default), `ends` or `manager`. Two queries."""
    manager, deputy = aliased(User), aliased(User)
    statement: Select[Any] = (
        select(Deputy)
        .join(manager, Deputy.manager_id == manager.id)
        .join(deputy, Deputy.deputy_id == deputy.id)
        .options(contains_eager(Deputy.manager.of_type(manager)), contains_eager(Deputy.deputy.of_type(deputy)))
    )
    statement = searched(statement, query.search, [manager.full_name.expression, deputy.full_name.expression])
    state = query.filter("state")
    if state == "current":
        statement = statement.where(Deputy.starts_on <= today, Deputy.ends_on >= today)
    elif state == "future":
        statement = statement.where(Deputy.starts_on > today)
    elif state == "ended":
        statement = statement.where(Deputy.ends_on < today)
    elif state != "all":
        statement = statement.where(Deputy.ends_on >= today)
    if isinstance(query.filter("manager"), int):
        statement = statement.where(Deputy.manager_id == query.filter("manager"))
    sorts: dict[str, ColumnElement[Any]] = {
        "starts": Deputy.starts_on.expression,
        "ends": Deputy.ends_on.expression,
        "manager": manager.full_name.expression,
    }
    return await paginate(session, statement, query, sorts=sorts, default_sort="starts", tiebreak=Deputy.id.expression)


async def account_managers(session: AsyncSession) -> list[User]:
    """The active account managers, by name: who can cover or be covered."""
    return list(
        await session.scalars(
            select(User).where(User.role == Role.ACCOUNT_MANAGER, User.is_active).order_by(User.full_name, User.id)
        )
    )
