"""The buyer's quotes: the company's list, asking for a quote from the cart or a list, and one
quote with its versions, the change since the version before, the thread, the timeline and the
buyer's answers (accept into an order, decline, ask for changes, comment).

Every value arrives decoded and bounded (`portal.web.inputs`); the moves are `services/quotes.py`'s.
A refused form comes back through the page function its route names in `opt={"form": ...}`, with
each message next to its line or field and what was typed kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NoRouteMatchFoundException
from litestar.params import FromQuery, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.errors import NotFound
from portal.i18n import N_, gettext
from portal.models import Order, OrderStatus, Quote, QuoteLine, QuoteStatus, QuoteVersion, Role
from portal.services import delivery, ordering, quote_views, quotes
from portal.services.ordering import NOTE_MAX, PO_NUMBER_MAX
from portal.services.quote_views import LineDiff, QuoteGroup, QuoteSource, RequestDraft
from portal.services.totals import Totals
from portal.web.context import PortalRequest, seller_today, settings_of
from portal.web.errors import FormPage, Refusal
from portal.web.formatting import flag_text
from portal.web.guards import allow
from portal.web.inputs import (
    MAX_ID,
    Day,
    Flag,
    Form,
    FormId,
    Id,
    MaybeId,
    PageNo,
    Quantity,
    Text,
    UnitPrice,
    decode_hook,
)

FREE_ROWS = 5
"""Blank rows on the request form for items the catalogue does not have."""
MAX_TARGET_KEY = 1000
"""The ask-for-changes form takes a new target for lines keyed up to this (`QuoteLine.line_key`)."""

Title = Annotated[Text, msgspec.Meta(max_length=quotes.TITLE_MAX)]
LongText = Annotated[Text, msgspec.Meta(max_length=quotes.TEXT_MAX)]
ItemName = Annotated[Text, msgspec.Meta(max_length=quotes.NAME_MAX)]
Note = Annotated[Text, msgspec.Meta(max_length=NOTE_MAX)]
PoNumber = Annotated[Text, msgspec.Meta(max_length=PO_NUMBER_MAX)]
GROUP_LABELS = {QuoteGroup.OPEN: N_("Open"), QuoteGroup.ACCEPTED: N_("Accepted"), QuoteGroup.CLOSED: N_("Closed")}

SourceQuery = Annotated[QuoteSource, QueryParameter(name="source")]
SourceIdQuery = Annotated[int | None, QueryParameter(name="source_id", ge=1, le=MAX_ID)]


# --- the forms -----------------------------------------------------------------------------------


class _RequestBase(Form):
    """The request form: title, message, wanted-by date, where its lines came from, and numbered
    rows (`RequestFields` adds them): per catalogue row `product_<i>`, `quantity_<i>`,
    `target_<i>`, `leave_<i>`; per free-text row `free_name_<j>`, `free_quantity_<j>`, `free_target_<j>`."""

    source: QuoteSource = QuoteSource.CART
    source_id: FormId | None = None
    title: Title = ""
    message: LongText = ""
    wanted_by: Day | None = None

    def made(self) -> dict[str, Any]:
        """The request's own fields, as `quotes.request_quote` takes them."""
        return {"title": self.title, "message": self.message, "wanted_by": self.wanted_by}

    def wanted(self) -> list[tuple[str, quotes.WantedLine]]:
        """The lines to ask for, each with the form row it came from ("row-<i>", "free-<j>"): rows
        left out and blank free-text rows are skipped; a missing quantity is 0, which the service refuses."""
        chosen: list[tuple[str, quotes.WantedLine]] = []
        for i in range(quotes.MAX_LINES):
            product_id = getattr(self, f"product_{i}")
            if product_id is None or getattr(self, f"leave_{i}") is not None:
                continue
            quantity, target = getattr(self, f"quantity_{i}"), getattr(self, f"target_{i}")
            chosen.append((f"row-{i}", quotes.WantedLine(quantity or 0, product_id, target_price=target)))
        for j in range(FREE_ROWS):
            name, quantity, target = (getattr(self, f"free_{part}_{j}") for part in ("name", "quantity", "target"))
            if not name.strip() and quantity is None and target is None:
                continue
            chosen.append((f"free-{j}", quotes.WantedLine(quantity or 0, None, name=name, target_price=target)))
        return chosen


