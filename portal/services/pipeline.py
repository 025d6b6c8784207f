"""The sales pipeline: opportunities with a customer or a prospect, moved through the stages
lead → qualified → offer → negotiation → won | lost, by hand and by their quotes' moves.

The rules, and no others:
- By hand (`MOVES`) an open stage moves to any other stage; won and lost are final. Won needs the
  order it was won with, an order of that customer — for a prospect, which has no orders yet, a
  note saying what was won; lost needs a reason from the list an admin keeps (`LostReason`), and
  the reason "Other" needs the text.
- A linked quote moves its opportunity (`follow_quote`, called by `services/quotes.py`): sent →
  offer (from lead or qualified), changes requested → negotiation (from any earlier stage),
  accepted → won with the order the acceptance made (from any open stage). A quote never moves an
  opportunity backwards and never touches a won or lost one.
- Every move is kept (`OpportunityMove`: from, to, when, who — nobody for a quote's move —, which
  quote, the note) and raises `Opportunity.version`. A form carries the version it was read at and
  the change is one conditional UPDATE … WHERE version = …: of two people changing the same
  opportunity at once, the later one is told and nothing of theirs is saved.
The board (`board`) shows the open opportunities by stage with counts, values per currency and the
weighted value (value × the stage's chance, `pipeline_settings.probabilities`), and those won or lost
in the last 90 days, in the same few queries however many there are."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal import clock
from portal.errors import Conflict, NotAllowed, NotFound, Refused
from portal.i18n import N_, format_decimal, gettext
from portal.models import (
    Company,
    LostReason,
    Opportunity,
    OpportunityMove,
    Order,
    OrderStatus,
    Prospect,
    Quote,
    QuoteStatus,
    Role,
    Stage,
    User,
)
from portal.services import pipeline_settings, scoping
from portal.services.transactions import lock_rows, retried

TITLE_MAX = 200
"""`opportunities.title` is VARCHAR(200)."""
NOTE_MAX = 2000
"""A move's note (why it was lost, what was won), in characters."""
MAX_VALUE = Decimal("100000000000")
"""The largest expected value: 100 billion."""
CLOSE_PAST_DAYS = 30
"""An expected close date may lie this many days in the past (a deal that is late), no more."""
CLOSE_AHEAD_YEARS = 3
RECENT_DAYS = 90
"""The board shows the opportunities won or lost within this many days."""
RECENT_ORDERS = 20
"""The won form offers the customer's latest orders, this many."""
QUOTES_TO_LINK = 50
"""The "link a quote" form offers the customer's latest quotes not linked yet, this many."""
OTHER = "Other"
"""The lost reason that needs its text."""
CENT = Decimal("0.01")
HUNDRED = Decimal("100")

OPEN_STAGES = (Stage.LEAD, Stage.QUALIFIED, Stage.OFFER, Stage.NEGOTIATION)
FINAL_STAGES = (Stage.WON, Stage.LOST)
STAGES = OPEN_STAGES + FINAL_STAGES
MOVES: dict[Stage, tuple[Stage, ...]] = {
    **{stage: tuple(other for other in STAGES if other is not stage) for stage in OPEN_STAGES},
    Stage.WON: (),
    Stage.LOST: (),
}
"""The moves by hand: an open stage to any other; won and lost are final."""
QUOTE_MOVES: dict[QuoteStatus, tuple[Stage, frozenset[Stage]]] = {
    QuoteStatus.SENT: (Stage.OFFER, frozenset({Stage.LEAD, Stage.QUALIFIED})),
    QuoteStatus.CHANGES_REQUESTED: (Stage.NEGOTIATION, frozenset({Stage.LEAD, Stage.QUALIFIED, Stage.OFFER})),
    QuoteStatus.ACCEPTED: (Stage.WON, frozenset(OPEN_STAGES)),
}
"""A linked quote's move → the stage it moves the opportunity to, and the stages it moves it from."""
UNUSABLE_ORDERS = frozenset({OrderStatus.REJECTED, OrderStatus.CANCELLED})
"""Orders nothing was won with."""

