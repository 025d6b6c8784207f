"""The staff side of quotes: the desk (the quotes of the companies the user sees, tab by tab) and
one quote's page — the account manager's editor of the draft, or the read view of a sent version
with costs, margins and internal comments.

Staff (account managers, finance, admins) may open them; changing a quote is for its company's
account manager, their deputy while covering, or an admin (`quotes.can_negotiate`): the route
guards answer 404 for a quote the user does not see and 403 for one they may only read, before
any form is read. A refused form comes back on the quote's page with each message next to its
field — a line's next to the line — and what was typed kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NoRouteMatchFoundException
from litestar.handlers import BaseRouteHandler
from litestar.params import QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from litestar.types import Guard
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.errors import NotFound
from portal.i18n import N_, gettext
from portal.models import Quote, Role, User
from portal.services import quote_desk, quotes
from portal.services.quote_desk import DeskView, StaffQuote
from portal.settings import Settings
from portal.web.context import PortalRequest, render, seller_today, settings_of
from portal.web.errors import Refusal
from portal.web.formatting import margin_note
from portal.web.guards import allow
from portal.web.inputs import (
    MAX_ID,
    Day,
    Flag,
    Form,
    FormId,
    Id,
    IdList,
    PageNo,
    Quantity,
    Text,
    UnitPrice,
    decode_hook,
)
from portal.web.inputs import friendly as friendly_message

Title = Annotated[Text, msgspec.Meta(max_length=quotes.TITLE_MAX)]
Terms = Annotated[Text, msgspec.Meta(max_length=quotes.TEXT_MAX)]
Reason = Annotated[Text, msgspec.Meta(max_length=quotes.TEXT_MAX)]
Sku = Annotated[Text, msgspec.Meta(max_length=40)]
"""`Product.sku` is String(40)."""
ViewQuery = Annotated[DeskView, QueryParameter(name="view")]


class LineFields(Form):
    """One draft line's fields in the editor, sent as `<field>-<line id>` (`price-12`)."""

    quantity: Quantity | None = None
    price: UnitPrice | None = None
    reason: Reason = ""
    accept: Flag | None = None
    """The tick that confirms a price below the margin floor, given with its reason."""
    sku: Sku = ""
    remove: Flag | None = None


LINE_LABELS = {
    "quantity": N_("Quantity"),
    "price": N_("Offered price"),
    "reason": N_("Reason"),
    "accept": N_("Accept below the floor"),
    "sku": N_("SKU"),
    "remove": N_("Remove"),
}


class DraftFields(Form):
    """The editor: the version's fields, and the ids of its lines, whose own fields are named by id."""

    line_id: IdList = msgspec.field(default_factory=IdList)
    valid_until: Day | None = None
    title: Title = ""
    delivery_terms: Terms = ""
    payment_terms: Terms = ""

    def changes(self, form: Mapping[str, Any]) -> quotes.DraftChanges:
        """The draft's changes, each line's fields read from `form` (the request's form) and typed
        like any form's; a line whose fields cannot be read is refused next to the line."""
        lines, errors = [], {}
        for line_id in dict.fromkeys(self.line_id):
            raw = {name: form[key] for name in LineFields.__struct_fields__ if (key := f"{name}-{line_id}") in form}
            try:
                fields = msgspec.convert(raw, LineFields, strict=False, dec_hook=decode_hook)
            except msgspec.ValidationError as problem:
                errors[f"line-{line_id}"] = _line_problem(str(problem))
                continue
            if fields.reason.strip() and fields.accept is None and fields.remove is None:
                errors[f"line-{line_id}"] = gettext(
                    "Tick “Accept below the floor” to send this price with its reason, or clear the reason."
                )
                continue
            lines.append(
                quotes.LineChange(
                    line_id,
                    quantity=fields.quantity,
                    unit_price=fields.price,
                    below_floor_reason=fields.reason,
                    sku=fields.sku,
                    remove=fields.remove is not None,
                )
            )
        if errors:
            raise quotes.QuoteRefused(gettext("Please correct the marked fields."), errors=errors)
        return quotes.DraftChanges(
            valid_until=self.valid_until,
            delivery_terms=self.delivery_terms,
            payment_terms=self.payment_terms,
            title=self.title,
            lines=lines,
        )


def _line_problem(message: str) -> str:
    """ "Expected `int` >= 1 - at `$.quantity`" → "Quantity: Enter at least 1." """
    text, _, where = message.partition(" - at `$.")
    name = where.rstrip("`")
    sentence = friendly_message(text)
    return f"{gettext(LINE_LABELS[name])}: {sentence}" if name in LINE_LABELS else sentence


class NewOfferFields(Form):
    company_id: FormId
    title: Title = ""


class AddLineFields(Form):
    sku: Sku
    quantity: Quantity
    unit_price: UnitPrice | None = None


class WithdrawFields(Form):
    reason: Reason = ""
    """Required: left empty, the service says so next to the field."""


class CommentFields(Form):
    body: Reason
    internal: Flag | None = None


