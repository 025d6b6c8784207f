"""Server-side sessions stored in the database, with two changes to Litestar's
default backend: the session id is replaced at sign-in (no session fixation),
and a request that leaves the session unchanged writes nothing.

A signed-in session holds the user, the user's session version (raised by a password change
or "sign out everywhere", which ends the older sessions), the moment of signing in (the
absolute lifetime counts from it, never extended) and the moment last seen (the idle timeout;
written at most once per `SEEN_EVERY`, so most requests still write nothing)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from litestar import Response
from litestar.connection import ASGIConnection
from litestar.middleware.csrf import generate_csrf_token
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

from portal import clock
from portal.i18n import gettext
from portal.models import User
from portal.services import visitors
from portal.settings import Settings

_LOADED = "portal.session_loaded"
_VISITOR = "portal.visitor"
_ROTATE = "portal.session_rotate"
_NEW_ID = "portal.session_new_id"
R = TypeVar("R", bound=Response[Any])
SEEN_EVERY = 60
"""Seconds: the last-seen moment is written at most this often."""


def session_cookie_name(settings: Settings) -> str:
    """`__Host-` in production: the browser then insists on Secure, Path=/ and no Domain."""
    return "__Host-session" if settings.is_production else "session"


def visitor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> visitors.Visitor | None:
    """The session's user and navigation figures, as loaded with the session (`services/visitors.py`)."""
    return connection.scope.get(_VISITOR)  # type: ignore[return-value]


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address as the server sees it (behind a trusted proxy, the forwarded one)."""
    return connection.client.host if connection.client else ""


def start_session(
    connection: ASGIConnection[Any, Any, Any, Any], user: User, *, signed_in_at: float | None = None
) -> None:
    """A new session (new id) for `user`; `signed_in_at` keeps the absolute lifetime of the
    session it replaces (a password change is no new sign-in)."""
    now = clock.now().timestamp()
    rotate_session_id(connection)
    connection.scope["session"] = {
        "user_id": user.id,
        "version": user.session_version,
        "signed_in_at": signed_in_at if signed_in_at is not None else now,
        "seen_at": now,
    }


def signed_in_at(connection: ASGIConnection[Any, Any, Any, Any]) -> float | None:
    value = connection.session.get("signed_in_at")
    return float(value) if isinstance(value, int | float) else None


def session_expired(data: dict[str, Any], settings: Settings) -> bool:
    """Past its absolute lifetime or idle too long (a session without the moments is old: expired)."""
    now = clock.now().timestamp()
    started, seen = data.get("signed_in_at"), data.get("seen_at")
    if not isinstance(started, int | float) or not isinstance(seen, int | float):
        return True
    return now - started > settings.session_absolute_seconds or now - seen > settings.session_idle_seconds


def mark_seen(data: dict[str, Any]) -> None:
    """Move the last-seen moment on, at most once per `SEEN_EVERY` (a changed session is written)."""
    now = clock.now().timestamp()
    if now - float(data.get("seen_at", 0)) >= SEEN_EVERY:
        data["seen_at"] = now


def expire(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """End this session and leave the user a message for the sign-in page."""
    connection.scope["session"] = {
        "_messages": [{"message": gettext("Your session expired: please sign in again."), "category": "info"}]
    }
    rotate_session_id(connection)


def with_fresh_csrf_token(response: R, connection: ASGIConnection[Any, Any, Any, Any]) -> R:
    """Replace the CSRF cookie with a new token: none outlives a sign-in (or a sign-out)."""
    config = connection.app.csrf_config
    if config is not None:
        response.set_cookie(
            key=config.cookie_name,
            value=generate_csrf_token(config.secret),
            path=config.cookie_path,
            secure=config.cookie_secure,
            httponly=config.cookie_httponly,
            samesite=config.cookie_samesite,
            domain=config.cookie_domain,
        )
    return response


def rotate_session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Give this session a new id when the response is sent; the old id stops working."""
    connection.scope[_ROTATE] = True  # type: ignore[literal-required]


class PortalSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return connection.scope.get(_NEW_ID) or super().get_session_id(connection)  # type: ignore[return-value]

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        """The stored session and its user in one statement, on the request's own database session."""
        key = connection.cookies.get(self.config.key)
        found = await self._visitor(connection, key) if key else None
        connection.scope[_VISITOR] = found  # type: ignore[literal-required]
        data = self.deserialize_data(found.data) if found else {}
        connection.scope[_LOADED] = self.serialize_data(data, connection.scope) if data else None  # type: ignore[literal-required]
        return data

    async def _visitor(self, connection: ASGIConnection[Any, Any, Any, Any], key: str) -> visitors.Visitor | None:
        state = connection.app.state
        store = self.config.get_store_from_app(connection.scope["app"])
        return await visitors.visitor(
            state.db_config.provide_session(state, connection.scope),
            key,
            getattr(store, "namespace", None),
            datetime.now(UTC),  # the store's own clock: it wrote the expiry with it
            clock.today(state.settings.seller_zone),
        )

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        await _finish_transaction(message, connection)
        scope = connection.scope
        has_cookie = bool(connection.cookies.get(self.config.key))
        if scope.get(_ROTATE) and not scope.get(_NEW_ID):
            if has_cookie:
                await self.delete(
                    connection.cookies[self.config.key], store=self.config.get_store_from_app(scope["app"])
                )
            scope[_NEW_ID] = self.generate_session_id()  # type: ignore[literal-required]
        elif scope_session is Empty or not scope_session:
            if not has_cookie:
                return
        elif self.serialize_data(scope_session, scope) == scope.get(_LOADED):
            return
        await super().store_in_message(scope_session or Empty, message, connection)


async def _finish_transaction(message: Message, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Commit (2xx/3xx) or roll back the request's transaction before the session is written,
    exactly as the database plugin does when the response starts, only a moment earlier. The
    session middleware writes first otherwise, and on SQLite (one writer) that write would
    wait for the request's own open transaction until it times out."""
    handler = getattr(getattr(connection.app.state, "db_config", None), "before_send_handler", None)
    if callable(handler) and message["type"] == "http.response.start":
        await handler(message, connection.scope)


@dataclass
class PortalSessionConfig(ServerSideSessionConfig):
    _backend_class = PortalSessionBackend