def _numbered_fields() -> list[tuple[str, Any, Any]]:
    rows = [
        field
        for i in range(quotes.MAX_LINES)
        for field in (
            (f"product_{i}", FormId | None, None),
            (f"quantity_{i}", Quantity | None, None),
            (f"target_{i}", UnitPrice | None, None),
            (f"leave_{i}", Flag | None, None),
        )
    ]
    free = [
        field
        for j in range(FREE_ROWS)
        for field in (
            (f"free_name_{j}", ItemName, ""),
            (f"free_quantity_{j}", Quantity | None, None),
            (f"free_target_{j}", UnitPrice | None, None),
        )
    ]
    return rows + free


class _ChangesBase(Form):
    """Ask for changes: a comment and, per line of the version, a new target (`target_<line_key>`)."""

    version: FormId
    comment: LongText = ""

    def targets(self) -> dict[int, Decimal]:
        return {
            key: target
            for key in range(1, MAX_TARGET_KEY + 1)
            if (target := getattr(self, f"target_{key}")) is not None
        }


if TYPE_CHECKING:
    RequestFields = _RequestBase
    ChangesFields = _ChangesBase
else:
    RequestFields = msgspec.defstruct("RequestFields", _numbered_fields(), bases=(_RequestBase,), kw_only=True)
    ChangesFields = msgspec.defstruct(
        "ChangesFields",
        [(f"target_{key}", UnitPrice | None, None) for key in range(1, MAX_TARGET_KEY + 1)],
        bases=(_ChangesBase,),
        kw_only=True,
    )


class AcceptFields(Form):
    version: FormId
    delivery_date: Day
    address_id: FormId
    po_number: PoNumber = ""
    note: Note = ""

    def choices(self) -> ordering.CheckoutForm:
        """The checkout's form, as `quotes.accept` reads it (its key is not used there)."""
        return ordering.CheckoutForm(
            key="",
            po_number=self.po_number,
            delivery_date=self.delivery_date,
            address_id=self.address_id,
            note=self.note,
        )


class DeclineFields(Form):
    version: FormId
    reason: LongText = ""


class CommentFields(Form):
    body: LongText = ""


# --- what the pages show -------------------------------------------------------------------------


def _as_text(values: Mapping[str, Any]) -> dict[str, str]:
    """Form values as the inputs show them; a value sent twice shows its first."""
    shown = {key: value[0] if isinstance(value, list) and value else value for key, value in values.items()}
    return {key: "" if value is None else str(value) for key, value in shown.items() if not isinstance(value, list)}


def _read(entered: Mapping[str, Any], kind: type[Any]) -> Any | None:
    """A refused form's values read again as its struct; None when they do not read."""
    try:
        return msgspec.convert(dict(entered), kind, strict=False, dec_hook=decode_hook)
    except (msgspec.ValidationError, ValueError):
        return None


@dataclass(frozen=True)
class RequestRow:
    """One catalogue row of the request form: the line, what its inputs show, its message."""

    index: int
    line: quote_views.DraftLine
    quantity: str
    target: str
    leave: bool
    error: str | None


@dataclass(frozen=True)
class FreeRow:
    index: int
    name: str
    quantity: str
    target: str
    error: str | None


def _row_errors(refusal: Refusal | None) -> dict[str, str]:
    """The refusal's messages by form row and field: the service names a line by its place in
    what was asked for (`line-<k>`), which is mapped back to the row it came from."""
    if refusal is None:
        return {}
    errors = dict(refusal.errors)
    fields = _read(refusal.entered, RequestFields)
    rows = [row for row, _ in fields.wanted()] if fields is not None else []
    for index, row in enumerate(rows):
        if (message := errors.pop(f"line-{index}", None)) is not None:
            errors[row] = message
    return errors


