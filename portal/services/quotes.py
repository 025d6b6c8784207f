"""Quotes, the offer stage: a buyer's request (or the account manager's own offer), negotiated
line by line in versions, accepted into one order at the agreed prices.

The moves, and no others (`MOVES`):

    requested ─┐
    draft ─────┴→ sent ⇄ changes requested
                  sent → accepted | declined | expired
    any open status → withdrawn (the account manager, with a reason)

- A version above `Quote.sent_version` is the account manager's draft; sending freezes it
  (`sent_at`), and a sent version never changes again. A sent quote can be revised: the manager
  drafts the next version while the buyer can still accept the one they have.
- The buyer acts on the version they read: a form names its version, and an older one is refused.
- Accepting locks the quote's row and makes one order (`Order.quote_id` is unique) at the quoted
  prices; without a blocking flag the order is approved at once (`approvals.approve_quoted`).
- The worker reminds the buyers three days before a sent version expires and expires it after
  its last valid day (`expire_due`): each by one conditional UPDATE, so any number of workers
  remind and expire each quote once.
Every move is written to `QuoteEvent` (the quote's timeline and the customer's) and the other
side is told by e-mail (the outbox). A quote linked to an opportunity moves it as it goes (sent,
changes requested, accepted: `pipeline.follow_quote`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from portal import clock
from portal.errors import Conflict, NotAllowed, NotFound, Refused
from portal.i18n import N_, format_date, format_decimal, gettext
from portal.models import (
    Company,
    NotificationKind,
    Order,
    Product,
    Quote,
    QuoteComment,
    QuoteEvent,
    QuoteLine,
    QuoteNumberSequence,
    QuoteStatus,
    QuoteVersion,
    Role,
    User,
)
from portal.services import notifications, pipeline, scoping
from portal.services.flags import margin_floor, margin_pct
from portal.services.numbering import next_yearly_number
from portal.services.pricing import line_net, load_company_prices
from portal.services.transactions import lock_rows, retried

if TYPE_CHECKING:  # ordering makes the order an acceptance asks for, and is imported when used
    from portal.services.ordering import CheckoutForm

S = QuoteStatus
MOVES: dict[QuoteStatus, frozenset[QuoteStatus]] = {
    S.REQUESTED: frozenset({S.SENT, S.WITHDRAWN}),
    S.DRAFT: frozenset({S.SENT, S.WITHDRAWN}),
    S.SENT: frozenset({S.SENT, S.ACCEPTED, S.DECLINED, S.CHANGES_REQUESTED, S.EXPIRED, S.WITHDRAWN}),
    S.CHANGES_REQUESTED: frozenset({S.SENT, S.WITHDRAWN}),
}
"""The only moves a quote can make (sent → sent: a revised version replaces the one sent)."""
OPEN = frozenset(MOVES)
"""Statuses a quote can still move from."""
WITH_MANAGER = frozenset({S.REQUESTED, S.DRAFT, S.CHANGES_REQUESTED})
"""The account manager has the next move: a version to draft and send."""

STATUS_LABELS = {
    S.REQUESTED: N_("Requested"),
    S.DRAFT: N_("Draft"),
    S.SENT: N_("Offer sent"),
    S.CHANGES_REQUESTED: N_("Changes requested"),
    S.ACCEPTED: N_("Accepted"),
    S.DECLINED: N_("Declined"),
    S.EXPIRED: N_("Expired"),
    S.WITHDRAWN: N_("Withdrawn"),
}

REMIND_DAYS = 3
"""The buyers are reminded this many days before a sent version's last valid day."""
MAX_VALIDITY_DAYS = 366
MAX_LINES = 200
TEXT_MAX = 2000
"""A message, comment, reason or terms text, in characters."""
TITLE_MAX = 200
NAME_MAX = 200
"""A free-text line's description (`quote_lines.name` is String(200))."""
MAX_QUANTITY = 1_000_000
MAX_PRICE = Decimal("9999999999.9999")
"""The largest unit price NUMERIC(14,4) holds."""
QUOTE_PRICE_SOURCE = "quote"
"""`OrderLine.price_source` of a line priced by a quote; its `price_note` is the version's number."""


class QuoteRefused(Refused):
    """A quote's form or move was refused; the message is next to `field`."""


class MovedMeanwhile(Conflict):
    """The quote is no longer where the move starts from; nothing was changed."""


def status_label(status: QuoteStatus) -> str:
    return gettext(STATUS_LABELS[status])


def version_label(quote: Quote, number: int) -> str:
    """Q-2026-000123/2: the quote's number and the version's."""
    return f"{quote.number}/{number}"


# --- what arrives from forms ---------------------------------------------------------------------


@dataclass(frozen=True)
class WantedLine:
    """A line the buyer asks a price for: a catalogue product, or (product_id None) a described item."""

    quantity: int
    product_id: int | None = None
    name: str = ""
    target_price: Decimal | None = None


