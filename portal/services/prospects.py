"""Prospects: companies that are not customers yet, each owned by an account manager, and the one
way a prospect becomes a customer (`convert`).

- A prospect has a name and, once known, a NIP: valid by its checksum, and neither a customer's
  (that company is a customer already) nor another open prospect's (someone is working on it).
  A manager who may not see the customer holding the NIP is told it is taken, not by whom.
- The creating account manager owns it; finance and admins name an active account manager.
- Converting needs a won opportunity and a valid NIP no company holds. It makes the company
  through the admin's own check and save (`companies_admin.save_company`: the owner as account
  manager, credit limit 0, default terms, no address yet), hands every CRM row of the prospect to
  the company (keeping `prospect_id`, so the history shows where it came from), and gives finance
  a task to set its terms and credit. All in one transaction; a second convert is refused.

Who sees a prospect is `scoping.prospect_filter`'s rule; the functions here check it again."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload

from portal import clock
from portal.errors import NotAllowed, NotFound, Refused
from portal.i18n import gettext
from portal.models import (
    Activity,
    Company,
    Contact,
    Opportunity,
    OpportunityMove,
    Prospect,
    Role,
    Stage,
    Task,
    TaskReason,
    TaskStatus,
    User,
)
from portal.services import activities, audit, companies_admin, contacts, scoping, tasks, tax_ids
from portal.services.listing import ListQuery, Page, paginate
from portal.services.transactions import lock_rows

NAME_MAX = 200
TAX_ID_MAX = 32
NOTES_MAX = 5000
CONTACT_NAME_MAX = contacts.NAME_MAX
POSITION_MAX = contacts.POSITION_MAX
PHONE_MAX = contacts.PHONE_MAX
EMAIL_MAX = contacts.EMAIL_MAX
RECENT_ACTIVITIES = 20
"""How many of a prospect's latest activities its page shows."""
OPEN_STAGES = (Stage.LEAD, Stage.QUALIFIED, Stage.OFFER, Stage.NEGOTIATION)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
"""An e-mail address as `contacts` checks it."""


@dataclass(frozen=True)
class ProspectRecord:
    """A prospect's details as a form gives them. `owner_id`: the account manager finance or an
    admin chose (an account manager's own prospects are theirs)."""

    name: str
    tax_id: str = ""
    notes: str = ""
    owner_id: int | None = None


@dataclass(frozen=True)
class FirstContact:
    """The person met first, given with a new prospect; all empty: none."""

    full_name: str = ""
    position: str = ""
    phone: str = ""
    email: str = ""

    @property
    def given(self) -> bool:
        return any(value.strip() for value in (self.full_name, self.position, self.phone, self.email))


# Checks.
def _checked_name(name: str, errors: dict[str, str]) -> str:
    name = name.strip()
    if not name:
        errors["name"] = gettext("Enter the company's name.")
    elif len(name) > NAME_MAX:
        errors["name"] = gettext("Use at most %(limit)s characters.") % {"limit": NAME_MAX}
    return name


async def _checked_tax_id(
    session: AsyncSession, actor: User, text: str, prospect_id: int | None, today: date, errors: dict[str, str]
) -> str:
    """The NIP in its stored form ("PL" and ten digits), "" when none is given; a message in `errors`
    when it is no valid NIP, a customer's, or another open prospect's."""
    if not text.strip():
        return ""
    compact = companies_admin.compact_tax_id(text.strip())
    if not compact or not tax_ids.is_valid(compact):
        errors["tax_id"] = gettext("This is not a valid NIP: enter its 10 digits, e.g. 526-000-12-46.")
        return text.strip()
    holder = (await companies_admin.companies_by_tax_id(session, [compact])).get(compact)
    if holder is not None:
        errors["tax_id"] = await _customer_holds(session, actor, holder, today)
        return compact
    stored = tax_ids.normalise(compact)
    other = await session.scalar(
        select(Prospect)
        .where(Prospect.tax_id == stored, Prospect.company_id.is_(None), Prospect.id != (prospect_id or 0))
        .limit(1)
    )
    if other is not None:
        if await scoping.can_view_prospect(session, actor, other.id, today):
            errors["tax_id"] = gettext("This NIP is already the prospect %(name)s's.") % {"name": other.name}
        else:
            errors["tax_id"] = gettext("Another account manager is already working with this NIP as a prospect.")
    return stored


