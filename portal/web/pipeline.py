"""The sales pipeline for staff: the board (the open opportunities by stage with counts, values and
the weighted value; those won or lost in the last 90 days), one opportunity's page (details, edit,
the move form, its quotes and its history) and a new opportunity for a customer or a prospect.

Staff see the opportunities of the customers and prospects they see (`sees_crm`; any other is 404);
account managers and admins change them (finance reads: 403 before any form is read). A refused
form comes back on its page with each message next to its field and what was typed kept. A move
chosen on the board that needs a reason or an order comes back on the opportunity's page, at its
move form, with the stage chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound
from portal.i18n import N_, gettext
from portal.models import Opportunity, Quote, Role, Stage, User
from portal.services import pipeline, quotes
from portal.settings import Settings
from portal.web.context import PortalRequest, render, seller_today
from portal.web.errors import Refusal
from portal.web.guards import allow
from portal.web.inputs import MAX_ID, Day, Form, FormId, Id, MaybeId, Money, Text, Translated, path_id
from portal.web.scoping import sees_crm

Title = Annotated[Text, msgspec.Meta(max_length=pipeline.TITLE_MAX)]
Note = Annotated[Text, msgspec.Meta(max_length=pipeline.NOTE_MAX)]
Version = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
OwnerQuery = Annotated[int | None, QueryParameter(name="owner", ge=1, le=MAX_ID)]

staff = allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)
workers = allow(Role.ACCOUNT_MANAGER, Role.ADMIN)
"""Who changes opportunities; finance reads them."""
sees_opportunity = sees_crm("opportunity", "opportunity_id")


class TermsFields(Form):
    title: Title
    expected_value: Money
    expected_close_on: Day
    owner_id: FormId | None = None

    def terms(self) -> pipeline.Terms:
        return pipeline.Terms(self.title, self.expected_value, self.expected_close_on, self.owner_id)


class NewFields(TermsFields):
    company_id: FormId | None = None
    prospect_id: FormId | None = None

    def whose(self) -> dict[str, int | None]:
        """The customer or the prospect it is for."""
        return {"company_id": self.company_id, "prospect_id": self.prospect_id}


class EditFields(Form):
    """The terms as `TermsFields`, read at `version`."""

    messages: ClassVar[dict[str, str]] = Translated(
        {"version": N_("This form is out of date: open the opportunity again.")}
    )
    version: Version
    title: Title
    expected_value: Money
    expected_close_on: Day
    owner_id: FormId | None = None

    def terms(self) -> pipeline.Terms:
        return pipeline.Terms(self.title, self.expected_value, self.expected_close_on, self.owner_id)


class MoveFields(Form):
    messages: ClassVar[dict[str, str]] = Translated(
        {
            "stage": N_("Choose a stage."),
            "version": N_("This form is out of date: open the opportunity again."),
            "lost_reason_id": N_("Choose why it was lost."),
            "order_id": N_("Choose the order it was won with."),
        }
    )
    stage: Stage
    version: Version
    lost_reason_id: FormId | None = None
    order_id: FormId | None = None
    note: Note = ""
    back: Literal["board"] | None = None
    """ "board": the move was made on the board, which is shown again after it."""
    board_owner: FormId | None = None
    """The board's owner filter, kept when going back to it."""

    def details(self) -> dict[str, Any]:
        """What a move to won or lost needs besides the stage."""
        return {"lost_reason_id": self.lost_reason_id, "order_id": self.order_id, "note": self.note}


class LinkFields(Form):
    messages: ClassVar[dict[str, str]] = Translated({"quote_id": N_("Choose a quote from the list.")})
    quote_id: FormId


class TargetFields(Form):
    company_id: FormId | None = None
    prospect_id: FormId | None = None


def _links(request: PortalRequest) -> dict[str, Any]:
    """Which pages of other areas can be linked to (a prospect's page, once the portal has one)."""
    return {"prospect_route": request.app.get_handler_index_by_name("prospect") is not None}


def _typed(refusal: Refusal | None) -> dict[str, str]:
    entered = refusal.entered if refusal else {}
    return {key: value for key, value in entered.items() if isinstance(value, str)}