@dataclass(frozen=True)
class LineChange:
    """The account manager's change to one draft line (by the line's id)."""

    line_id: int
    quantity: int | None = None
    unit_price: Decimal | None = None
    below_floor_reason: str = ""
    sku: str = ""
    """For a free-text line: the catalogue product that answers it."""
    remove: bool = False


@dataclass(frozen=True)
class DraftChanges:
    valid_until: date | None = None
    delivery_terms: str = ""
    payment_terms: str = ""
    title: str = ""
    lines: Sequence[LineChange] = ()


# --- small rules, each in one place --------------------------------------------------------------


def _text(value: str, field: str, limit: int = TEXT_MAX, *, required: str = "") -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise QuoteRefused(required, field)
    if len(cleaned) > limit:
        raise QuoteRefused(gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(limit, 0)}, field)
    return cleaned


def price_problem(price: Decimal) -> str | None:
    """Why this unit price cannot be offered or asked for, or None."""
    if not price.is_finite() or price <= 0:
        return gettext("Enter a price above zero.")
    if -price.as_tuple().exponent > 4:  # type: ignore[operator]
        return gettext("Use at most %(places)d decimal places.") % {"places": 4}
    if price > MAX_PRICE:
        return gettext("This amount is too large.")
    return None


def _quantity_problem(quantity: int) -> str | None:
    if not 1 <= quantity <= MAX_QUANTITY:
        return gettext("Enter a quantity between 1 and %(max)s.") % {"max": format_decimal(MAX_QUANTITY, 0)}
    return None


def _line_problem(quantity: int | None, price: Decimal | None) -> str | None:
    """Why a line's quantity or unit price cannot stand, or None; either may be absent."""
    if quantity is not None and (problem := _quantity_problem(quantity)):
        return problem
    return price_problem(price) if price is not None else None


def validity_problem(valid_until: date | None, today: date) -> str | None:
    if valid_until is None:
        return gettext("Enter the last day the offer is valid.")
    if valid_until < today:
        return gettext("The offer cannot be valid until a day that has passed.")
    if valid_until > today + timedelta(days=MAX_VALIDITY_DAYS):
        return gettext("An offer can be valid for a year at most.")
    return None


def line_floor(company: Company, line: QuoteLine, global_floor: Decimal) -> Decimal:
    """The margin floor of a line: the company's, else the product's category's, else the global one."""
    category = line.product.category.margin_floor_pct if line.product is not None else None
    return margin_floor(company.margin_floor_pct, category, global_floor)


def below_floor(company: Company, line: QuoteLine, global_floor: Decimal) -> bool:
    """Is the offered price's margin under the floor? (A line without price or cost is not.)"""
    if line.unit_price is None or line.unit_cost is None:
        return False
    pct = margin_pct(line_net(line.unit_price, line.quantity), line_net(line.unit_cost, line.quantity))
    return pct is not None and pct < line_floor(company, line, global_floor)


# --- loading and who may see and act -------------------------------------------------------------


def _with_everything() -> list[LoaderOption]:
    return [
        selectinload(Quote.versions)
        .selectinload(QuoteVersion.lines)
        .joinedload(QuoteLine.product)
        .joinedload(Product.category),
        selectinload(Quote.versions).joinedload(QuoteVersion.sent_by),
        joinedload(Quote.company),
        joinedload(Quote.requested_by),
        joinedload(Quote.order),
    ]


async def _load(session: AsyncSession, quote_id: int) -> Quote | None:
    return await session.scalar(
        select(Quote).options(*_with_everything()).where(Quote.id == quote_id).execution_options(populate_existing=True)
    )


def visible_to_buyer(quote: Quote) -> bool:
    """A buyer sees their company's quotes except the account manager's offer not sent yet."""
    return quote.status is not S.DRAFT and not (
        quote.status is S.WITHDRAWN and quote.requested_by_id is None and quote.sent_version == 0
    )


async def buyer_quote(session: AsyncSession, buyer: User, quote_id: int) -> Quote:
    """One quote of the buyer's company, as the buyer may see it; anything else is `NotFound`."""
    quote = await _load(session, quote_id)
    if quote is None or buyer.company_id is None or quote.company_id != buyer.company_id or not visible_to_buyer(quote):
        raise NotFound()
    return quote


async def staff_quote(session: AsyncSession, user: User, quote_id: int, today: date) -> Quote:
    """One quote of a company this staff member sees (`scoping`); anything else is `NotFound`."""
    company_id = await session.scalar(select(Quote.company_id).where(Quote.id == quote_id))
    if company_id is None or user.role is Role.BUYER:
        raise NotFound()
    if not await scoping.can_view_customer(session, user, company_id, today):
        raise NotFound()
    quote = await _load(session, quote_id)
    assert quote is not None
    return quote


async def can_negotiate(session: AsyncSession, user: User, company: Company, today: date) -> bool:
    """Drafting, sending and withdrawing are the company's account manager's, their deputy's while
    covering, or an admin's (`scoping.decider`); finance only reads."""
    return (await scoping.decider(session, user, company, today))[0]


