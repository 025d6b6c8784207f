"""The seller's calendar: working days are Monday to Friday less Polish public holidays; the earliest
delivery date and the dates checkout refuses follow it; a recurring delivery planned for a day the
company cannot be delivered on moves to the next (or, as its schedule says, the previous) delivery
day, never as far as another occurrence, and is ordered lead time before the day it is delivered on."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal import i18n
from portal.models import Company, DeliverySchedule, Frequency, OccurrenceStatus, Order, ScheduleOccurrence
from portal.services import delivery, schedules
from portal.services.delivery import Move
from portal.services.recurring import run_pass
from portal.services.schedules import Delivery, Rhythm, ScheduleForm
from tests.factories import make_company, make_product, make_schedule, make_user

D = date.fromisoformat
WARSAW = ZoneInfo("Europe/Warsaw")


def company(weekdays: str = "12345", cutoff: time | None = None) -> Company:
    """A company that is only its delivery weekdays and cut-off (nothing is saved)."""
    return Company(delivery_weekdays=weekdays, order_cutoff=cutoff)


# --- working days ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-12-04", True),  # a Friday
        ("2026-12-05", False),  # Saturday
        ("2026-12-06", False),  # Sunday
        ("2026-12-23", True),
        ("2026-12-24", False),  # Christmas Eve (a public holiday since 2025)
        ("2026-12-25", False),  # Christmas Day
        ("2026-12-26", False),  # Second Day of Christmas (a Saturday anyway)
        ("2026-12-28", True),
        ("2027-01-01", False),  # New Year's Day
        ("2027-01-06", False),  # Epiphany, a Wednesday
        ("2027-03-29", False),  # Easter Monday
        ("2027-05-03", False),  # the Third of May, a Monday
        ("2027-05-27", False),  # Corpus Christi, a Thursday
        ("2027-05-28", True),
        ("2027-11-11", False),  # Independence Day
    ],
)
def test_working_days_are_monday_to_friday_less_polish_public_holidays(day: str, working: bool) -> None:
    assert delivery.is_working_day(D(day)) is working


def test_a_holiday_is_named_in_the_readers_language() -> None:
    assert delivery.holiday_name(D("2026-12-25")) == "Christmas Day"
    assert delivery.holiday_name(D("2027-03-29")) == "Easter Monday"
    assert delivery.holiday_name(D("2026-12-28")) is None
    with i18n.speaking("pl"):
        assert delivery.holiday_name(D("2026-12-25")) == "Boże Narodzenie (pierwszy dzień)"
        assert delivery.holiday_name(D("2027-05-27")) == "Dzień Bożego Ciała"


def test_the_next_and_the_previous_working_day() -> None:
    assert delivery.next_working_day(D("2026-12-23")) == D("2026-12-28")
    assert delivery.next_working_day(D("2026-12-31")) == D("2027-01-04")
    assert delivery.next_working_day(D("2027-03-26")) == D("2027-03-30")  # over the Easter weekend
    assert delivery.previous_working_day(D("2026-12-28")) == D("2026-12-23")
    assert delivery.previous_working_day(D("2027-01-07")) == D("2027-01-05")  # Epiphany is off
    assert delivery.next_working_day(date.max) == date.max  # nowhere further to go


# --- the earliest delivery date and what checkout refuses --------------------------------------


@pytest.mark.parametrize(
    ("weekdays", "moment", "earliest"),
    [
        ("12345", "2026-12-05 13:00", "2026-12-08"),  # Saturday after the cut-off: taken Monday, Tuesday
        ("12345", "2026-12-05 08:00", "2026-12-07"),  # Saturday before it: Monday
        ("12345", "2026-12-04 11:00", "2026-12-07"),  # Friday before the cut-off: Monday
        ("12345", "2026-12-22 13:00", "2026-12-28"),  # taken Wednesday 23rd; 24–27 December are off
        ("12345", "2026-12-23 11:00", "2026-12-28"),
        ("12345", "2026-12-31 13:00", "2027-01-05"),  # taken Monday 4 January (1 January is off)
        ("12345", "2027-01-05 13:00", "2027-01-08"),  # taken Thursday 7th (Epiphany is off), delivered Friday
        ("1", "2027-03-22 13:00", "2027-04-05"),  # Mondays only: Easter Monday is off
        ("4", "2027-05-20 13:00", "2027-06-03"),  # Thursdays only: Corpus Christi is off
    ],
)
def test_the_earliest_delivery_is_a_working_delivery_day_after_the_order_day(
    weekdays: str, moment: str, earliest: str
) -> None:
    now = datetime.fromisoformat(moment).replace(tzinfo=WARSAW).astimezone(UTC)
    assert delivery.earliest_delivery(company(weekdays, time(12, 0)), now, WARSAW) == D(earliest)


@pytest.mark.parametrize(
    ("day", "problem"),
    [
        ("2026-12-07", "The earliest delivery date is 8 Dec 2026."),
        ("2026-12-13", "13 Dec 2026 is a Sunday; we deliver on working days only."),
        ("2026-12-24", "24 Dec 2026 is a public holiday (Christmas Eve); choose a working day."),
        ("2026-12-25", "25 Dec 2026 is a public holiday (Christmas Day); choose a working day."),
        ("2027-01-06", "6 Jan 2027 is a public holiday (Epiphany); choose a working day."),
        ("2026-12-09", "We deliver to you on Tue, Thu only; choose one of those days."),
        ("2027-12-09", "Choose a date within a year."),
        ("2026-12-08", None),
        ("2026-12-29", None),
    ],
)
def test_checkout_says_why_a_date_is_refused(day: str, problem: str | None) -> None:
    tuesdays_and_thursdays = company("24")
    assert delivery.date_problem(tuesdays_and_thursdays, D(day), D("2026-12-05"), D("2026-12-08")) == problem


def test_a_refused_holiday_is_named_in_polish_for_a_polish_reader() -> None:
    with i18n.speaking("pl"):
        problem = delivery.date_problem(company(), D("2026-12-25"), D("2026-12-05"), D("2026-12-08"))
    assert problem is not None and "25.12.2026" in problem and "Boże Narodzenie (pierwszy dzień)" in problem


def test_a_company_delivered_only_at_weekends_is_delivered_on_working_days() -> None:
    assert delivery.weekdays(company("67")) == [1, 2, 3, 4, 5]
    assert delivery.weekdays(company("1357")) == [1, 3, 5]


# --- recurring deliveries ----------------------------------------------------------------------


def delivered(rhythm: Rhythm, on: Company, start: str, count: int) -> list[tuple[str, str]]:
    return [(d.planned.isoformat(), d.day.isoformat()) for d in schedules.deliveries(rhythm, on, D(start), count)]


def test_a_weekly_schedule_through_christmas_moves_to_the_next_working_day() -> None:
    fridays = Rhythm(Frequency.WEEKLY, D("2026-12-04"))
    assert delivered(fridays, company(), "2026-12-18", 4) == [
        ("2026-12-18", "2026-12-18"),
        ("2026-12-25", "2026-12-28"),  # Christmas Day → Monday
        ("2027-01-01", "2027-01-04"),  # New Year's Day → Monday
        ("2027-01-08", "2027-01-08"),
    ]


def test_or_to_the_previous_one_where_the_schedule_says_so() -> None:
    fridays = Rhythm(Frequency.WEEKLY, D("2026-12-04"), move=Move.PREVIOUS)
    assert delivered(fridays, company(), "2026-12-25", 2) == [
        ("2026-12-25", "2026-12-23"),  # 24 December is a holiday too
        ("2027-01-01", "2026-12-31"),
    ]


def test_a_monthly_schedule_on_the_31st_moves_off_sunday_31_january() -> None:
    month_end = Rhythm(Frequency.MONTHLY, D("2027-01-31"), month_day=31)
    assert delivered(month_end, company(), "2027-01-01", 3) == [
        ("2027-01-31", "2027-02-01"),
        ("2027-02-28", "2027-03-01"),
        ("2027-03-31", "2027-03-31"),
    ]
    earlier = Rhythm(Frequency.MONTHLY, D("2027-01-31"), month_day=31, move=Move.PREVIOUS)
    assert delivered(earlier, company(), "2027-01-01", 2) == [
        ("2027-01-31", "2027-01-29"),
        ("2027-02-28", "2027-02-26"),
    ]


def test_a_move_never_reaches_another_occurrence() -> None:
    """Where no delivery day lies before the next (or after the previous) occurrence, the delivery
    goes to the nearest working day between them rather than onto that occurrence's date."""
    mondays = Rhythm(Frequency.WEEKLY, D("2027-03-22"))
    assert delivered(mondays, company("1"), "2027-03-22", 3) == [
        ("2027-03-22", "2027-03-22"),
        ("2027-03-29", "2027-03-30"),  # Easter Monday → Tuesday, not the next Monday's delivery
        ("2027-04-05", "2027-04-05"),
    ]
    back = Rhythm(Frequency.WEEKLY, D("2027-03-22"), move=Move.PREVIOUS)
    assert delivered(back, company("1"), "2027-03-29", 1) == [("2027-03-29", "2027-03-26")]
    fridays = Rhythm(Frequency.WEEKLY, D("2026-12-18"))
    assert delivered(fridays, company("5"), "2026-12-25", 2) == [
        ("2026-12-25", "2026-12-28"),  # not 8 January: 1 January's delivery comes first
        ("2027-01-01", "2027-01-04"),
    ]


