"""The customer page for staff: profile, credit, reorder rhythm with its chart,
the timeline of everything that happened, notes, and reassignment by admins; the growth
suggestions on a tab of their own (`/customers/{id}/growth`).

A refused note or reassignment shows the customer page again with the message next to
the field it concerns and the text that was typed (`customer_page_again`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import gettext
from portal.models import Role
from portal.services import customers
from portal.web.context import PortalRequest, settings_of
from portal.web.errors import Refusal
from portal.web.guards import allow
from portal.web.inputs import Form, FormId, Id, PageNo, Text
from portal.web.scoping import sees_company


class NoteForm(Form):
    body: Annotated[Text, msgspec.Meta(max_length=customers.NOTE_MAX)]


class ReassignForm(Form):
    manager_id: FormId


Show = Literal["all", "orders", "quotes", "credit", "notes", "activities"]
"""The timeline's filters (`customers.TIMELINE_KINDS`)."""


async def customer_page(
    request: PortalRequest,
    db_session: AsyncSession,
    company_id: int,
    *,
    page: int = 1,
    show: Show = "all",
    refusal: Refusal | None = None,
) -> Template:
    """The customer page; after a refusal, with its messages by field and what was typed. A
    refused edit of a note shows its message at that note (`editing`)."""
    settings = settings_of(request)
    profile = await customers.customer_profile(
        db_session,
        company_id,
        page=page,
        today=clock.today(settings.seller_zone),
        grace_days=settings.past_due_grace_days,
        zone=settings.seller_zone,
        show=show,
    )
    editing = request.path_params.get("note_id") if refusal and request.route_handler.name == "edit_note" else None
    entered: dict[str, Any] = refusal.entered if refusal else {}
    context = {
        "profile": profile,
        "errors": refusal.errors if refusal else {},
        "editing": editing,
        "typed": {key: value for key, value in entered.items() if isinstance(value, str)},
        "note_max": customers.NOTE_MAX,
        "refused": request.route_handler.name if refusal else "",
        "today": clock.today(settings.seller_zone),
        "quote_routes": {name for name in ("manage_quote", "quote_desk", "new_offer") if _has_route(request, name)},
        "agreement_route": "admin_agreement" if _has_route(request, "admin_agreement") else "",
    }
    return Template("customers/show.html", context=context, status_code=refusal.status_code if refusal else 200)


def _has_route(request: PortalRequest, name: str) -> bool:
    """Does the app serve the named route? (The quote desk's pages are linked to once they exist.)"""
    return request.app.get_handler_index_by_name(name) is not None


async def customer_page_again(request: PortalRequest, db_session: AsyncSession, refusal: Refusal) -> Response[Any]:
    return await customer_page(request, db_session, request.path_params["company_id"], refusal=refusal)


def _back_to(request: PortalRequest, company_id: int) -> Redirect:
    return Redirect(request.app.route_reverse("customer", company_id=company_id), status_code=303)


class CustomersController(Controller):
    """Every page and action names a customer the user sees (`sees_company`); any other is 404."""

    path = "/customers"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN, Role.FINANCE)]

    @get("/{company_id:int}", guards=[sees_company()], name="customer")
    async def show(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        page: PageNo = 1,
        show: FromQuery[Show] = "all",
    ) -> Template:
        return await customer_page(request, db_session, company_id, page=page, show=show)

    @get("/{company_id:int}/growth", guards=[sees_company()], name="customer_growth")
    async def growth(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[Id]
    ) -> Template:
        """The growth tab: what customers with a similar purchase mix buy regularly and this one does not."""
        today = clock.today(settings_of(request).seller_zone)
        found = await customers.customer_growth(db_session, company_id, today)
        return Template("customers/growth.html", context={"found": found})

    @post("/{company_id:int}/notes", guards=[sees_company()], name="add_note", opt={"form": customer_page_again})
    async def add_note(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[NoteForm],
    ) -> Redirect:
        await customers.add_note(db_session, request.user, company_id, data.body)
        flash(request, gettext("Note saved."), "success")
        return _back_to(request, company_id)

    @post(
        "/{company_id:int}/notes/{note_id:int}",
        guards=[sees_company()],
        name="edit_note",
        opt={"form": customer_page_again},
    )
    async def edit_note(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        note_id: FromPath[Id],
        data: URLEncodedBody[NoteForm],
    ) -> Redirect:
        await customers.edit_note(db_session, request.user, company_id, note_id, data.body)
        flash(request, gettext("Note changed."), "success")
        return _back_to(request, company_id)

    @post(
        "/{company_id:int}/manager",
        name="reassign",
        guards=[allow(Role.ADMIN), sees_company()],
        opt={"form": customer_page_again},
    )
    async def reassign(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        company_id: FromPath[Id],
        data: URLEncodedBody[ReassignForm],
    ) -> Redirect:
        company = await customers.reassign(db_session, request.user, company_id, data.manager_id)
        flash(
            request,
            gettext("%(company)s is now managed by the chosen account manager.") % {"company": company.name},
            "success",
        )
        return _back_to(request, company_id)
