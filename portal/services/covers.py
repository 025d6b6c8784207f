"""Out-of-office cover: an account manager names a colleague who, from the first to the last
day of the absence (inclusive), sees and decides the queue of the manager's companies. Each
decision the deputy makes records on whose behalf it was made (`services/approvals.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal.errors import NotFound, Refused
from portal.i18n import gettext
from portal.models import Deputy, Role, User


class CoverInvalid(Refused):
    """The cover cannot be named as asked; `errors` says why, field by field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(gettext("Please correct the marked fields."), errors=errors)


async def covered_managers(session: AsyncSession, user: User, today: date) -> set[int]:
    """The account managers whose queue this user works today: their own, and those they deputise for."""
    absent = await session.scalars(
        select(Deputy.manager_id).where(Deputy.deputy_id == user.id, Deputy.starts_on <= today, Deputy.ends_on >= today)
    )
    return {user.id, *absent} if user.role is Role.ACCOUNT_MANAGER else set(absent)


async def name_deputy(
    session: AsyncSession, manager: User, deputy_id: int | None, starts: date | None, ends: date | None, today: date
) -> Deputy:
    """Names `deputy_id` to cover `manager` from `starts` to `ends`; refuses an absence already
    over, dates in the wrong order, or anyone but another active account manager."""
    errors: dict[str, str] = {}
    deputy = await session.get(User, deputy_id) if deputy_id else None
    if deputy is None or deputy.role is not Role.ACCOUNT_MANAGER or not deputy.is_active or deputy.id == manager.id:
        errors["deputy_id"] = gettext("Choose another account manager.")
    if starts is None:
        errors["starts_on"] = gettext("Enter the first day of your absence.")
    if ends is None:
        errors["ends_on"] = gettext("Enter the last day of your absence.")
    elif starts is not None and ends < starts:
        errors["ends_on"] = gettext("The last day cannot be before the first.")
    elif ends < today:
        errors["ends_on"] = gettext("The absence is already over.")
    if errors or deputy is None or starts is None or ends is None:
        raise CoverInvalid(errors)
    cover = Deputy(manager_id=manager.id, deputy_id=deputy.id, starts_on=starts, ends_on=ends)
    session.add(cover)
    await session.flush()
    return cover


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
    await session.delete(cover)
    await session.flush()