async def _negotiator_quote(session: AsyncSession, user: User, quote_id: int, today: date) -> Quote:
    quote = await staff_quote(session, user, quote_id, today)
    if not await can_negotiate(session, user, quote.company, today):
        raise NotAllowed(gettext("Only the company's account manager, their deputy or an admin can change its quotes."))
    return await _locked(session, quote.id)


async def _locked(session: AsyncSession, quote_id: int) -> Quote:
    """The quote's row locked until commit (on SQLite, the write lock), read again with all it has."""
    await lock_rows(session, Quote, [quote_id])
    quote = await _load(session, quote_id)
    if quote is None:
        raise NotFound()
    return quote


def draft_of(quote: Quote) -> QuoteVersion | None:
    """The version the account manager is drafting, if any."""
    last = quote.versions[-1] if quote.versions else None
    return last if last is not None and last.sent_at is None and quote.status in OPEN else None


def sent_of(quote: Quote, number: int | None = None) -> QuoteVersion | None:
    """The sent version `number` (default: the one the buyer has now)."""
    wanted = quote.sent_version if number is None else number
    if wanted < 1 or wanted > quote.sent_version:
        return None
    return next((v for v in quote.versions if v.number == wanted), None)


# --- moves ---------------------------------------------------------------------------------------


def _move(
    quote: Quote, to: QuoteStatus, actor: User | None, reason: str = "", version: int | None = None
) -> QuoteEvent:
    if to not in MOVES.get(quote.status, frozenset()):
        raise MovedMeanwhile(
            gettext("Nothing was changed: this quote is “%(status)s” now.") % {"status": status_label(quote.status)}
        )
    now = clock.now()
    event = QuoteEvent(
        quote_id=quote.id,
        company_id=quote.company_id,
        at=now,
        actor_id=actor.id if actor else None,
        from_status=quote.status,
        to_status=to,
        version=quote.sent_version if version is None else version,
        reason=reason,
    )
    quote.status = to
    quote.updated_at = now
    return event


async def next_quote_number(session: AsyncSession, year: int) -> str:
    """Q-2026-000123: sequential per year (`numbering.next_yearly_number`)."""
    return await next_yearly_number(session, QuoteNumberSequence, "Q", year)


async def _new_quote(
    session: AsyncSession,
    company: Company,
    status: QuoteStatus,
    actor: User,
    *,
    title: str,
    wanted_by: date | None,
    today: date,
    validity_days: int,
) -> Quote:
    now = clock.now()
    quote = Quote(
        company_id=company.id,
        number=await next_quote_number(session, today.year),
        status=status,
        title=title,
        requested_by_id=actor.id if status is S.REQUESTED else None,
        created_by_id=actor.id,
        wanted_by=wanted_by,
        sent_version=0,
        created_at=now,
        updated_at=now,
    )
    quote.versions = [
        QuoteVersion(
            company_id=company.id,
            number=1,
            valid_until=today + timedelta(days=validity_days),
            delivery_terms="",
            payment_terms=gettext("%(days)d days from the invoice date") % {"days": company.payment_terms_days},
            currency=company.currency,
            created_at=now,
            lines=[],
        )
    ]
    session.add(quote)
    await session.flush()
    session.add(
        QuoteEvent(
            quote_id=quote.id,
            company_id=company.id,
            at=now,
            actor_id=actor.id,
            from_status=None,
            to_status=status,
            version=0,
        )
    )
    return quote


def _line_from(product: Product, company_id: int, key: int, quantity: int) -> QuoteLine:
    return QuoteLine(
        company_id=company_id,
        line_key=key,
        position=key,
        product_id=product.id,
        product=product,
        sku=product.sku,
        name=product.name,
        unit=product.unit,
        quantity=quantity,
        unit_cost=product.cost,
        vat_rate=product.vat_rate,
        below_floor_reason="",
    )


async def _sold_products(session: AsyncSession, ids: Iterable[int]) -> dict[int, Product]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {
        p.id: p
        for p in await session.scalars(
            select(Product).options(joinedload(Product.category)).where(Product.id.in_(wanted), Product.is_active)
        )
    }


