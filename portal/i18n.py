"""Translation and locale-aware formatting of everything a user reads.

The locale and time zone of the current request live in context variables set
when the user is identified; templates and messages read them from here.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.numbers import NumberPattern
from babel.support import NullTranslations, Translations

from portal.settings import PACKAGE_DIR

LOCALES = ("en", "pl")
DEFAULT_LOCALE = "en"
DEFAULT_TIMEZONE = "Europe/Warsaw"
CATALOGS = PACKAGE_DIR / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)
current_timezone: ContextVar[str] = ContextVar("current_timezone", default=DEFAULT_TIMEZONE)


def use_locale(locale: str, timezone: str) -> None:
    current_locale.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    current_timezone.set(timezone)


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(dirname=str(CATALOGS), locales=[locale], domain="messages")


def gettext(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


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


def format_money(amount: Decimal | None, currency: str) -> str:
    if amount is None:
        return ""
    code = current_locale.get()
    return _pattern(code, MONEY_PATTERNS.get(code)).apply(amount, _locale(code), currency=currency)


UNIT_PRICE_PATTERNS = {"en": "\u00a4\u00a0#,##0.00##", "pl": "#,##0.00##\u00a0\u00a4"}


def format_unit_price(amount: Decimal | None, currency: str) -> str:
    """A unit price: at least two decimals, up to the four it is stored with."""
    if amount is None:
        return ""
    code = current_locale.get()
    return _pattern(code, UNIT_PRICE_PATTERNS.get(code, "#,##0.00##")).apply(
        amount, _locale(code), currency=currency, currency_digits=False
    )


def format_price_number(amount: Decimal) -> str:
    """A unit price without its currency, as in "from 50 pcs: 11.20"."""
    code = current_locale.get()
    return _pattern(code, "#,##0.00##").apply(amount, _locale(code))


def format_decimal(value: Decimal | int | None, digits: int = 2) -> str:
    if value is None:
        return ""
    code = current_locale.get()
    return _pattern(code, "#,##0" + ("." + "0" * digits if digits else "")).apply(value, _locale(code))


def format_percent(value: Decimal | None) -> str:
    if value is None:
        return "–"
    return numbers.format_decimal(value, format="#,##0.0", locale=current_locale.get()) + " %"


def format_date(value: date | None) -> str:
    if value is None:
        return ""
    return dates.format_date(value, format="medium", locale=current_locale.get())


def format_date_short(value: date) -> str:
    """A month for a chart axis: "Nov"."""
    return dates.format_date(value, format="MMM", locale=current_locale.get())


def format_datetime(value: datetime | None) -> str:
    """A UTC moment shown in the reader's own time zone."""
    if value is None:
        return ""
    return dates.format_datetime(
        value, format="medium", tzinfo=ZoneInfo(current_timezone.get()), locale=current_locale.get()
    )
