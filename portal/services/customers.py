"""Customers as staff see them: which companies a user may look at, each customer's
profile, timeline (orders, notes, credit and quote moves), open quotes, notes and reorder
rhythm, and who manages it."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Subquery, and_, cast, func, literal, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, joinedload

from portal import clock
from portal.errors import NotAllowed, NotFound, Refused
from portal.i18n import N_, gettext
from portal.models import (
    Activity,
    Agreement,
    Company,
    Contact,
    CreditEvent,
    CustomerNote,
    Opportunity,
    Order,
    OrderEvent,
    OrderStatus,
    Quote,
    QuoteEvent,
    QuoteStatus,
    Role,
    SettlementClose,
    Task,
    User,
)
from portal.services import agreements, audit, contacts, growth, pipeline, quotes, scoping, tasks
from portal.services.activities import ActivityLine
from portal.services.credit import CreditPicture, credit_pictures
from portal.services.flags import COUNTED


async def viewable_company(session: AsyncSession, user: User, company_id: int | None, today: date) -> Company | None:
    """The company whose view this user gets: a buyer always their own; staff the one
    asked for, if it is theirs to see (`services/scoping.py`). None means: not found, as if it did not exist."""
    if user.role is Role.BUYER:
        return user.company
    if company_id is None:
        return None
    condition = await scoping.visible_companies_filter(session, user, today)
    return await session.scalar(select(Company).where(Company.id == company_id, condition))


async def company_in_view(session: AsyncSession, user: User, company_id: int | None, today: date) -> Company | None:
    """The company whose catalog this user is looking at: a buyer's own (whatever was asked
    for); for staff, the one chosen, or None before they chose. A company that is not theirs
    to see is `NotFound`, as one that does not exist."""
    company = await viewable_company(session, user, company_id, today)
    if company is None and (company_id is not None or user.role is Role.BUYER):
        raise NotFound()
    return company


async def viewable_companies(session: AsyncSession, user: User, today: date) -> list[Company]:
    return await scoping.visible_companies(session, user, today)


NOTE_MAX = 5000
"""The longest note, in characters (`customer_notes.body` is TEXT; this is the portal's limit)."""
LATE_FACTOR = 1.5
"""A customer is later than usual when the days since its last order exceed this many median gaps."""


class NoteRefused(Refused):
    """A note that cannot be saved; the message belongs next to the note's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "body")


class NotAManager(Refused):
    """A customer can only be given to an active account manager."""

    def __init__(self) -> None:
        super().__init__(gettext("Choose an active account manager."), "manager_id")


@dataclass(frozen=True)
class MonthFigures:
    month: date
    orders: int
    revenue: Decimal
    margin: Decimal


@dataclass(frozen=True)
class Rhythm:
    """How a customer buys: the last 12 months, and whether it is later than usual now."""

    months: list[MonthFigures]
    median_gap_days: float | None
    days_since_last: int | None

    @property
    def late(self) -> bool:
        return (
            self.median_gap_days is not None
            and self.days_since_last is not None
            and self.days_since_last > LATE_FACTOR * self.median_gap_days
        )

    @property
    def revenue(self) -> Decimal:
        return sum((m.revenue for m in self.months), Decimal("0.00"))

    @property
    def margin(self) -> Decimal:
        return sum((m.margin for m in self.months), Decimal("0.00"))


def _months_back(today: date, count: int) -> list[date]:
    first = today.replace(day=1)
    months = []
    for _ in range(count):
        months.append(first)
        first = (first - timedelta(days=1)).replace(day=1)
    return months[::-1]


async def rhythms(session: AsyncSession, company_ids: list[int], today: date) -> dict[int, Rhythm]:
    """Reorder rhythm and value of many customers in one query, from the orders that count, each on
    the day it was approved (`Order.counted_on`, as the reports count them): the months' revenue and
    margin, the gaps between order days and the days since the last (`counted_on` is the seller's day)."""
    rows = await session.execute(
        select(Order.company_id, *FIGURES)
        .where(_counted(company_ids, today))
        .group_by(Order.company_id, Order.counted_on)
        .order_by(Order.company_id, Order.counted_on)
    )
    return _rhythms_of(rows, company_ids, today)


def _counted(company_ids: Sequence[int], today: date) -> ColumnElement[bool]:
    """The orders a rhythm is made of: those that count, approved in the last 12 months."""
    return and_(
        Order.company_id.in_(company_ids),
        Order.status.in_(COUNTED),
        Order.counted_on >= _months_back(today, 12)[0],
        Order.counted_on <= today,
    )


def _rhythms_of(rows: Iterable[Any], company_ids: Sequence[int], today: date) -> dict[int, Rhythm]:
    """The rhythms from the counted orders (`_counted`) as (company id, day, orders, net, cost) by
    day (`FIGURES`), in day order."""
    months = _months_back(today, 12)
    slot = {month: number for number, month in enumerate(months)}
    sums: dict[int, list[list[Any]]] = {}
    days: dict[int, list[date]] = defaultdict(list)
    for company_id, counted_on, orders, net, cost in rows:
        if counted_on is None:  # never: the bounds of `_counted` leave no order without its day
            continue
        figures = sums.get(company_id)
        if figures is None:
            figures = sums[company_id] = [[0, Decimal("0.00"), Decimal("0.00")] for _ in months]
        month = figures[slot[counted_on.replace(day=1)]]
        month[0] += orders
        month[1] += net
        month[2] += net - cost
        days[company_id].append(counted_on)
    empty: list[list[Any]] = [[0, Decimal("0.00"), Decimal("0.00")] for _ in months]
    result = {}
    for company_id in company_ids:
        ordered = days.get(company_id, [])
        gaps = [(later - earlier).days for earlier, later in zip(ordered, ordered[1:], strict=False)]
        result[company_id] = Rhythm(
            months=[
                MonthFigures(month, orders, revenue, margin)
                for month, (orders, revenue, margin) in zip(months, sums.get(company_id, empty), strict=True)
            ],
            median_gap_days=float(statistics.median(gaps)) if gaps else None,
            days_since_last=(today - ordered[-1]).days if ordered else None,
        )
    return result


@dataclass(frozen=True)
class PortfolioRow:
    """One customer on the account manager's home page: its credit picture and buying rhythm, and
    the absent colleague whose customer it is while the manager covers for them."""

    picture: CreditPicture
    rhythm: Rhythm
    covered_for: User | None = None


async def portfolio(session: AsyncSession, manager: User, *, today: date, grace_days: int) -> list[PortfolioRow]:
    """The customers this account manager sees today (`services/scoping.py`): their own and, during
    a cover, those of the colleague they cover, by name; the same few queries for any number."""
    in_charge = await scoping.managers_in_charge(session, manager, today) or frozenset()
    pictures = await credit_pictures(session, today=today, grace_days=grace_days, account_manager_ids=in_charge)
    found = await rhythms(session, [picture.company.id for picture in pictures], today)
    absent = in_charge - {manager.id}
    colleagues = (
        {user.id: user for user in await session.scalars(select(User).where(User.id.in_(sorted(absent))))}
        if absent
        else {}
    )
    return [
        PortfolioRow(
            picture, found[picture.company.id], colleagues.get(picture.company.account_manager_id or manager.id)
        )
        for picture in pictures
    ]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    """One of: "order" (a move of an order), "note", "credit" (a limit change, hold or release),
    "quote" (a move of a quote: a `QuoteMove`), "activity" (a call, meeting, visit or e-mail: an
    `activities.ActivityLine`)."""
    subject: object


QUOTE_MOVES = {
    QuoteStatus.REQUESTED: N_("Quote %(number)s requested by %(name)s"),
    QuoteStatus.DRAFT: N_("Quote %(number)s started by %(name)s"),
    QuoteStatus.SENT: N_("Quote %(number)s sent (v%(version)d) by %(name)s"),
    QuoteStatus.CHANGES_REQUESTED: N_("Quote %(number)s: changes requested by %(name)s"),
    QuoteStatus.ACCEPTED: N_("Quote %(number)s accepted (v%(version)d) by %(name)s"),
    QuoteStatus.DECLINED: N_("Quote %(number)s declined by %(name)s"),
    QuoteStatus.EXPIRED: N_("Quote %(number)s expired (v%(version)d)"),
    QuoteStatus.WITHDRAWN: N_("Quote %(number)s withdrawn by %(name)s"),
}
"""A quote's move in the customer's timeline, by the status it moved to."""


@dataclass(frozen=True)
class QuoteMove:
    """A quote's move as the customer's timeline words it: "Quote Q-2026-000123 sent (v2) by
    Anna Kowalska", then the reason given ("changes requested by …: <the buyer's comment>"); an
    acceptance names the order it made."""

    event: QuoteEvent

    @property
    def quote_id(self) -> int:
        return self.event.quote_id

    @property
    def words(self) -> str:
        event = self.event
        name = event.actor.full_name if event.actor else gettext("the system")
        words = gettext(QUOTE_MOVES[event.to_status]) % {
            "number": event.quote.number,
            "version": event.version,
            "name": name,
        }
        if event.to_status is QuoteStatus.ACCEPTED and event.reason:
            return gettext("%(move)s: order %(order)s") % {"move": words, "order": event.reason}
        return f"{words}: {event.reason}" if event.reason else words


@dataclass(frozen=True)
class OpenQuote:
    """A quote of the customer's still in negotiation, as the customer page lists it."""

    quote: Quote

    @property
    def status_label(self) -> str:
        return quotes.status_label(self.quote.status)

    @property
    def label(self) -> str:
        """Q-2026-000123/2 once a version was sent; the quote's number before."""
        sent = self.quote.sent_version
        return quotes.version_label(self.quote, sent) if sent else self.quote.number


OPEN_QUOTES_SHOWN = 20
"""The customer page lists this many open quotes, the most recently moved first."""


@dataclass(frozen=True)
class CustomerProfile:
    company: Company
    picture: CreditPicture
    buyers: list[User]
    rhythm: Rhythm
    timeline: list[TimelineEntry]
    page: int
    has_more: bool
    managers: list[User]
    open_quotes: list[OpenQuote]
    """The customer's open quotes (`quotes.OPEN`), the most recently moved first."""
    agreement: agreements.CustomerAgreement | None = None
    """Where the active agreement's period stands and its last closed periods (None without either)."""
    contacts: list[Contact] = field(default_factory=list)
    """The customer's contacts: active ones first (`contacts.contacts_of`), retired ones after."""
    show: str = "all"
    """Which kinds the timeline shows (`TIMELINE_KINDS`)."""
    opportunities: list[Opportunity] = field(default_factory=list)
    """The customer's open opportunities, the soonest expected close first (`pipeline.open_opportunities_for`)."""
    tasks: list[tasks.TaskRow] = field(default_factory=list)
    """The customer's open tasks, the earliest due first (`tasks.open_tasks_of`)."""
    agreed: list[TimelineEntry] = field(default_factory=list)
    """What was agreed lately: the newest activities with an outcome and the newest notes (`AGREED_SHOWN`)."""
    waiting_orders: list[Order] = field(default_factory=list)
    """The customer's orders waiting for approval, the oldest first."""


TIMELINE_PAGE = 20
TIMELINE_KINDS: dict[str, frozenset[str]] = {
    "all": frozenset({"order", "quote", "credit", "note", "activity"}),
    "orders": frozenset({"order"}),
    "quotes": frozenset({"quote"}),
    "credit": frozenset({"credit"}),
    "notes": frozenset({"note"}),
    "activities": frozenset({"activity"}),
}
"""The timeline's filters, each naming the kinds of entries it shows."""
AGREED_SHOWN = 5
"""The customer page's "What was agreed" lists this many of the newest outcomes and notes."""
WAITING_SHOWN = 20
"""The customer page lists this many orders waiting for approval, the oldest first."""


async def customer_profile(
    session: AsyncSession,
    company_id: int,
    *,
    page: int,
    today: date,
    grace_days: int,
    zone: ZoneInfo,
    show: str | None = None,
) -> CustomerProfile:
    """The organisation's memory of one customer: profile, contacts, rhythm, and everything that
    happened, newest first (only the kinds `show` names: `TIMELINE_KINDS`). An unknown company is
    `NotFound`. Three queries whatever the customer's size (four with an agreement with volume
    tiers): the company with its credit picture and addresses, every list with the orders of the
    reorder rhythm in two (`_lists`), and the agreement's sales."""
    show = show if show in TIMELINE_KINDS else "all"
    pictures = await credit_pictures(
        session, today=today, grace_days=grace_days, company_ids=[company_id], loading=[joinedload(Company.addresses)]
    )
    if not pictures:
        raise NotFound()
    picture = pictures[0]
    found = await _lists(session, company_id, today, TIMELINE_KINDS[show], page)
    timeline = [_entry(thing) for thing in found["timeline"]]
    agreed = sorted((_entry(thing) for thing in found["outcomes"] + found["notes"]), key=_newest, reverse=True)
    active = found["agreement"][0] if found["agreement"] else None
    return CustomerProfile(
        company=picture.company,
        picture=picture,
        buyers=found["buyers"],
        rhythm=_rhythms_of(((company_id, *figures) for figures in found["counted"]), [company_id], today)[company_id],
        timeline=timeline[:TIMELINE_PAGE],
        page=page,
        has_more=len(timeline) > TIMELINE_PAGE,
        managers=found["managers"],
        open_quotes=[OpenQuote(quote) for quote in found["quotes"]],
        agreement=await agreements.customer_agreement(session, active, found["closes"], today),
        contacts=found["contacts"],
        opportunities=found["opportunities"],
        tasks=[tasks.TaskRow(task, today) for task in found["tasks"]],
        show=show,
        agreed=agreed[:AGREED_SHOWN],
        waiting_orders=found["waiting"],
    )


def _newest(entry: TimelineEntry) -> datetime:
    return entry.at


LISTED: dict[str, Any] = {
    "user": User,
    "contact": Contact,
    "task": Task,
    "opportunity": Opportunity,
    "quote": Quote,
    "order": Order,
    "agreement": Agreement,
    "close": SettlementClose,
    "note": CustomerNote,
    "activity": Activity,
    "order_event": OrderEvent,
    "credit_event": CreditEvent,
    "quote_event": QuoteEvent,
}
"""The kinds of things the customer page's lists hold, by the name `_lists` gives each."""
TIMELINE: tuple[tuple[str, str, InstrumentedAttribute[datetime]], ...] = (
    ("order", "order_event", OrderEvent.at),
    ("note", "note", CustomerNote.created_at),
    ("credit", "credit_event", CreditEvent.at),
    ("quote", "quote_event", QuoteEvent.at),
    ("activity", "activity", Activity.happened_at),
)
"""The timeline's kinds, the thing each lists and its moment; entries of the same moment in this order."""


def _entry(thing: Any) -> TimelineEntry:
    if isinstance(thing, OrderEvent):
        return TimelineEntry(thing.at, "order", thing)
    if isinstance(thing, CustomerNote):
        return TimelineEntry(thing.created_at, "note", thing)
    if isinstance(thing, CreditEvent):
        return TimelineEntry(thing.at, "credit", thing)
    if isinstance(thing, QuoteEvent):
        return TimelineEntry(thing.at, "quote", QuoteMove(thing))
    assert isinstance(thing, Activity)
    return TimelineEntry(thing.happened_at, "activity", ActivityLine(thing))


def _pick(
    section: str, kind: str, condition: ColumnElement[bool], order: Sequence[Any], limit: int | None = None
) -> Select[Any]:
    """The ids of one list's things, ranked in its order: (section, kind, id, rank)."""
    model = LISTED[kind]
    ranked = (
        select(
            literal(section).label("section"),
            literal(kind).label("kind"),
            model.id.label("id"),
            func.row_number().over(order_by=order).label("rank"),
        )
        .where(condition)
        .order_by(*order)
        .limit(limit)
        .subquery()
    )
    return select(ranked)


def _timeline_picks(company_id: int, kinds: frozenset[str], page: int) -> Select[Any]:
    """The ids of the timeline's page (and one more entry, telling there is an older page): the
    newest of each kind shown, merged newest first."""
    depth = page * TIMELINE_PAGE + 1
    latest = []
    for tie, (kind, listed, at) in enumerate(TIMELINE):
        if kind in kinds:
            model = LISTED[listed]
            newest = (
                select(literal(listed).label("kind"), model.id.label("id"), at.label("at"), literal(tie).label("tie"))
                .where(model.company_id == company_id)
                .order_by(at.desc(), model.id.desc())
                .limit(depth)
                .subquery()
            )
            latest.append(select(newest))
    merged = union_all(*latest).subquery()
    order = (merged.c.at.desc(), merged.c.tie, merged.c.id.desc())
    ranked = select(
        literal("timeline").label("section"),
        merged.c.kind,
        merged.c.id,
        func.row_number().over(order_by=order).label("rank"),
    ).subquery()
    start = (page - 1) * TIMELINE_PAGE
    return select(ranked).where(ranked.c.rank > start, ranked.c.rank <= start + TIMELINE_PAGE + 1)


async def _lists(
    session: AsyncSession, company_id: int, today: date, kinds: frozenset[str], page: int
) -> dict[str, list[Any]]:
    """Every list of the customer page, by section, in two queries of about a dozen tables each
    (PostgreSQL plans two such in a fraction of the time one of twice the size takes): the lists
    with the orders of the reorder rhythm (`_counted`, as figures), then the agreement, what was
    agreed and the timeline's page. A UNION ALL picks each list's ids in its order (`_pick`), then
    each kind of thing is joined to its picks with what it is shown with. Each list's rule stays
    with its service (`contacts.CONTACTS_ORDER`, `tasks.open_tasks_of`,
    `pipeline.open_opportunities_of`, `agreements.active_on`, ...)."""
    lists = (
        _pick("buyers", "user", User.company_id == company_id, (User.full_name, User.id)),
        _pick(
            "managers",
            "user",
            and_(User.role == Role.ACCOUNT_MANAGER, User.is_active),
            (User.full_name, User.id),
        ),
        _pick("contacts", "contact", contacts.Owner(company_id).condition(), contacts.CONTACTS_ORDER),
        _pick("tasks", "task", tasks.open_tasks_of(company_id=company_id), tasks.DUE_ORDER, tasks.CUSTOMER_TASKS_SHOWN),
        _pick(
            "opportunities",
            "opportunity",
            pipeline.open_opportunities_of(company_id=company_id),
            pipeline.SOONEST_CLOSE,
        ),
        _pick(
            "quotes",
            "quote",
            and_(Quote.company_id == company_id, Quote.status.in_(quotes.OPEN)),
            (Quote.updated_at.desc(), Quote.id.desc()),
            OPEN_QUOTES_SHOWN,
        ),
        _pick(
            "waiting",
            "order",
            and_(Order.company_id == company_id, Order.status == OrderStatus.PENDING_APPROVAL),
            (Order.submitted_at, Order.id),
            WAITING_SHOWN,
        ),
    )
    counted = (
        select(
            literal("counted").label("section"),
            literal("counted").label("kind"),
            func.min(Order.id).label("id"),
            func.row_number().over(order_by=Order.counted_on).label("rank"),
            *FIGURES,
        )
        .where(_counted([company_id], today))
        .group_by(Order.counted_on)
    )
    picks = union_all(*(pick.add_columns(*_NO_FIGURES) for pick in lists), counted).subquery()
    found = await _things(
        session,
        picks,
        ("user", "contact", "task", "opportunity", "quote", "order"),
        (
            joinedload(Contact.user),
            *tasks.LOADED,
            joinedload(Opportunity.owner),
        ),
        (picks.c.day, picks.c.orders, picks.c.net, picks.c.cost),
    )
    found.update(
        await _things(
            session,
            union_all(
                _pick(
                    "outcomes",
                    "activity",
                    and_(Activity.company_id == company_id, Activity.outcome != ""),
                    (Activity.happened_at.desc(), Activity.id.desc()),
                    AGREED_SHOWN,
                ),
                _pick(
                    "notes",
                    "note",
                    CustomerNote.company_id == company_id,
                    (CustomerNote.created_at.desc(), CustomerNote.id.desc()),
                    AGREED_SHOWN,
                ),
                _pick("agreement", "agreement", agreements.active_on(company_id, today), (Agreement.id,), 1),
                _pick(
                    "closes",
                    "close",
                    SettlementClose.company_id == company_id,
                    (SettlementClose.closed_at.desc(), SettlementClose.id.desc()),
                    agreements.CUSTOMER_CLOSES_SHOWN,
                ),
                _timeline_picks(company_id, kinds, page),
            ).subquery(),
            ("agreement", "close", *(listed for _, listed, _ in TIMELINE)),
            (
                agreements.with_tiers(),
                joinedload(CustomerNote.author),
                joinedload(Activity.contact),
                joinedload(Activity.author),
                joinedload(OrderEvent.actor),
                joinedload(OrderEvent.on_behalf_of),
                joinedload(OrderEvent.order),
                joinedload(CreditEvent.actor),
                joinedload(QuoteEvent.actor),
                joinedload(QuoteEvent.quote),
            ),
        )
    )
    return found


FIGURES = (
    Order.counted_on.label("day"),
    func.count(Order.id).label("orders"),
    func.sum(Order.net_total).label("net"),
    func.sum(Order.cost_total).label("cost"),
)
"""What the reorder rhythm needs of each day's counted orders (`_rhythms_of`), picked with the lists."""
_NO_FIGURES = tuple(cast(null(), figure.type).label(figure.name) for figure in FIGURES)


async def _things(
    session: AsyncSession,
    picks: Subquery,
    kinds: Sequence[str],
    loading: Sequence[Any],
    figures: Sequence[ColumnElement[Any]] = (),
) -> dict[str, list[Any]]:
    """The things picked (section, kind, id, rank) joined to the models of `kinds`, by section, in
    rank order; a pick of another kind is listed as its `figures`."""
    models = [LISTED[kind] for kind in kinds]
    query = select(picks.c.section, picks.c.kind, *models, *figures).select_from(picks)
    for kind, model in zip(kinds, models, strict=True):
        query = query.outerjoin(model, and_(picks.c.kind == kind, model.id == picks.c.id))
    query = query.options(*loading).order_by(picks.c.section, picks.c.rank)
    column = {kind: number for number, kind in enumerate(kinds)}
    found: dict[str, list[Any]] = defaultdict(list)
    for section, kind, *things in (await session.execute(query)).unique():
        found[section].append(things[column[kind]] if kind in column else tuple(things[len(models) :]))
    return found


@dataclass(frozen=True)
class CustomerGrowth:
    """The customer page's growth tab: the customer, and what to offer it (`growth.suggestions`)."""

    company: Company
    growth: growth.Growth


async def customer_growth(session: AsyncSession, company_id: int, today: date) -> CustomerGrowth:
    """What customers with a similar purchase mix buy regularly and this one does not; an unknown
    company is `NotFound`. Three queries whatever the number of customers."""
    company = await session.get(Company, company_id)
    if company is None:
        raise NotFound()
    return CustomerGrowth(company, await growth.suggestions(session, company_id, today))


def _note_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise NoteRefused(gettext("Write something first."))
    if len(body) > NOTE_MAX:
        raise NoteRefused(gettext("A note holds at most %(max)d characters.") % {"max": NOTE_MAX})
    return body


async def add_note(session: AsyncSession, author: User, company_id: int, body: str) -> CustomerNote:
    if await session.get(Company, company_id) is None:
        raise NotFound()
    note = CustomerNote(company_id=company_id, author_id=author.id, body=_note_body(body))
    session.add(note)
    await session.flush()
    audit.record(
        session,
        author,
        "create",
        "note",
        note.id,
        _note_label(note),
        company_id=company_id,
        changes={"body": [None, note.body]},
    )
    return note


async def edit_note(session: AsyncSession, author: User, company_id: int, note_id: int, body: str) -> CustomerNote:
    """Only the author edits a note; anyone else is `NotAllowed`."""
    note = await session.get(CustomerNote, note_id)
    if note is None or note.company_id != company_id:
        raise NotFound()
    if note.author_id != author.id:
        raise NotAllowed(gettext("Only the author can change a note."))
    before = note.body
    note.body = _note_body(body)
    note.updated_at = clock.now()
    await session.flush()
    if note.body != before:
        audit.record(
            session,
            author,
            "update",
            "note",
            note.id,
            _note_label(note),
            company_id=company_id,
            changes={"body": [before, note.body]},
        )
    return note


def _note_label(note: CustomerNote) -> str:
    first = note.body.strip().splitlines()[0] if note.body.strip() else ""
    return first[:80]


async def reassign(session: AsyncSession, actor: User, company_id: int, manager_id: int | None) -> Company:
    """An admin gives the customer to another account manager (audited)."""
    company = await session.get(Company, company_id, options=[joinedload(Company.account_manager)])
    if company is None:
        raise NotFound()
    manager = await session.get(User, manager_id) if manager_id else None
    if manager is None or manager.role is not Role.ACCOUNT_MANAGER or not manager.is_active:
        raise NotAManager()
    before = company.account_manager.email if company.account_manager else None
    company.account_manager_id = manager.id
    await session.flush()
    if before != manager.email:
        audit.record(
            session,
            actor,
            "reassign",
            "company",
            company.id,
            company.name,
            company_id=company.id,
            changes={"account_manager": [before, manager.email]},
        )
    return company