@pytest.mark.parametrize("move", list(Move))
@pytest.mark.parametrize("weekdays", ["12345", "1", "5", "24", "67"])
def test_delivered_dates_are_working_delivery_days_unique_and_in_order(move: Move, weekdays: str) -> None:
    on = company(weekdays)
    rhythms = [
        Rhythm(Frequency.WEEKLY, D("2026-11-30") + timedelta(days=shift), weeks, move=move)
        for shift, weeks in itertools.product(range(7), (1, 2))
    ] + [Rhythm(Frequency.MONTHLY, D("2026-01-01"), month_day=day, move=move) for day in range(1, 32)]
    for rhythm in rhythms:
        days = schedules.deliveries(rhythm, on, D("2026-12-01"), 60)
        assert all(delivery.is_working_day(d.day) for d in days), rhythm
        assert all(abs((d.day - d.planned).days) <= delivery.MOVE_LIMIT for d in days), rhythm
        assert all(a.day < b.day and b.day > a.planned and a.day < b.planned for a, b in itertools.pairwise(days))


def test_a_date_moved_back_into_the_lead_time_is_not_the_first_due() -> None:
    """Monthly on the 31st, 2 days' lead: Sunday 31 January is delivered on Friday the 29th, so it must
    be ordered by the 27th; moved forward to Monday 1 February instead, it can be ordered until the 30th."""
    back = ScheduleForm("Month end", 1, Frequency.MONTHLY, D("2027-01-31"), 2, 1, 31, Move.PREVIOUS)
    assert schedules.preview_dates(back, company(), D("2027-01-27"))[0] == Delivery(D("2027-01-31"), D("2027-01-29"))
    assert schedules.preview_dates(back, company(), D("2027-01-28"))[0] == Delivery(D("2027-02-28"), D("2027-02-26"))
    forward = ScheduleForm("Month end", 1, Frequency.MONTHLY, D("2027-01-31"), 2, 1, 31, Move.NEXT)
    assert schedules.preview_dates(forward, company(), D("2027-01-30"))[0] == Delivery(D("2027-01-31"), D("2027-02-01"))
    # a date already behind the lead time that moves forward past it is still due
    fridays = Rhythm(Frequency.WEEKLY, D("2026-12-04"))
    assert schedules.first_due_from(fridays, 2, D("2026-12-25"), company()) == D("2026-12-25")  # for the 28th
    assert schedules.first_due_from(fridays, 2, D("2026-12-27"), company()) == D("2027-01-01")