@retried
async def request_quote(
    session: AsyncSession,
    buyer: User,
    wanted: Sequence[WantedLine],
    *,
    title: str = "",
    message: str = "",
    wanted_by: date | None = None,
    today: date,
    validity_days: int = 14,
) -> Quote:
    """A buyer asks for prices: catalogue lines and described items, each with an optional target
    price, a message and a wanted-by date. The lines are a copy: the cart or list stays as it was.
    The account manager on duty is told."""
    company = buyer.company
    if buyer.role is not Role.BUYER or company is None:
        raise NotFound()
    title = _text(title, "title", TITLE_MAX)
    message = _text(message, "message")
    errors: dict[str, str] = {}
    if wanted_by is not None and wanted_by < today:
        errors["wanted_by"] = gettext("Choose today or a later day.")
    if not wanted:
        errors["lines"] = gettext("Add at least one line to ask a price for.")
    if len(wanted) > MAX_LINES:
        errors["lines"] = gettext("A quote can have at most %(max)d lines.") % {"max": MAX_LINES}
    products = await _sold_products(session, [w.product_id for w in wanted if w.product_id is not None])
    seen: set[int] = set()
    for index, line in enumerate(wanted):
        where = f"line-{index}"
        if problem := _line_problem(line.quantity, line.target_price):
            errors[where] = problem
        elif line.product_id is not None and line.product_id not in products:
            errors[where] = gettext("This product is not sold any more.")
        elif line.product_id is not None and line.product_id in seen:
            errors[where] = gettext("This product is on the request twice.")
        elif line.product_id is None and not line.name.strip():
            errors[where] = gettext("Describe the item you need.")
        elif len(line.name.strip()) > NAME_MAX:
            errors[where] = gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(NAME_MAX, 0)}
        if line.product_id is not None:
            seen.add(line.product_id)
    if errors:
        raise QuoteRefused(gettext("Please correct the marked fields."), errors=errors)
    quote = await _new_quote(
        session, company, S.REQUESTED, buyer, title=title, wanted_by=wanted_by, today=today, validity_days=validity_days
    )
    draft = quote.versions[0]
    prices = await load_company_prices(session, company, today, list(products))
    for key, line in enumerate(wanted, start=1):
        if line.product_id is not None:
            product = products[line.product_id]
            made = _line_from(product, company.id, key, line.quantity)
            made.catalogue_price = prices.price(product, line.quantity).unit_price
        else:
            made = QuoteLine(
                company_id=company.id,
                line_key=key,
                position=key,
                product_id=None,
                sku="",
                name=line.name.strip(),
                unit="pcs",
                quantity=line.quantity,
                vat_rate=Decimal("23"),
                below_floor_reason="",
            )
        made.requested_quantity = line.quantity
        made.target_price = line.target_price
        draft.lines.append(made)
    if message:
        session.add(
            QuoteComment(
                quote_id=quote.id,
                company_id=company.id,
                author_id=buyer.id,
                body=message,
                internal=False,
                version=0,
                at=clock.now(),
            )
        )
    await session.flush()
    await _tell_managers(session, quote, company, "requested", buyer, today, message)
    return quote


@retried
async def new_offer(
    session: AsyncSession, user: User, company_id: int, *, title: str = "", today: date, validity_days: int = 14
) -> Quote:
    """The account manager's own offer to a customer: an empty draft the buyer does not see until sent."""
    company = await scoping.visible_company(session, user, company_id, today)
    if not await can_negotiate(session, user, company, today):
        raise NotAllowed(gettext("Only the company's account manager, their deputy or an admin can change its quotes."))
    return await _new_quote(
        session,
        company,
        S.DRAFT,
        user,
        title=_text(title, "title", TITLE_MAX),
        wanted_by=None,
        today=today,
        validity_days=validity_days,
    )


def _editable_draft(quote: Quote) -> QuoteVersion:
    draft = draft_of(quote)
    if draft is None:
        if quote.status in OPEN:
            raise QuoteRefused(
                gettext("Version %(version)s was sent and cannot change. Start a new version to revise it.")
                % {"version": version_label(quote, quote.sent_version)}
            )
        raise MovedMeanwhile(
            gettext("Nothing was changed: this quote is “%(status)s” now.") % {"status": status_label(quote.status)}
        )
    return draft


async def _catalogue_product(session: AsyncSession, sku: str) -> Product | None:
    return await session.scalar(
        select(Product)
        .options(joinedload(Product.category))
        .where(func.upper(Product.sku) == sku.strip().upper(), Product.is_active)
    )