STAGE_LABELS = {
    Stage.LEAD: N_("Lead"),
    Stage.QUALIFIED: N_("Qualified"),
    Stage.OFFER: N_("Offer"),
    Stage.NEGOTIATION: N_("Negotiation"),
    Stage.WON: N_("Won"),
    Stage.LOST: N_("Lost"),
}
SEEDED_LOST_REASONS = frozenset(
    {
        N_("Price too high"),
        N_("Chose a competitor"),
        N_("No budget"),
        N_("Delivery terms"),
        N_("No answer"),
        N_("Other"),
    }
)
"""The reasons the portal starts with (migration 0015), shown in the reader's language; those an
admin adds are shown as typed."""
QUOTE_CAUSES = {
    Stage.OFFER: N_("quote %(number)s sent"),
    Stage.NEGOTIATION: N_("changes requested to quote %(number)s"),
    Stage.WON: N_("quote %(number)s accepted"),
}
"""What a quote did to move an opportunity, by the stage it moved it to."""


def stage_label(stage: Stage) -> str:
    return gettext(STAGE_LABELS[stage])


def lost_reason_label(reason: LostReason) -> str:
    return gettext(reason.label) if reason.label in SEEDED_LOST_REASONS else reason.label


class OpportunityRefused(Refused):
    """An opportunity's form or move was refused; the message is next to `field`."""


class MovedMeanwhile(Conflict):
    """Someone changed the opportunity since the form was read; nothing was changed."""


@dataclass(frozen=True)
class Terms:
    """What a person writes about an opportunity; creating and editing take the same."""

    title: str
    expected_value: Decimal
    expected_close_on: date
    owner_id: int | None = None
    """None: the customer's account manager, or the prospect's owner (when creating); unchanged (when editing)."""


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def overdue(opportunity: Opportunity, today: date) -> bool:
    """An open opportunity whose expected close date has passed."""
    return opportunity.stage in OPEN_STAGES and opportunity.expected_close_on < today


# --- who may see and change it --------------------------------------------------------------------


def _may_work(user: User) -> None:
    if user.role not in (Role.ACCOUNT_MANAGER, Role.ADMIN):
        raise NotAllowed(gettext("Only account managers and admins work the pipeline."))


def _loaded() -> list[Any]:
    return [joinedload(Opportunity.company), joinedload(Opportunity.prospect), joinedload(Opportunity.owner)]


async def _visible(session: AsyncSession, user: User, opportunity_id: int, today: date) -> Opportunity:
    """The opportunity, if this user sees its customer or prospect (`scoping.can_view_crm`); else `NotFound`."""
    if not await scoping.can_view_crm(session, user, "opportunity", opportunity_id, today):
        raise NotFound()
    opportunity = await session.scalar(
        select(Opportunity)
        .options(*_loaded(), joinedload(Opportunity.lost_reason), joinedload(Opportunity.order))
        .where(Opportunity.id == opportunity_id)
        .execution_options(populate_existing=True)
    )
    if opportunity is None:
        raise NotFound()
    return opportunity


async def _workable(session: AsyncSession, user: User, opportunity_id: int, today: date) -> Opportunity:
    _may_work(user)
    return await _visible(session, user, opportunity_id, today)


@dataclass(frozen=True)
class Target:
    """Whom a new opportunity is for: a customer or a prospect."""

    company: Company | None
    prospect: Prospect | None

    @property
    def name(self) -> str:
        return self.company.name if self.company else self.prospect.name if self.prospect else ""

    @property
    def currency(self) -> str:
        return self.company.currency if self.company else "PLN"

    @property
    def default_owner_id(self) -> int | None:
        if self.company is not None:
            return self.company.account_manager_id
        return self.prospect.owner_id if self.prospect else None


