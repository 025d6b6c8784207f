"""Which customer companies a user may look at: a buyer only their own, an
account manager those assigned to them, an admin all."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Company, Role, User


def can_view_as_customer(user: User) -> bool:
    return user.role in (Role.ACCOUNT_MANAGER, Role.ADMIN)


def _viewable(user: User):  # type: ignore[no-untyped-def]
    query = select(Company).order_by(Company.name)
    if user.role is Role.ACCOUNT_MANAGER:
        return query.where(Company.account_manager_id == user.id)
    if user.role is Role.ADMIN:
        return query
    return query.where(Company.id == user.company_id) if user.role is Role.BUYER else query.where(False)


async def viewable_company(session: AsyncSession, user: User, company_id: int | None) -> Company | None:
    """The company whose view this user gets: a buyer always their own; staff the one
    asked for, if it is theirs to see. None means: not found, as if it did not exist."""
    if user.role is Role.BUYER:
        return user.company
    if company_id is None:
        return None
    return await session.scalar(_viewable(user).where(Company.id == company_id))


async def viewable_companies(session: AsyncSession, user: User) -> list[Company]:
    return list(await session.scalars(_viewable(user)))