def _request_page(request: PortalRequest, draft: RequestDraft, refusal: Refusal | None = None) -> Template:
    entered = _as_text(refusal.entered) if refusal else {}
    errors = _row_errors(refusal)

    def message(*keys: str) -> str | None:
        return next((errors[key] for key in keys if key in errors), None)

    rows = []
    for i, line in enumerate(draft.lines):
        typed = refusal is not None and entered.get(f"product_{i}") == str(line.product.id)
        rows.append(
            RequestRow(
                i,
                line,
                entered.get(f"quantity_{i}", "") if typed else str(line.quantity),
                entered.get(f"target_{i}", "") if typed else "",
                f"leave_{i}" in entered if typed else not line.product.is_active,
                message(f"row-{i}", f"quantity_{i}", f"target_{i}", f"product_{i}", f"leave_{i}"),
            )
        )
    free = [
        FreeRow(
            j,
            entered.get(f"free_name_{j}", ""),
            entered.get(f"free_quantity_{j}", ""),
            entered.get(f"free_target_{j}", ""),
            message(f"free-{j}", f"free_name_{j}", f"free_quantity_{j}", f"free_target_{j}"),
        )
        for j in range(FREE_ROWS)
    ]
    form = {
        "title": entered.get("title", draft.name if refusal is None else ""),
        "message": entered.get("message", ""),
        "wanted_by": entered.get("wanted_by", ""),
    }
    return Template(
        "quotes/new.html",
        status_code=refusal.status_code if refusal else 200,
        context={
            "draft": draft,
            "rows": rows,
            "free_rows": free,
            "form": form,
            "errors": errors,
            "currency": request.user.company.currency if request.user.company else "PLN",
            "title_max": quotes.TITLE_MAX,
            "text_max": quotes.TEXT_MAX,
            "name_max": quotes.NAME_MAX,
        },
    )


class _SourceFields(Form):
    source: QuoteSource = QuoteSource.CART
    source_id: FormId | None = None


