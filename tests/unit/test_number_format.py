"""The portal's number formatting gives exactly what Babel's own pattern formatting gives, for
every locale, currency and kind of value, only faster."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from babel import Locale, numbers

from portal import i18n

VALUES = [
    Decimal("0"),
    Decimal("-0"),
    Decimal("0.004"),
    Decimal("-0.004"),
    Decimal("0.005"),
    Decimal("0.015"),
    Decimal("1.23455"),
    Decimal("999.995"),
    Decimal("999.9949"),
    Decimal("1240"),
    Decimal("1240.5"),
    Decimal("-1240.005"),
    Decimal("12345678.125"),
    Decimal("-98765432109.99"),
    Decimal("100000"),
    Decimal("7.1"),
    Decimal("12.3456"),
    Decimal("1E+3"),
    Decimal("1.000"),
    7,
    -12,
    0,
    1234567,
]


def _random_values(count: int) -> list[Decimal]:
    draw = random.Random(20261206)
    return [Decimal(draw.randint(-(10**12), 10**12)).scaleb(-draw.randint(0, 6)) for _ in range(count)]


def babel(kind: str, code: str, value: Decimal | int, currency: str = "PLN") -> str:
    """What Babel's `NumberPattern.apply` makes of it, as the portal formatted before."""
    locale = Locale.parse(code)
    if kind == "money":
        pattern = i18n.MONEY_PATTERNS.get(code)
        parsed = numbers.parse_pattern(pattern) if pattern else locale.currency_formats["standard"]
        return parsed.apply(value, locale, currency=currency)
    if kind == "unit_price":
        parsed = numbers.parse_pattern(i18n.UNIT_PRICE_PATTERNS.get(code, "#,##0.00##"))
        return parsed.apply(value, locale, currency=currency, currency_digits=False)
    if kind == "price_number":
        return numbers.parse_pattern("#,##0.00##").apply(value, locale)
    if kind == "percent":
        return numbers.format_decimal(value, format="#,##0.0", locale=code) + " %"
    digits = int(kind.removeprefix("decimal"))
    return numbers.parse_pattern("#,##0" + ("." + "0" * digits if digits else "")).apply(value, locale)


def portal(kind: str, value: Decimal | int, currency: str = "PLN") -> str:
    if kind == "money":
        return i18n.format_money(value, currency)  # type: ignore[arg-type]
    if kind == "unit_price":
        return i18n.format_unit_price(value, currency)  # type: ignore[arg-type]
    if kind == "price_number":
        return i18n.format_price_number(value)  # type: ignore[arg-type]
    if kind == "percent":
        return i18n.format_percent(value)  # type: ignore[arg-type]
    return i18n.format_decimal(value, int(kind.removeprefix("decimal")))


@pytest.mark.parametrize("code", i18n.LOCALES)
@pytest.mark.parametrize("kind", ["money", "unit_price", "price_number", "percent", "decimal0", "decimal1", "decimal2"])
@pytest.mark.parametrize("currency", ["PLN", "EUR", "JPY"])
def test_the_same_strings_as_babel(code: str, kind: str, currency: str) -> None:
    values = VALUES + _random_values(300)
    if kind not in ("money", "unit_price"):
        values = [value for value in values if currency == "PLN"]  # the currency plays no part
    with i18n.speaking(code):
        mine = [portal(kind, value, currency) for value in values]
    assert mine == [babel(kind, code, value, currency) for value in values]


def test_polish_and_english_money_read_as_people_write_it() -> None:
    with i18n.speaking("pl"):
        assert i18n.format_money(Decimal("1240"), "PLN") == "1\u00a0240,00\u00a0zł"
        assert i18n.format_unit_price(Decimal("11.2050"), "PLN") == "11,205\u00a0zł"
    with i18n.speaking("en"):
        assert i18n.format_money(Decimal("-1240"), "PLN") == "-PLN\u00a01,240.00"
        assert i18n.format_money(Decimal("5"), "EUR") == "€\u00a05.00"