async def target(
    session: AsyncSession, user: User, today: date, *, company_id: int | None, prospect_id: int | None
) -> Target:
    """The customer or the prospect a new opportunity is for, if this user sees it; else `NotFound`."""
    if (company_id is None) == (prospect_id is None):
        raise NotFound()
    if company_id is not None:
        return Target(await scoping.visible_company(session, user, company_id, today), None)
    condition = await scoping.visible_prospects_filter(session, user, today)
    prospect = await session.scalar(select(Prospect).where(Prospect.id == prospect_id, condition))
    if prospect is None:
        raise NotFound()
    return Target(None, prospect)


async def managers(session: AsyncSession) -> list[User]:
    """The active account managers, by name: who may own an opportunity."""
    return list(
        await session.scalars(
            select(User).where(User.role == Role.ACCOUNT_MANAGER, User.is_active).order_by(User.full_name, User.id)
        )
    )


@dataclass(frozen=True)
class NewOpportunity:
    """The form of a new opportunity: for whom, and who may own it."""

    target: Target
    managers: list[User]


async def new_opportunity(
    session: AsyncSession, user: User, today: date, *, company_id: int | None, prospect_id: int | None
) -> NewOpportunity:
    """The new-opportunity form for a customer or a prospect this user sees (else `NotFound`)."""
    found = await target(session, user, today, company_id=company_id, prospect_id=prospect_id)
    return NewOpportunity(found, await managers(session))


# --- creating and editing -------------------------------------------------------------------------


async def _checked(
    session: AsyncSession, terms: Terms, owner_id: int | None, today: date, *, close_changed: bool
) -> str:
    """The title as kept; every problem of the terms refused at once, each next to its field."""
    errors: dict[str, str] = {}
    title = terms.title.strip()
    if not title:
        errors["title"] = gettext("Give the opportunity a title.")
    elif len(title) > TITLE_MAX:
        errors["title"] = gettext("Use at most %(limit)s characters.") % {"limit": TITLE_MAX}
    if terms.expected_value < 0:
        errors["expected_value"] = gettext("The expected value cannot be negative.")
    elif terms.expected_value > MAX_VALUE:
        errors["expected_value"] = gettext("Enter at most %(limit)s.") % {"limit": format_decimal(MAX_VALUE, 0)}
    if close_changed and terms.expected_close_on < today - timedelta(days=CLOSE_PAST_DAYS):
        errors["expected_close_on"] = gettext("The expected close date can be at most %(days)d days in the past.") % {
            "days": CLOSE_PAST_DAYS
        }
    elif close_changed and terms.expected_close_on > _years_later(today, CLOSE_AHEAD_YEARS):
        errors["expected_close_on"] = gettext("The expected close date can be at most three years ahead.")
    owner = await session.get(User, owner_id) if owner_id is not None else None
    if owner is None or owner.role is not Role.ACCOUNT_MANAGER or not owner.is_active:
        errors["owner_id"] = gettext("Choose an active account manager.")
    if errors:
        raise OpportunityRefused(gettext("Please correct the marked fields."), errors=errors)
    return title


@retried
async def create(
    session: AsyncSession,
    user: User,
    terms: Terms,
    *,
    today: date,
    company_id: int | None = None,
    prospect_id: int | None = None,
) -> Opportunity:
    """A new opportunity at "lead" for a customer or a prospect this user sees, in the customer's
    currency (PLN for a prospect), owned by the account manager chosen or by default the customer's
    manager or the prospect's owner."""
    _may_work(user)
    found = await target(session, user, today, company_id=company_id, prospect_id=prospect_id)
    owner_id = terms.owner_id or found.default_owner_id
    title = await _checked(session, terms, owner_id, today, close_changed=True)
    assert owner_id is not None
    now = clock.now()
    opportunity = Opportunity(
        company_id=found.company.id if found.company else None,
        prospect_id=found.prospect.id if found.prospect else None,
        title=title,
        expected_value=terms.expected_value,
        currency=found.currency,
        expected_close_on=terms.expected_close_on,
        stage=Stage.LEAD,
        owner_id=owner_id,
        created_at=now,
        updated_at=now,
        stage_changed_at=now,
        version=1,
    )
    session.add(opportunity)
    await session.flush()
    session.add(
        OpportunityMove(
            opportunity_id=opportunity.id,
            company_id=opportunity.company_id,
            at=now,
            actor_id=user.id,
            from_stage=None,
            to_stage=Stage.LEAD,
        )
    )
    await session.flush()
    return opportunity


