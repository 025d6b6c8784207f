"""Translation and locale-aware formatting of everything a user reads.

The locale and time zone of the current request live in context variables set
when the user is identified; templates and messages read them from here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.numbers import NumberPattern
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from portal.settings import PACKAGE_DIR

LOCALES = ("pl", "en")
LANGUAGE_NAMES = {"pl": "Polski", "en": "English"}
"""Each language in its own words, as the account page offers them."""
DEFAULT_LOCALE = "pl"
DEFAULT_TIMEZONE = "Europe/Warsaw"
CATALOGS = PACKAGE_DIR / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default="")
"""The request's (or the block's) language; empty: the portal's default (`locale()`)."""
current_timezone: ContextVar[str] = ContextVar("current_timezone", default=DEFAULT_TIMEZONE)
_portal_default = [DEFAULT_LOCALE]


def configure(default_locale: str) -> None:
    """The portal's language for whoever chose none and whose browser asks for none it speaks
    (`Settings.default_locale`); set once by each process at start."""
    _portal_default[0] = default_locale if default_locale in LOCALES else DEFAULT_LOCALE


def portal_default() -> str:
    return _portal_default[0]


def locale() -> str:
    """The language being written in now."""
    return current_locale.get() or _portal_default[0]


def user_locale(chosen: str | None) -> str:
    """The language to write to a user in when no request says more: their choice, else the portal's."""
    return chosen if chosen in LOCALES else portal_default()


def use_locale(locale: str, timezone: str) -> None:
    """The signed-in user's language (when they chose one; else the request's stays) and zone."""
    if locale in LOCALES:
        current_locale.set(locale)
    current_timezone.set(timezone or DEFAULT_TIMEZONE)


_LANGUAGE_RANGE = re.compile(r"^\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$")


def negotiate(accept_language: str) -> str:
    """The first language of an Accept-Language header the portal speaks, by the browser's
    weights ("pl-PL,pl;q=0.9,en;q=0.8" → "pl"); the portal's default when it speaks none."""
    best, best_weight = portal_default(), 0.0
    for part in accept_language[:500].split(",")[:20]:
        found = _LANGUAGE_RANGE.match(part)
        if found is None:
            continue
        weight = float(found.group(2)) if found.group(2) else 1.0
        language = found.group(1).lower()
        if language in LOCALES and weight > best_weight:
            best, best_weight = language, weight
    return best


@contextmanager
def speaking(locale: str, timezone: str | None = None) -> Iterator[None]:
    """Writes in `locale` for the block (an e-mail to its recipient, a document), and shows times in
    `timezone` when given (the recipient's), then as before."""
    token = current_locale.set(locale if locale in LOCALES else portal_default())
    zone_token = current_timezone.set(timezone) if timezone else None
    try:
        yield
    finally:
        current_locale.reset(token)
        if zone_token is not None:
            current_timezone.reset(zone_token)