# --- the pages, shared by the handlers and the refusals ---------------------------------------------

FORM_OF_ROUTE = {
    "edit_opportunity": "edit",
    "move_opportunity": "move",
    "link_quote": "link",
    "new_opportunity_offer": "offer",
}


@dataclass(frozen=True)
class Forms:
    """The forms of an opportunity's page: which one was refused, its messages by field and what was
    typed in it; the others show the saved values."""

    form: str = ""
    message: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)

    def error(self, form: str, key: str) -> str | None:
        return self.errors.get(key) if self.form == form else None

    def value(self, form: str, key: str, saved: object = "") -> str:
        if self.form == form:
            return self.typed.get(key, "")
        return "" if saved is None else str(saved)

    def values(self, form: str, saved: dict[str, str]) -> dict[str, str]:
        """What the fields of `form` show: what was typed into it, if it was refused; else `saved`."""
        return self.typed if self.form == form else saved

    def errors_of(self, form: str) -> dict[str, str]:
        return self.errors if self.form == form else {}

    @classmethod
    def of(cls, route: str, refusal: Refusal | None) -> Forms:
        if refusal is None:
            return cls()
        return cls(FORM_OF_ROUTE.get(route, ""), refusal.message, refusal.errors, _typed(refusal))


def _saved(opportunity: Opportunity) -> dict[str, str]:
    """The edit form's values as saved."""
    return {
        "title": opportunity.title,
        "expected_value": f"{opportunity.expected_value:.2f}",
        "expected_close_on": opportunity.expected_close_on.isoformat(),
        "owner_id": str(opportunity.owner_id),
    }


async def opportunity_page(
    request: PortalRequest, db_session: AsyncSession, opportunity_id: int, refusal: Refusal | None = None
) -> Template:
    page = await pipeline.opportunity_page(db_session, request.user, opportunity_id, seller_today(request))
    context = {
        "page": page,
        "opportunity": page.opportunity,
        "saved": _saved(page.opportunity),
        "forms": Forms.of(request.route_handler.name or "", refusal),
        "quote_status": quotes.status_label,
        "reason_label": pipeline.lost_reason_label,
        "title_max": pipeline.TITLE_MAX,
        "note_max": pipeline.NOTE_MAX,
        **_links(request),
    }
    return render(request, "pipeline/opportunity.html", context, status_code=refusal.status_code if refusal else 200)


async def opportunity_page_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await opportunity_page(request, db_session, path_id(request.path_params.get("opportunity_id")), refusal)


async def new_page(
    request: PortalRequest,
    db_session: AsyncSession,
    company_id: int | None,
    prospect_id: int | None,
    refusal: Refusal | None = None,
) -> Template:
    form = await pipeline.new_opportunity(
        db_session, request.user, seller_today(request), company_id=company_id, prospect_id=prospect_id
    )
    context = {
        "form": form,
        "target": form.target,
        "values": _typed(refusal),
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
        "title_max": pipeline.TITLE_MAX,
        **_links(request),
    }
    return render(request, "pipeline/new.html", context, status_code=refusal.status_code if refusal else 200)


async def new_page_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """The new-opportunity form again, for the customer or prospect the refused form named."""
    try:
        chosen = msgspec.convert(_typed(refusal), TargetFields, strict=False)
    except msgspec.ValidationError:
        raise NotFound() from None
    return await new_page(request, db_session, chosen.company_id, chosen.prospect_id, refusal)


def _to_opportunity(request: PortalRequest, opportunity_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("opportunity", opportunity_id=opportunity_id), status_code=303)


def _after_move(request: PortalRequest, data: MoveFields, moved: Opportunity) -> Redirect:
    """Back to the board the move was made on (with its owner filter), or to the opportunity's page."""
    message = gettext("“%(title)s” moved to “%(stage)s”.") % {
        "title": moved.title,
        "stage": pipeline.stage_label(moved.stage),
    }
    if data.back != "board":
        return _to_opportunity(request, moved.id, message)
    flash(request, message, "success")
    owner = f"?owner={data.board_owner}" if data.board_owner else ""
    return Redirect(request.app.route_reverse("pipeline") + owner, status_code=303)


