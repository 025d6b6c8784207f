"""A company's delivery terms and the seller's calendar, the one home of their rules: which days
are working days (Monday to Friday, not a Polish public holiday), on which of them a company is
delivered, the earliest date an order placed now can be delivered (the cut-off moves the order day
to the next working day), why a requested date is refused, where a recurring delivery planned for
a day the company cannot be delivered on moves, the fee under the free-delivery threshold and what
is missing to the minimum order.

The terms are columns of `Company` (`delivery_weekdays` as ISO weekday digits, `order_cutoff` in
the seller's zone, `min_order_value`, `delivery_fee`, `free_delivery_from`); checkout, the cart and
the recurring deliveries all ask this module. Public holidays come from the `holidays` package,
read once per year and language."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from functools import lru_cache

import holidays
from babel import dates

from portal import i18n
from portal.i18n import format_date, format_money, gettext
from portal.models import Company

ZERO = Decimal("0.00")
FEE_VAT_RATE = Decimal("23")
"""VAT on the delivery fee (a service taxed at the standard rate)."""
ALL_WEEKDAYS = "1234567"
WORKING_WEEKDAYS = (1, 2, 3, 4, 5)
"""Monday to Friday. Whether Saturday is a working day is the seller's call; today it is not."""
MOVE_LIMIT = 31
"""How many days at most a recurring delivery moves: a company is delivered on at least one working
weekday, and no run of Polish holidays keeps it from that weekday for a month."""
BOOKING_DAYS = 366
"""How far ahead a delivery date may be requested at checkout."""


class Move(enum.StrEnum):
    """Where a recurring delivery planned for a day the company cannot be delivered on goes
    (`DeliverySchedule.non_working_day`)."""

    NEXT = "next"
    PREVIOUS = "previous"

    @classmethod
    def of(cls, stored: str) -> Move:
        """The stored setting; an unknown value reads as the default, the next day."""
        return cls(stored) if stored in cls._value2member_map_ else cls.NEXT


# --- the seller's calendar ------------------------------------------------------------------


@lru_cache(maxsize=512)
def _holidays(year: int, language: str) -> dict[date, str]:
    """Polish public holidays of `year` named in `language`; none outside the years the package knows."""
    return dict(holidays.country_holidays("PL", years=year, language=language))


def _holiday_language() -> str:
    """The package speaks Polish; any other reader gets its English names."""
    return "pl" if i18n.locale() == "pl" else "en_US"


def holiday_name(day: date) -> str | None:
    """The public holiday on `day` in the reader's language ("Christmas Day"), or None."""
    return _holidays(day.year, _holiday_language()).get(day)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a Polish public holiday."""
    return day.isoweekday() in WORKING_WEEKDAYS and day not in _holidays(day.year, "pl")


def _days(start: date, step: int, bound: date | None = None, limit: int = MOVE_LIMIT) -> Iterator[date]:
    """The days after `start` (before it for a step of -1), at most `limit` of them, stopping short
    of `bound` and of the calendar's ends."""
    ordinal = start.toordinal()
    stop = bound.toordinal() if bound is not None else None
    for _ in range(limit):
        ordinal += step
        if not 1 <= ordinal <= date.max.toordinal() or ordinal == stop:
            return
        yield date.fromordinal(ordinal)


def next_working_day(day: date) -> date:
    """The first working day after `day`; `day` itself at the calendar's end."""
    return next((d for d in _days(day, 1) if is_working_day(d)), day)


def previous_working_day(day: date) -> date:
    """The last working day before `day`; `day` itself at the calendar's start."""
    return next((d for d in _days(day, -1) if is_working_day(d)), day)


# --- a company's delivery days --------------------------------------------------------------


def weekdays(company: Company) -> list[int]:
    """The ISO weekdays (1 Monday … 5 Friday) the company is delivered on: its delivery weekdays that
    are working weekdays; every working weekday where none is set (or only Saturday and Sunday)."""
    chosen = {int(digit) for digit in (company.delivery_weekdays or "") if digit in ALL_WEEKDAYS}
    return sorted(chosen.intersection(WORKING_WEEKDAYS)) or list(WORKING_WEEKDAYS)


def is_delivery_day(company: Company, day: date) -> bool:
    """A working day that is one of the company's delivery weekdays."""
    return day.isoweekday() in weekdays(company) and is_working_day(day)


def order_day(company: Company, today: date, now: time | None) -> date:
    """The day an order placed at `now` (the seller's time of day) counts as placed on: today
    before the cut-off (or when there is none, or the time is not known); from the cut-off on, the
    seller's next working day, so an order after Friday's cut-off is taken on Monday (on Tuesday
    when Monday is a holiday)."""
    cutoff = company.order_cutoff
    if cutoff is None or now is None or now < cutoff:
        return today
    return next_working_day(today)


def next_delivery_day(company: Company, after: date) -> date:
    """The first delivery day strictly after `after`; `after` itself at the calendar's end."""
    return next((day for day in _days(after, 1) if is_delivery_day(company, day)), after)


def earliest(company: Company, today: date, now: time | None) -> date:
    """The earliest delivery date of an order placed at `now` on `today` (the seller's calendar):
    the first delivery day after the order day."""
    return next_delivery_day(company, order_day(company, today, now))


def earliest_delivery(company: Company, now_utc: datetime, zone: tzinfo) -> date:
    """`earliest` for a moment of the portal's (UTC) clock, read on the seller's."""
    local = now_utc.astimezone(zone)
    return earliest(company, local.date(), local.time())


def date_problem(company: Company, day: date, today: date, earliest: date) -> str | None:
    """Why `day` cannot be the requested delivery date of an order whose earliest date is
    `earliest` (`earliest` above), in words for the field; None when it can."""
    if day < earliest:
        return gettext("The earliest delivery date is %(date)s.") % {"date": format_date(earliest)}
    if (holiday := holiday_name(day)) is not None:
        return gettext("%(date)s is a public holiday (%(holiday)s); choose a working day.") % {
            "date": format_date(day),
            "holiday": holiday,
        }
    if not is_working_day(day):
        return gettext("%(date)s is a %(weekday)s; we deliver on working days only.") % {
            "date": format_date(day),
            "weekday": dates.format_date(day, format="EEEE", locale=i18n.locale()),
        }
    if not is_delivery_day(company, day):
        return gettext("We deliver to you on %(days)s only; choose one of those days.") % {
            "days": weekday_names(company)
        }
    if day > today + timedelta(days=BOOKING_DAYS):
        return gettext("Choose a date within a year.")
    return None


def delivery_day_from(
    company: Company, day: date, move: Move = Move.NEXT, window: tuple[date | None, date | None] = (None, None)
) -> date:
    """Where a recurring delivery planned for `day` is delivered: `day` itself on a delivery day;
    else the nearest delivery day in the `move` direction strictly inside `window` (the dates of
    the schedule's neighbouring occurrences, so that moved dates stay unique and in order); where
    the window holds none, the nearest working day in it (a Monday-only company's Easter Monday
    goes to Tuesday, not onto the next Monday's delivery); failing that, `day`."""
    if is_delivery_day(company, day):
        return day
    step, bound = (1, window[1]) if move is Move.NEXT else (-1, window[0])
    candidates = list(_days(day, step, bound))
    return next(
        (d for d in candidates if is_delivery_day(company, d)),
        next((d for d in candidates if is_working_day(d)), day),
    )


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
