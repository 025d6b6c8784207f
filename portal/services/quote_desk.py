"""What the staff read about quotes: the desk (the quotes of the companies a staff member sees,
tab by tab, with a count per tab) and the staff page of one quote — the account manager's
editor of the draft, or the read view of what was sent — with every line's cost, the customer's
price today, the margin at the offered price and the margin floor, and, for a company with a
framework agreement, the margin after its expected rebate and skonto (`agreements.after_terms`).

Every move is `services/quotes.py`'s; the editor's "save and send" runs its two (`save_and_send`)
as one unit of work. Each page costs a fixed number of
statements, however many quotes or lines there are: one count for all tabs, one page of rows,
one read of their lines' values; one load of the quote and one of the company's prices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload

from portal.errors import NotAllowed, NotFound
from portal.i18n import N_, gettext
from portal.models import Company, Quote, QuoteComment, QuoteEvent, QuoteLine, QuoteStatus, QuoteVersion, Role, User
from portal.services import agreements, quote_views, quotes, scoping
from portal.services.agreements import AfterTerms, Standing
from portal.services.flags import margin_pct
from portal.services.pricing import line_net, load_company_prices
from portal.services.quote_views import LineDiff
from portal.services.totals import Totals
from portal.services.transactions import retried

S = QuoteStatus
PAGE_SIZE = 50
ZERO = Decimal("0.00")


class DeskView(StrEnum):
    """The desk's tabs (`?view=`)."""

    REQUESTED = "requested"
    CHANGES = "changes"
    EXPIRING = "expiring"
    OPEN = "open"
    CLOSED = "closed"


DESK_LABELS = {
    DeskView.REQUESTED: N_("Requested"),
    DeskView.CHANGES: N_("Changes requested"),
    DeskView.EXPIRING: N_("Expiring soon"),
    DeskView.OPEN: N_("All open"),
    DeskView.CLOSED: N_("Closed"),
}
CLOSED = frozenset(set(S) - quotes.OPEN)


def _in_view(view: DeskView, today: date) -> ColumnElement[bool]:
    """The condition on `Quote` of one tab."""
    if view is DeskView.REQUESTED:
        return Quote.status == S.REQUESTED
    if view is DeskView.CHANGES:
        return Quote.status == S.CHANGES_REQUESTED
    if view is DeskView.EXPIRING:
        return (Quote.status == S.SENT) & (Quote.valid_until <= today + timedelta(days=quotes.REMIND_DAYS))
    if view is DeskView.OPEN:
        return Quote.status.in_(sorted(quotes.OPEN))
    return Quote.status.in_(sorted(CLOSED))


def _order_of(view: DeskView) -> list[UnaryExpression[Any]]:
    """Waiting for the manager: the longest waiting first; expiring: the soonest; else the latest change first."""
    if view in (DeskView.REQUESTED, DeskView.CHANGES):
        return [Quote.updated_at.asc(), Quote.id.asc()]
    if view is DeskView.EXPIRING:
        return [Quote.valid_until.asc(), Quote.id.asc()]
    return [Quote.updated_at.desc(), Quote.id.desc()]


@dataclass(frozen=True)
class DeskRow:
    quote: Quote
    version: int
    """The version the row is about: the draft being prepared, else the one sent."""
    drafting: bool
    """`version` is a draft the buyer has not seen yet."""
    value: Decimal | None
    """The net value of `version` at its offered prices (None while no line has a price)."""

    @property
    def status_label(self) -> str:
        return quotes.status_label(self.quote.status)


@dataclass(frozen=True)
class Desk:
    view: DeskView
    rows: list[DeskRow]
    counts: dict[DeskView, int]
    page: int
    has_more: bool

    @property
    def tabs(self) -> list[tuple[DeskView, str, int]]:
        return [(view, gettext(label), self.counts[view]) for view, label in DESK_LABELS.items()]