@retried
async def edit(
    session: AsyncSession, user: User, opportunity_id: int, terms: Terms, *, version: int, today: date
) -> Opportunity:
    """New terms for an opportunity, as read at `version`. A close date kept as it was is not
    checked again (a late deal can still get a new title)."""
    opportunity = await _workable(session, user, opportunity_id, today)
    if opportunity.version != version:
        raise await _moved_meanwhile(session, opportunity.id)
    owner_id = terms.owner_id or opportunity.owner_id
    close_changed = terms.expected_close_on != opportunity.expected_close_on
    title = await _checked(session, terms, owner_id, today, close_changed=close_changed)
    values = {
        "title": title,
        "expected_value": terms.expected_value,
        "expected_close_on": terms.expected_close_on,
        "owner_id": owner_id,
        "updated_at": clock.now(),
    }
    await _changed(session, opportunity, version, values)
    return opportunity


async def _changed(session: AsyncSession, opportunity: Opportunity, version: int, values: dict[str, Any]) -> None:
    """One conditional UPDATE: the change is made only if nobody changed the opportunity since `version`."""
    result = await session.execute(
        update(Opportunity)
        .where(Opportunity.id == opportunity.id, Opportunity.version == version)
        .values(**values, version=Opportunity.version + 1)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise await _moved_meanwhile(session, opportunity.id)
    await session.refresh(opportunity)


async def _moved_meanwhile(session: AsyncSession, opportunity_id: int) -> MovedMeanwhile:
    stage = await session.scalar(
        select(Opportunity.stage).where(Opportunity.id == opportunity_id).execution_options(populate_existing=True)
    )
    return MovedMeanwhile(
        gettext(
            "Someone changed this opportunity meanwhile; it is at “%(stage)s” now. Nothing was changed: check it and try again."
        )
        % {"stage": stage_label(stage) if stage else "–"}
    )


# --- moves ----------------------------------------------------------------------------------------


async def _apply(
    session: AsyncSession,
    opportunity: Opportunity,
    to: Stage,
    *,
    version: int,
    actor: User | None,
    quote: Quote | None = None,
    note: str = "",
    order_id: int | None = None,
    lost_reason_id: int | None = None,
) -> OpportunityMove:
    """Moves the opportunity read at `version` to `to` and keeps the move."""
    now = clock.now()
    values: dict[str, Any] = {"stage": to, "stage_changed_at": now, "updated_at": now}
    if to is Stage.WON:
        values["order_id"] = order_id
    if to is Stage.LOST:
        values |= {"lost_reason_id": lost_reason_id, "lost_note": note}
    before = opportunity.stage
    await _changed(session, opportunity, version, values)
    move = OpportunityMove(
        opportunity_id=opportunity.id,
        company_id=opportunity.company_id,
        at=now,
        actor_id=actor.id if actor else None,
        from_stage=before,
        to_stage=to,
        quote_id=quote.id if quote else None,
        note=note,
    )
    session.add(move)
    await session.flush()
    return move


def _refused(message: str, field: str) -> OpportunityRefused:
    return OpportunityRefused(message, field)


@retried
async def move(
    session: AsyncSession,
    user: User,
    opportunity_id: int,
    to: Stage,
    *,
    version: int,
    today: date,
    lost_reason_id: int | None = None,
    order_id: int | None = None,
    note: str = "",
) -> Opportunity:
    """Moves an opportunity by hand (`MOVES`), as read at `version`: to won with the order it was
    won with (for a prospect, a note saying what was won), to lost with a reason from the list
    (and the text, for "Other")."""
    opportunity = await _workable(session, user, opportunity_id, today)
    if opportunity.version != version:
        raise await _moved_meanwhile(session, opportunity.id)
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise _refused(gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(NOTE_MAX, 0)}, "note")
    if to not in MOVES[opportunity.stage]:
        if opportunity.stage in FINAL_STAGES:
            message = gettext("This opportunity is “%(stage)s”: won and lost are final.")
        else:
            message = gettext("It is at “%(stage)s” already: choose another stage.")
        raise _refused(message % {"stage": stage_label(opportunity.stage)}, "stage")
    if to is Stage.WON:
        order_id = await _won_with(session, opportunity, order_id, note)
    if to is Stage.LOST:
        await _lost_for(session, lost_reason_id, note)
    await _apply(
        session,
        opportunity,
        to,
        version=version,
        actor=user,
        note=note,
        order_id=order_id,
        lost_reason_id=lost_reason_id,
    )
    return opportunity