@retried
async def save_draft(
    session: AsyncSession, user: User, quote_id: int, changes: DraftChanges, *, today: date, margin_floor: Decimal
) -> Quote:
    """Saves the account manager's draft: prices, quantities, removed lines, the product that
    answers a described line, validity, terms. A price below the margin floor needs a reason.
    All or nothing: one refused line saves none."""
    quote = await _negotiator_quote(session, user, quote_id, today)
    draft = _editable_draft(quote)
    errors: dict[str, str] = {}
    if problem := validity_problem(changes.valid_until, today):
        errors["valid_until"] = problem
    texts = {}
    for name, value, limit in (
        ("delivery_terms", changes.delivery_terms, TEXT_MAX),
        ("payment_terms", changes.payment_terms, TEXT_MAX),
        ("title", changes.title, TITLE_MAX),
    ):
        try:
            texts[name] = _text(value, name, limit)
        except QuoteRefused as refused:
            errors.update(refused.errors)
    by_id = {line.id: line for line in draft.lines}
    products: dict[int, Product] = {}
    for change in changes.lines:
        line = by_id.get(change.line_id)
        if line is None:
            raise NotFound()
        if change.remove:
            continue
        where = f"line-{line.id}"
        if change.sku.strip():
            product = await _catalogue_product(session, change.sku)
            if product is None:
                errors[where] = gettext("No product is sold under this SKU.")
                continue
            products[line.id] = product
        if problem := _line_problem(change.quantity, change.unit_price):
            errors[where] = problem
        elif len(change.below_floor_reason.strip()) > TEXT_MAX:
            errors[where] = gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(TEXT_MAX, 0)}
    removed = {change.line_id for change in changes.lines if change.remove}
    for line_id, problem in _duplicates(draft, removed, products).items():
        errors.setdefault(f"line-{line_id}", problem)
    if errors:
        raise QuoteRefused(gettext("Please correct the marked fields."), errors=errors)
    draft.valid_until = changes.valid_until
    draft.delivery_terms = texts["delivery_terms"]
    draft.payment_terms = texts["payment_terms"]
    quote.title = texts["title"]
    company = quote.company
    prices = await load_company_prices(
        session,
        company,
        today,
        [p.id for p in products.values()] + [line.product_id for line in draft.lines if line.product_id],
    )
    for change in changes.lines:
        line = by_id[change.line_id]
        if change.remove:
            draft.lines.remove(line)
            continue
        if (product := products.get(line.id)) is not None:
            described = line.product_id is None and line.requested_quantity is not None
            line.product_id, line.product, line.sku, line.unit = product.id, product, product.sku, product.unit
            line.unit_cost, line.vat_rate = product.cost, product.vat_rate
            if not described:  # the buyer's own description stays; a catalogue line takes the product's name
                line.name = product.name
        if change.quantity is not None:
            line.quantity = change.quantity
        if change.unit_price is not None:
            line.unit_price = change.unit_price
        line.below_floor_reason = change.below_floor_reason.strip()
        if line.product is not None:
            line.catalogue_price = prices.price(line.product, line.quantity).unit_price
    quote.updated_at = clock.now()
    await session.flush()
    return quote


def _duplicates(draft: QuoteVersion, removed: set[int], products: dict[int, Product]) -> dict[int, str]:
    """The lines (by id) that would name a product another kept line names, once the changes are
    made: checked before anything changes, so a refused save changes nothing."""
    seen: set[int] = set()
    found: dict[int, str] = {}
    for line in draft.lines:
        if line.id in removed:
            continue
        product = products.get(line.id)
        product_id, sku = (product.id, product.sku) if product is not None else (line.product_id, line.sku)
        if product_id is None:
            continue
        if product_id in seen:
            twice = gettext("%(sku)s is on this version twice; change the quantity of one line instead.")
            found[line.id] = twice % {"sku": sku}
        seen.add(product_id)
    return found


@retried
async def add_line(
    session: AsyncSession,
    user: User,
    quote_id: int,
    *,
    sku: str,
    quantity: int,
    unit_price: Decimal | None = None,
    today: date,
) -> QuoteLine:
    """Adds a catalogue product to the draft, priced at the customer's price unless a price is given."""
    quote = await _negotiator_quote(session, user, quote_id, today)
    draft = _editable_draft(quote)
    product = await _catalogue_product(session, sku)
    if product is None:
        raise QuoteRefused(gettext("No product is sold under this SKU."), "sku")
    if problem := _quantity_problem(quantity):
        raise QuoteRefused(problem, "quantity")
    if unit_price is not None and (problem := price_problem(unit_price)):
        raise QuoteRefused(problem, "unit_price")
    if any(line.product_id == product.id for line in draft.lines):
        raise QuoteRefused(gettext("%(sku)s is on this version already.") % {"sku": product.sku}, "sku")
    keys = [line.line_key for version in quote.versions for line in version.lines]
    line = _line_from(product, quote.company_id, max(keys, default=0) + 1, quantity)
    prices = await load_company_prices(session, quote.company, today, [product.id])
    line.catalogue_price = prices.price(product, quantity).unit_price
    line.unit_price = unit_price if unit_price is not None else line.catalogue_price
    draft.lines.append(line)
    quote.updated_at = clock.now()
    await session.flush()
    return line


@retried
async def send(session: AsyncSession, user: User, quote_id: int, *, today: date, margin_floor: Decimal) -> Quote:
    """Freezes the draft as the version the buyer has now, and tells the buyers. Every line needs a
    catalogue product and a price; a price below the margin floor needs its reason; the validity
    cannot have passed."""
    quote = await _negotiator_quote(session, user, quote_id, today)
    draft = _editable_draft(quote)
    if S.SENT not in MOVES.get(quote.status, frozenset()):
        raise MovedMeanwhile(
            gettext("Nothing was changed: this quote is “%(status)s” now.") % {"status": status_label(quote.status)}
        )
    errors: dict[str, str] = {}
    if problem := validity_problem(draft.valid_until, today):
        errors["valid_until"] = problem
    if not draft.lines:
        errors["lines"] = gettext("Add at least one line before sending.")
    for line in draft.lines:
        where = f"line-{line.id}"
        if line.product_id is None:
            errors[where] = gettext("Choose the catalogue product that answers this line, or remove it.")
        elif line.unit_price is None:
            errors[where] = gettext("Enter a unit price.")
        elif below_floor(quote.company, line, margin_floor) and not line.below_floor_reason:
            errors[where] = gettext(
                "This price is below the margin floor: give the reason and tick “Accept below the floor” to send it."
            )
    if errors:
        raise QuoteRefused(gettext("The version was not sent: please correct the marked lines."), errors=errors)
    now = clock.now()
    for line in draft.lines:
        if not below_floor(quote.company, line, margin_floor):
            line.below_floor_reason = ""
    draft.sent_at = now
    draft.sent_by_id = user.id
    event = _move(quote, S.SENT, user, version=draft.number)
    session.add(event)
    quote.sent_version = draft.number
    quote.valid_until = draft.valid_until
    quote.reminded_at = None
    await session.flush()
    await pipeline.follow_quote(session, quote, S.SENT)
    await _tell_buyers(session, quote, "sent")
    return quote


