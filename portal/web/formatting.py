"""Sentences that explain figures to a reader, shared by pages and downloads."""

from __future__ import annotations

from decimal import Decimal

from portal.i18n import format_date, format_decimal, format_price_number, gettext
from portal.services.catalog import Availability
from portal.services.pricing import Price, PriceSource


def price_source(price: Price, unit: str) -> str:
    """Why a price is what it is: "Your contract price, valid until 31 Mar 2027"."""
    if price.source is PriceSource.CONTRACT:
        text = gettext("Your contract price")
    elif price.source is PriceSource.PRICE_LIST:
        text = gettext("Price list %(name)s") % {"name": price.price_list_name or ""}
    elif price.discount_pct:
        return gettext("List price less your %(pct)s %% discount") % {"pct": _percent_number(price.discount_pct)}
    else:
        return gettext("List price")
    if price.min_quantity > 1:
        text += gettext(", from %(quantity)s %(unit)s") % {"quantity": price.min_quantity, "unit": unit}
    if price.valid_to is not None:
        text += gettext(", valid until %(date)s") % {"date": format_date(price.valid_to)}
    return text


def _percent_number(value: Decimal) -> str:
    return format_decimal(value, 0 if value == value.to_integral_value() else 2)


def next_break(price: Price, unit: str) -> str:
    """"from 50 pcs: 11.20", or nothing when ordering more would not lower the price."""
    if price.next_break is None:
        return ""
    return gettext("from %(quantity)s %(unit)s: %(price)s") % {
        "quantity": price.next_break.min_quantity,
        "unit": unit,
        "price": format_price_number(price.next_break.unit_price),
    }


AVAILABILITY = {
    Availability.IN_STOCK: "In stock",
    Availability.LOW: "Low stock",
    Availability.OUT: "Out of stock",
}


def availability(value: Availability) -> str:
    return gettext(AVAILABILITY[value])