async def _customer_holds(session: AsyncSession, actor: User, holder: Company, today: date) -> str:
    """The message for a NIP a customer holds: naming the customer only to whoever may see it."""
    if await scoping.can_view_customer(session, actor, holder.id, today):
        return gettext("This NIP is already a customer's: %(company)s.") % {"company": holder.name}
    return gettext("This NIP is already a customer's, looked after by another account manager.")


def chooses_owner(user: User) -> bool:
    """Finance and admins name a prospect's account manager; an account manager's prospects are their own."""
    return user.role is not Role.ACCOUNT_MANAGER


async def _checked_owner(session: AsyncSession, actor: User, owner_id: int | None, errors: dict[str, str]) -> int:
    if not chooses_owner(actor):
        return actor.id
    owner = await session.get(User, owner_id) if owner_id is not None else None
    if owner is None or owner.role is not Role.ACCOUNT_MANAGER:
        errors["owner_id"] = gettext("Choose one of the account managers.")
        return 0
    if not owner.is_active:
        errors["owner_id"] = gettext("%(name)s is no longer active: choose another account manager.") % {
            "name": owner.full_name
        }
    return owner.id


def _checked_notes(notes: str, errors: dict[str, str]) -> str:
    notes = notes.strip()
    if len(notes) > NOTES_MAX:
        errors["notes"] = gettext("Use at most %(limit)s characters.") % {"limit": NOTES_MAX}
    return notes


def _checked_contact(contact: FirstContact, errors: dict[str, str]) -> FirstContact:
    checked = FirstContact(
        full_name=contact.full_name.strip(),
        position=contact.position.strip(),
        phone=contact.phone.strip(),
        email=contact.email.strip(),
    )
    if not checked.full_name:
        errors["contact_name"] = gettext("Enter the contact's name, or leave the contact's fields empty.")
    for name, value, limit in (
        ("contact_name", checked.full_name, CONTACT_NAME_MAX),
        ("contact_position", checked.position, POSITION_MAX),
        ("contact_phone", checked.phone, PHONE_MAX),
        ("contact_email", checked.email, EMAIL_MAX),
    ):
        if len(value) > limit:
            errors[name] = gettext("Use at most %(limit)s characters.") % {"limit": limit}
    if checked.email and "contact_email" not in errors and not _EMAIL.fullmatch(checked.email):
        errors["contact_email"] = gettext("Enter an e-mail address such as anna.nowak@example.com.")
    return checked


def _refuse(errors: dict[str, str]) -> None:
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)


def _staff(actor: User) -> None:
    if not actor.role.is_staff:
        raise NotFound()


def _described(prospect: Prospect) -> dict[str, str | None]:
    return audit.snapshot(prospect, ("name", "tax_id", "notes", "owner_id"))


# Creating and changing.
async def create(
    session: AsyncSession, actor: User, record: ProspectRecord, contact: FirstContact | None, today: date
) -> Prospect:
    """A new prospect, with its first contact when one is given; checked and audited."""
    _staff(actor)
    errors: dict[str, str] = {}
    name = _checked_name(record.name, errors)
    owner_id = await _checked_owner(session, actor, record.owner_id, errors)
    tax_id = await _checked_tax_id(session, actor, record.tax_id, None, today, errors)
    notes = _checked_notes(record.notes, errors)
    person = _checked_contact(contact, errors) if contact is not None and contact.given else None
    _refuse(errors)
    prospect = Prospect(name=name, tax_id=tax_id, owner_id=owner_id, notes=notes)
    session.add(prospect)
    await session.flush()
    audit.record(
        session,
        actor,
        "create",
        "prospect",
        prospect.id,
        prospect.name,
        changes=audit.changed({}, _described(prospect)),
    )
    if person is not None:
        details = contacts.ContactDetails(person.full_name, person.position, person.phone, person.email)
        await contacts.add_contact(session, actor, details, prospect_id=prospect.id)
    await session.flush()
    return prospect


