"""Prospects for staff: the list (search, status, pages), a new prospect with its first contact,
the prospect's page (details, contacts, activities, open opportunities and tasks) and making a
won prospect a customer.

Account managers see their own prospects and, while covering, their colleague's; finance and
admins see all (`sees_prospect`). A refused form comes back on its page with each message next
to its field and what was typed kept; a prospect that became a customer sends its page on to the
customer's (303)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import N_, gettext
from portal.models import Prospect, Role
from portal.services import prospects
from portal.services.listing import ListQuery
from portal.web.admin.listing import SortKey, list_query
from portal.web.context import PortalRequest, render, seller_today
from portal.web.errors import Refusal
from portal.web.guards import allow
from portal.web.inputs import Form, FormId, Id, PageNo, QueryText, Text, Translated, path_id
from portal.web.scoping import sees_prospect

Name = Annotated[Text, msgspec.Meta(max_length=prospects.NAME_MAX)]
TaxId = Annotated[Text, msgspec.Meta(max_length=prospects.TAX_ID_MAX)]
Notes = Annotated[Text, msgspec.Meta(max_length=prospects.NOTES_MAX)]
ContactName = Annotated[Text, msgspec.Meta(max_length=prospects.CONTACT_NAME_MAX)]
Position = Annotated[Text, msgspec.Meta(max_length=prospects.POSITION_MAX)]
Phone = Annotated[Text, msgspec.Meta(max_length=prospects.PHONE_MAX)]
Email = Annotated[Text, msgspec.Meta(max_length=prospects.EMAIL_MAX)]
CONTACT_FORMS = ("add_prospect_contact",)
"""Routes whose refusals belong to the contacts' form on the prospect's page."""
ACTIVITY_FORMS = ("log_prospect_activity",)
"""Routes whose refusals belong to the activity form on the prospect's page."""


class ProspectForm(Form):
    """A prospect's details; `owner_id` counts for finance and admins only."""

    messages: ClassVar[dict[str, str]] = Translated({"owner_id": N_("Choose one of the account managers.")})
    name: Name
    tax_id: TaxId = ""
    notes: Notes = ""
    owner_id: FormId | None = None

    def record(self) -> prospects.ProspectRecord:
        return prospects.ProspectRecord(self.name, self.tax_id, self.notes, self.owner_id)


class NewProspectForm(ProspectForm):
    """A prospect and, optionally, the first person met there."""

    contact_name: ContactName = ""
    contact_position: Position = ""
    contact_phone: Phone = ""
    contact_email: Email = ""

    def contact(self) -> prospects.FirstContact:
        return prospects.FirstContact(self.contact_name, self.contact_position, self.contact_phone, self.contact_email)


def prospect_query(
    q: FromQuery[QueryText] = "",
    sort: FromQuery[SortKey] = "",
    direction: FromQuery[Literal["asc", "desc"]] = "asc",
    page: FromQuery[PageNo] = 1,
    status: FromQuery[Literal["open", "converted", "all"]] = "open",
) -> ListQuery:
    """`?q=…&status=converted&sort=owner&direction=desc&page=2`."""
    return list_query(q, sort, direction, page).with_filters(status="" if status == "open" else status)


def _typed(refusal: Refusal | None) -> dict[str, str]:
    entered = refusal.entered if refusal else {}
    return {key: value for key, value in entered.items() if isinstance(value, str)}


def _has_route(request: PortalRequest, name: str) -> bool:
    return request.app.get_handler_index_by_name(name) is not None


async def new_page(request: PortalRequest, db_session: AsyncSession, refusal: Refusal | None = None) -> Template:
    context = {
        "values": _typed(refusal),
        "errors": refusal.errors if refusal else {},
        "message": refusal.message if refusal else "",
        "managers": await prospects.managers(db_session) if prospects.chooses_owner(request.user) else [],
    }
    return render(request, "prospects/new.html", context, status_code=refusal.status_code if refusal else 200)


async def new_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await new_page(request, db_session, refusal)


def _values(prospect: Prospect) -> dict[str, str]:
    return {
        "name": prospect.name,
        "tax_id": prospect.tax_id,
        "notes": prospect.notes,
        "owner_id": str(prospect.owner_id),
    }


