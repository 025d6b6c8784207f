"""What every request handler may ask for: the signed-in user, the settings and today."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeAlias

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.models import User
from portal.settings import Settings

PortalRequest: TypeAlias = Request[User, dict[str, Any], State]


def settings_of(request: PortalRequest) -> Settings:
    return request.app.state.settings


def seller_today(request: PortalRequest) -> date:
    return clock.today(settings_of(request).seller_zone)


def query_params(request: PortalRequest) -> dict[str, str]:
    """The query string as plain strings, first value of each; parsing is up to the page."""
    return {key: str(value)[:500] for key, value in request.query_params.items()}


def is_partial(request: PortalRequest) -> bool:
    """An htmx request that swaps a fragment; a history restore needs the whole page."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


async def discard_changes(request: PortalRequest, db_session: AsyncSession) -> None:
    """Roll back a refused change, so nothing half-made is saved; the signed-in user is
    read again for the page that explains the refusal."""
    await db_session.rollback()
    await db_session.refresh(request.user)
    await db_session.refresh(request.user, ["company"])