async def edit(session: AsyncSession, actor: User, prospect_id: int, record: ProspectRecord, today: date) -> Prospect:
    """Changes a prospect's name, NIP and notes; finance and admins may also hand it to another
    account manager. A prospect that became a customer is the customer's now: refused."""
    prospect = await visible_prospect(session, actor, prospect_id, today)
    if prospect.company_id is not None:
        raise Refused(gettext("This prospect is a customer now: change the customer instead."))
    errors: dict[str, str] = {}
    name = _checked_name(record.name, errors)
    owner_id = prospect.owner_id
    if chooses_owner(actor) and record.owner_id != prospect.owner_id:
        owner_id = await _checked_owner(session, actor, record.owner_id, errors)
    tax_id = prospect.tax_id
    if tax_ids.normalise(record.tax_id.strip()) != prospect.tax_id:
        tax_id = await _checked_tax_id(session, actor, record.tax_id, prospect.id, today, errors)
    notes = _checked_notes(record.notes, errors)
    _refuse(errors)
    before = _described(prospect)
    prospect.name, prospect.tax_id, prospect.notes, prospect.owner_id = name, tax_id, notes, owner_id
    changes = audit.changed(before, _described(prospect))
    if changes:
        audit.record(session, actor, "update", "prospect", prospect.id, prospect.name, changes=changes)
    await session.flush()
    return prospect


# Seeing.
async def visible_prospect(session: AsyncSession, actor: User, prospect_id: int, today: date) -> Prospect:
    """The prospect with its owner, if this user sees it; otherwise `NotFound`."""
    condition = await scoping.visible_prospects_filter(session, actor, today)
    prospect = await session.scalar(
        select(Prospect).options(joinedload(Prospect.owner)).where(Prospect.id == prospect_id, condition)
    )
    if prospect is None:
        raise NotFound()
    return prospect


async def prospect_list(session: AsyncSession, actor: User, query: ListQuery, today: date) -> Page[Prospect]:
    """One page of the prospects this user sees, with their owners (two queries). Searched by name
    or NIP (typed any way: "526-000-12-46" finds "PL5260001246"); filter `status`: "open"
    (the default), "converted" or "all"."""
    statement: Select[Any] = (
        select(Prospect)
        .join(User, Prospect.owner_id == User.id)
        .options(contains_eager(Prospect.owner))
        .where(await scoping.visible_prospects_filter(session, actor, today))
    )
    if query.search:
        needle = query.search.lower()
        matches = [
            func.lower(Prospect.name).contains(needle, autoescape=True),
            func.lower(Prospect.tax_id).contains(needle, autoescape=True),
        ]
        if compact := companies_admin.compact_tax_id(query.search):
            matches.append(Prospect.tax_id.contains(compact, autoescape=True))
        statement = statement.where(or_(*matches))
    status = query.filter("status")
    if status == "converted":
        statement = statement.where(Prospect.company_id.is_not(None))
    elif status != "all":
        statement = statement.where(Prospect.company_id.is_(None))
    sorts: dict[str, ColumnElement[Any]] = {
        "name": Prospect.name.expression,
        "tax_id": Prospect.tax_id.expression,
        "owner": User.full_name.expression,
        "created": Prospect.created_at.expression,
    }
    return await paginate(session, statement, query, sorts=sorts, default_sort="name", tiebreak=Prospect.id.expression)


@dataclass(frozen=True)
class OpenTask:
    task: Task
    title: str
    """In the reader's language (`tasks.title_of`)."""


@dataclass(frozen=True)
class ProspectPage:
    """Everything the prospect's page shows, each part one query."""

    prospect: Prospect
    contacts: list[Contact]
    """Active ones first, then the retired (`contacts.contacts_of`)."""
    activities: list[activities.ActivityLine]
    """The latest first, at most `RECENT_ACTIVITIES`."""
    opportunities: list[Opportunity]
    """Those still open (lead to negotiation), the nearest close date first."""
    won: list[Opportunity]
    tasks: list[OpenTask]
    """Open tasks, the earliest due first."""
    may_convert: bool
    """This user may convert it (its owner, a colleague covering for them, an admin)."""
    why_not_convert: str
    """Why it cannot become a customer yet ("" when it can, as far as the page knows)."""