async def calendar_setup(session: AsyncSession, move: Move) -> DeliverySchedule:
    shop = await make_company(session, credit_limit=Decimal("100000"), delivery_weekdays="12345")
    buyer = await make_user(session, company_id=shop.id)
    towels = await make_product(session, list_price=Decimal("10.0000"))
    plan = await make_schedule(
        session, shop, [(towels, 5)], created_by=buyer, first=D("2026-12-18"), today=D("2026-12-01")
    )
    plan.non_working_day = move.value
    schedules.set_next(plan, plan.next_delivery, shop)
    await session.commit()
    return plan


async def requested(session: AsyncSession) -> list[date]:
    query = select(Order.requested_delivery_date).order_by(Order.id).execution_options(populate_existing=True)
    return list(await session.scalars(query))


async def test_the_worker_orders_the_moved_date_once_lead_time_before_it(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    plan = await calendar_setup(session, Move.NEXT)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    await run_pass(maker, D("2026-12-16"))
    assert await requested(session) == [D("2026-12-18")]
    assert (await run_pass(maker, D("2026-12-23"))).generated == 0  # Christmas Day is delivered on Monday 28th
    assert (await run_pass(maker, D("2026-12-26"))).generated == 1
    assert (await run_pass(maker, D("2026-12-26"))).generated == 0  # once only
    assert await requested(session) == [D("2026-12-18"), D("2026-12-28")]
    keys = await session.scalars(select(ScheduleOccurrence.delivery_date).order_by(ScheduleOccurrence.id))
    assert list(keys) == [D("2026-12-18"), D("2026-12-25")]  # each occurrence keeps its own date as its key
    stored = await schedules.company_schedule(session, plan.company_id, plan.id)
    await session.refresh(stored)
    assert (stored.next_delivery, stored.next_generation_on) == (D("2027-01-01"), D("2027-01-02"))


async def test_a_delivery_moved_back_is_ordered_earlier_and_missed_once_its_day_has_come(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    plan = await calendar_setup(session, Move.PREVIOUS)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    await run_pass(maker, D("2026-12-16"))
    stored = await schedules.company_schedule(session, plan.company_id, plan.id)
    await session.refresh(stored)
    assert (stored.next_delivery, stored.next_generation_on) == (D("2026-12-25"), D("2026-12-21"))
    assert (await run_pass(maker, D("2026-12-23"))).missed == 1  # 25 December was delivered on the 23rd: too late
    missed = await session.scalar(
        select(ScheduleOccurrence).where(ScheduleOccurrence.status == OccurrenceStatus.MISSED)
    )
    assert missed is not None and missed.delivery_date == D("2026-12-25")
    assert (await run_pass(maker, D("2026-12-29"))).generated == 1  # 1 January: delivered Thursday 31 December
    assert await requested(session) == [D("2026-12-18"), D("2026-12-31")]
