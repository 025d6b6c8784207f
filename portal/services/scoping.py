"""Which customers a user may see and act on: the one rule every page, list and action asks.

- An account manager sees the companies assigned to them and, while a cover is in force
  (`services/covers.py`), the companies of each colleague they cover: every page of them.
- Finance and admins see every company.
- A buyer sees their own company only.
Anything else is `NotFound`, exactly as a thing that does not exist, so a foreign id tells
nothing. Deciding an order is narrower (`decider`): the company's own account manager, their
deputy while covering (on the manager's behalf), or an admin.

A prospect (`Prospect`, a company that is not a customer yet) is seen by its owner, by a colleague
covering for the owner, and by finance and admins (`prospect_filter`). A CRM record (contact, activity,
task, opportunity) is seen by whoever sees its customer or prospect (`can_view_crm`); a task tied to
neither by its owner, or by its team's role, and by admins.

Pages ask `can_view_customer` (or, for an order, note, invoice or schedule, its company from
`company_of`); lists filter with `company_filter`, so covered companies appear everywhere at once."""

from __future__ import annotations

from datetime import date
from typing import Literal

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound
from portal.models import (
    Activity,
    Company,
    Contact,
    CustomerNote,
    DeliverySchedule,
    Invoice,
    Opportunity,
    Order,
    Prospect,
    Role,
    ShoppingList,
    Task,
    User,
)
from portal.services.covers import absent_colleagues, covered_managers

EVERY_COMPANY = None
"""`managers_in_charge` of someone who sees every company (finance, admins)."""

Owned = Literal["order", "note", "invoice", "schedule", "list"]
OWNED: dict[Owned, type[Order] | type[CustomerNote] | type[Invoice] | type[DeliverySchedule] | type[ShoppingList]] = {
    "order": Order,
    "note": CustomerNote,
    "invoice": Invoice,
    "schedule": DeliverySchedule,
    "list": ShoppingList,
}
"""What belongs to one customer and is named by its id in an address."""


async def managers_in_charge(session: AsyncSession, user: User, today: date) -> frozenset[int] | None:
    """The account managers whose companies this user sees today: for an account manager, themselves
    and each colleague they cover; `EVERY_COMPANY` (None) for finance and admins; none for a buyer
    (who sees their own company, see `company_filter`)."""
    if user.role in (Role.FINANCE, Role.ADMIN):
        return EVERY_COMPANY
    if user.role is Role.ACCOUNT_MANAGER:
        return frozenset(await covered_managers(session, user, today))
    return frozenset()


def company_filter(user: User, in_charge: frozenset[int] | None) -> ColumnElement[bool]:
    """The condition on `Company` that keeps the companies this user sees, given `managers_in_charge`."""
    if user.role is Role.BUYER:
        return Company.id == user.company_id if user.company_id is not None else false()
    if in_charge is EVERY_COMPANY:
        return true()
    return Company.account_manager_id.in_(sorted(in_charge)) if in_charge else false()