async def _won_with(session: AsyncSession, opportunity: Opportunity, order_id: int | None, note: str) -> int | None:
    """The order a customer's opportunity was won with; a prospect's needs the note instead."""
    if opportunity.company_id is None:
        if not note:
            raise _refused(gettext("Say what was won: a prospect has no orders in the portal yet."), "note")
        return None
    if order_id is None:
        raise _refused(gettext("Choose the order it was won with."), "order_id")
    order = await session.get(Order, order_id)
    if order is None or order.company_id != opportunity.company_id or order.status in UNUSABLE_ORDERS:
        raise _refused(gettext("Choose one of this customer's orders from the list."), "order_id")
    return order.id


async def _lost_for(session: AsyncSession, lost_reason_id: int | None, note: str) -> None:
    reason = await session.get(LostReason, lost_reason_id) if lost_reason_id is not None else None
    if reason is None or not reason.is_active:
        raise _refused(gettext("Choose why it was lost."), "lost_reason_id")
    if reason.label == OTHER and not note:
        raise _refused(gettext("Say what the other reason was."), "note")


async def follow_quote(
    session: AsyncSession,
    quote: Quote,
    to_status: QuoteStatus,
    *,
    actor: User | None = None,
    order: Order | None = None,
) -> OpportunityMove | None:
    """Moves the quote's opportunity after the quote moved to `to_status` (`QUOTE_MOVES`), inside
    the quote's own transaction; accepted, with the `order` it made. Nothing happens for a quote
    without an opportunity, for a move that would go backwards, or for a won or lost opportunity.
    `actor`: the person who made the move by hand (linking a quote already sent); None when the
    quote's own move made it. Returns the move, or None."""
    if quote.opportunity_id is None or to_status not in QUOTE_MOVES:
        return None
    to, starts = QUOTE_MOVES[to_status]
    await lock_rows(session, Opportunity, [quote.opportunity_id])
    opportunity = await session.scalar(
        select(Opportunity).where(Opportunity.id == quote.opportunity_id).execution_options(populate_existing=True)
    )
    if opportunity is None or opportunity.stage not in starts:
        return None
    order_id = order.id if order is not None else None
    if to is Stage.WON and order_id is None:
        order_id = await session.scalar(select(Order.id).where(Order.quote_id == quote.id))
    return await _apply(
        session, opportunity, to, version=opportunity.version, actor=actor, quote=quote, order_id=order_id
    )


def _open_or_refused(opportunity: Opportunity, field: str) -> None:
    if opportunity.stage in FINAL_STAGES:
        raise _refused(
            gettext("This opportunity is “%(stage)s”: won and lost are final.")
            % {"stage": stage_label(opportunity.stage)},
            field,
        )
    if opportunity.company_id is None:
        raise _refused(
            gettext("Quotes are made for customers: this prospect gets them once it becomes a customer."), field
        )


