"""A second line behind the CSRF token: a state-changing request that says it comes from another
site is refused (403) before anything reads it.

The browser names the page a request came from in `Origin` (or, without it, `Referer`). Another
site means another scheme, host or port than this request's own (its `Host` header and the scheme
uvicorn saw, which `proxy_headers` takes from a trusted proxy). A request naming no site at all (no
header, or a path-only `Referer`) passes: the CSRF token still applies to it."""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.datastructures import Headers
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Receive, Scope, Send

from portal.i18n import gettext

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PORTS = {"http": 80, "https": 443}

Site = tuple[str, str, int]


def _site(scheme: str, netloc: str) -> Site | None:
    """(scheme, host, port) with the scheme's default port filled in; None when it cannot be read."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    scheme = scheme.lower()
    if not parts.hostname or (port is None and scheme not in DEFAULT_PORTS):
        return None
    return scheme, parts.hostname, port if port is not None else DEFAULT_PORTS[scheme]


def _split(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return "", "?"  # unreadable: names a site that cannot be this one
    return parts.scheme, parts.netloc


def is_cross_site(scope: Scope) -> bool:
    """True when `Origin` (or, without it, `Referer`) names a site other than the request's own;
    `Origin: null` and unreadable values count as another site."""
    headers = Headers.from_scope(scope)
    origin = headers.get("origin")
    scheme, netloc = _split(origin if origin is not None else headers.get("referer", ""))
    if origin is None and not netloc:
        return False  # no Referer, or a path only: it names no site
    claimed = _site(scheme, netloc) if scheme and netloc else None
    own = _site(scope.get("scheme", "http"), headers.get("host", ""))
    return claimed is None or claimed != own


class SameOriginMiddleware:
    """Refuses POST/PUT/PATCH/DELETE from another site with the 403 page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        api = scope.get("path", "").startswith("/api/")  # calls with a key, never a cookie: nothing to forge
        if scope["type"] == "http" and scope.get("method") in STATE_CHANGING and not api and is_cross_site(scope):
            raise PermissionDeniedException(detail=gettext("This request came from another site."))
        await self.app(scope, receive, send)
