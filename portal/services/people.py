"""The admin's people: the users list, one user's page, deactivating and reactivating a user,
changing a staff member's role, and giving companies to account managers in bulk; and the users
CSV kind (`UsersKind`), whose new rows are invitations.

Rules kept here:
- an admin never locks themselves out: they cannot deactivate or demote their own account;
- deactivating a user ends their sessions at once (the session version is raised);
- an account manager who still has companies keeps their role and stays active until the
  companies are given to someone else (`reassign`);
- a buyer stays a buyer of their company: moving them to another company is a new invitation;
- every change is audited in its own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, contains_eager, joinedload
from sqlalchemy.sql.elements import ColumnElement

from portal.errors import NotFound, Refused
from portal.i18n import N_, gettext, ngettext
from portal.models import AccessToken, AuditEntry, Company, Role, TokenPurpose, User
from portal.services import accounts, audit, invitations, lookup
from portal.services.companies_admin import compact_tax_id
from portal.services.invitations import Invitee
from portal.services.listing import ListQuery, Page, paginate, searched
from portal.services.master_data import Change, Column, Outcome, Plan, PlanRefused, Row, RowError

STAFF_ROLES = (Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)
ROLE_LABELS = {
    Role.BUYER: N_("Buyer"),
    Role.ACCOUNT_MANAGER: N_("Account manager"),
    Role.FINANCE: N_("Finance"),
    Role.ADMIN: N_("Administrator"),
}
"""How a role reads on a page; translated when shown (`role_label`)."""


def role_label(who: Role | str | User | AccessToken) -> str:
    """A role as it reads, given the role or who has it (a user, an invitation)."""
    role = who.role if isinstance(who, User | AccessToken) else Role(who)
    return gettext(ROLE_LABELS[role])


# The users list.
USER_SORTS: dict[str, ColumnElement[Any]] = {
    "name": User.full_name.expression,
    "email": User.email.expression,
    "role": User.role.expression,
    "company": Company.name.expression,
    "created": User.created_at.expression,
}


@dataclass(frozen=True)
class UserFilter:
    role: Role | None = None
    company_id: int | None = None
    active: bool | None = None


async def users(session: AsyncSession, query: ListQuery, wanted: UserFilter) -> Page[User]:
    """One page of users with their companies: searched by name or e-mail, filtered by role, company
    and status, sorted (two queries)."""
    statement = select(User).outerjoin(Company, User.company_id == Company.id).options(contains_eager(User.company))
    statement = searched(statement, query.search, [User.full_name.expression, User.email.expression])
    if wanted.role is not None:
        statement = statement.where(User.role == wanted.role)
    if wanted.company_id is not None:
        statement = statement.where(User.company_id == wanted.company_id)
    if wanted.active is not None:
        statement = statement.where(User.is_active.is_(wanted.active))
    return await paginate(session, statement, query, sorts=USER_SORTS, default_sort="name", tiebreak=User.id.expression)


async def companies_to_choose(session: AsyncSession, *, active_only: bool = False) -> list[Company]:
    statement = select(Company).order_by(Company.name, Company.id)
    if active_only:
        statement = statement.where(Company.is_active)
    return list(await session.scalars(statement))


@dataclass(frozen=True)
class UserPage:
    user: User
    companies: int
    """For an account manager: how many companies they are assigned."""
    history: list[AuditEntry]


async def user_page(session: AsyncSession, user_id: int) -> UserPage:
    user = await session.scalar(select(User).options(joinedload(User.company)).where(User.id == user_id))
    if user is None:
        raise NotFound()
    return UserPage(user, await _managed(session, user), await audit.history(session, "user", user.id))


async def _managed(session: AsyncSession, user: User) -> int:
    if user.role is not Role.ACCOUNT_MANAGER:
        return 0
    return (
        await session.scalar(select(func.count()).select_from(Company).where(Company.account_manager_id == user.id))
        or 0
    )


async def _user(session: AsyncSession, user_id: int) -> User:
    return await lookup.one(session, User, user_id)


async def _still_manages(session: AsyncSession, user: User) -> None:
    count = await _managed(session, user)
    if count:
        raise Refused(
            ngettext(
                "%(num)d company still has this account manager: reassign it first.",
                "%(num)d companies still have this account manager: reassign them first.",
                count,
            )
            % {"num": count}
        )


async def deactivate(session: AsyncSession, actor: User, user_id: int) -> User:
    """The user can no longer sign in and every session of theirs ends now; their history stays."""
    user = await _user(session, user_id)
    if user.id == actor.id:
        raise Refused(gettext("You cannot deactivate your own account."))
    if not user.is_active:
        return user
    await _still_manages(session, user)
    user.is_active = False
    await accounts.end_sessions(session, user)
    audit.record(
        session, actor, "deactivate", "user", user.id, user.email, company_id=user.company_id,
        changes={"is_active": ["yes", "no"]},
    )  # fmt: skip
    return user


async def reactivate(session: AsyncSession, actor: User, user_id: int) -> User:
    user = await _user(session, user_id)
    if user.is_active:
        return user
    user.is_active = True
    await session.flush()
    audit.record(
        session, actor, "reactivate", "user", user.id, user.email, company_id=user.company_id,
        changes={"is_active": ["no", "yes"]},
    )  # fmt: skip
    return user


async def change_role(session: AsyncSession, actor: User, user_id: int, role: Role) -> User:
    """Moves a staff member to another staff role. A buyer stays a buyer, nobody becomes one here,
    an admin keeps their own role, and a manager with companies keeps theirs until reassigned."""
    user = await _user(session, user_id)
    if user.role is Role.BUYER:
        raise Refused(gettext("A buyer stays a buyer; invite the person again for another role."), "role")
    if role not in STAFF_ROLES:
        raise Refused(gettext("Choose a staff role."), "role")
    if user.id == actor.id and role is not user.role:
        raise Refused(gettext("You cannot change your own role."), "role")
    if role is user.role:
        return user
    if user.role is Role.ACCOUNT_MANAGER:
        await _still_manages(session, user)
    before = user.role
    user.role = role
    await session.flush()
    audit.record(
        session, actor, "update", "user", user.id, user.email, changes={"role": [before.value, role.value]}
    )  # fmt: skip
    return user


# Assignments.
NO_MANAGER = 0
"""`manager` filter value: companies without an account manager."""


async def companies_for_assignment(session: AsyncSession, manager_id: int | None) -> list[Company]:
    """Companies with their managers, all of them or those of one manager (`NO_MANAGER`: none), by name."""
    statement = select(Company).options(joinedload(Company.account_manager)).order_by(Company.name, Company.id)
    if manager_id == NO_MANAGER:
        statement = statement.where(Company.account_manager_id.is_(None))
    elif manager_id is not None:
        statement = statement.where(Company.account_manager_id == manager_id)
    return list(await session.scalars(statement))


async def assignment_list(session: AsyncSession, query: ListQuery) -> Page[Company]:
    """A page of companies with their managers, searched by name or NIP; filter `manager` (an id;
    `NO_MANAGER`: none); sorted by `name` (the default) or `manager` (none first). Two queries."""
    manager = aliased(User)
    statement: Select[Any] = (
        select(Company)
        .outerjoin(manager, Company.account_manager_id == manager.id)
        .options(contains_eager(Company.account_manager.of_type(manager)))
    )
    statement = searched(statement, query.search, [Company.name.expression, Company.tax_id.expression])
    wanted = query.filter("manager")
    if wanted == NO_MANAGER:
        statement = statement.where(Company.account_manager_id.is_(None))
    elif isinstance(wanted, int):
        statement = statement.where(Company.account_manager_id == wanted)
    sorts: dict[str, ColumnElement[Any]] = {
        "name": Company.name.expression,
        "manager": func.coalesce(manager.full_name, ""),  # companies without a manager first, on every database
    }
    return await paginate(session, statement, query, sorts=sorts, default_sort="name", tiebreak=Company.id.expression)


async def reassign(session: AsyncSession, actor: User, company_ids: Sequence[int], manager_id: int | None) -> int:
    """Gives every chosen company to one active account manager, in one transaction, each change
    audited (account_manager old → new e-mail). How many companies changed hands."""
    errors: dict[str, str] = {}
    manager = await session.get(User, manager_id) if manager_id else None
    if manager is None or manager.role is not Role.ACCOUNT_MANAGER or not manager.is_active:
        errors["manager_id"] = gettext("Choose an active account manager.")
    wanted = sorted(set(company_ids))
    companies = (
        list(
            await session.scalars(
                select(Company).options(joinedload(Company.account_manager)).where(Company.id.in_(wanted))
            )
        )
        if wanted
        else []
    )
    if not wanted:
        errors["company_ids"] = gettext("Choose at least one company.")
    elif len(companies) != len(wanted):
        errors["company_ids"] = gettext("Choose from the list.")
    if errors or manager is None:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)
    moved = 0
    for company in sorted(companies, key=lambda c: c.id):
        before = company.account_manager.email if company.account_manager else None
        if company.account_manager_id == manager.id:
            continue
        company.account_manager_id = manager.id
        moved += 1
        audit.record(
            session, actor, "reassign", "company", company.id, company.name, company_id=company.id,
            changes={"account_manager": [before, manager.email]},
        )  # fmt: skip
    await session.flush()
    return moved


# The users CSV: each new row is an invitation.
ROLE_WORDS = {
    "buyer": Role.BUYER,
    "kupujacy": Role.BUYER,
    "kupujący": Role.BUYER,
    "account_manager": Role.ACCOUNT_MANAGER,
    "account manager": Role.ACCOUNT_MANAGER,
    "opiekun": Role.ACCOUNT_MANAGER,
    "finance": Role.FINANCE,
    "finanse": Role.FINANCE,
    "admin": Role.ADMIN,
    "administrator": Role.ADMIN,
}


class UsersKind:
    """Users and invitations as CSV rows: e-mail, name, role, and a buyer's company by its tax id.
    A row for someone already there with the same role and company is unchanged; a new address is an
    invitation to send; someone already there with another role or company is an error."""

    code = "users"
    columns: Sequence[Column] = (
        Column("email", ("email", "e-mail")),
        Column("full_name", ("full_name", "imie_i_nazwisko", "imię_i_nazwisko")),
        Column("role", ("role", "rola")),
        Column("company_tax_id", ("company_tax_id", "nip_firmy"), required=False),
    )

    def title(self) -> str:
        return gettext("Users (invitations)")

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan:
        plan, _ = await self._judge(session, rows)
        return plan

    async def apply(self, session: AsyncSession, actor: User | str, rows: Sequence[Row], *, today: date) -> Plan:
        plan, invitees = await self._judge(session, rows)
        if not plan.ok:
            raise PlanRefused(plan)
        for invitee in invitees:
            await invitations.issue(session, actor, invitee)
        return plan

    async def _judge(self, session: AsyncSession, rows: Sequence[Row]) -> tuple[Plan, list[Invitee]]:
        """Every row checked with the invitation rule (`invitations.check`), in a constant number of
        queries; the plan, and the people to invite."""
        companies = await self._companies(session, rows)
        invitees: list[tuple[int, Invitee | None]] = []
        plan = Plan()
        for number, row in enumerate(rows, 1):
            invitee, errors = self._read(number, row, companies)
            plan.errors.extend(errors)
            invitees.append((number, invitee))
        people = [invitee for _, invitee in invitees if invitee is not None]
        known = await invitations.known(session, [p.email for p in people], [p.company_id for p in people])
        seen: dict[str, int] = {}
        to_invite = []
        for number, invitee in invitees:
            if invitee is None:
                continue
            email = invitations.normalize_email(invitee.email)
            if email in seen:
                plan.errors.append(
                    RowError(number, "email", gettext("This address is also in row %(row)d.") % {"row": seen[email]})
                )
                continue
            seen[email] = number
            if invitations.already_there(invitee, known):
                plan.changes.append(_change(number, email, Outcome.UNCHANGED))
                continue
            refused = invitations.check(invitee, known)
            for field, message in refused.items():
                plan.errors.append(RowError(number, "company_tax_id" if field == "company_id" else field, message))
            if not refused:
                plan.changes.append(_change(number, email, Outcome.NEW))
                to_invite.append(invitee)
        plan.errors.sort(key=lambda error: error.row)
        return plan, to_invite

    async def _companies(self, session: AsyncSession, rows: Sequence[Row]) -> dict[str, Company]:
        """The companies the rows name, by compact tax id (one query)."""
        wanted = {compact_tax_id(row.get("company_tax_id", "").strip()) for row in rows} - {""}
        if not wanted:
            return {}
        found = await session.scalars(select(Company).where(Company.tax_id.in_(wanted | {f"PL{v}" for v in wanted})))
        return {compact_tax_id(company.tax_id) or company.tax_id: company for company in found}

    def _read(self, number: int, row: Row, companies: dict[str, Company]) -> tuple[Invitee | None, list[RowError]]:
        errors = []
        role = ROLE_WORDS.get(row.get("role", "").strip().lower())
        if role is None:
            errors.append(RowError(number, "role", gettext("Write buyer, account_manager, finance or admin.")))
        written = row.get("company_tax_id", "").strip()
        tax_id = compact_tax_id(written) or written
        company = companies.get(tax_id) if tax_id else None
        if tax_id and company is None:
            errors.append(RowError(number, "company_tax_id", gettext("No company has this tax id.")))
        elif role is Role.BUYER and not tax_id:
            errors.append(RowError(number, "company_tax_id", gettext("A buyer belongs to a company: give its tax id.")))
        elif role is not None and role is not Role.BUYER and tax_id:
            errors.append(RowError(number, "company_tax_id", gettext("Only buyers belong to a customer company.")))
        if errors or role is None:
            return None, errors
        invitee = Invitee(row.get("email", ""), row.get("full_name", ""), role, company.id if company else None)
        return invitee, []

    async def export(self, session: AsyncSession) -> list[dict[str, str]]:
        """Every user, then every invitation waiting, in the import's columns (two queries)."""
        people = await session.scalars(select(User).options(joinedload(User.company)).order_by(User.email))
        waiting = await session.scalars(
            select(AccessToken)
            .options(joinedload(AccessToken.company))
            .where(invitations.pending_condition(invitations._now()))
            .order_by(AccessToken.email)
        )
        rows = [_export_row(user.email, user.full_name, user.role, user.company) for user in people]
        rows += [
            _export_row(t.email, t.full_name, t.role, t.company)
            for t in waiting
            if t.purpose is TokenPurpose.INVITATION
        ]
        return rows


def _export_row(email: str, full_name: str, role: Role, company: Company | None) -> dict[str, str]:
    return {
        "email": email,
        "full_name": full_name,
        "role": role.value,
        "company_tax_id": company.tax_id if company is not None else "",
    }


def _change(number: int, email: str, outcome: Outcome) -> Change:
    return Change(number, email, outcome)