@retried
async def revise(
    session: AsyncSession, user: User, quote_id: int, *, today: date, validity_days: int = 14
) -> QuoteVersion:
    """Starts the next version of a sent quote as a copy of the sent one; the buyer keeps the sent
    version (and may still accept it) until the new one is sent. A draft already started is returned."""
    quote = await _negotiator_quote(session, user, quote_id, today)
    if (draft := draft_of(quote)) is not None:
        return draft
    if quote.status not in OPEN:
        raise MovedMeanwhile(
            gettext("Nothing was changed: this quote is “%(status)s” now.") % {"status": status_label(quote.status)}
        )
    return _next_draft(quote, today, validity_days)


def _next_draft(
    quote: Quote, today: date, validity_days: int, targets: dict[int, Decimal] | None = None
) -> QuoteVersion:
    sent = sent_of(quote)
    assert sent is not None
    draft = QuoteVersion(
        company_id=quote.company_id,
        number=sent.number + 1,
        valid_until=max(sent.valid_until or today, today + timedelta(days=validity_days)),
        delivery_terms=sent.delivery_terms,
        payment_terms=sent.payment_terms,
        currency=sent.currency,
        created_at=clock.now(),
        lines=[],
    )
    for line in sent.lines:
        draft.lines.append(
            QuoteLine(
                company_id=line.company_id,
                line_key=line.line_key,
                position=line.position,
                product_id=line.product_id,
                product=line.product,
                sku=line.sku,
                name=line.name,
                unit=line.unit,
                quantity=line.quantity,
                requested_quantity=line.requested_quantity,
                target_price=(targets or {}).get(line.line_key, line.target_price),
                unit_price=line.unit_price,
                unit_cost=line.product.cost if line.product else line.unit_cost,
                catalogue_price=line.catalogue_price,
                vat_rate=line.vat_rate,
                below_floor_reason=line.below_floor_reason,
            )
        )
    quote.versions.append(draft)
    return draft


@retried
async def withdraw(session: AsyncSession, user: User, quote_id: int, reason: str, *, today: date) -> Quote:
    """The account manager takes an open quote back, with a reason the buyer reads."""
    reason = _text(reason, "reason", required=gettext("Give the buyer a reason."))
    quote = await _negotiator_quote(session, user, quote_id, today)
    session.add(_move(quote, S.WITHDRAWN, user, reason))
    await session.flush()
    if quote.sent_version or quote.requested_by_id:
        await _tell_buyers(session, quote, "withdrawn", reason)
    return quote


def _current_for_buyer(quote: Quote, version: int) -> QuoteVersion:
    """The sent version a buyer's answer is about; an older one, or a quote no longer open, is refused."""
    if quote.status is not S.SENT:
        raise MovedMeanwhile(
            gettext("Nothing was changed: this quote is “%(status)s” now.") % {"status": status_label(quote.status)}
        )
    if version != quote.sent_version:
        raise MovedMeanwhile(
            gettext("Version %(old)s is no longer the offer: please read version %(new)s first.")
            % {"old": version_label(quote, version), "new": version_label(quote, quote.sent_version)}
        )
    current = sent_of(quote)
    assert current is not None
    return current


def _not_expired(quote: Quote, current: QuoteVersion, today: date) -> None:
    if current.valid_until is not None and current.valid_until < today:
        raise QuoteRefused(
            gettext("This offer was valid until %(date)s; ask your account manager for a new one.")
            % {"date": format_date(current.valid_until)}
        )


async def _buyer_locked(session: AsyncSession, buyer: User, quote_id: int) -> Quote:
    await buyer_quote(session, buyer, quote_id)
    return await _locked(session, quote_id)


@dataclass(frozen=True)
class Acceptance:
    quote: Quote
    order: Order
    created: bool
    """False: the quote had been accepted already (a second tab, a double click); `order` is the one made then."""