async def prospect_page(
    request: PortalRequest, db_session: AsyncSession, prospect_id: int, refusal: Refusal | None = None
) -> Response[Any]:
    """The prospect's page; after a refusal, its message next to the form it came from (the
    details, the contacts, the activity or the conversion), with what was typed."""
    page = await prospects.prospect_page(db_session, request.user, prospect_id, seller_today(request))
    if page.prospect.company_id is not None:
        if refusal is not None:
            flash(request, refusal.message, "error")
        return Redirect(request.app.route_reverse("customer", company_id=page.prospect.company_id), status_code=303)
    route = request.route_handler.name if refusal else None
    errors, typed = (refusal.errors, _typed(refusal)) if refusal else ({}, {})
    context = {
        "page": page,
        "prospect": page.prospect,
        "values": typed if route == "edit_prospect" else _values(page.prospect),
        "edit_errors": errors if route == "edit_prospect" else {},
        "contact_errors": errors if route in CONTACT_FORMS else {},
        "contact_typed": typed if route in CONTACT_FORMS else {},
        "activity_errors": errors if route in ACTIVITY_FORMS else {},
        "activity_typed": typed if route in ACTIVITY_FORMS else {},
        "convert_error": refusal.message if refusal and route == "convert_prospect" else "",
        "managers": await prospects.managers(db_session) if prospects.chooses_owner(request.user) else [],
        "routes": {
            name for name in ("opportunity", "new_opportunity", "task", "new_task") if _has_route(request, name)
        },
        "today": seller_today(request),
        "notes_max": prospects.NOTES_MAX,
    }
    status = refusal.status_code if refusal else 200
    return render(request, "prospects/show.html", context, status_code=status)


async def prospect_page_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    """The prospect's page showing a refused form (for every POST under `/prospects/{id}`)."""
    return await prospect_page(request, db_session, path_id(request.path_params["prospect_id"]), refusal)


def _to_page(request: PortalRequest, prospect_id: int, message: str) -> Redirect:
    flash(request, message, "success")
    return Redirect(request.app.route_reverse("prospect", prospect_id=prospect_id), status_code=303)


class ProspectsController(Controller):
    """Staff's prospects; a page or action names one the user sees (`sees_prospect`), else 404."""

    path = "/prospects"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)]

    @get("/", name="prospects", dependencies={"wanted": Provide(prospect_query, sync_to_thread=False)})
    async def index(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        wanted: NamedDependency[ListQuery],
        today: NamedDependency[date],
    ) -> Template:
        found = await prospects.prospect_list(db_session, request.user, wanted, today)
        return render(request, "prospects/index.html", {"found": found, "wanted": wanted})

    @get("/new", name="new_prospect")
    async def new(self, request: PortalRequest, db_session: NamedDependency[AsyncSession]) -> Template:
        return await new_page(request, db_session)

    @post("/", name="create_prospect", opt={"form": new_again})
    async def create(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        data: URLEncodedBody[NewProspectForm],
        today: NamedDependency[date],
    ) -> Redirect:
        prospect = await prospects.create(db_session, request.user, data.record(), data.contact(), today)
        return _to_page(request, prospect.id, gettext("Prospect %(name)s added.") % {"name": prospect.name})

    @get("/{prospect_id:int}", guards=[sees_prospect()], name="prospect")
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], prospect_id: FromPath[Id]
    ) -> Response[Any]:
        return await prospect_page(request, db_session, prospect_id)

    @post("/{prospect_id:int}", guards=[sees_prospect()], name="edit_prospect", opt={"form": prospect_page_again})
    async def edit(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        prospect_id: FromPath[Id],
        data: URLEncodedBody[ProspectForm],
        today: NamedDependency[date],
    ) -> Redirect:
        await prospects.edit(db_session, request.user, prospect_id, data.record(), today)
        return _to_page(request, prospect_id, gettext("Prospect saved."))

    @post(
        "/{prospect_id:int}/convert",
        guards=[allow(Role.ACCOUNT_MANAGER, Role.ADMIN), sees_prospect()],
        name="convert_prospect",
        opt={"form": prospect_page_again},
    )
    async def convert(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        prospect_id: FromPath[Id],
        today: NamedDependency[date],
    ) -> Redirect:
        company = await prospects.convert(db_session, request.user, prospect_id, today)
        flash(
            request,
            gettext("%(name)s is a customer now; finance has a task to set its terms and credit.")
            % {"name": company.name},
            "success",
        )
        return Redirect(request.app.route_reverse("customer", company_id=company.id), status_code=303)
