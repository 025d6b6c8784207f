"""The customer page for staff: profile, credit, reorder rhythm with its chart,
the timeline of everything that happened, notes, and reassignment by admins."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, URLEncodedBody
from litestar.plugins.flash import flash
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Role
from portal.services import customers
from portal.web.context import PortalRequest, query_params, seller_today, settings_of
from portal.web.guards import allow


async def _customer_page(
    request: PortalRequest, db_session: AsyncSession, company_id: int, *, note_error: str | None = None,
    note_text: str = "", status_code: int = 200,
) -> Template:
    raw_page = query_params(request).get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < len(raw_page) < 6 and int(raw_page) > 0 else 1
    settings = settings_of(request)
    profile = await customers.customer_profile(
        db_session, company_id, page=page, today=seller_today(request), grace_days=settings.past_due_grace_days,
        zone=settings.seller_zone,
    )
    if profile is None:
        raise NotFoundException()
    return Template("customers/show.html", context={"profile": profile, "note_error": note_error,
                                                    "note_text": note_text}, status_code=status_code)


class CustomersController(Controller):
    path = "/customers"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.ADMIN, Role.FINANCE)]

    @get("/{company_id:int}", name="customer")
    async def show(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int]
    ) -> Template:
        return await _customer_page(request, db_session, company_id)

    @post("/{company_id:int}/notes", name="add_note")
    async def add_note(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        body = str(data.get("body", ""))
        try:
            await customers.add_note(db_session, request.user, company_id, body)
        except LookupError:
            raise NotFoundException() from None
        except customers.NoteRefused as refused:
            return await _customer_page(request, db_session, company_id, note_error=refused.message,
                                        note_text=body, status_code=400)
        await db_session.commit()
        flash(request, gettext("Note saved."), "success")
        return Redirect(f"/customers/{company_id}", status_code=303)

    @post("/{company_id:int}/notes/{note_id:int}", name="edit_note")
    async def edit_note(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int],
        note_id: FromPath[int], data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        try:
            await customers.edit_note(db_session, request.user, company_id, note_id, str(data.get("body", "")))
        except LookupError:
            raise NotFoundException() from None
        except customers.NoteRefused as refused:
            return await _customer_page(request, db_session, company_id, note_error=refused.message, status_code=400)
        await db_session.commit()
        flash(request, gettext("Note changed."), "success")
        return Redirect(f"/customers/{company_id}", status_code=303)

    @post("/{company_id:int}/manager", name="reassign")
    async def reassign(
        self, request: PortalRequest, db_session: NamedDependency[AsyncSession], company_id: FromPath[int],
        data: URLEncodedBody[dict[str, Any]],
    ) -> Template | Redirect:
        if request.user.role is not Role.ADMIN:
            raise PermissionDeniedException("Only admins reassign customers.")
        raw = str(data.get("manager_id", ""))
        try:
            company = await customers.reassign(db_session, company_id, int(raw) if raw.isdigit() and len(raw) < 10 else None)
        except LookupError:
            raise NotFoundException() from None
        except customers.NoteRefused as refused:
            flash(request, refused.message, "error")
            return Redirect(f"/customers/{company_id}", status_code=303)
        await db_session.commit()
        flash(request, gettext("%(company)s is now managed by the chosen account manager.") % {"company": company.name},
              "success")
        return Redirect(f"/customers/{company_id}", status_code=303)