async def desk(session: AsyncSession, user: User, view: DeskView, *, today: date, page: int = 1) -> Desk:
    """One tab of the desk, `PAGE_SIZE` rows a page, and the number of quotes in every tab."""
    if user.role is Role.BUYER:
        raise NotFound()
    visible = await scoping.visible_companies_filter(session, user, today)
    counted = select(*[func.count(case((_in_view(tab, today), 1))) for tab in DeskView]).join(Quote.company)
    counts = dict(zip(DeskView, (await session.execute(counted.where(visible))).one(), strict=True))
    latest = select(func.max(QuoteVersion.number)).where(QuoteVersion.quote_id == Quote.id).scalar_subquery()
    query = (
        select(Quote, latest)
        .join(Quote.company)
        .options(contains_eager(Quote.company), joinedload(Quote.requested_by), joinedload(Quote.created_by))
        .where(visible, _in_view(view, today))
        .order_by(*_order_of(view))
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    found = list((await session.execute(query)).tuples())
    shown = [(quote, _row_version(quote, last or 0)) for quote, last in found[:PAGE_SIZE]]
    values = await _values(session, {quote.id: number for quote, number in shown})
    rows = [DeskRow(quote, number, number > quote.sent_version, values.get(quote.id)) for quote, number in shown]
    return Desk(view, rows, counts, page, len(found) > PAGE_SIZE)


def _row_version(quote: Quote, latest: int) -> int:
    """An open quote is about its latest version (a draft, or the one sent); a closed one about the
    version sent last, or the draft it never got past."""
    if quote.status in quotes.OPEN or not quote.sent_version:
        return latest
    return quote.sent_version


async def _values(session: AsyncSession, versions: dict[int, int]) -> dict[int, Decimal]:
    """The net value of one version per quote (quote id → version number), in one statement."""
    if not versions:
        return {}
    rows = await session.execute(
        select(QuoteVersion.quote_id, QuoteVersion.number, QuoteLine.unit_price, QuoteLine.quantity)
        .join(QuoteLine, QuoteLine.version_id == QuoteVersion.id)
        .where(QuoteVersion.quote_id.in_(sorted(versions)), QuoteLine.unit_price.is_not(None))
    )
    values: dict[int, Decimal] = {}
    for quote_id, number, unit_price, quantity in rows.tuples():
        if versions[quote_id] == number and unit_price is not None:
            values[quote_id] = values.get(quote_id, ZERO) + line_net(unit_price, quantity)
    return values


async def waiting_count(session: AsyncSession, user: User, today: date) -> int:
    """How many quotes wait for this user's side: requested, or changes requested."""
    visible = await scoping.visible_companies_filter(session, user, today)
    query = (
        select(func.count(Quote.id)).join(Quote.company).where(visible, Quote.status.in_(sorted(quotes.WITH_MANAGER)))
    )
    return await session.scalar(query) or 0


# --- one quote, for staff --------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedLine:
    """A line as staff see it: its cost, the customer's price today and the margin at the offered price."""

    line: QuoteLine
    today_price: Decimal | None
    """The company's price of the product now, at the line's quantity (None: no catalogue product)."""
    value: Decimal | None
    cost: Decimal | None
    margin: Decimal | None
    margin_pct: Decimal | None
    floor: Decimal
    below_floor: bool
    previous_target: Decimal | None
    """The buyer's target price in the version before (to show a new target next to the old one)."""
    after: AfterTerms | None = None
    """The margin after the agreement's expected rebate and skonto (None: no agreement, or no price yet)."""

    @property
    def described(self) -> bool:
        """The buyer described the item in words: the line shows the description and the SKU that answers it."""
        line = self.line
        return line.product is None or (line.requested_quantity is not None and line.name != line.product.name)

    @property
    def target_changed(self) -> bool:
        return self.line.target_price is not None and self.line.target_price != self.previous_target


@dataclass(frozen=True)
class PricedVersion:
    version: QuoteVersion
    lines: list[PricedLine]
    totals: Totals
    cost: Decimal
    """The cost of the priced lines."""
    margin: Decimal
    margin_pct: Decimal | None
    below_floor: int
    """How many lines are offered below their margin floor."""
    after: AfterTerms | None = None
    """The priced lines' margin after the agreement's expected rebate and skonto (None: no agreement)."""

    @property
    def frozen(self) -> bool:
        return self.version.sent_at is not None


@dataclass(frozen=True)
class StaffQuote:
    """The staff page of one quote. `editing`: the account manager's draft, shown as the editor;
    `shown`: otherwise, the version the buyer has (or, before any was sent, the draft, read only)."""

    quote: Quote
    negotiates: bool
    editing: PricedVersion | None
    shown: PricedVersion | None
    previous: QuoteVersion | None
    """The sent version the page's version is compared with, line by line."""
    changes: list[LineDiff]
    change_request: QuoteEvent | None
    """The buyer's request for changes that the draft answers (their comment is its reason)."""
    thread: list[QuoteComment]
    timeline: list[QuoteEvent]
    sent_versions: list[QuoteVersion]
    standing: Standing | None = None
    """The company's agreement in force and where its settlement period stands (None: no agreement)."""

    @property
    def company(self) -> Company:
        return self.quote.company

    @property
    def status_label(self) -> str:
        return quotes.status_label(self.quote.status)

    @property
    def is_open(self) -> bool:
        return self.quote.status in quotes.OPEN

    @property
    def can_revise(self) -> bool:
        """A sent quote without a draft: the manager may start the next version."""
        return self.negotiates and self.editing is None and self.quote.status is S.SENT

    @property
    def drafting(self) -> int | None:
        """The number of the next version being drafted, when the page reads the one sent."""
        draft = quotes.draft_of(self.quote)
        return draft.number if draft is not None and self.shown is not None and self.shown.frozen else None

    @property
    def can_withdraw(self) -> bool:
        return self.negotiates and self.is_open

    @property
    def page_version(self) -> PricedVersion | None:
        return self.editing or self.shown

    def label(self, number: int) -> str:
        return quotes.version_label(self.quote, number)


async def staff_quote(
    session: AsyncSession, user: User, quote_id: int, *, today: date, margin_floor: Decimal
) -> StaffQuote:
    """The quote as a staff member who sees its company reads it; anything else is `NotFound`."""
    quote = await quotes.staff_quote(session, user, quote_id, today)
    negotiates = await quotes.can_negotiate(session, user, quote.company, today)
    draft = quotes.draft_of(quote)
    sent = quotes.sent_of(quote)
    editing = draft if negotiates else None
    shown = None if editing is not None else sent or draft
    page = editing or shown
    previous = None
    if page is not None:
        previous = sent if page.sent_at is None else quotes.sent_of(quote, page.number - 1)
    product_ids = {line.product_id for line in page.lines if line.product_id} if page else set()
    prices = await load_company_prices(session, quote.company, today, sorted(product_ids))
    before = {line.line_key: line.target_price for line in previous.lines} if previous else {}
    standing = await agreements.standing(session, quote.company_id, today)

    def priced(version: QuoteVersion) -> PricedVersion:
        lines = []
        for line in version.lines:
            value = quote_views.line_value(line)
            cost = line_net(line.unit_cost, line.quantity) if line.unit_cost is not None else None
            margin = value - cost if value is not None and cost is not None else None
            lines.append(
                PricedLine(
                    line=line,
                    today_price=prices.price(line.product, line.quantity).unit_price if line.product else None,
                    value=value,
                    cost=cost,
                    margin=margin,
                    margin_pct=margin_pct(value, cost) if value is not None and cost is not None else None,
                    floor=quotes.line_floor(quote.company, line, margin_floor),
                    below_floor=quotes.below_floor(quote.company, line, margin_floor),
                    previous_target=before.get(line.line_key),
                    after=_after_terms(standing, line, value, cost),
                )
            )
        totals = quote_views.version_totals(version)
        cost = sum((p.cost for p in lines if p.cost is not None and p.value is not None), ZERO)
        afters = [p.after for p in lines if p.after is not None]
        return PricedVersion(
            version,
            lines,
            totals,
            cost,
            totals.net - cost,
            margin_pct(totals.net, cost),
            sum(1 for p in lines if p.below_floor),
            sum(afters[1:], afters[0]) if afters else None,
        )

    events = await quote_views.timeline(session, quote.id)
    return StaffQuote(
        quote=quote,
        negotiates=negotiates,
        editing=priced(editing) if editing is not None else None,
        shown=priced(shown) if shown is not None else None,
        previous=previous,
        changes=quote_views.changes_between(previous, page) if previous is not None and page is not None else [],
        change_request=_change_request(events, editing),
        thread=await quote_views.thread(session, quote.id, internal=True),
        timeline=events,
        sent_versions=[v for v in quote.versions if v.sent_at is not None],
        standing=standing,
    )


def _after_terms(
    standing: Standing | None, line: QuoteLine, value: Decimal | None, cost: Decimal | None
) -> AfterTerms | None:
    """A priced catalogue line's margin after the agreement's expected rebate and skonto."""
    if standing is None or line.product is None or value is None or cost is None:
        return None
    return agreements.after_terms(standing, line.product.category_id, value, cost)


def _change_request(events: Sequence[QuoteEvent], draft: QuoteVersion | None) -> QuoteEvent | None:
    """The buyer's request for changes to the version before `draft`, which the draft answers."""
    if draft is None or draft.number < 2:
        return None
    wanted = [e for e in events if e.to_status is S.CHANGES_REQUESTED and e.version == draft.number - 1]
    return wanted[-1] if wanted else None


async def check_negotiator(session: AsyncSession, user: User, quote_id: int, today: date) -> None:
    """Before a change is read from its form: a quote this user does not see is `NotFound`; one they
    see but may not change (finance, a colleague's customer they do not cover) is `NotAllowed`."""
    company = await _visible_company_of(session, user, quote_id, today)
    if not await quotes.can_negotiate(session, user, company, today):
        raise NotAllowed(gettext("Only the company's account manager, their deputy or an admin can change its quotes."))


async def check_visible(session: AsyncSession, user: User, quote_id: int, today: date) -> None:
    """A quote of a company this staff member sees, or `NotFound`."""
    await _visible_company_of(session, user, quote_id, today)


async def _visible_company_of(session: AsyncSession, user: User, quote_id: int, today: date) -> Company:
    if user.role is Role.BUYER:
        raise NotFound()
    visible = await scoping.visible_companies_filter(session, user, today)
    company = await session.scalar(
        select(Company).join(Quote, Quote.company_id == Company.id).where(Quote.id == quote_id, visible)
    )
    if company is None:
        raise NotFound()
    return company


@retried
async def save_and_send(
    session: AsyncSession,
    user: User,
    quote_id: int,
    changes: quotes.DraftChanges,
    *,
    today: date,
    margin_floor: Decimal,
) -> Quote:
    """The editor's "send": saves the draft as the form has it, then sends it; after a collision
    both start over together, and a refusal of either keeps neither."""
    await quotes.save_draft(session, user, quote_id, changes, today=today, margin_floor=margin_floor)
    return await quotes.send(session, user, quote_id, today=today, margin_floor=margin_floor)
