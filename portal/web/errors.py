"""Where every refusal becomes a response, once for the whole app.

- `NotFound`, a bad id in a path → 404 page; `NotAllowed` → 403 page;
- `Refused`, or a form value the framework could not decode → the form again with each
  message next to its field and what was typed kept (400; 409 for a conflict). The
  route names its form page in `opt={"form": page}`: an async function
  `(request, db_session, refusal) -> Response`. Without one, the message is flashed and
  the user goes back to the page they came from.
- a bad query value → 400 page that says which value and why;
- a transaction the database gave up in a collision (deadlock, serialization failure, SQLite
  locked) that no service retried → 503 page "try again" (`services/transactions.py` retries
  first, and says the same as a 409 when the retries run out).

Nothing a refused request changed is kept: the transaction is rolled back before the
answer is rendered."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.plugins.flash import flash
from litestar.plugins.htmx import ClientRedirect
from litestar.response import Redirect, Template
from litestar.types import Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import DomainError, NotAllowed, NotFound, Refused
from portal.i18n import gettext
from portal.services.transactions import busy_message, is_collision
from portal.web.inputs import MAX_ID, Form, friendly

logger = logging.getLogger("portal.web")


@dataclass(frozen=True)
class Refusal:
    """What a form page needs to show a refused submission again."""

    message: str
    errors: dict[str, str]
    entered: dict[str, Any] = field(default_factory=dict)
    status_code: int = 400

    def error(self, name: str) -> str | None:
        return self.errors.get(name)


FormPage = Callable[[Request[Any, Any, Any], AsyncSession, Refusal], Awaitable[Response[Any]]]


def error_page(request: Request[Any, Any, Any], status: int, messages: list[str] | None = None) -> Template:
    return Template("errors/error.html", context={"status": status, "messages": messages or []}, status_code=status)


class _Deferred(Response[Any]):
    """A response rendered after the transaction is rolled back: the form page may query again."""

    def __init__(self, render: Callable[[], Awaitable[Response[Any]]]) -> None:
        super().__init__(content=None)
        self.render_later = render

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> Any:
        async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
            try:
                response = await self.render_later()
            except DomainError as refused:
                response = error_page(request, refused.status_code if refused.status_code in (403, 404) else 400)
            except Exception:
                logger.exception("failed to render a refusal")
                response = error_page(request, 500)
            await response.to_asgi_response(app=None, request=request, **kwargs)(scope, receive, send)

        return asgi


async def _rolled_back(request: Request[Any, Any, Any]) -> AsyncSession:
    db_session: AsyncSession = request.app.state.db_config.provide_session(request.app.state, request.scope)
    await db_session.rollback()
    user = request.scope.get("user")
    if user is not None:
        await db_session.refresh(user)
        if getattr(user, "company_id", None) is not None:
            await db_session.refresh(user, ["company"])
    return db_session


async def _entered(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = ScopeState.from_scope(request.scope).form
    values = dict(form) if isinstance(form, dict) else {}
    return {key: value for key, value in values.items() if not isinstance(value, UploadFile)}


def _back(request: Request[Any, Any, Any]) -> str:
    """The page the refused form was on, when it is a page of this site."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/"
    path = referer.path if referer.path.startswith("/") and not referer.path.startswith("//") else "/"
    return path + (f"?{referer.query}" if referer.query else "")


def refused(request: Request[Any, Any, Any], exc: Refused) -> Response[Any]:
    return _show_refusal(request, exc.message, exc.errors, exc.status_code)


def _show_refusal(request: Request[Any, Any, Any], message: str, errors: dict[str, str], status: int) -> Response[Any]:
    if not _ids_in_bounds(request):
        return error_page(request, 404)
    page: FormPage | None = request.route_handler.opt.get("form")

    async def render() -> Response[Any]:
        db_session = await _rolled_back(request)
        if page is not None:
            return await page(request, db_session, Refusal(message, errors, await _entered(request), status))
        for text in dict.fromkeys(errors.values() or [message]):
            flash(request, text, "error")
        if request.headers.get("hx-request") == "true":
            return ClientRedirect(_back(request))
        return Redirect(_back(request), status_code=303)

    return _Deferred(render)