def signed_in_company_filter(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    """`company_filter` in SQL for the `User` of the enclosing statement (today's covers read in it),
    for figures folded into the statement that loads the signed-in user."""
    covered = or_(
        Company.account_manager_id == User.id, Company.account_manager_id.in_(absent_colleagues(User.id, today))
    )
    return or_(
        User.role.in_((Role.FINANCE, Role.ADMIN)),
        and_(User.role == Role.ACCOUNT_MANAGER, covered),
        and_(User.role == Role.BUYER, Company.id == User.company_id),
    )


async def visible_companies_filter(session: AsyncSession, user: User, today: date) -> ColumnElement[bool]:
    """`company_filter` for today, in one call."""
    return company_filter(user, await managers_in_charge(session, user, today))


async def can_view_customer(session: AsyncSession, user: User, company_id: int, today: date) -> bool:
    """May this user see this company's pages (and act on them, as far as their role allows)?"""
    if user.role is Role.BUYER:
        return user.company_id == company_id
    condition = await visible_companies_filter(session, user, today)
    found = await session.scalar(select(Company.id).where(Company.id == company_id, condition))
    return found is not None


async def visible_company(session: AsyncSession, user: User, company_id: int, today: date) -> Company:
    """The company, if this user may see it; otherwise `NotFound`, as one that does not exist."""
    condition = await visible_companies_filter(session, user, today)
    company = await session.scalar(select(Company).where(Company.id == company_id, condition))
    if company is None:
        raise NotFound()
    return company


async def visible_companies(session: AsyncSession, user: User, today: date) -> list[Company]:
    """Every company this user sees, by name."""
    condition = await visible_companies_filter(session, user, today)
    return list(await session.scalars(select(Company).where(condition).order_by(Company.name, Company.id)))


async def company_of(session: AsyncSession, kind: Owned, object_id: int) -> int | None:
    """The company an order, note, invoice, schedule or list belongs to; None if there is no such thing."""
    model = OWNED[kind]
    return await session.scalar(select(model.company_id).where(model.id == object_id))


async def decider(session: AsyncSession, user: User, company: Company, today: date) -> tuple[bool, int | None]:
    """May this user decide this company's orders today, and on whose behalf? Admins decide any order;
    the company's account manager in their own right; a colleague covering for them on their behalf."""
    if user.role is Role.ADMIN:
        return True, None
    if user.role is not Role.ACCOUNT_MANAGER or company.account_manager_id is None:
        return False, None
    if company.account_manager_id == user.id:
        return True, None
    if company.account_manager_id in await covered_managers(session, user, today):
        return True, company.account_manager_id
    return False, None


async def can_decide_order(session: AsyncSession, user: User, order: Order, today: date) -> bool:
    """May this user approve or reject this order (whatever its status)?"""
    company = await session.get(Company, order.company_id)
    return company is not None and (await decider(session, user, company, today))[0]


# --- prospects and the CRM's records --------------------------------------------------------------


def prospect_filter(user: User, in_charge: frozenset[int] | None) -> ColumnElement[bool]:
    """The condition on `Prospect` that keeps the prospects this user sees, given `managers_in_charge`."""
    if user.role is Role.BUYER:
        return false()
    if in_charge is EVERY_COMPANY:
        return true()
    return Prospect.owner_id.in_(sorted(in_charge)) if in_charge else false()


async def visible_prospects_filter(session: AsyncSession, user: User, today: date) -> ColumnElement[bool]:
    return prospect_filter(user, await managers_in_charge(session, user, today))


async def can_view_prospect(session: AsyncSession, user: User, prospect_id: int, today: date) -> bool:
    condition = await visible_prospects_filter(session, user, today)
    return await session.scalar(select(Prospect.id).where(Prospect.id == prospect_id, condition)) is not None


CrmKind = Literal["contact", "activity", "task", "opportunity"]
CRM: dict[CrmKind, type[Contact] | type[Activity] | type[Task] | type[Opportunity]] = {
    "contact": Contact,
    "activity": Activity,
    "task": Task,
    "opportunity": Opportunity,
}


async def can_view_crm(session: AsyncSession, user: User, kind: CrmKind, object_id: int, today: date) -> bool:
    """May this user see this contact, activity, task or opportunity? Whoever sees its customer (or,
    before it became one, its prospect) does; a task about neither is its owner's or its team's."""
    if user.role is Role.BUYER:
        return False
    model = CRM[kind]
    row = (
        await session.execute(select(model.company_id, model.prospect_id).where(model.id == object_id))
    ).one_or_none()
    if row is None:
        return False
    company_id, prospect_id = row
    if company_id is not None:
        return await can_view_customer(session, user, company_id, today)
    if prospect_id is not None:
        return await can_view_prospect(session, user, prospect_id, today)
    assert kind == "task"
    owner_id, team = (await session.execute(select(Task.owner_id, Task.team).where(Task.id == object_id))).one()
    return user.role is Role.ADMIN or owner_id == user.id or team is user.role