class Localized:
    """ASGI wrapper around the whole app: each request starts in the browser's language (or the
    portal's) and the seller's zone, and leaves the context as it found it; the authentication
    then puts a signed-in user's own choice on top (`use_locale`)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((value for name, value in scope.get("headers", ()) if name == b"accept-language"), b"")
        locale_token = current_locale.set(negotiate(header.decode("latin-1")))
        zone_token = current_timezone.set(DEFAULT_TIMEZONE)
        try:
            await self.app(scope, receive, send)
        finally:
            current_locale.reset(locale_token)
            current_timezone.reset(zone_token)


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined (a label in a table of codes); it is
    translated where it is shown, with `gettext(label)`."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(dirname=str(CATALOGS), locales=[locale], domain="messages")


def gettext(message: str) -> str:
    return translations(locale()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(locale()).ngettext(singular, plural, n)


MONEY_PATTERNS = {"en": "\u00a4\u00a0#,##0.00"}
"""English puts the currency code before the amount with a space ("PLN 1,240.00");
other locales keep their own pattern ("1 240,00 zł")."""


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


@cache
def _pattern(code: str, pattern: str | None, kind: str = "currency") -> NumberPattern:
    """Parsed once per locale and pattern: parsing costs more than formatting."""
    if pattern is not None:
        return numbers.parse_pattern(pattern)
    locale = _locale(code)
    return locale.currency_formats["standard"] if kind == "currency" else locale.decimal_formats[None]


@dataclass(frozen=True)
class _Number:
    """One locale's number pattern made ready for many cells: Python's own `format` with the
    locale's symbols swapped in afterwards, the exact strings Babel's `NumberPattern.apply` gives
    (tests/unit/test_number_format.py compares them), at a fraction of its cost per call."""

    prefixes: tuple[str, str]
    suffixes: tuple[str, str]
    fraction: tuple[int, int]
    symbols: dict[int, str]

    def __call__(self, value: Decimal | int) -> str:
        negative = value.is_signed() if isinstance(value, Decimal) else value < 0
        least, most = self.fraction
        text = format(abs(value), f",.{most}f")
        if most > least:
            whole, _, decimals = text.partition(".")
            decimals = decimals.rstrip("0").ljust(least, "0")
            text = f"{whole}.{decimals}" if decimals else whole
        return self.prefixes[negative] + text.translate(self.symbols) + self.suffixes[negative]


@cache
def _number(code: str, pattern: str | None, currency: str | None = None, currency_digits: bool = True) -> _Number:
    parsed = _pattern(code, pattern)
    locale = _locale(code)
    symbol = numbers.get_currency_symbol(currency, locale) if currency else ""
    fraction = parsed.frac_prec
    if currency and currency_digits:
        digits = numbers.get_currency_precision(currency)
        fraction = (digits, digits)
    symbols = numbers.get_decimal_symbol(locale), numbers.get_group_symbol(locale)
    return _Number(
        prefixes=(parsed.prefix[0].replace("¤", symbol), parsed.prefix[1].replace("¤", symbol)),
        suffixes=(parsed.suffix[0].replace("¤", symbol), parsed.suffix[1].replace("¤", symbol)),
        fraction=fraction,
        symbols=str.maketrans({".": symbols[0], ",": symbols[1]}),
    )


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    code = locale()
    return _number(code, MONEY_PATTERNS.get(code), currency)(amount)


UNIT_PRICE_PATTERNS = {"en": "\u00a4\u00a0#,##0.00##", "pl": "#,##0.00##\u00a0\u00a4"}


def format_unit_price(amount: Decimal | None, currency: str) -> str:
    """A unit price: at least two decimals, up to the four it is stored with."""
    if amount is None:
        return ""
    code = locale()
    return _number(code, UNIT_PRICE_PATTERNS.get(code, "#,##0.00##"), currency, currency_digits=False)(amount)


def format_price_number(amount: Decimal) -> str:
    """A unit price without its currency, as in "from 50 pcs: 11.20"."""
    return _number(locale(), "#,##0.00##")(amount)


def format_decimal(value: Decimal | int | None, digits: int = 2) -> str:
    if value is None:
        return ""
    return _number(locale(), "#,##0" + ("." + "0" * digits if digits else ""))(value)


def format_percent(value: Decimal | None) -> str:
    if value is None:
        return "–"
    return _number(locale(), "#,##0.0")(value) + " %"


DATE_PATTERNS = {"pl": "dd.MM.yyyy", "en": "d MMM yyyy"}
DATETIME_PATTERNS = {"pl": "dd.MM.yyyy HH:mm", "en": "d MMM yyyy, HH:mm"}
"""Dates as a Polish reader writes them (01.12.2026), and 24-hour times in both languages."""


def format_date(value: date | None) -> str:
    if value is None:
        return ""
    code = locale()
    return dates.format_date(value, format=DATE_PATTERNS.get(code, "medium"), locale=code)


def format_date_short(value: date) -> str:
    """A month for a chart axis: "Nov"."""
    return dates.format_date(value, format="MMM", locale=locale())


def format_month(value: date) -> str:
    """A month with its year, for periods and tables: "Nov 2026", "lis 2026"."""
    return dates.format_date(value, format="LLL yyyy", locale=locale())


def format_datetime(value: datetime | None) -> str:
    """A UTC moment shown in the reader's own time zone."""
    if value is None:
        return ""
    code = locale()
    return dates.format_datetime(
        value, format=DATETIME_PATTERNS.get(code, "medium"), tzinfo=ZoneInfo(current_timezone.get()), locale=code
    )


@pass_eval_context
def _template_gettext(eval_context: EvalContext, string: str, **variables: Any) -> str:
    """`_()` in a template, as Jinja's newstyle gettext (escaped arguments, always %-formatted, so
    "%%" is "%"), but asking only for the evaluation context: a function that asks for the whole
    context gets a copy of it made for each call inside a loop, which cost a 500-row report a
    tenth of its time. A text without arguments is made once per language."""
    if not variables:
        return _constant_text(locale(), string, eval_context.autoescape)
    text = gettext(string)
    return (Markup(text) if eval_context.autoescape else text) % variables


@lru_cache(maxsize=8192)
def _constant_text(code: str, string: str, autoescape: bool) -> str:
    text = translations(code).gettext(string)
    return (Markup(text) if autoescape else text) % {}


@pass_eval_context
def _template_ngettext(eval_context: EvalContext, singular: str, plural: str, num: int, **variables: Any) -> str:
    """`ngettext()` in a template (see `_template_gettext`); `%(num)d` is the number."""
    variables.setdefault("num", num)
    text = ngettext(singular, plural, num)
    return (Markup(text) if eval_context.autoescape else text) % variables


def install(environment: Environment) -> Environment:
    """Makes a Jinja environment write as pages do: `_()` and `ngettext()` in the language being
    written in, and the money, number and date filters (pages, e-mails and documents alike)."""
    environment.add_extension("jinja2.ext.i18n")
    environment.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(_=_template_gettext, gettext=_template_gettext, ngettext=_template_ngettext)
    environment.filters.update(
        money=format_money,
        number=format_decimal,
        percent=format_percent,
        date=format_date,
        month=format_month,
        datetime=format_datetime,
        unit_price=format_unit_price,
    )
    return environment