def validation_failed(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    problems = [p for p in exc.extra if isinstance(p, dict)] if isinstance(exc.extra, list) else []
    if any(p.get("source") == "path" for p in problems):
        return error_page(request, 404)
    handler = request.scope.get("route_handler")
    form = _form_type(handler)
    messages = form.messages if form is not None else {}
    errors = {_field(p): messages.get(_field(p), friendly(str(p.get("message", "")))) for p in problems}
    if any(p.get("source") == "body" for p in problems):
        return _show_refusal(request, gettext("Please correct the marked fields."), errors, 400)
    return error_page(
        request,
        400,
        [f"{key}: {text}" if key else text for key, text in errors.items()]
        or [gettext("The request could not be read.")],
    )


def _ids_in_bounds(request: Request[Any, Any, Any]) -> bool:
    """Whether every id in the path names something that could exist. A body refused before the
    path was checked must not show a form page for an id no column can hold: that is a 404."""
    return all(
        1 <= value <= MAX_ID for value in request.path_params.values() if isinstance(value, int) and value is not True
    )


_MISSING = re.compile(r"Object missing required field `([^`]+)`")


def _field(problem: dict[str, Any]) -> str:
    """The field a problem belongs to: msgspec names a missing field only in its message (key "data"),
    and a bad item of a list field (`kind[1]`) belongs next to the field (`kind`)."""
    missing = _MISSING.match(str(problem.get("message", "")))
    key = missing.group(1) if missing else str(problem.get("key") or "")
    return re.sub(r"\[\d+\]$", "", key)


def _form_type(handler: Any) -> type[Form] | None:
    parameter = getattr(handler, "parsed_fn_signature", None)
    data = parameter.parameters.get("data") if parameter is not None else None
    annotation = getattr(data, "annotation", None)
    return annotation if isinstance(annotation, type) and issubclass(annotation, Form) else None


def not_found(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    return error_page(request, 404)


def not_allowed(request: Request[Any, Any, Any], exc: NotAllowed) -> Response[Any]:
    return error_page(request, 403, [exc.message] if exc.message else None)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    detail = [exc.detail] if exc.status_code == 403 and exc.detail else None
    return error_page(request, exc.status_code, detail)


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    request.logger.exception("unhandled error", exc_info=exc)
    return error_page(request, 500)


def database_error(request: Request[Any, Any, Any], exc: OperationalError) -> Response[Any]:
    """A collision with another transaction is "busy, try again"; anything else is a 500."""
    if not is_collision(exc):
        return server_error(request, exc)
    request.logger.warning("database collision not retried: %s", exc.orig)
    return error_page(request, 503, [busy_message()])


def duplicate_key(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    """Two requests that both passed the checks (a SKU, a name, a NIP still free) collided on the
    database's unique key: the later one is told so, and nothing of it is saved (a 409 is rolled back)."""
    request.logger.warning("unique key collision: %s", exc.orig)
    message = gettext(
        "Someone saved the same thing at the same moment; nothing of yours was saved. Check and try again."
    )
    return _show_refusal(request, message, {"": message}, 409)


def not_signed_in(request: Request[Any, Any, Any], _: NotAuthorizedException) -> Response[Any]:
    target = "/login"
    if request.method == "GET" and request.url.path != "/":
        target += f"?next={request.url.path}"
    if request.headers.get("hx-request") == "true":
        return ClientRedirect(target)
    return Redirect(target, status_code=303)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    NotAuthorizedException: not_signed_in,
    ValidationException: validation_failed,
    NotFound: not_found,
    NotAllowed: not_allowed,
    Refused: refused,
    HTTPException: http_error,
    OperationalError: database_error,
    IntegrityError: duplicate_key,
    500: server_error,
}