@retried
async def accept(
    session: AsyncSession,
    buyer: User,
    quote_id: int,
    version: int,
    form: CheckoutForm,
    *,
    today: date,
    grace_days: int,
    margin_floor: Decimal,
) -> Acceptance:
    """The buyer accepts the current, unexpired version: one order at the quoted prices (`form`:
    PO number, delivery date, address, as at checkout). Without a blocking
    flag it is approved at once; with one it waits in the queue with the blocker shown. A company
    on hold cannot accept: the message says why, and nothing changes."""
    # ordering and approvals make and move orders; they are imported when used, not in a circle
    from portal.services.approvals import approve_quoted
    from portal.services.ordering import CompanyOnHold, accept_quote_order

    quote = await _buyer_locked(session, buyer, quote_id)
    if quote.status is S.ACCEPTED:
        order = await session.scalar(select(Order).where(Order.quote_id == quote.id))
        if order is not None and version == quote.sent_version:
            return Acceptance(quote, order, created=False)
    current = _current_for_buyer(quote, version)
    _not_expired(quote, current, today)
    company = quote.company
    if company.on_hold:
        raise CompanyOnHold(company.hold_reason or "")
    if retired := [line.sku for line in current.lines if line.product is None or not line.product.is_active]:
        raise QuoteRefused(
            gettext("%(skus)s is no longer sold; ask your account manager for a new version.")
            % {"skus": ", ".join(retired)}
        )
    order = await accept_quote_order(
        session, buyer, company, quote, current, form, today=today, grace_days=grace_days, margin_floor=margin_floor
    )
    session.add(_move(quote, S.ACCEPTED, buyer, order.number))
    await session.flush()
    await pipeline.follow_quote(session, quote, S.ACCEPTED, order=order)
    await approve_quoted(session, order, company, today=today, grace_days=grace_days, margin_floor=margin_floor)
    await _tell_managers(session, quote, company, "accepted", buyer, today, order.number)
    return Acceptance(quote, order, created=True)


@retried
async def decline(
    session: AsyncSession, buyer: User, quote_id: int, version: int, reason: str, *, today: date
) -> Quote:
    """The buyer declines the offer, with a reason the account manager reads."""
    reason = _text(reason, "reason", required=gettext("Tell your account manager why."))
    quote = await _buyer_locked(session, buyer, quote_id)
    _current_for_buyer(quote, version)
    session.add(_move(quote, S.DECLINED, buyer, reason))
    await session.flush()
    await _tell_managers(session, quote, quote.company, "declined", buyer, today, reason)
    return quote


@retried
async def ask_for_changes(
    session: AsyncSession,
    buyer: User,
    quote_id: int,
    version: int,
    comment: str,
    targets: dict[int, Decimal],
    *,
    today: date,
    validity_days: int = 14,
) -> Quote:
    """The buyer asks for a next version: a comment and, per line (by `line_key`), a new target
    price. The quote goes back to the account manager, who drafts the next version from this one."""
    comment = _text(comment, "comment", required=gettext("Say what you would like changed."))
    errors = {f"target-{key}": problem for key, price in targets.items() if (problem := price_problem(price))}
    if errors:
        raise QuoteRefused(gettext("Please correct the marked fields."), errors=errors)
    quote = await _buyer_locked(session, buyer, quote_id)
    current = _current_for_buyer(quote, version)
    keys = {line.line_key for line in current.lines}
    if set(targets) - keys:
        raise NotFound()
    _not_expired(quote, current, today)
    if (draft := draft_of(quote)) is not None:  # the manager had started a revision: it takes the new targets
        for line in draft.lines:
            if line.line_key in targets:
                line.target_price = targets[line.line_key]
    else:
        _next_draft(quote, today, validity_days, targets)
    session.add(_move(quote, S.CHANGES_REQUESTED, buyer, comment))
    session.add(
        QuoteComment(
            quote_id=quote.id,
            company_id=quote.company_id,
            author_id=buyer.id,
            body=comment,
            internal=False,
            version=quote.sent_version,
            at=clock.now(),
        )
    )
    await session.flush()
    await pipeline.follow_quote(session, quote, S.CHANGES_REQUESTED)
    await _tell_managers(session, quote, quote.company, "changes_requested", buyer, today, comment)
    # the system's tasks read the customers' rhythms, which list their quotes: imported when used, not in a circle
    from portal.services import task_generation

    await task_generation.changes_requested(session, quote, today)
    return quote


@retried
async def add_comment(
    session: AsyncSession, user: User, quote_id: int, body: str, *, internal: bool = False, today: date
) -> QuoteComment:
    """A message on the quote's thread; staff may write internal ones, which no buyer ever reads.
    The other side is told of a comment that is not internal."""
    body = _text(body, "body", required=gettext("Write a comment."))
    if user.role is Role.BUYER:
        quote = await buyer_quote(session, user, quote_id)
        internal = False
    else:
        quote = await staff_quote(session, user, quote_id, today)
    comment = QuoteComment(
        quote_id=quote.id,
        company_id=quote.company_id,
        author_id=user.id,
        body=body,
        internal=internal,
        version=quote.sent_version,
        at=clock.now(),
    )
    session.add(comment)
    quote.updated_at = comment.at
    await session.flush()
    if not internal:
        if user.role is Role.BUYER:
            await _tell_managers(session, quote, quote.company, "comment", user, today, body)
        elif visible_to_buyer(quote):
            await _tell_buyers(session, quote, "comment", body, author=user)
    return comment


