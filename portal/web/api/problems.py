"""Every refusal of the API as an RFC 9457 problem document (`application/problem+json`): a status,
a title, a detail, and for validation one entry per bad value with a JSON pointer into the request
body (`/items/42/unit_price`), all of them at once.

- 401 without a usable key (`WWW-Authenticate: Bearer`), 403 for a scope the key lacks;
- 404 for what does not exist (or an id no column can hold); 405 for a method a path lacks;
- 409 for a conflict: the same `Idempotency-Key` with another request, a change made meanwhile;
- 413 for a body over the limit; 422 for values that are wrong; 429 with `Retry-After`;
- 500 when the portal failed (logged with the request id), 503 when the database was busy.

The app's exception handlers answer with these for any path under `/api/`, whether or not a
route matched, so the ERP never receives an HTML page."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, get_args, get_origin

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.utils.scope.state import ScopeState
from sqlalchemy.exc import IntegrityError, OperationalError

from portal.errors import Conflict, DomainError, NotAllowed, NotFound, Refused
from portal.i18n import gettext
from portal.services.master_data import PlanRefused
from portal.services.transactions import is_collision

MEDIA_TYPE = "application/problem+json"
API_PREFIX = "/api/"


class ProblemItem(msgspec.Struct):
    pointer: str
    """A JSON pointer (RFC 6901) to the bad value in the request body, or the name of a query or
    header parameter ("" for the request as a whole)."""
    detail: str


class Problem(msgspec.Struct):
    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] = msgspec.field(default_factory=list)


TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}


class ApiProblem(Exception):
    """Raised by API code for an answer that is not a domain refusal (a missing key, a rate)."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Iterable[ProblemItem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}


