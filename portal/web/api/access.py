"""Who may call the API: the guard of every `/api/v1` route. It reads the key from
`Authorization: Bearer …` (never a cookie: the API ignores sessions, so CSRF does not apply),
counts the call against the key's rate and marks it used in a transaction of its own (kept
whatever the call's answer), and checks the route's scope (`opt={"scope": "catalogue:write"}`).
Every call's log line names the key's id."""

from __future__ import annotations

from datetime import date
from typing import Any

import structlog
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncSession

from portal import clock
from portal.i18n import gettext
from portal.models import ApiKey
from portal.services import api_keys
from portal.services.api_keys import Admitted, Denied
from portal.settings import Settings
from portal.web.api.problems import ApiProblem


def denied_text(denied: Denied) -> str:
    return {
        Denied.MISSING: gettext("Send the API key as `Authorization: Bearer <key>`."),
        Denied.UNKNOWN: gettext("The API key is not known."),
        Denied.REVOKED: gettext("The API key was revoked."),
        Denied.EXPIRED: gettext("The API key has expired."),
    }[denied]


async def api_key_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    settings: Settings = connection.app.state.settings
    admitted = await api_keys.admit_call(
        connection.app.state.db_config.get_engine(),
        connection.headers.get("authorization"),
        signing_key=settings.secret_key,
        rate_per_minute=settings.api_rate_per_minute,
        now=clock.now(),
    )
    if isinstance(admitted, Denied):
        raise ApiProblem(401, denied_text(admitted), headers={"WWW-Authenticate": "Bearer"})
    assert isinstance(admitted, Admitted)
    key = admitted.key
    structlog.contextvars.bind_contextvars(key_id=key.id)  # not "api_key_…": the logs drop fields named like secrets
    if admitted.retry_after:
        raise ApiProblem(
            429,
            gettext("This key made too many calls this minute; try again in %(seconds)d s.")
            % {"seconds": admitted.retry_after},
            headers={"Retry-After": str(admitted.retry_after)},
        )
    needed = handler.opt.get("scope")
    if needed is None or not api_keys.granted(key, [needed]):
        raise ApiProblem(403, gettext("The API key may not do this: it lacks the scope %(scope)s.") % {"scope": needed})
    connection.scope["auth"] = key


DbSession = NamedDependency[AsyncSession]
CallingKey = NamedDependency[ApiKey]
"""The key of the call, admitted by `api_key_guard` (dependency `key`)."""
Today = NamedDependency[date]
"""Today in the seller's calendar."""


def calling_key(request: Request[Any, Any, Any]) -> ApiKey:
    """The key the guard admitted (a dependency of API handlers: `key: ApiKey`)."""
    key = request.scope.get("auth")
    assert isinstance(key, ApiKey)
    return key