# --- the worker: reminders and expiry ------------------------------------------------------------


@dataclass
class ExpiryReport:
    reminded: int = 0
    expired: int = 0
    expired_ids: list[int] = field(default_factory=list)


async def expire_due(maker: async_sessionmaker[AsyncSession], today: date) -> ExpiryReport:
    """Reminds the buyers of sent versions whose last valid day is `REMIND_DAYS` away (or nearer),
    and expires those whose last valid day has passed, telling the account manager. Each quote is
    claimed by one conditional UPDATE in its own transaction, so workers running at once remind
    and expire it once."""
    report = ExpiryReport()
    async with maker() as session:
        due = list(
            await session.execute(
                select(Quote.id, Quote.valid_until).where(
                    Quote.status == S.SENT, Quote.valid_until <= today + timedelta(days=REMIND_DAYS)
                )
            )
        )
    for quote_id, valid_until in due:
        assert valid_until is not None
        async with maker() as session, session.begin():
            if valid_until < today:
                claimed = await session.execute(
                    update(Quote)
                    .where(Quote.id == quote_id, Quote.status == S.SENT, Quote.valid_until < today)
                    .values(status=S.EXPIRED, updated_at=clock.now())
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                quote = await _load(session, quote_id)
                assert quote is not None
                session.add(
                    QuoteEvent(
                        quote_id=quote.id,
                        company_id=quote.company_id,
                        at=clock.now(),
                        actor_id=None,
                        from_status=S.SENT,
                        to_status=S.EXPIRED,
                        version=quote.sent_version,
                        reason="",
                    )
                )
                await _tell_managers(session, quote, quote.company, "expired", None, today, "")
                report.expired += 1
                report.expired_ids.append(quote_id)
            else:
                claimed = await session.execute(
                    update(Quote)
                    .where(Quote.id == quote_id, Quote.status == S.SENT, Quote.reminded_at.is_(None))
                    .values(reminded_at=clock.now())
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                quote = await _load(session, quote_id)
                assert quote is not None
                await _tell_buyers(session, quote, "expiring")
                report.reminded += 1
    return report


# --- telling the other side ----------------------------------------------------------------------

NEWS_KINDS = {
    "requested": NotificationKind.QUOTE_REQUESTED,
    "changes_requested": NotificationKind.QUOTE_REQUESTED,
    "accepted": NotificationKind.QUOTE_ANSWERED,
    "declined": NotificationKind.QUOTE_ANSWERED,
    "expired": NotificationKind.QUOTE_EXPIRING,
    "sent": NotificationKind.QUOTE_SENT,
    "withdrawn": NotificationKind.QUOTE_SENT,
    "expiring": NotificationKind.QUOTE_EXPIRING,
    "comment": NotificationKind.QUOTE_COMMENT,
}


def _subject(news: str, quote: Quote) -> str:
    values = {"number": quote.number, "company": quote.company.name, "label": version_label(quote, quote.sent_version)}
    subjects = {
        "requested": gettext("%(company)s asks for a quote (%(number)s)"),
        "changes_requested": gettext("%(company)s asks for changes to quote %(number)s"),
        "accepted": gettext("%(company)s accepted quote %(label)s"),
        "declined": gettext("%(company)s declined quote %(number)s"),
        "expired": gettext("Quote %(number)s for %(company)s expired"),
        "sent": gettext("Your quote %(label)s is ready"),
        "withdrawn": gettext("Quote %(number)s was withdrawn"),
        "expiring": gettext("Quote %(label)s expires soon"),
        "comment": gettext("A new comment on quote %(number)s"),
    }
    return subjects[news] % values


async def _tell_managers(
    session: AsyncSession, quote: Quote, company: Company, news: str, actor: User | None, today: date, text: str
) -> None:
    await notifications.notify(
        session,
        NEWS_KINDS[news],
        await notifications.managers_on_duty(session, company, today),
        lambda: _subject(news, quote),
        "quote",
        {"quote": quote, "news": news, "actor": actor.full_name if actor else "", "text": text, "staff": True},
        f"/manage/quotes/{quote.id}",
    )


async def _tell_buyers(
    session: AsyncSession, quote: Quote, news: str, text: str = "", *, author: User | None = None
) -> None:
    buyers = await notifications.company_buyers(session, quote.company_id)
    await notifications.notify(
        session,
        NEWS_KINDS[news],
        buyers,
        lambda: _subject(news, quote),
        "quote",
        {
            "quote": quote,
            "news": news,
            "actor": author.full_name if author else "",
            "text": text,
            "staff": False,
            "valid_until": quote.valid_until,
        },
        f"/quotes/{quote.id}",
    )