def problem(
    status: int, detail: str, errors: Iterable[ProblemItem] = (), headers: dict[str, str] | None = None
) -> Response[Problem]:
    title = TITLES.get(status, "Error")
    return Response(
        Problem(type="about:blank", title=title, status=status, detail=detail, errors=list(errors)),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem answers an operation documents, besides the ones every operation has."""
    every = (400, 401, 403, 422, 429) + statuses
    return {
        status: ResponseSpec(
            data_container=Problem, description=TITLES.get(status, "Error"), media_type=MEDIA_TYPE, examples=[]
        )
        for status in sorted(set(every))
    }


def is_api(request: Request[Any, Any, Any]) -> bool:
    return request.scope.get("path", "").startswith(API_PREFIX)


# msgspec names the place of a bad value as `$.items[42].unit_price`.
_AT = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"Object missing required field `([^`]+)`")


def pointer_of(path: str) -> str:
    """`.items[42].unit_price` → `/items/42/unit_price`."""
    parts = re.findall(r"\.([^.\[]+)|\[(\d+)\]", path)
    return "".join("/" + (name or index).replace("~", "~0").replace("/", "~1") for name, index in parts)


def item_of(error: msgspec.ValidationError | msgspec.DecodeError, prefix: str) -> ProblemItem:
    match = _AT.match(str(error))
    message, path = (match.group("message"), match.group("path") or "") if match else (str(error), "")
    pointer = prefix + pointer_of(path)
    if missing := _MISSING.match(message):
        pointer += "/" + missing.group(1)
        message = gettext("This field is required.")
    return ProblemItem(pointer, message)


def _struct_of(annotation: Any) -> type[msgspec.Struct] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct) else None


def _list_item_type(annotation: Any) -> tuple[Any, type[msgspec.Struct]] | None:
    """For `list[S]` or `Annotated[list[S], Meta(...)]` with a Struct S: (the same list of raw
    items, bounds kept, S); else None."""
    base, metas = annotation, ()
    if get_origin(annotation) is Annotated:
        base, *rest = get_args(annotation)
        metas = tuple(rest)
    if get_origin(base) is list and (item := _struct_of(get_args(base)[0])) is not None:
        return (Annotated[(list[msgspec.Raw], *metas)] if metas else list[msgspec.Raw]), item
    return None


def _struct_errors(raw: bytes | msgspec.Raw, struct: type[msgspec.Struct], pointer: str) -> list[ProblemItem]:
    """Every problem of one JSON object for `struct`: each field on its own, each item of a list of
    structs on its own, so a request hears about all its bad values at once."""
    try:
        fields = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    except (msgspec.ValidationError, msgspec.DecodeError) as error:
        return [item_of(error, pointer)]
    found: list[ProblemItem] = []
    for info in msgspec.structs.fields(struct):
        name = info.encode_name
        here = f"{pointer}/{name}"
        if name not in fields:
            if info.required:
                found.append(ProblemItem(here, gettext("This field is required.")))
            continue
        listed = _list_item_type(info.type)
        try:
            if listed is None:
                msgspec.json.decode(fields[name], type=info.type)
                continue
            items = msgspec.json.decode(fields[name], type=listed[0])
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            found.append(item_of(error, here))
            continue
        for index, item in enumerate(items):
            found.extend(_struct_errors(item, listed[1], f"{here}/{index}"))
    return found


def body_errors(body: bytes, struct: type[msgspec.Struct]) -> list[ProblemItem]:
    """Every problem of a JSON request body for `struct`, not only the first."""
    return _struct_errors(body, struct, "")


def _body_type(request: Request[Any, Any, Any]) -> type[msgspec.Struct] | None:
    signature = getattr(request.scope.get("route_handler"), "parsed_fn_signature", None)
    data = signature.parameters.get("data") if signature is not None else None
    return _struct_of(getattr(data, "annotation", None))


def _read_body(request: Request[Any, Any, Any]) -> bytes:
    """The body the framework read before it refused it (exception handlers run synchronously)."""
    body = ScopeState.from_scope(request.scope).body
    return body if isinstance(body, bytes) else b""


def validation_failed(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    problems = [p for p in exc.extra if isinstance(p, dict)] if isinstance(exc.extra, list) else []
    if any(p.get("source") == "path" for p in problems):
        return problem(404, gettext("Nothing is known by that name."))
    items: list[ProblemItem] = []
    if any(p.get("source") == "body" for p in problems) and (struct := _body_type(request)) is not None:
        items = body_errors(_read_body(request), struct)
    if not items:
        for p in problems:
            key = str(p.get("key") or "")
            source = str(p.get("source") or "")
            pointer = ("/" + key if source == "body" and key else key) if key != "data" else ""
            items.append(ProblemItem(pointer, str(p.get("message") or exc.detail)))
    if not items:
        items = [ProblemItem("", exc.detail or "The request could not be read.")]
    return problem(422, gettext("The request has invalid values; nothing was written."), items)


class ItemsRefused(ApiProblem):
    """A bulk write refused by its kind's checks (`PlanRefused`): each row error points at its item,
    row n at `<prefix>/<n - 1>/<field>`, with the kind's field names `renamed` to the API's."""

    def __init__(self, refused: PlanRefused, prefix: str = "/items", renamed: Mapping[str, str] | None = None) -> None:
        names = renamed or {}
        super().__init__(
            422,
            refused.message,
            [
                ProblemItem(
                    f"{prefix}/{error.row - 1}" + (f"/{names.get(error.field, error.field)}" if error.field else ""),
                    error.message,
                )
                for error in refused.plan.errors
            ],
        )


def refused(_: Request[Any, Any, Any], exc: Refused) -> Response[Problem]:
    status = 409 if isinstance(exc, Conflict) else 422
    items = [ProblemItem("/" + name if name else "", message) for name, message in exc.errors.items()]
    return problem(status, exc.message, items)


def api_problem(_: Request[Any, Any, Any], exc: ApiProblem) -> Response[Problem]:
    return problem(exc.status, exc.detail, exc.errors, exc.headers)


def domain_error(_: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    if isinstance(exc, NotFound):
        return problem(404, exc.message or gettext("Nothing is known by that name."))
    if isinstance(exc, NotAllowed):
        return problem(403, exc.message)
    return problem(exc.status_code, exc.message)


def http_error(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return problem(exc.status_code, str(exc.detail or TITLES.get(exc.status_code, "")), headers=headers)


def duplicate_key(request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Problem]:
    request.logger.warning("unique key collision: %s", exc.orig)
    return problem(409, gettext("Another request saved the same thing at the same moment; nothing was written."))


def database_error(request: Request[Any, Any, Any], exc: OperationalError) -> Response[Problem]:
    if not is_collision(exc):
        return server_error(request, exc)
    request.logger.warning("database collision not retried: %s", exc.orig)
    return problem(503, gettext("The database was busy; nothing was written. Try again."), headers={"Retry-After": "1"})


def server_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    request.logger.exception("unhandled error", exc_info=exc)
    return problem(500, gettext("The portal failed to answer; nothing was written."))


def handler_for(exc: Exception) -> Any:
    """The API's answer to an exception, by the same precedence the app's handlers have."""
    if isinstance(exc, ApiProblem):
        return api_problem
    if isinstance(exc, ValidationException):
        return validation_failed
    if isinstance(exc, Refused):
        return refused
    if isinstance(exc, DomainError):
        return domain_error
    if isinstance(exc, HTTPException):
        return http_error
    if isinstance(exc, IntegrityError):
        return duplicate_key
    if isinstance(exc, OperationalError):
        return database_error
    return server_error


def for_api(html_handler: Any) -> Any:
    """An app-level exception handler that answers API paths with a problem document and leaves
    every other path to `html_handler`."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Any:
        if is_api(request):
            return handler_for(exc)(request, exc)
        return html_handler(request, exc)

    return handle