async def _request_again(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    chosen = _read(refusal.entered, _SourceFields)
    if chosen is None:
        raise NotFound()
    draft = await quote_views.request_draft(
        db_session, request.user, chosen.source, chosen.source_id, seller_today(request)
    )
    return _request_page(request, draft, refusal)


@dataclass(frozen=True)
class BuyerQuote:
    """One quote as its buyer reads it: the sent version asked for (default: the current one), the
    change against the version before it, and which answers the buyer can give now."""

    quote: Quote
    shown: QuoteVersion | None
    """The sent version read; None before the first is sent."""
    sent: list[QuoteVersion]
    changes: list[LineDiff] | None
    """From version 2: every line against the version before."""
    asked: list[QuoteLine]
    """Before the first version is sent: the lines the buyer asked a price for."""
    today: date

    @classmethod
    def of(cls, quote: Quote, number: int | None, today: date) -> BuyerQuote:
        if number is not None and quotes.sent_of(quote, number) is None:
            raise NotFound()
        shown = quotes.sent_of(quote, number)
        previous = quotes.sent_of(quote, shown.number - 1) if shown is not None and shown.number > 1 else None
        sent = [v for v in quote.versions if v.sent_at is not None and v.number <= quote.sent_version]
        first = quote.versions[0] if quote.versions and shown is None else None
        asked = [line for line in first.lines if line.requested_quantity is not None] if first else []
        changes = quote_views.changes_between(previous, shown) if shown is not None and previous else None
        return cls(quote, shown, sent, changes, asked, today)

    @property
    def label(self) -> str:
        return quotes.version_label(self.quote, self.shown.number) if self.shown else self.quote.number

    @property
    def status(self) -> str:
        return quotes.status_label(self.quote.status)

    @property
    def is_current(self) -> bool:
        return self.shown is not None and self.shown.number == self.quote.sent_version

    @property
    def preparing(self) -> bool:
        """The account manager prepares the next version."""
        return self.quote.status in quotes.WITH_MANAGER

    @property
    def lapsed(self) -> bool:
        """The current offer's last valid day has passed (the worker expires it)."""
        valid = self.shown.valid_until if self.shown else None
        return self.is_current and valid is not None and valid < self.today

    @property
    def can_answer(self) -> bool:
        """Accept, decline or ask for changes: the current version of a sent quote, still valid."""
        return self.quote.status is QuoteStatus.SENT and self.is_current and not self.lapsed

    @property
    def lines(self) -> list[LineDiff]:
        """The shown version's lines, marked against the version before from version 2."""
        if self.changes is not None:
            return self.changes
        return quote_views.changes_between(None, self.shown) if self.shown else []

    @property
    def totals(self) -> Totals | None:
        return quote_views.version_totals(self.shown) if self.shown else None

    @property
    def currency(self) -> str:
        return self.shown.currency if self.shown else self.quote.company.currency

    def value(self, line: QuoteLine) -> Decimal | None:
        return quote_views.line_value(line)


def _labels() -> dict[str, Any]:
    """The words for the statuses and the list's filter, in the reader's language."""
    return {
        "status_labels": {status: quotes.status_label(status) for status in QuoteStatus},
        "group_labels": {group: gettext(label) for group, label in GROUP_LABELS.items()},
    }


def _pdf_url(request: PortalRequest, quote_id: int, version: int) -> str | None:
    """The version's PDF, once the route that writes it exists."""
    try:
        path = request.app.route_reverse("quote_pdf", quote_id=quote_id, version=version)
    except NoRouteMatchFoundException:
        return None
    index = request.app.get_handler_index_by_name("quote_pdf")
    named = index is not None and any("{version" in p for p in index["paths"])
    return path if named else f"{path}?version={version}"


async def _quote_page(
    request: PortalRequest,
    db_session: AsyncSession,
    quote_id: int,
    version: int | None = None,
    refusal: Refusal | None = None,
    where: str = "",
) -> Template:
    """The quote as its buyer reads it; after a refusal, the form `where` names with its messages."""
    today = seller_today(request)
    quote = await quotes.buyer_quote(db_session, request.user, quote_id)
    view = BuyerQuote.of(quote, version, today)
    company = quote.company
    addresses = await ordering.company_addresses(db_session, company.id) if view.can_answer else []
    settings = settings_of(request)
    default = next((a for a in addresses if a.is_default), addresses[0] if addresses else None)
    accept_form = {
        "po_number": "",
        "delivery_date": delivery.earliest_delivery(company, clock.now(), settings.seller_zone).isoformat(),
        "address_id": str(default.id) if default else "",
        "note": "",
    }
    entered = _as_text(refusal.entered) if refusal else {}
    if where == "accept":
        accept_form = {name: entered.get(name, "") for name in accept_form}
    return Template(
        "quotes/show.html",
        status_code=refusal.status_code if refusal else 200,
        context={
            "view": view,
            "quote": quote,
            "company": company,
            "comments": await quote_views.thread(db_session, quote.id, internal=False),
            "events": await quote_views.timeline(db_session, quote.id),
            "addresses": addresses,
            "accept_form": accept_form,
            "where": where,
            "errors": refusal.errors if refusal else {},
            "entered": entered,
            "pdf_url": _pdf_url(request, quote.id, view.shown.number) if view.shown else None,
            "text_max": quotes.TEXT_MAX,
            "note_max": NOTE_MAX,
            "po_number_max": PO_NUMBER_MAX,
            "max_target_key": MAX_TARGET_KEY,
            **_labels(),
        },
    )


def _quote_again(where: str) -> FormPage:
    """The quote page again (its current version), the refusal shown next to the form `where` names."""

    async def page(request: Request[Any, Any, Any], db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
        return await _quote_page(request, db_session, request.path_params["quote_id"], None, refusal, where)

    return page


def _to_quote(request: PortalRequest, quote_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("quote", quote_id=quote_id), status_code=303)


def _accepted(request: PortalRequest, acceptance: quotes.Acceptance) -> Redirect:
    order: Order = acceptance.order
    values = {"number": order.number, "label": quotes.version_label(acceptance.quote, acceptance.quote.sent_version)}
    if not acceptance.created:
        flash(request, gettext("Quote %(label)s had been accepted already: order %(number)s.") % values, "info")
    elif order.status is OrderStatus.APPROVED:
        flash(request, gettext("Quote accepted: order %(number)s approved.") % values, "success")
    else:
        blockers = "; ".join(flag_text(flag, order.currency) for flag in order.flags if flag.blocking)
        waiting = gettext("Quote accepted: order %(number)s waits for approval: %(blocker)s") % {
            **values,
            "blocker": blockers or gettext("your account manager"),
        }
        flash(request, waiting, "info")
    return Redirect(request.app.route_reverse("order", order_id=order.id), status_code=303)


# --- the routes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """What the buyer's moves are read against: the seller's today and the portal's settings."""

    today: date
    validity_days: int
    grace_days: int
    margin_floor: Decimal

    def accepting(self) -> dict[str, Any]:
        return {"today": self.today, "grace_days": self.grace_days, "margin_floor": self.margin_floor}

    def asking(self) -> dict[str, Any]:
        return {"today": self.today, "validity_days": self.validity_days}


def _terms(request: PortalRequest) -> Terms:
    settings = settings_of(request)
    return Terms(
        seller_today(request), settings.quote_validity_days, settings.past_due_grace_days, settings.margin_floor_pct
    )


class QuotesController(Controller):
    path = "/quotes"
    guards = [allow(Role.BUYER)]
    dependencies = {"terms": Provide(_terms, sync_to_thread=False)}

    @get("/", name="quotes")
    async def index(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        status: FromQuery[QuoteGroup | None] = None,
        page: FromQuery[PageNo] = 1,
    ) -> Template:
        listed = await quote_views.company_quotes(db_session, request.user.company_id or 0, status, page)
        return Template("quotes/index.html", context={"page": listed, "groups": list(QuoteGroup), **_labels()})

    @get("/new", name="new_quote")
    async def new(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        source: SourceQuery = QuoteSource.CART,
        source_id: SourceIdQuery = None,
    ) -> Template:
        """The request form with the cart's or the list's lines; neither is changed."""
        draft = await quote_views.request_draft(db_session, request.user, source, source_id, today)
        return _request_page(request, draft)

    @post("/", name="request_quote", opt={"form": _request_again})
    async def create(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        terms: NamedDependency[Terms],
        data: URLEncodedBody[RequestFields],
    ) -> Redirect:
        wanted = [line for _, line in data.wanted()]
        made = data.made()
        quote = await quotes.request_quote(db_session, request.user, wanted, **made, **terms.asking())
        sent = gettext("Quote %(number)s requested: your account manager prepares the offer.")
        return _to_quote(request, quote.id, sent % {"number": quote.number})

    @get("/{quote_id:int}", name="quote")
    async def show(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        version: FromQuery[MaybeId] = None,
    ) -> Template:
        return await _quote_page(request, db_session, quote_id, version)

    @post("/{quote_id:int}/accept", name="accept_quote", opt={"form": _quote_again("accept")})
    async def accept(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        terms: NamedDependency[Terms],
        data: URLEncodedBody[AcceptFields],
    ) -> Redirect:
        user, choices = request.user, data.choices()
        acceptance = await quotes.accept(db_session, user, quote_id, data.version, choices, **terms.accepting())
        return _accepted(request, acceptance)

    @post("/{quote_id:int}/decline", name="decline_quote", opt={"form": _quote_again("decline")})
    async def decline(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[DeclineFields],
    ) -> Redirect:
        quote = await quotes.decline(db_session, request.user, quote_id, data.version, data.reason, today=today)
        return _to_quote(request, quote_id, gettext("Quote %(number)s declined.") % {"number": quote.number})

    @post("/{quote_id:int}/changes", name="ask_quote_changes", opt={"form": _quote_again("changes")})
    async def ask_for_changes(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        terms: NamedDependency[Terms],
        data: URLEncodedBody[ChangesFields],
    ) -> Redirect:
        asked = (data.version, data.comment, data.targets())
        await quotes.ask_for_changes(db_session, request.user, quote_id, *asked, **terms.asking())
        return _to_quote(request, quote_id, gettext("Sent: your account manager prepares a new version."))

    @post("/{quote_id:int}/comments", name="comment_quote", opt={"form": _quote_again("comment")})
    async def comment(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[CommentFields],
    ) -> Redirect:
        await quotes.add_comment(db_session, request.user, quote_id, data.body, today=today)
        return _to_quote(request, quote_id, gettext("Comment sent."))
