"""Contacts: the people at a customer or a prospect whom staff call, meet and write to.

- A contact belongs to one customer (`company_id`) or one prospect (`prospect_id`); services take
  exactly one of the two. A contact may be a portal user: then it names a buyer of that company.
- One contact per customer (or prospect) is primary for purchasing and one for accounts payable:
  marking a new one unmarks the previous one in the same transaction.
- A contact that an activity or a task names is retired, never deleted, so the history keeps
  its name; an unused contact may be deleted. A retired contact is chosen for nothing new.
Every change is audited (`services/audit.py`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal import clock
from portal.errors import NotFound, Refused
from portal.i18n import format_decimal, gettext
from portal.models import Activity, Company, Contact, Prospect, Role, Task, User
from portal.services import audit

NAME_MAX = 200
"""`crm_contacts.full_name` is VARCHAR(200)."""
POSITION_MAX = 100
PHONE_MAX = 40
EMAIL_MAX = 254
NOTES_MAX = 2000
"""`crm_contacts.notes` is TEXT; this is the portal's limit."""
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
AUDITED = ("full_name", "position", "phone", "email", "notes", "user_id", "primary_purchasing", "primary_payables")


@dataclass(frozen=True)
class ContactDetails:
    """What a member of staff types about a person."""

    full_name: str
    position: str = ""
    phone: str = ""
    email: str = ""
    notes: str = ""
    user_id: int | None = None
    """The buyer of the company this person is; None: not a portal user."""
    primary_purchasing: bool = False
    primary_payables: bool = False


@dataclass(frozen=True)
class Owner:
    """The customer or the prospect a contact (or an activity) belongs to: exactly one of the two."""

    company_id: int | None = None
    prospect_id: int | None = None

    def __post_init__(self) -> None:
        if (self.company_id is None) == (self.prospect_id is None):
            raise ValueError("a contact belongs to a customer or a prospect, exactly one")

    def holds(self, contact: Contact) -> bool:
        if self.company_id is not None:
            return contact.company_id == self.company_id
        return contact.prospect_id == self.prospect_id

    def condition(self) -> Any:
        """The condition on `Contact` that keeps this owner's contacts."""
        if self.company_id is not None:
            return Contact.company_id == self.company_id
        return Contact.prospect_id == self.prospect_id


def owner_of(contact: Contact) -> Owner:
    """A contact's owner: its customer, once it has one (a converted prospect's contacts too)."""
    if contact.company_id is not None:
        return Owner(company_id=contact.company_id)
    return Owner(prospect_id=contact.prospect_id)


async def ensure_owner(session: AsyncSession, owner: Owner) -> None:
    """`NotFound` unless the customer or prospect exists."""
    model: type[Company] | type[Prospect] = Company if owner.company_id is not None else Prospect
    if await session.get(model, owner.company_id or owner.prospect_id) is None:
        raise NotFound()


CONTACTS_ORDER = (
    Contact.retired,
    Contact.primary_purchasing.desc(),
    Contact.primary_payables.desc(),
    Contact.full_name,
    Contact.id,
)
"""How an owner's contacts are listed: the active ones first (primary ones first, then by name),
the retired ones after them."""


async def contacts_of(
    session: AsyncSession, *, company_id: int | None = None, prospect_id: int | None = None
) -> list[Contact]:
    """A customer's or a prospect's contacts (`CONTACTS_ORDER`), in one query, each with its portal user loaded."""
    owner = Owner(company_id, prospect_id)
    return list(
        await session.scalars(
            select(Contact).options(joinedload(Contact.user)).where(owner.condition()).order_by(*CONTACTS_ORDER)
        )
    )


async def buyers_to_link(session: AsyncSession, owner: Owner) -> list[User]:
    """The portal users a contact of this owner may be: the company's buyers (a prospect has none)."""
    if owner.company_id is None:
        return []
    return list(
        await session.scalars(
            select(User)
            .where(User.company_id == owner.company_id, User.role == Role.BUYER)
            .order_by(User.full_name, User.id)
        )
    )


