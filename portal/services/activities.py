"""The activity log: the calls, meetings, visits and e-mails staff record with a customer or a
prospect, so whoever comes next knows what was said and agreed.

An activity happened on a day, at a time if one is given (in the seller's zone; stored in UTC),
no more than a day ahead and no more than two years back. It may name one of the owner's active
contacts; another owner's contact is refused as one that does not exist, a retired one as retired.
It joins the customer's timeline (`services/customers.py`) worded by `ActivityLine.headline`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal.errors import Refused
from portal.i18n import N_, format_decimal, gettext
from portal.models import Activity, ActivityKind, Contact, User
from portal.services import audit
from portal.services.contacts import Owner, active_contact_of, ensure_owner

SUMMARY_MAX = 5000
"""`activities.summary` is TEXT; this is the portal's limit."""
OUTCOME_MAX = 2000
AHEAD = timedelta(days=1)
"""An activity may be logged at most this far ahead (a meeting set for tomorrow morning)."""
YEARS_BACK = 2
NO_TIME = time(12, 0)
"""The time of an activity logged for an earlier day without one."""

KIND_LABELS: dict[ActivityKind, str] = {
    ActivityKind.CALL: N_("Call"),
    ActivityKind.MEETING: N_("Meeting"),
    ActivityKind.VISIT: N_("Visit"),
    ActivityKind.EMAIL: N_("E-mail"),
}
HEADLINES: dict[ActivityKind, tuple[str, str]] = {
    ActivityKind.CALL: (N_("Call with %(contact)s by %(name)s"), N_("Call by %(name)s")),
    ActivityKind.MEETING: (N_("Meeting with %(contact)s by %(name)s"), N_("Meeting by %(name)s")),
    ActivityKind.VISIT: (N_("Visit to %(contact)s by %(name)s"), N_("Visit by %(name)s")),
    ActivityKind.EMAIL: (N_("E-mail with %(contact)s by %(name)s"), N_("E-mail by %(name)s")),
}
"""How an activity reads in a timeline: with the contact it names, or without one."""


def kind_label(kind: ActivityKind) -> str:
    return gettext(KIND_LABELS[kind])


def kind_choices() -> list[tuple[str, str]]:
    """The kinds as a form offers them: value and label."""
    return [(kind.value, kind_label(kind)) for kind in ActivityKind]


def contact_label(contact: Contact) -> str:
    """ "Anna Nowak (Purchasing manager)", or the name alone."""
    return f"{contact.full_name} ({contact.position})" if contact.position else contact.full_name


@dataclass(frozen=True)
class ActivityLine:
    """An activity as a timeline or a list shows it: "Call with Anna Nowak (Purchasing manager) by
    Piotr Zieliński", then the summary and the outcome."""

    activity: Activity

    @property
    def headline(self) -> str:
        activity = self.activity
        with_contact, alone = HEADLINES[activity.kind]
        if activity.contact is not None:
            return gettext(with_contact) % {
                "contact": contact_label(activity.contact),
                "name": activity.author.full_name,
            }
        return gettext(alone) % {"name": activity.author.full_name}

    @property
    def happened_at(self) -> datetime:
        return self.activity.happened_at

    @property
    def kind(self) -> ActivityKind:
        return self.activity.kind

    @property
    def summary(self) -> str:
        return self.activity.summary

    @property
    def outcome(self) -> str:
        return self.activity.outcome


@dataclass(frozen=True)
class NewActivity:
    """What a member of staff logs."""

    kind: ActivityKind
    summary: str
    day: date | None = None
    """None: today."""
    at: time | None = None
    """None: now when the day is today, otherwise `NO_TIME`."""
    contact_id: int | None = None
    outcome: str = ""


def _moment(entry: NewActivity, now: datetime, zone: ZoneInfo) -> datetime:
    today = now.astimezone(zone).date()
    day = entry.day or today
    if entry.at is None and day == today:
        return now
    return datetime.combine(day, entry.at or NO_TIME, zone).astimezone(now.tzinfo)


def _years_back(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _check(
    entry: NewActivity, summary: str, outcome: str, happened_at: datetime, now: datetime, zone: ZoneInfo
) -> None:
    errors: dict[str, str] = {}
    if not summary:
        errors["summary"] = gettext("Write what was said.")
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(SUMMARY_MAX, 0)}
    if len(outcome) > OUTCOME_MAX:
        errors["outcome"] = gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(OUTCOME_MAX, 0)}
    field = (
        "happened_time" if entry.at is not None and entry.day in (None, now.astimezone(zone).date()) else "happened_on"
    )
    if happened_at > now + AHEAD:
        errors[field] = gettext("An activity is logged at most a day ahead.")
    elif happened_at.astimezone(zone).date() < _years_back(now.astimezone(zone).date(), YEARS_BACK):
        errors["happened_on"] = gettext("An activity is logged at most two years back.")
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)


async def log_activity(
    session: AsyncSession,
    author: User,
    entry: NewActivity,
    *,
    now: datetime,
    zone: ZoneInfo,
    company_id: int | None = None,
    prospect_id: int | None = None,
) -> Activity:
    """Records an activity with the customer or the prospect (an unknown one is `NotFound`)."""
    owner = Owner(company_id, prospect_id)
    await ensure_owner(session, owner)
    summary, outcome = entry.summary.strip(), entry.outcome.strip()
    happened_at = _moment(entry, now, zone)
    _check(entry, summary, outcome, happened_at, now, zone)
    contact = await active_contact_of(session, owner, entry.contact_id) if entry.contact_id is not None else None
    activity = Activity(
        company_id=company_id,
        prospect_id=prospect_id,
        kind=entry.kind,
        happened_at=happened_at,
        contact_id=contact.id if contact else None,
        summary=summary,
        outcome=outcome,
        author_id=author.id,
    )
    session.add(activity)
    await session.flush()
    audit.record(
        session,
        author,
        "create",
        "activity",
        activity.id,
        f"{kind_label(entry.kind)}: {summary.splitlines()[0]}",
        company_id=company_id,
        changes=audit.changed(
            {}, audit.snapshot(activity, ("kind", "happened_at", "contact_id", "summary", "outcome"))
        ),
    )
    return activity


def owned_by(owner: Owner) -> ColumnElement[bool]:
    """The condition on `Activity` that keeps this owner's activities."""
    if owner.company_id is not None:
        return Activity.company_id == owner.company_id
    return Activity.prospect_id == owner.prospect_id


async def recent(
    session: AsyncSession, *, company_id: int | None = None, prospect_id: int | None = None, limit: int = 20
) -> list[ActivityLine]:
    """The customer's or prospect's latest activities, newest first, in one query."""
    owner = Owner(company_id, prospect_id)
    rows = await session.scalars(
        select(Activity)
        .options(joinedload(Activity.contact), joinedload(Activity.author))
        .where(owned_by(owner))
        .order_by(Activity.happened_at.desc(), Activity.id.desc())
        .limit(limit)
    )
    return [ActivityLine(activity) for activity in rows]