async def prospect_page(session: AsyncSession, actor: User, prospect_id: int, today: date) -> ProspectPage:
    prospect = await visible_prospect(session, actor, prospect_id, today)
    people = await contacts.contacts_of(session, prospect_id=prospect.id)
    latest = await activities.recent(session, prospect_id=prospect.id, limit=RECENT_ACTIVITIES)
    chances = list(
        await session.scalars(
            select(Opportunity)
            .where(Opportunity.prospect_id == prospect.id, Opportunity.stage.in_([*OPEN_STAGES, Stage.WON]))
            .order_by(Opportunity.expected_close_on, Opportunity.id)
        )
    )
    open_tasks = await session.scalars(
        select(Task)
        .options(
            joinedload(Task.company),
            joinedload(Task.prospect),
            joinedload(Task.quote),
            joinedload(Task.order),
            joinedload(Task.owner),
        )
        .where(Task.prospect_id == prospect.id, Task.status == TaskStatus.OPEN)
        .order_by(Task.due_on, Task.due_time, Task.id)
    )
    won = [item for item in chances if item.stage is Stage.WON]
    return ProspectPage(
        prospect=prospect,
        contacts=people,
        activities=latest,
        opportunities=[item for item in chances if item.stage is not Stage.WON],
        won=won,
        tasks=[OpenTask(task, tasks.title_of(task)) for task in open_tasks],
        may_convert=actor.role in (Role.ACCOUNT_MANAGER, Role.ADMIN),
        why_not_convert=_why_not(prospect, bool(won)),
    )


def _why_not(prospect: Prospect, has_won: bool) -> str:
    if not has_won:
        return gettext("It can become a customer once one of its opportunities is won.")
    if not prospect.tax_id or not tax_ids.is_valid(prospect.tax_id):
        return gettext("Enter its NIP first: a customer needs a valid one.")
    return ""


# Converting.
async def convert(session: AsyncSession, actor: User, prospect_id: int, today: date) -> Company:
    """Makes the won prospect a customer (see the module's docstring): the new company."""
    if actor.role not in (Role.ACCOUNT_MANAGER, Role.ADMIN):
        _staff(actor)
        raise NotAllowed(gettext("Only the prospect's account manager or an admin can make it a customer."))
    await lock_rows(session, Prospect, [prospect_id])
    prospect = await visible_prospect(session, actor, prospect_id, today)
    await session.refresh(prospect)
    if prospect.company_id is not None:
        company = await session.get(Company, prospect.company_id)
        raise Refused(
            gettext("This prospect is already a customer: %(company)s.")
            % {"company": company.name if company else prospect.name},
            "convert",
        )
    has_won = await session.scalar(
        select(Opportunity.id).where(Opportunity.prospect_id == prospect.id, Opportunity.stage == Stage.WON).limit(1)
    )
    if (problem := _why_not(prospect, has_won is not None)) != "":
        raise Refused(problem, "convert")
    holder = await companies_admin.companies_by_tax_id(session, [prospect.tax_id])
    if holder:
        raise Refused(await _customer_holds(session, actor, next(iter(holder.values())), today), "convert")
    record = companies_admin.CompanyRecord(
        name=prospect.name, tax_id=prospect.tax_id, account_manager_id=prospect.owner_id
    )
    try:
        company = await companies_admin.save_company(session, actor, None, record)
    except Refused as refused:
        raise Refused(next(iter(refused.errors.values()), refused.message), "convert") from None
    await _hand_over(session, prospect.id, company.id)
    prospect.company_id, prospect.converted_at = company.id, clock.now()
    audit.record(
        session,
        actor,
        "convert",
        "prospect",
        prospect.id,
        prospect.name,
        company_id=company.id,
        changes={"company": [None, company.name]},
    )
    await tasks.add_system_task(
        session,
        tasks.SystemTask(
            reason=TaskReason.PROSPECT_WON,
            key=tasks.origin_key(TaskReason.PROSPECT_WON, prospect.id),
            due_on=today,
            title=tasks.SYSTEM_TITLES[TaskReason.PROSPECT_WON] % {"company": company.name},
            team=Role.FINANCE,
            company_id=company.id,
            prospect_id=prospect.id,
        ),
    )
    await session.flush()
    return company


async def _hand_over(session: AsyncSession, prospect_id: int, company_id: int) -> None:
    """Every CRM row of the prospect belongs to the company too (their `prospect_id` is kept)."""
    for model in (Contact, Activity, Opportunity, Task):
        await session.execute(
            update(model)
            .where(model.prospect_id == prospect_id)
            .values(company_id=company_id)
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(OpportunityMove)
        .where(OpportunityMove.opportunity_id.in_(select(Opportunity.id).where(Opportunity.prospect_id == prospect_id)))
        .values(company_id=company_id)
        .execution_options(synchronize_session=False)
    )
    for held in list(session.identity_map.values()):
        if isinstance(held, Contact | Activity | Opportunity | Task | OpportunityMove):
            session.expire(held, ["company_id"])


async def managers(session: AsyncSession) -> list[User]:
    """The account managers a prospect can be given to (active ones)."""
    return await companies_admin.account_managers(session)