def _to_offer(request: PortalRequest, quote: Quote) -> Redirect:
    flash(
        request,
        gettext("Offer %(number)s started for this opportunity: add its lines.") % {"number": quote.number},
        "success",
    )
    return Redirect(request.app.route_reverse("manage_quote", quote_id=quote.id), status_code=303)


def _offer_maker(today: date, validity_days: int) -> pipeline.OfferMaker:
    """The quotes service's "new offer", as the pipeline starts one for an opportunity."""

    async def start(session: AsyncSession, user: User, company_id: int, *, title: str) -> Quote:
        return await quotes.new_offer(session, user, company_id, title=title, today=today, validity_days=validity_days)

    return start


class PipelineController(Controller):
    path = "/pipeline"
    guards = [staff]

    @get("/", name="pipeline")
    async def board(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        owner: OwnerQuery = None,
    ) -> Template:
        found = await pipeline.board(db_session, request.user, today, owner)
        return render(request, "pipeline/board.html", {"board": found, **_links(request)})


class OpportunitiesController(Controller):
    """Every route with an id names an opportunity the user sees (`sees_opportunity`); any other is 404."""

    path = "/opportunities"
    guards = [staff]

    @get("/new", name="new_opportunity")
    async def new(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromQuery[MaybeId] = None,
        prospect_id: FromQuery[MaybeId] = None,
    ) -> Template:
        return await new_page(request, db_session, company_id, prospect_id)

    @post("/", name="create_opportunity", guards=[workers], opt={"form": new_page_again})
    async def create(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        data: URLEncodedBody[NewFields],
    ) -> Redirect:
        made = await pipeline.create(db_session, request.user, data.terms(), today=today, **data.whose())
        added = gettext("Opportunity “%(title)s” added as a lead.") % {"title": made.title}
        return _to_opportunity(request, made.id, added)

    @get("/{opportunity_id:int}", name="opportunity", guards=[sees_opportunity])
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], opportunity_id: Id
    ) -> Template:
        return await opportunity_page(request, db_session, opportunity_id)

    @post(
        "/{opportunity_id:int}/edit",
        name="edit_opportunity",
        guards=[workers, sees_opportunity],
        opt={"form": opportunity_page_again},
    )
    async def edit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        opportunity_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[EditFields],
    ) -> Redirect:
        await pipeline.edit(db_session, request.user, opportunity_id, data.terms(), version=data.version, today=today)
        return _to_opportunity(request, opportunity_id, gettext("Opportunity saved."))

    @post(
        "/{opportunity_id:int}/move",
        name="move_opportunity",
        guards=[workers, sees_opportunity],
        opt={"form": opportunity_page_again},
    )
    async def move(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        opportunity_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[MoveFields],
    ) -> Redirect:
        moved = await pipeline.move(
            db_session, request.user, opportunity_id, data.stage, version=data.version, today=today, **data.details()
        )
        return _after_move(request, data, moved)

    @post(
        "/{opportunity_id:int}/quotes",
        name="link_quote",
        guards=[workers, sees_opportunity],
        opt={"form": opportunity_page_again},
    )
    async def link_quote(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        opportunity_id: Id,
        today: NamedDependency[date],
        data: URLEncodedBody[LinkFields],
    ) -> Redirect:
        quote = await pipeline.link_quote(db_session, request.user, opportunity_id, data.quote_id, today=today)
        return _to_opportunity(request, opportunity_id, gettext("Quote %(number)s linked.") % {"number": quote.number})

    @post(
        "/{opportunity_id:int}/offer",
        name="new_opportunity_offer",
        guards=[workers, sees_opportunity],
        opt={"form": opportunity_page_again},
    )
    async def new_offer(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        opportunity_id: Id,
        today: NamedDependency[date],
        settings: NamedDependency[Settings],
    ) -> Redirect:
        start = _offer_maker(today, settings.quote_validity_days)
        quote = await pipeline.new_offer(db_session, request.user, opportunity_id, today=today, start=start)
        return _to_offer(request, quote)