# --- guards: who may open or change the quote in the path -----------------------------------------

QuoteCheck = Callable[[AsyncSession, User, int, date], Awaitable[None]]


def _quote_guard(check: QuoteCheck, name: str) -> Guard:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        quote_id = connection.path_params.get("quote_id")
        if not isinstance(quote_id, int) or not 1 <= quote_id <= MAX_ID:
            raise NotFound()
        state = connection.app.state
        session: AsyncSession = state.db_config.provide_session(state, connection.scope)
        settings: Settings = state.settings
        await check(session, connection.user, quote_id, clock.today(settings.seller_zone))

    guard.__name__ = name
    return guard


sees_quote = _quote_guard(quote_desk.check_visible, "sees_quote")
"""The quote's company is one the user sees; otherwise 404."""
negotiates_quote = _quote_guard(quote_desk.check_negotiator, "negotiates_quote")
"""…and the user may change its quotes; otherwise 403."""


# --- the quote's page, shared by the handlers and the refusals ------------------------------------

EDITOR_ROUTES = frozenset({"save_quote_draft", "send_quote"})
FORM_OF_ROUTE = {
    "save_quote_draft": "editor",
    "send_quote": "editor",
    "add_quote_line": "add_line",
    "withdraw_quote": "withdraw",
    "staff_comment_quote": "comment",
    "revise_quote": "revise",
}


def _price_text(price: Decimal | None) -> str:
    """A unit price as its input shows it: two decimals, or the four it has."""
    if price is None:
        return ""
    return f"{price:.2f}" if price == price.quantize(Decimal("0.01")) else f"{price.normalize():f}"


def _first(value: Any) -> str:
    """A value as an input shows it; one sent twice shows its first."""
    if isinstance(value, list):
        value = value[0] if value else ""
    return "" if value is None else str(value)


@dataclass(frozen=True)
class QuoteForms:
    """What the forms of the page show: saved values, or in the refused form what was typed, with
    each message next to its field (`error(form, key)`)."""

    form: str = ""
    """The form that was refused: editor, add_line, withdraw, comment, revise (or "" for none)."""
    message: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    editor: dict[str, str] = field(default_factory=dict)
    """The editor's values by field name (`price-12`, `valid_until`)."""
    typed: dict[str, str] = field(default_factory=dict)
    """What was typed into the refused form, other than the editor."""

    def error(self, form: str, key: str) -> str | None:
        return self.errors.get(key) if self.form == form else None

    def value(self, key: str, default: str = "") -> str:
        return self.typed.get(key, default)

    @classmethod
    def of(cls, view: StaffQuote, route: str, refusal: Refusal | None) -> QuoteForms:
        saved = _saved_editor(view)
        if refusal is None:
            return cls(editor=saved)
        form = FORM_OF_ROUTE.get(route, "")
        entered = {key: _first(value) for key, value in refusal.entered.items()}
        if route in EDITOR_ROUTES:
            # a field left empty is not sent at all: it shows empty, not its saved value
            editor = {key: entered.get(key, "") for key in saved}
            return cls(form, refusal.message, refusal.errors, editor)
        return cls(form, refusal.message, refusal.errors, saved, entered)


def _saved_editor(view: StaffQuote) -> dict[str, str]:
    editing = view.editing
    if editing is None:
        return {}
    version = editing.version
    values = {
        "valid_until": version.valid_until.isoformat() if version.valid_until else "",
        "title": view.quote.title,
        "delivery_terms": version.delivery_terms,
        "payment_terms": version.payment_terms,
    }
    for priced in editing.lines:
        line = priced.line
        values |= {
            f"quantity-{line.id}": str(line.quantity),
            f"price-{line.id}": _price_text(line.unit_price),
            f"reason-{line.id}": line.below_floor_reason,
            f"accept-{line.id}": "1" if line.below_floor_reason else "",
            f"sku-{line.id}": line.sku,
            f"remove-{line.id}": "",
        }
    return values


def _pdf_urls(request: PortalRequest, view: StaffQuote) -> dict[int, str]:
    """Each sent version's PDF (by number), where the portal offers one."""
    try:
        return {
            version.number: request.app.route_reverse("quote_pdf", quote_id=view.quote.id, version=version.number)
            for version in view.sent_versions
        }
    except NoRouteMatchFoundException:
        return {}


async def quote_page(
    request: PortalRequest, db_session: AsyncSession, quote_id: int, refusal: Refusal | None = None
) -> Template:
    settings = settings_of(request)
    view = await quote_desk.staff_quote(
        db_session, request.user, quote_id, today=seller_today(request), margin_floor=settings.margin_floor_pct
    )
    route = request.route_handler.name or ""
    return render(
        request,
        "quotes/staff/show.html",
        {
            "view": view,
            "quote": view.quote,
            "forms": QuoteForms.of(view, route, refusal),
            "pdf_urls": _pdf_urls(request, view),
            "status_label": quotes.status_label,
            "text_max": quotes.TEXT_MAX,
            "title_max": quotes.TITLE_MAX,
            "margin_note": margin_note(view.standing) if view.standing is not None else "",
        },
        status_code=refusal.status_code if refusal else 200,
    )


