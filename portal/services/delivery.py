"""A company's delivery terms, the one home of their rules: on which weekdays it is delivered to,
the earliest date an order placed now can be delivered (the cut-off moves the order day to
tomorrow), the fee under the free-delivery threshold and what is missing to the minimum order.

The terms are columns of `Company` (`delivery_weekdays` as ISO weekday digits, `order_cutoff` in
the seller's zone, `min_order_value`, `delivery_fee`, `free_delivery_from`); checkout, the cart and
the recurring deliveries all ask this module."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from babel import dates

from portal import i18n
from portal.i18n import format_money, gettext
from portal.models import Company

ZERO = Decimal("0.00")
FEE_VAT_RATE = Decimal("23")
"""VAT on the delivery fee (a service taxed at the standard rate)."""
ALL_WEEKDAYS = "1234567"


def weekdays(company: Company) -> list[int]:
    """The ISO weekdays (1 Monday … 7 Sunday) the company is delivered on; every day where none is set."""
    days = sorted({int(digit) for digit in (company.delivery_weekdays or "") if digit in ALL_WEEKDAYS})
    return days or [int(digit) for digit in ALL_WEEKDAYS]


def is_delivery_day(company: Company, day: date) -> bool:
    return day.isoweekday() in weekdays(company)


def next_working_day(day: date) -> date:
    """The seller's next working day after `day` (Monday to Friday)."""
    following = day + timedelta(days=1)
    while following.isoweekday() > 5:
        following += timedelta(days=1)
    return following


def order_day(company: Company, today: date, now: time | None) -> date:
    """The day an order placed at `now` (the seller's time of day) counts as placed on: today
    before the cut-off (or when there is none, or the time is not known); from the cut-off on, the
    seller's next working day, so an order after Friday's cut-off is taken on Monday."""
    cutoff = company.order_cutoff
    if cutoff is None or now is None or now < cutoff:
        return today
    return next_working_day(today)


def next_delivery_day(company: Company, after: date) -> date:
    """The first delivery weekday strictly after `after`; `after` itself at the calendar's end."""
    allowed = weekdays(company)
    for step in range(1, 8):
        if after.toordinal() + step > date.max.toordinal():
            break
        day = after + timedelta(days=step)
        if day.isoweekday() in allowed:
            return day
    return after


def delivery_day_from(company: Company, day: date) -> date:
    """`day` itself when it is a delivery weekday, else the next one: where a recurring date moves."""
    return day if is_delivery_day(company, day) else next_delivery_day(company, day)


def earliest(company: Company, today: date, now: time | None) -> date:
    """The earliest delivery date of an order placed at `now` on `today` (the seller's calendar)."""
    return next_delivery_day(company, order_day(company, today, now))


def earliest_delivery(company: Company, now_utc: datetime, zone: tzinfo) -> date:
    """The next delivery weekday after the order day (`order_day`): today before the cut-off, the
    next working day from it on."""
    local = now_utc.astimezone(zone)
    return earliest(company, local.date(), local.time())


def delivery_fee(company: Company, net: Decimal) -> Decimal:
    """The net fee of an order of `net` (products only): the fee below the free-delivery threshold,
    or always when there is no threshold; 0 when the company has no fee."""
    fee = company.delivery_fee or ZERO
    if fee <= 0:
        return ZERO
    threshold = company.free_delivery_from
    if threshold is not None and net >= threshold:
        return ZERO
    return fee


def free_delivery_missing(company: Company, net: Decimal) -> Decimal:
    """How much more (net) makes delivery free; 0 when it is free already or no threshold could."""
    threshold = company.free_delivery_from
    if threshold is None or delivery_fee(company, net) <= 0:
        return ZERO
    return threshold - net


def shortfall(company: Company, net: Decimal) -> Decimal:
    """How much (net, products only) is missing to the company's minimum order value; 0 if none."""
    minimum = company.min_order_value or ZERO
    return max(minimum - net, ZERO)


def minimum_message(company: Company, missing: Decimal) -> str:
    """What the cart and the checkout say while an order is under the minimum order value."""
    return gettext("Your minimum order is %(minimum)s (net); add %(missing)s more to submit this order.") % {
        "minimum": format_money(company.min_order_value, company.currency),
        "missing": format_money(missing, company.currency),
    }


def weekday_names(company: Company) -> str:
    """The delivery weekdays in the reader's language: "Mon, Tue, Wed, Thu, Fri"."""
    names = dates.get_day_names("abbreviated", locale=i18n.locale())
    return ", ".join(names[day - 1] for day in weekdays(company))


def short_date(day: date) -> str:
    """A date with its weekday, as a moved delivery names its original one: "Sun 6 Dec"."""
    return dates.format_date(day, format="EEE d MMM", locale=i18n.locale())
