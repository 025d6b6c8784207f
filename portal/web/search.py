"""The staff's search page: one box across customers, prospects, contacts, orders, quotes and
invoices (`services/staff_search.py`), results grouped by kind, each row a link to its page.

Typing in the box fetches the results as you type (htmx swaps the results only); without script
the form's plain GET gives the same page. A text too short or too long comes back with the message
next to the box."""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Role
from portal.services import staff_search
from portal.services.staff_search import Results
from portal.web.context import PortalRequest, render
from portal.web.errors import Refusal
from portal.web.guards import allow
from portal.web.inputs import QueryText
from portal.web.permissions import can


def _links(request: PortalRequest) -> dict[str, str]:
    """The route each kind of row links to; "" where the page does not exist. Invoices open where
    staff read them: the credit page for finance and admins, the customer page for account managers."""
    prospect = request.app.get_handler_index_by_name("prospect")
    names_prospect = prospect is not None and any("{prospect_id:" in path for path in prospect["paths"])
    return {
        "prospect": "prospect" if names_prospect else "",
        "invoice": "finance_company" if can(request.user, "see_credit_overview") else "customer",
    }


def search_page(request: PortalRequest, text: str, results: Results | None, refusal: Refusal | None = None) -> Template:
    """The page, or for htmx (search as you type) only its results."""
    context: dict[str, Any] = {
        "text": text,
        "results": results,
        "error": refusal.error(staff_search.FIELD) if refusal else None,
        "links": _links(request),
        "max_length": staff_search.MAX_LENGTH,
    }
    status = refusal.status_code if refusal else 200
    return render(request, "search/results.html", context, partial="search/_partials/groups.html", status_code=status)


async def search_again(request: PortalRequest, _: AsyncSession, refusal: Refusal) -> Response[Any]:
    text = request.query_params.get("q", "")
    return search_page(request, text if isinstance(text, str) else "", None, refusal)


class SearchController(Controller):
    path = "/search"
    guards = [allow(Role.ACCOUNT_MANAGER, Role.FINANCE, Role.ADMIN)]

    @get("/", name="staff_search", opt={"form": search_again})
    async def search(
        self,
        request: PortalRequest,
        db_session: NamedDependency[AsyncSession],
        today: NamedDependency[date],
        q: QueryText = "",
    ) -> Template:
        results = await staff_search.search(db_session, request.user, q, today) if q.strip() else None
        return search_page(request, q, results)