async def quote_page_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await quote_page(request, db_session, request.path_params["quote_id"], refusal)


def _back_to(request: PortalRequest, quote_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("manage_quote", quote_id=quote_id), status_code=303)


@dataclass(frozen=True)
class QuoteTerms:
    """What the quote moves need besides the form: today, the global margin floor and how long a new
    version is valid by default."""

    today: date
    margin_floor: Decimal
    validity_days: int


def quote_terms(today: NamedDependency[date], settings: NamedDependency[Settings]) -> QuoteTerms:
    return QuoteTerms(today, settings.margin_floor_pct, settings.quote_validity_days)


def _sent(quote: Quote) -> str:
    label = quotes.version_label(quote, quote.sent_version)
    return gettext("Version %(label)s sent to %(company)s.") % {"label": label, "company": quote.company.name}


class QuoteDeskController(Controller):
    path = "/manage/quotes"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)]
    dependencies = {"terms": Provide(quote_terms, sync_to_thread=False)}

    @get("/", name="quote_desk")
    async def desk(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        view: ViewQuery = DeskView.OPEN,
        page: PageNo = 1,
    ) -> Template:
        found = await quote_desk.desk(db_session, request.user, view, today=today, page=page)
        return render(request, "quotes/staff/desk.html", {"desk": found})

    @post("/", name="new_offer")
    async def new_offer(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        terms: NamedDependency[QuoteTerms],
        data: URLEncodedBody[NewOfferFields],
    ) -> Redirect:
        days = terms.validity_days
        quote = await quotes.new_offer(db_session, request.user, today=terms.today, validity_days=days, **data.values())
        started = gettext("Offer %(number)s started: add its lines.") % {"number": quote.number}
        return _back_to(request, quote.id, started)

    @get("/{quote_id:int}", name="manage_quote", guards=[sees_quote])
    async def show(self, request: PortalRequest, db_session: NamedDependency[AsyncSession], quote_id: Id) -> Template:
        return await quote_page(request, db_session, quote_id)

    @post("/{quote_id:int}/draft", name="save_quote_draft", guards=[negotiates_quote], opt={"form": quote_page_again})
    async def save_draft(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        terms: NamedDependency[QuoteTerms],
        data: URLEncodedBody[DraftFields],
    ) -> Redirect:
        changes = data.changes(await request.form())
        await quotes.save_draft(
            db_session, request.user, quote_id, changes, today=terms.today, margin_floor=terms.margin_floor
        )
        return _back_to(request, quote_id, gettext("Draft saved."))

    @post("/{quote_id:int}/lines", name="add_quote_line", guards=[negotiates_quote], opt={"form": quote_page_again})
    async def add_line(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[AddLineFields],
    ) -> Redirect:
        line = await quotes.add_line(db_session, request.user, quote_id, today=today, **data.values())
        return _back_to(request, quote_id, gettext("%(sku)s added to the draft.") % {"sku": line.sku})

    @post("/{quote_id:int}/send", name="send_quote", guards=[negotiates_quote], opt={"form": quote_page_again})
    async def send(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        terms: NamedDependency[QuoteTerms],
        data: URLEncodedBody[DraftFields],
    ) -> Redirect:
        """Saves the editor's form and sends the draft, in one transaction: a refusal keeps neither."""
        changes = data.changes(await request.form())
        quote = await quote_desk.save_and_send(
            db_session, request.user, quote_id, changes, today=terms.today, margin_floor=terms.margin_floor
        )
        return _back_to(request, quote_id, _sent(quote))

    @post("/{quote_id:int}/revise", name="revise_quote", guards=[negotiates_quote], opt={"form": quote_page_again})
    async def revise(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        terms: NamedDependency[QuoteTerms],
    ) -> Redirect:
        draft = await quotes.revise(
            db_session, request.user, quote_id, today=terms.today, validity_days=terms.validity_days
        )
        started = gettext("Version %(version)d started as a copy of the one sent.") % {"version": draft.number}
        return _back_to(request, quote_id, started)

    @post("/{quote_id:int}/withdraw", name="withdraw_quote", guards=[negotiates_quote], opt={"form": quote_page_again})
    async def withdraw(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[WithdrawFields],
    ) -> Redirect:
        quote = await quotes.withdraw(db_session, request.user, quote_id, data.reason, today=today)
        return _back_to(request, quote_id, gettext("Quote %(number)s withdrawn.") % {"number": quote.number})

    @post("/{quote_id:int}/comments", name="staff_comment_quote", guards=[sees_quote], opt={"form": quote_page_again})
    async def comment(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        quote_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[CommentFields],
    ) -> Redirect:
        internal = data.internal is not None
        await quotes.add_comment(db_session, request.user, quote_id, data.body, internal=internal, today=today)
        said = gettext("Internal comment added.") if internal else gettext("Comment added.")
        return _back_to(request, quote_id, said)