def _clean(details: ContactDetails) -> ContactDetails:
    return ContactDetails(
        full_name=details.full_name.strip(),
        position=details.position.strip(),
        phone=details.phone.strip(),
        email=details.email.strip(),
        notes=details.notes.strip(),
        user_id=details.user_id,
        primary_purchasing=details.primary_purchasing,
        primary_payables=details.primary_payables,
    )


def _too_long(limit: int) -> str:
    return gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(limit, 0)}


async def _check(session: AsyncSession, owner: Owner, details: ContactDetails) -> None:
    """Every field's problem at once, as `Refused` with a message per field."""
    errors: dict[str, str] = {}
    if not details.full_name:
        errors["full_name"] = gettext("Enter the person's name.")
    for name, limit in (
        ("full_name", NAME_MAX),
        ("position", POSITION_MAX),
        ("phone", PHONE_MAX),
        ("email", EMAIL_MAX),
        ("notes", NOTES_MAX),
    ):
        if len(getattr(details, name)) > limit:
            errors[name] = _too_long(limit)
    if details.email and "email" not in errors and not _EMAIL.fullmatch(details.email):
        errors["email"] = gettext("Enter an e-mail address such as anna.nowak@example.com.")
    if details.user_id is not None and not await _is_buyer_of(session, details.user_id, owner):
        errors["user_id"] = gettext("Choose one of this customer's portal users.")
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)


async def _is_buyer_of(session: AsyncSession, user_id: int, owner: Owner) -> bool:
    if owner.company_id is None:
        return False
    found = await session.scalar(
        select(User.id).where(User.id == user_id, User.company_id == owner.company_id, User.role == Role.BUYER)
    )
    return found is not None


async def _unmark_other_primaries(session: AsyncSession, actor: User, contact: Contact) -> None:
    """The previous primary contact for purchasing (or for payables) of the same owner stops being it."""
    owner = owner_of(contact)
    if contact.primary_purchasing or contact.primary_payables:
        await _lock(session, owner)
    for flag in ("primary_purchasing", "primary_payables"):
        if getattr(contact, flag):
            column = getattr(Contact, flag)
            others = list(
                await session.scalars(
                    select(Contact).where(owner.condition(), Contact.id != contact.id, column.is_(True))
                )
            )
            for other in others:
                setattr(other, flag, False)
                other.updated_at = clock.now()
                _audit_change(session, actor, other, {flag: ["yes", "no"]}, "update")


async def _lock(session: AsyncSession, owner: Owner) -> None:
    """Locks the customer's (or prospect's) row on PostgreSQL, so two people marking a primary contact
    at once take turns; SQLite has one writer at a time anyway."""
    if owner.company_id is not None:
        await session.execute(select(Company.id).where(Company.id == owner.company_id).with_for_update())
    else:
        await session.execute(select(Prospect.id).where(Prospect.id == owner.prospect_id).with_for_update())


def _audit_change(
    session: AsyncSession, actor: User, contact: Contact, changes: dict[str, list[str | None]], action: str
) -> None:
    audit.record(
        session,
        actor,
        action,
        "contact",
        contact.id,
        contact.full_name,
        company_id=contact.company_id,
        changes=changes,
    )


def _apply(contact: Contact, details: ContactDetails) -> None:
    for field in fields(ContactDetails):
        setattr(contact, field.name, getattr(details, field.name))


async def add_contact(
    session: AsyncSession,
    actor: User,
    details: ContactDetails,
    *,
    company_id: int | None = None,
    prospect_id: int | None = None,
) -> Contact:
    """A new contact of the customer or the prospect; an unknown one is `NotFound`."""
    owner = Owner(company_id, prospect_id)
    await ensure_owner(session, owner)
    details = _clean(details)
    await _check(session, owner, details)
    contact = Contact(company_id=company_id, prospect_id=prospect_id)
    _apply(contact, details)
    session.add(contact)
    await session.flush()
    _audit_change(session, actor, contact, audit.changed({}, audit.snapshot(contact, AUDITED)), "create")
    await _unmark_other_primaries(session, actor, contact)
    await session.flush()
    return contact


async def get_contact(session: AsyncSession, contact_id: int) -> Contact:
    contact = await session.get(Contact, contact_id, options=[joinedload(Contact.user)])
    if contact is None:
        raise NotFound()
    return contact


