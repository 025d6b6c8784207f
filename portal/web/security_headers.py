"""Headers that keep injected markup inert: a strict Content-Security-Policy on
every response, error pages included. And nothing but the static files is kept in a
cache: every page, htmx fragment and download may show a signed-in user's data (or,
for the sign-in page, a CSRF token), so it answers `Cache-Control: no-store` unless
the route set its own caching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)


def security_headers(production: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        if production:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if "cache-control" not in headers and not _is_static(scope):
            headers["Cache-Control"] = "no-store"

    return add_headers


def _is_static(scope: Scope) -> bool:
    return getattr(scope.get("route_handler"), "name", None) == STATIC_ROUTE


STATIC_ROUTE = "static"
"""The name of the static files router in `portal.app`."""
