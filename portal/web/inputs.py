"""The types every path, query and form value is declared with, so the framework decodes
and bounds it before a handler runs: ids 1…2^31−1, pages 1…10,000, quantities
1…1,000,000, money within NUMERIC(14,2), dates 2000-01-01…2100-12-31, text without NUL
and no longer than its column, ASCII digits only. A value outside them never reaches a
service: a bad id in a path is 404, a bad query value 400, a bad form field the form again
with a message next to the field (`portal.web.errors`).

Form structs are `msgspec.Struct`s built from these types; a blank field counts as not
sent (`BlankFieldsMiddleware`), so an optional field takes its default and a required
one says it is required."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, cast
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar.params import Parameter
from litestar.types import ASGIApp, Receive, Scope, Send

from portal.errors import NotFound
from portal.i18n import format_decimal, gettext

MAX_ID = 2**31 - 1
"""The largest id a PostgreSQL `integer` column holds; SQLite would take more, PostgreSQL would fail."""
MAX_PAGE = 10_000
MAX_QUANTITY = 1_000_000
MAX_AMOUNT = Decimal("999999999999.99")
"""The largest amount NUMERIC(14,2) holds."""
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
MAX_FORM_BYTES = 4_000_000
"""A URL-encoded form larger than this is refused (413); files go as multipart, with their own limits."""
NO_NUL = r"\A[^\x00]*\Z"

# Path and query values.
Id = Annotated[int, Parameter(ge=1, le=MAX_ID)]
PageNo = Annotated[int, Parameter(ge=1, le=MAX_PAGE)]
MaybeId = Annotated[int | None, Parameter(ge=1, le=MAX_ID)]
"""An optional id in the query, bounded (`FromQuery[Id | None]` would lose `Id`'s bounds)."""
QueryText = Annotated[str, Parameter(max_length=200, pattern=NO_NUL)]

# Form fields.
FormId = Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
Quantity = Annotated[int, msgspec.Meta(ge=1, le=MAX_QUANTITY)]
QuantityOrZero = Annotated[int, msgspec.Meta(ge=0, le=MAX_QUANTITY)]
Text = Annotated[str, msgspec.Meta(pattern=NO_NUL)]
"""Text without NUL; give each field its column's length: `Annotated[Text, msgspec.Meta(max_length=200)]`."""
Flag = Annotated[str, msgspec.Meta(max_length=20)]
"""A checkbox or button value: present or not; what it says does not matter."""


def path_id(value: Any) -> int:
    """An id taken from a refused request's path (`request.path_params`) for its form page: one no
    column can hold names nothing, a 404."""
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise NotFound()
    return value


class Day(date):
    """A calendar date in ISO form (2026-12-01) between `FIRST_DAY` and `LAST_DAY`."""


class Money(Decimal):
    """An amount of at most two decimals within NUMERIC(14,2); a decimal comma is accepted."""

    places = 2


class UnitPrice(Money):
    """A unit price: up to four decimals, as NUMERIC(14,4) keeps them."""

    places = 4


class IdList(list[int]):
    """Ids chosen with checkboxes: one value or many, each a valid id."""


_MONEY = re.compile(r"-?[0-9]{1,12}([.,][0-9]{1,12})?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(value: Any) -> Day:
    if not isinstance(value, str) or not _DAY.fullmatch(value):
        raise ValueError(gettext("Enter the date as YYYY-MM-DD."))
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError(gettext("This day does not exist.")) from None
    if not FIRST_DAY <= parsed <= LAST_DAY:
        raise ValueError(gettext("Enter a date between 2000 and 2100."))
    return Day(parsed.year, parsed.month, parsed.day)


def _money(kind: type[Money]) -> Callable[[Any], Money]:
    def decode(value: Any) -> Money:
        text = value.strip().replace(" ", "").replace("\u00a0", "") if isinstance(value, str) else ""
        if not _MONEY.fullmatch(text):
            raise ValueError(gettext("Enter an amount such as 1250.00."))
        try:
            amount = Decimal(text.replace(",", "."))
        except InvalidOperation:
            raise ValueError(gettext("Enter an amount such as 1250.00.")) from None
        if -amount.as_tuple().exponent > kind.places:  # type: ignore[operator]
            raise ValueError(gettext("Use at most %(places)d decimal places.") % {"places": kind.places})
        if abs(amount) > MAX_AMOUNT:
            raise ValueError(gettext("This amount is too large."))
        return kind(amount)

    return decode


def _ids(value: Any) -> IdList:
    values = value if isinstance(value, list) else [value]
    if len(values) > 1000:
        raise ValueError(gettext("Choose at most 1,000 at a time."))
    ids = IdList()
    for item in values:
        if not isinstance(item, str) or not item.isascii() or not item.isdigit() or not 1 <= int(item) <= MAX_ID:
            raise ValueError(gettext("Choose from the list."))
        ids.append(int(item))
    return ids


DECODERS: dict[type, Callable[[Any], Any]] = {
    Day: _day,
    Money: _money(Money),
    UnitPrice: _money(UnitPrice),
    IdList: _ids,
}


def decode_hook(kind: type, value: Any) -> Any:
    """`msgspec.convert(..., dec_hook=decode_hook)`: the types above, read as a request reads them
    (for forms whose fields are named at run time, such as a quote's lines)."""
    if kind in DECODERS:
        return DECODERS[kind](value)
    raise NotImplementedError  # msgspec's way of saying "not a type of mine": it reports the value as invalid


TYPE_DECODERS = [(lambda kind: kind in DECODERS, lambda kind, value: DECODERS[kind](value))]
"""For `Litestar(type_decoders=...)`: how the types above are read from a request."""


class Translated(dict[str, str]):
    """Field → a sentence in English, translated when it is read (for `Form.messages`)."""

    def get(self, key: str, default: Any = None) -> Any:
        return gettext(self[key]) if key in self else default


class Form(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """Base of the form structs. `messages` maps a field to the sentence shown next to it when
    its value is refused, in place of the generic one."""

    messages: ClassVar[dict[str, str]] = {}

    def values(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in self.__struct_fields__}


_BOUND = re.compile(r"Expected `(?:int|str|array)`(?: of length)? ([<>]=) (\d+)")


def friendly(message: str) -> str:
    """A technical validation message, as the sentence a user reads next to the field."""
    if message.startswith("Object missing required field"):
        return gettext("This field is required.")
    if bound := _BOUND.search(message):
        op, limit = bound.groups()
        if "of length" in message:
            return gettext("Use at most %(limit)s characters.") % {"limit": format_decimal(int(limit), 0)}
        if op == ">=":
            return gettext("Enter at least %(limit)s.") % {"limit": format_decimal(int(limit), 0)}
        return gettext("Enter at most %(limit)s.") % {"limit": format_decimal(int(limit), 0)}
    if "matching regex" in message:
        return gettext("This text contains a character that cannot be saved.")
    if message.startswith("Expected `int"):
        return gettext("Enter a whole number, in digits 0–9.")
    if message.startswith("Expected `") or message.startswith("Invalid enum value"):
        return gettext("This value is not one of the choices.")
    return message


class BlankFieldsMiddleware:
    """A field left empty is a field not sent: `a=&b=1` reaches the app as `b=1`, in the query
    string and in URL-encoded forms alike. Forms then declare what is optional by its default."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if query:
            scope["query_string"] = _without_blanks(
                query
            )  # in place: a copy would lose what the app stores in the scope
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        if not content_type.startswith(b"application/x-www-form-urlencoded"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_FORM_BYTES:
                await _too_large(send)
                return
        cleaned = _without_blanks(body)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": cleaned, "more_body": False}
            return await receive()

        await self.app(scope, cast(Receive, replay), send)


async def _too_large(send: Send) -> None:
    start: Any = {"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"text/plain")]}
    body: Any = {"type": "http.response.body", "body": gettext("This form is too large.").encode(), "more_body": False}
    await send(start)
    await send(body)


def _without_blanks(raw: bytes) -> bytes:
    pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    return urlencode([(key, value) for key, value in pairs if value != ""], encoding="latin-1").encode("latin-1")
