"""Server-side sessions stored in the database, with two changes to Litestar's
default backend: the session id is replaced at sign-in (no session fixation),
and a request that leaves the session unchanged writes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty, Message, ScopeSession

_LOADED = "portal.session_loaded"
_ROTATE = "portal.session_rotate"
_NEW_ID = "portal.session_new_id"


def rotate_session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Give this session a new id when the response is sent; the old id stops working."""
    connection.scope[_ROTATE] = True  # type: ignore[literal-required]


class PortalSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        return connection.scope.get(_NEW_ID) or super().get_session_id(connection)  # type: ignore[return-value]

    async def load_from_connection(self, connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
        data = await super().load_from_connection(connection)
        connection.scope[_LOADED] = self.serialize_data(data, connection.scope) if data else None  # type: ignore[literal-required]
        return data

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
