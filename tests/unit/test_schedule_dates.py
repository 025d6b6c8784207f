"""The delivery dates of a schedule, as a specification table: month ends, leap years,
every N weeks, skipped occurrences, and what a pause across an occurrence leaves out."""

from __future__ import annotations

from datetime import date

import pytest

from portal.models import Frequency
from portal.services.schedules import Rhythm, delivery_dates, first_due_from, missed, next_delivery_after

D = date.fromisoformat

CASES = [
    # (rhythm, start, count, skips, expected)
    (
        "weekly from a Friday",
        Rhythm(Frequency.WEEKLY, D("2026-11-27")),
        D("2026-11-27"),
        3,
        (),
        ["2026-11-27", "2026-12-04", "2026-12-11"],
    ),
    (
        "weekly, started mid-week",
        Rhythm(Frequency.WEEKLY, D("2026-11-27")),
        D("2026-11-30"),
        2,
        (),
        ["2026-12-04", "2026-12-11"],
    ),
    (
        "before the first delivery there is none",
        Rhythm(Frequency.WEEKLY, D("2026-12-04")),
        D("2026-11-01"),
        1,
        (),
        ["2026-12-04"],
    ),
    (
        "every 2 weeks",
        Rhythm(Frequency.WEEKLY, D("2026-11-27"), interval_weeks=2),
        D("2026-11-28"),
        3,
        (),
        ["2026-12-11", "2026-12-25", "2027-01-08"],
    ),
    (
        "every 3 weeks across a year end",
        Rhythm(Frequency.WEEKLY, D("2026-12-16"), interval_weeks=3),
        D("2026-12-17"),
        2,
        (),
        ["2027-01-06", "2027-01-27"],
    ),
    (
        "monthly on the 31st clamps to each month's end",
        Rhythm(Frequency.MONTHLY, D("2027-01-31"), month_day=31),
        D("2027-01-01"),
        4,
        (),
        ["2027-01-31", "2027-02-28", "2027-03-31", "2027-04-30"],
    ),
    (
        "monthly on the 29th in a leap year",
        Rhythm(Frequency.MONTHLY, D("2028-01-29"), month_day=29),
        D("2028-01-30"),
        2,
        (),
        ["2028-02-29", "2028-03-29"],
    ),
    (
        "monthly on the 30th in February of a common year",
        Rhythm(Frequency.MONTHLY, D("2027-01-30"), month_day=30),
        D("2027-02-01"),
        2,
        (),
        ["2027-02-28", "2027-03-30"],
    ),
    (
        "monthly across December",
        Rhythm(Frequency.MONTHLY, D("2026-12-15"), month_day=15),
        D("2026-12-16"),
        2,
        (),
        ["2027-01-15", "2027-02-15"],
    ),
    (
        "a skipped occurrence is left out",
        Rhythm(Frequency.WEEKLY, D("2026-11-27")),
        D("2026-11-27"),
        3,
        ("2026-12-04",),
        ["2026-11-27", "2026-12-11", "2026-12-18"],
    ),
    (
        "a skipped month is left out",
        Rhythm(Frequency.MONTHLY, D("2027-01-31"), month_day=31),
        D("2027-01-01"),
        2,
        ("2027-02-28",),
        ["2027-01-31", "2027-03-31"],
    ),
]


@pytest.mark.parametrize(
    ("rhythm", "start", "count", "skips", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_delivery_dates(rhythm: Rhythm, start: date, count: int, skips: tuple[str, ...], expected: list[str]) -> None:
    assert delivery_dates(rhythm, start, count, frozenset(D(s) for s in skips)) == [D(e) for e in expected]


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        ("2026-12-02", "2026-12-04"),  # resumed on the ordering day: that delivery is still ordered
        ("2026-12-03", "2026-12-11"),  # resumed after it: the paused-across occurrence is not ordered
        ("2026-12-09", "2026-12-11"),
    ],
)
def test_a_pause_across_an_occurrence_resumes_at_the_next_one_still_orderable(today: str, expected: str) -> None:
    rhythm = Rhythm(Frequency.WEEKLY, D("2026-11-27"))
    assert first_due_from(rhythm, 2, D(today)) == D(expected)


@pytest.mark.parametrize(
    ("delivery", "lead", "today", "is_missed"),
    [
        ("2026-12-04", 2, "2026-12-02", False),  # on time
        ("2026-12-04", 2, "2026-12-03", False),  # late, delivery still ahead: ordered late
        ("2026-12-04", 2, "2026-12-04", True),  # the delivery day has come
        ("2026-12-04", 0, "2026-12-04", False),  # no lead time: ordered on the day itself
        ("2026-12-04", 0, "2026-12-05", True),
    ],
)
def test_late_or_missed(delivery: str, lead: int, today: str, is_missed: bool) -> None:
    assert missed(D(delivery), lead, D(today)) is is_missed


END_CASES = [
    (
        "weekly stops at the calendar's end",
        Rhythm(Frequency.WEEKLY, D("9999-12-20")),
        D("9999-12-20"),
        5,
        ["9999-12-20", "9999-12-27"],
    ),
    (
        "every 52 weeks from the calendar's last years",
        Rhythm(Frequency.WEEKLY, D("9998-01-01"), interval_weeks=52),
        D("9998-01-02"),
        5,
        ["9998-12-31", "9999-12-30"],
    ),
    (
        "monthly stops after December 9999",
        Rhythm(Frequency.MONTHLY, D("9999-10-31"), month_day=31),
        D("9999-10-01"),
        5,
        ["9999-10-31", "9999-11-30", "9999-12-31"],
    ),
    ("nothing after the calendar's last day", Rhythm(Frequency.WEEKLY, D("9999-12-25")), date.max, 5, []),
]


@pytest.mark.parametrize(
    ("rhythm", "start", "count", "expected"), [c[1:] for c in END_CASES], ids=[c[0] for c in END_CASES]
)
def test_dates_end_with_the_calendar_instead_of_overflowing(
    rhythm: Rhythm, start: date, count: int, expected: list[str]
) -> None:
    assert delivery_dates(rhythm, start, count) == [D(e) for e in expected]


def test_at_the_calendars_end_there_is_no_next_delivery() -> None:
    rhythm = Rhythm(Frequency.WEEKLY, D("9999-12-31"))
    assert next_delivery_after(rhythm, D("9999-12-31")) is None
    assert next_delivery_after(rhythm, date.max) is None
    assert first_due_from(Rhythm(Frequency.WEEKLY, D("9999-12-24")), 60, D("9999-12-01")) is None
    assert first_due_from(Rhythm(Frequency.MONTHLY, D("9999-12-01"), month_day=31), 2, D("9999-12-01")) == D(
        "9999-12-31"
    )


def test_the_first_day_of_the_calendar_does_not_underflow() -> None:
    assert missed(date.min, 60, D("2026-12-01")) is True
    assert delivery_dates(Rhythm(Frequency.WEEKLY, date.min), date.min, 2) == [date.min, D("0001-01-08")]