async def edit_contact(session: AsyncSession, actor: User, contact_id: int, details: ContactDetails) -> Contact:
    """Changes what is known of a person. A retired contact is not made primary."""
    contact = await get_contact(session, contact_id)
    details = _clean(details)
    await _check(session, owner_of(contact), details)
    if contact.retired and (details.primary_purchasing or details.primary_payables):
        message = gettext("A retired contact is primary for nothing; reactivate them first.")
        raise Refused(message, "primary_purchasing" if details.primary_purchasing else "primary_payables")
    before = audit.snapshot(contact, AUDITED)
    _apply(contact, details)
    changes = audit.changed(before, audit.snapshot(contact, AUDITED))
    if changes:
        contact.updated_at = clock.now()
        _audit_change(session, actor, contact, changes, "update")
        await _unmark_other_primaries(session, actor, contact)
    await session.flush()
    return contact


async def is_used(session: AsyncSession, contact_id: int) -> bool:
    """Does an activity or a task name this contact?"""
    named = or_(
        exists().where(Activity.contact_id == contact_id),
        exists().where(Task.contact_id == contact_id),
    )
    return bool(await session.scalar(select(named)))


async def retire_contact(session: AsyncSession, actor: User, contact_id: int) -> Contact:
    """The person left or is no longer to be contacted: kept for the history, chosen for nothing new,
    and primary for nothing."""
    contact = await get_contact(session, contact_id)
    if not contact.retired:
        before = audit.snapshot(contact, ("retired", "primary_purchasing", "primary_payables"))
        contact.retired = True
        contact.primary_purchasing = contact.primary_payables = False
        contact.updated_at = clock.now()
        after = audit.snapshot(contact, ("retired", "primary_purchasing", "primary_payables"))
        _audit_change(session, actor, contact, audit.changed(before, after), "retire")
        await session.flush()
    return contact


async def reactivate_contact(session: AsyncSession, actor: User, contact_id: int) -> Contact:
    contact = await get_contact(session, contact_id)
    if contact.retired:
        contact.retired = False
        contact.updated_at = clock.now()
        _audit_change(session, actor, contact, {"retired": ["yes", "no"]}, "reactivate")
        await session.flush()
    return contact


async def delete_contact(session: AsyncSession, actor: User, contact_id: int) -> Owner:
    """Deletes a contact no activity or task names; a used one is refused (retire it instead).
    Returns whom it belonged to."""
    contact = await get_contact(session, contact_id)
    if await is_used(session, contact_id):
        raise Refused(gettext("Activities or tasks name this contact, so it stays in the history: retire it instead."))
    owner = owner_of(contact)
    gone = {name: [value, None] for name, value in audit.snapshot(contact, AUDITED).items() if value}
    _audit_change(session, actor, contact, gone, "delete")
    await session.delete(contact)
    await session.flush()
    return owner


async def active_contact_of(session: AsyncSession, owner: Owner, contact_id: int) -> Contact:
    """A contact an activity or a task may name: one of this owner's, not retired. Another owner's
    contact is refused exactly as one that does not exist."""
    contact = await session.get(Contact, contact_id)
    if contact is None or not owner.holds(contact):
        raise Refused(gettext("Choose one of the listed contacts."), "contact_id")
    if contact.retired:
        raise Refused(
            gettext("%(name)s is retired: reactivate them first or choose another contact.")
            % {"name": contact.full_name},
            "contact_id",
        )
    return contact


@dataclass(frozen=True)
class ContactPage:
    """A contact's own page: the person, whom they belong to, the buyers they may be, and whether
    activities or tasks name them (then they may be retired, not deleted)."""

    contact: Contact
    owner: Owner
    owner_name: str
    buyers: list[User]
    used: bool


async def contact_page(session: AsyncSession, contact_id: int) -> ContactPage:
    contact = await get_contact(session, contact_id)
    owner = owner_of(contact)
    model: type[Company] | type[Prospect] = Company if owner.company_id is not None else Prospect
    name = await session.scalar(select(model.name).where(model.id == (owner.company_id or owner.prospect_id)))
    return ContactPage(
        contact=contact,
        owner=owner,
        owner_name=name or "",
        buyers=await buyers_to_link(session, owner),
        used=await is_used(session, contact_id),
    )
