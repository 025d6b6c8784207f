"""Guards that apply the one scoping rule (`portal.services.scoping`) to a route's path id.

`sees_company("company_id")` lets a request through only when the signed-in user may see that
customer; `sees_order("order_id")` (and the others) first find the company the thing belongs to.
Anything else, a missing thing included, is `NotFound`: the same 404 page, whatever the id.
Guards run before the body is decoded, so a POST to a foreign id answers 404 whatever it sends.
Put them after the role guard, so a wrong role still answers 403."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import Guard
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.errors import NotFound
from portal.models import User
from portal.services import scoping
from portal.settings import Settings
from portal.web.inputs import MAX_ID

CompanyOf = Callable[[AsyncSession, int], Awaitable[int | None]]
Visible = Callable[[AsyncSession, User, int, date], Awaitable[bool]]


def _scope_guard(parameter: str, company_of: CompanyOf, name: str) -> Guard:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        value = connection.path_params.get(parameter)
        if not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise NotFound()
        state = connection.app.state
        session: AsyncSession = state.db_config.provide_session(state, connection.scope)
        settings: Settings = state.settings
        company_id = await company_of(session, value)
        today = clock.today(settings.seller_zone)
        if company_id is None or not await scoping.can_view_customer(session, connection.user, company_id, today):
            raise NotFound()

    guard.__name__ = f"{name}_{parameter}"
    return guard


async def _itself(_: AsyncSession, company_id: int) -> int | None:
    return company_id


def sees_company(parameter: str = "company_id") -> Guard:
    """The path names a customer this user sees."""
    return _scope_guard(parameter, _itself, "sees_company")


def sees(kind: scoping.Owned, parameter: str) -> Guard:
    """The path names an order, note, invoice, schedule or list of a customer this user sees."""

    async def company_of(session: AsyncSession, object_id: int) -> int | None:
        return await scoping.company_of(session, kind, object_id)

    return _scope_guard(parameter, company_of, f"sees_{kind}")


def sees_order(parameter: str = "order_id") -> Guard:
    return sees("order", parameter)


def sees_invoice(parameter: str = "invoice_id") -> Guard:
    return sees("invoice", parameter)


def _visible_guard(parameter: str, visible: Visible, name: str) -> Guard:
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        value = connection.path_params.get(parameter)
        if not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise NotFound()
        state = connection.app.state
        session: AsyncSession = state.db_config.provide_session(state, connection.scope)
        settings: Settings = state.settings
        if not await visible(session, connection.user, value, clock.today(settings.seller_zone)):
            raise NotFound()

    guard.__name__ = f"{name}_{parameter}"
    return guard


def sees_prospect(parameter: str = "prospect_id") -> Guard:
    """The path names a prospect this user sees (`scoping.prospect_filter`)."""
    return _visible_guard(parameter, scoping.can_view_prospect, "sees_prospect")


def sees_crm(kind: scoping.CrmKind, parameter: str) -> Guard:
    """The path names a contact, activity, task or opportunity this user sees (`scoping.can_view_crm`)."""

    async def visible(session: AsyncSession, user: User, object_id: int, today: date) -> bool:
        return await scoping.can_view_crm(session, user, kind, object_id, today)

    return _visible_guard(parameter, visible, f"sees_{kind}")