@retried
async def link_quote(session: AsyncSession, user: User, opportunity_id: int, quote_id: int, *, today: date) -> Quote:
    """Links a quote of the same customer, not linked to another opportunity, to an open
    opportunity; a quote already sent, with changes requested or accepted moves it as it would
    have (`follow_quote`). Linking the same quote twice changes nothing."""
    opportunity = await _workable(session, user, opportunity_id, today)
    _open_or_refused(opportunity, "quote_id")
    quote = await session.scalar(select(Quote).where(Quote.id == quote_id).execution_options(populate_existing=True))
    if quote is None or quote.company_id != opportunity.company_id:
        raise _refused(gettext("Choose one of this customer's quotes from the list."), "quote_id")
    if quote.opportunity_id == opportunity.id:
        return quote
    if quote.opportunity_id is not None:
        raise _refused(
            gettext("Quote %(number)s is linked to another opportunity.") % {"number": quote.number}, "quote_id"
        )
    claimed = await session.execute(
        update(Quote)
        .where(Quote.id == quote.id, Quote.opportunity_id.is_(None))
        .values(opportunity_id=opportunity.id)
        .execution_options(synchronize_session=False)
    )
    if not getattr(claimed, "rowcount", 0):
        raise MovedMeanwhile(
            gettext("Quote %(number)s was linked to another opportunity meanwhile.") % {"number": quote.number}
        )
    await session.refresh(quote)
    await follow_quote(session, quote, quote.status, actor=user)
    return quote


class OfferMaker(Protocol):
    """Starts the account manager's offer to a company (`quotes.new_offer`): quotes move their
    opportunities through this module, so the quotes service is handed in, not imported."""

    async def __call__(self, session: AsyncSession, user: User, company_id: int, *, title: str) -> Quote: ...


@retried
async def new_offer(session: AsyncSession, user: User, opportunity_id: int, *, today: date, start: OfferMaker) -> Quote:
    """The account manager's new offer to the opportunity's customer, titled as the opportunity and
    linked to it (a draft: it moves the opportunity once it is sent)."""
    opportunity = await _workable(session, user, opportunity_id, today)
    _open_or_refused(opportunity, "")
    assert opportunity.company_id is not None
    quote = await start(session, user, opportunity.company_id, title=opportunity.title)
    quote.opportunity_id = opportunity.id
    await session.flush()
    return quote


# --- what the pages read --------------------------------------------------------------------------


def _sums(pairs: Iterable[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    """Amounts summed per currency, rounded half-up to the cent, by currency."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for currency, amount in pairs:
        totals[currency] += amount
    return [(currency, totals[currency].quantize(CENT, ROUND_HALF_UP)) for currency in sorted(totals)]


@dataclass(frozen=True)
class Card:
    """One opportunity on the board."""

    opportunity: Opportunity
    overdue: bool

    @property
    def moves_to(self) -> tuple[Stage, ...]:
        return MOVES[self.opportunity.stage]

    @property
    def won(self) -> bool:
        return self.opportunity.stage is Stage.WON

    @property
    def lost_reason(self) -> str:
        reason = self.opportunity.lost_reason
        return lost_reason_label(reason) if reason else ""


@dataclass(frozen=True)
class Column:
    """One stage of the board: its cards, their values per currency and, for an open stage, the
    chance of winning and the weighted values."""

    stage: Stage
    cards: list[Card]
    percent: Decimal

    @property
    def label(self) -> str:
        return stage_label(self.stage)

    @property
    def count(self) -> int:
        return len(self.cards)

    @property
    def values(self) -> list[tuple[str, Decimal]]:
        return _sums((card.opportunity.currency, card.opportunity.expected_value) for card in self.cards)

    @property
    def weighted(self) -> list[tuple[str, Decimal]]:
        return _sums(
            (card.opportunity.currency, card.opportunity.expected_value * self.percent / HUNDRED) for card in self.cards
        )


@dataclass(frozen=True)
class Board:
    columns: list[Column]
    """The open stages, lead to negotiation."""
    closed: list[Column]
    """Won and lost in the last `RECENT_DAYS` days, the latest first."""
    owners: list[User]
    """Whom the board can be filtered by: the active account managers."""
    owner_id: int | None

    @property
    def count(self) -> int:
        return sum(column.count for column in self.columns)

    @property
    def values(self) -> list[tuple[str, Decimal]]:
        """The open opportunities' expected values, per currency."""
        return _sums(
            (card.opportunity.currency, card.opportunity.expected_value)
            for column in self.columns
            for card in column.cards
        )

    @property
    def weighted(self) -> list[tuple[str, Decimal]]:
        """Σ value × the stage's chance / 100 over the open opportunities, per currency."""
        return _sums(
            (card.opportunity.currency, card.opportunity.expected_value * column.percent / HUNDRED)
            for column in self.columns
            for card in column.cards
        )

    @property
    def recent_days(self) -> int:
        return RECENT_DAYS


async def _visible_condition(session: AsyncSession, user: User, today: date) -> ColumnElement[bool]:
    """The opportunities of the customers this user sees and of the prospects they see (an
    opportunity with a customer goes by the customer, as `scoping.can_view_crm` does)."""
    in_charge = await scoping.managers_in_charge(session, user, today)
    companies = select(Company.id).where(scoping.company_filter(user, in_charge))
    prospects = select(Prospect.id).where(scoping.prospect_filter(user, in_charge))
    return or_(
        Opportunity.company_id.in_(companies),
        and_(Opportunity.company_id.is_(None), Opportunity.prospect_id.in_(prospects)),
    )


async def board(session: AsyncSession, user: User, today: date, owner_id: int | None = None) -> Board:
    """The pipeline this user sees, of one owner or of all: the open opportunities by stage, the
    soonest expected close first; those won or lost in the last `RECENT_DAYS` days. Four queries."""
    since = clock.now() - timedelta(days=RECENT_DAYS)
    statement = (
        select(Opportunity)
        .options(*_loaded(), joinedload(Opportunity.lost_reason), joinedload(Opportunity.order))
        .where(
            await _visible_condition(session, user, today),
            or_(Opportunity.stage.in_(OPEN_STAGES), Opportunity.stage_changed_at >= since),
        )
        .order_by(Opportunity.expected_close_on, Opportunity.id)
    )
    if owner_id is not None:
        statement = statement.where(Opportunity.owner_id == owner_id)
    found = list(await session.scalars(statement))
    percent = await pipeline_settings.probabilities(session)
    by_stage: dict[Stage, list[Card]] = defaultdict(list)
    for opportunity in found:
        by_stage[opportunity.stage].append(Card(opportunity, overdue(opportunity, today)))
    for stage in FINAL_STAGES:
        by_stage[stage].sort(key=lambda card: card.opportunity.stage_changed_at, reverse=True)
    return Board(
        columns=[Column(stage, by_stage[stage], percent[stage]) for stage in OPEN_STAGES],
        closed=[Column(stage, by_stage[stage], percent[stage]) for stage in FINAL_STAGES],
        owners=await managers(session),
        owner_id=owner_id,
    )


async def open_opportunities_for(
    session: AsyncSession, *, company_id: int | None = None, prospect_id: int | None = None
) -> list[Opportunity]:
    """The open opportunities of a customer (or of a prospect), the soonest expected close first, with
    their owners: one query."""
    return list(
        await session.scalars(
            select(Opportunity)
            .options(joinedload(Opportunity.owner))
            .where(open_opportunities_of(company_id=company_id, prospect_id=prospect_id))
            .order_by(*SOONEST_CLOSE)
        )
    )


SOONEST_CLOSE = (Opportunity.expected_close_on, Opportunity.id)
"""How a customer's (or prospect's) open opportunities are listed."""


def open_opportunities_of(*, company_id: int | None = None, prospect_id: int | None = None) -> ColumnElement[bool]:
    """The condition on `Opportunity` that keeps the open ones of one customer or one prospect (exactly one)."""
    assert (company_id is None) != (prospect_id is None)
    whose = Opportunity.company_id == company_id if company_id is not None else Opportunity.prospect_id == prospect_id
    return and_(whose, Opportunity.stage.in_(OPEN_STAGES))


@dataclass(frozen=True)
class MoveLine:
    """One move in an opportunity's history: from which stage to which, when, by whom or by which quote."""

    move: OpportunityMove
    quote_number: str | None

    @property
    def stages(self) -> str:
        to = stage_label(self.move.to_stage)
        if self.move.from_stage is None:
            return gettext("Opened at “%(stage)s”") % {"stage": to}
        return f"{stage_label(self.move.from_stage)} → {to}"

    @property
    def cause(self) -> str:
        """Who moved it: a person, or what a quote did (a person linking a quote already sent: both)."""
        move = self.move
        quote = (
            gettext(QUOTE_CAUSES[move.to_stage]) % {"number": self.quote_number}
            if self.quote_number and move.to_stage in QUOTE_CAUSES
            else ""
        )
        person = move.actor.full_name if move.actor else ""
        if quote and person:
            return gettext("%(name)s, on linking: %(quote)s") % {"name": person, "quote": quote}
        return quote or person or gettext("the system")


@dataclass(frozen=True)
class OpportunityPage:
    """One opportunity with everything its page shows and offers."""

    opportunity: Opportunity
    overdue: bool
    history: list[MoveLine]
    quotes: list[Quote]
    """The quotes linked to it, the latest first."""
    linkable: list[Quote]
    """The customer's latest quotes not linked to any opportunity."""
    orders: list[Order]
    """The customer's latest orders, to say which one it was won with."""
    reasons: list[LostReason]
    """The lost reasons offered (the active ones, in the admin's order)."""
    managers: list[User]

    @property
    def moves_to(self) -> tuple[Stage, ...]:
        return MOVES[self.opportunity.stage]

    @property
    def is_open(self) -> bool:
        return self.opportunity.stage in OPEN_STAGES

    @property
    def for_customer(self) -> bool:
        return self.opportunity.company_id is not None

    @property
    def name(self) -> str:
        opportunity = self.opportunity
        return (
            opportunity.company.name
            if opportunity.company
            else opportunity.prospect.name
            if opportunity.prospect
            else ""
        )

    @property
    def stage_label(self) -> str:
        return stage_label(self.opportunity.stage)

    @property
    def lost_reason(self) -> str:
        reason = self.opportunity.lost_reason
        return lost_reason_label(reason) if reason else ""

    @property
    def won_note(self) -> str:
        """What a won prospect's opportunity was won with, as the move to won says."""
        won = [line.move for line in self.history if line.move.to_stage is Stage.WON]
        return won[-1].note if won else ""


async def opportunity_page(session: AsyncSession, user: User, opportunity_id: int, today: date) -> OpportunityPage:
    """One opportunity this user sees (else `NotFound`): the same few queries whatever its history."""
    opportunity = await _visible(session, user, opportunity_id, today)
    rows = await session.execute(
        select(OpportunityMove, Quote.number)
        .outerjoin(Quote, Quote.id == OpportunityMove.quote_id)
        .options(joinedload(OpportunityMove.actor))
        .where(OpportunityMove.opportunity_id == opportunity.id)
        .order_by(OpportunityMove.at.desc(), OpportunityMove.id.desc())
    )
    history = [MoveLine(move, number) for move, number in rows]
    linked: list[Quote] = []
    linkable: list[Quote] = []
    orders: list[Order] = []
    if opportunity.company_id is not None:
        linked = list(
            await session.scalars(
                select(Quote)
                .options(joinedload(Quote.order))
                .where(Quote.opportunity_id == opportunity.id)
                .order_by(Quote.updated_at.desc(), Quote.id.desc())
            )
        )
        linkable = list(
            await session.scalars(
                select(Quote)
                .where(Quote.company_id == opportunity.company_id, Quote.opportunity_id.is_(None))
                .order_by(Quote.updated_at.desc(), Quote.id.desc())
                .limit(QUOTES_TO_LINK)
            )
        )
        orders = list(
            await session.scalars(
                select(Order)
                .where(Order.company_id == opportunity.company_id, Order.status.not_in(UNUSABLE_ORDERS))
                .order_by(Order.submitted_at.desc(), Order.id.desc())
                .limit(RECENT_ORDERS)
            )
        )
    return OpportunityPage(
        opportunity=opportunity,
        overdue=overdue(opportunity, today),
        history=history,
        quotes=linked,
        linkable=linkable,
        orders=orders,
        reasons=await pipeline_settings.lost_reasons(session, active_only=True),
        managers=await managers(session),
    )
