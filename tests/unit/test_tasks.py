"""The rules of tasks: what a task may be due on and linked to, who may own it, how snoozing,
closing and reopening keep the history, how two people changing one task are told, and which
tasks make up a member of staff's "My day"."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Conflict, NotFound, Refused
from portal.models import (
    Company,
    Contact,
    Deputy,
    Prospect,
    Quote,
    QuoteStatus,
    Role,
    Task,
    TaskEvent,
    TaskEventKind,
    TaskReason,
    TaskStatus,
    User,
)
from portal.services import tasks
from portal.services.tasks import Links, TaskInput
from tests.factories import make_company, make_order, make_user

TODAY = date(2026, 11, 27)
"""A Friday; the seller's today under `frozen_clock`."""


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak")
    ola = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Wiśniewska")
    finance = await make_user(session, Role.FINANCE, full_name="Fiona Finance")
    admin = await make_user(session, Role.ADMIN, full_name="Adam Admin")
    mine = await make_company(session, name="Northwind", account_manager_id=anna.id)
    piotrs = await make_company(session, name="Baltic Foods", account_manager_id=piotr.id)
    await session.commit()
    return {
        "anna": anna,
        "piotr": piotr,
        "ola": ola,
        "finance": finance,
        "admin": admin,
        "mine": mine,
        "piotrs": piotrs,
    }


def wanted(owner: User, company: Company | None, **changes: Any) -> TaskInput:
    values: dict[str, Any] = {
        "title": "Call about the Q1 order",
        "due_on": TODAY + timedelta(days=2),
        "owner_id": owner.id,
        "links": Links(company_id=company.id if company else None),
    }
    values.update(changes)
    return TaskInput(**values)


async def make_quote(session: AsyncSession, company: Company, number: str = "Q-2026-000123") -> Quote:
    quote = Quote(
        company_id=company.id, number=number, status=QuoteStatus.SENT, sent_version=1, valid_until=TODAY + timedelta(2)
    )
    session.add(quote)
    await session.flush()
    return quote


async def make_contact(session: AsyncSession, company: Company, name: str = "Jan Zieliński") -> Contact:
    contact = Contact(company_id=company.id, full_name=name, position="Purchasing manager")
    session.add(contact)
    await session.flush()
    return contact


async def events_of(session: AsyncSession, task: Task) -> list[TaskEvent]:
    return list(await session.scalars(select(TaskEvent).where(TaskEvent.task_id == task.id).order_by(TaskEvent.id)))


# --- making a task ----------------------------------------------------------------------------------


async def test_a_task_names_its_customer_contact_quote_and_order_and_starts_its_history(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, company = world["anna"], world["mine"]
    contact = await make_contact(session, company)
    quote = await make_quote(session, company)
    order = await make_order(session, company, gross="120.00")
    links = Links(company.id, None, contact.id, quote.id, None, order.id)
    task = await tasks.create_task(
        session, anna, wanted(anna, company, links=links, due_time=time(14, 30), title="  Call   Jan  "), TODAY
    )
    assert (task.title, task.owner_id, task.created_by_id, task.status, task.version) == (
        "Call Jan",
        anna.id,
        anna.id,
        TaskStatus.OPEN,
        1,
    )
    assert (task.company_id, task.contact_id, task.quote_id, task.order_id) == (
        company.id,
        contact.id,
        quote.id,
        order.id,
    )
    assert task.due_time == time(14, 30)
    [created] = await events_of(session, task)
    assert created.kind is TaskEventKind.CREATED and created.to_due == TODAY + timedelta(days=2)
    assert created.actor_id == anna.id


async def test_naming_only_a_quote_names_its_customer(session: AsyncSession, world: dict[str, Any]) -> None:
    anna, company = world["anna"], world["mine"]
    quote = await make_quote(session, company)
    task = await tasks.create_task(session, anna, wanted(anna, None, links=Links(quote_id=quote.id)), TODAY)
    assert task.company_id == company.id and task.quote_id == quote.id


@pytest.mark.parametrize(
    ("days", "message"),
    [
        (-31, "A due date can be at most 30 days back: 28 Oct 2026 at the earliest."),
        (732, "A due date can be at most 2 years ahead: 27 Nov 2028 at the latest."),  # 2028 has 29 February
    ],
)
async def test_a_due_date_far_back_or_far_ahead_is_refused_next_to_the_date(
    session: AsyncSession, world: dict[str, Any], days: int, message: str
) -> None:
    anna = world["anna"]
    with pytest.raises(Refused) as refused:
        await tasks.create_task(session, anna, wanted(anna, world["mine"], due_on=TODAY + timedelta(days)), TODAY)
    assert refused.value.errors == {"due_on": message}
    assert await session.scalar(select(func.count()).select_from(Task)) == 0


async def test_the_edges_of_the_due_range_are_accepted(session: AsyncSession, world: dict[str, Any]) -> None:
    anna = world["anna"]
    earliest, latest = tasks.due_range(TODAY)
    assert (earliest, latest) == (date(2026, 10, 28), date(2028, 11, 27))
    for day in (earliest, latest):
        assert (await tasks.create_task(session, anna, wanted(anna, world["mine"], due_on=day), TODAY)).due_on == day


async def test_a_task_without_a_title_is_refused_next_to_the_title(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    with pytest.raises(Refused) as refused:
        await tasks.create_task(session, world["anna"], wanted(world["anna"], world["mine"], title="   "), TODAY)
    assert refused.value.errors == {"title": "Say what is to be done."}


async def test_another_managers_customer_is_not_found_nor_a_thing_of_another_customer(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, piotrs = world["anna"], world["piotrs"]
    theirs = await make_contact(session, piotrs)
    their_quote = await make_quote(session, piotrs)
    for links in (
        Links(company_id=piotrs.id),
        Links(quote_id=their_quote.id),
        Links(company_id=world["mine"].id, contact_id=theirs.id),
        Links(company_id=world["mine"].id, quote_id=2**31 - 1),
    ):
        with pytest.raises(NotFound):
            await tasks.create_task(session, anna, wanted(anna, None, links=links), TODAY)
    assert await session.scalar(select(func.count()).select_from(Task)) == 0


async def test_the_owner_is_an_active_account_manager_who_looks_after_the_customer(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, piotr, finance = world["anna"], world["piotr"], world["finance"]
    with pytest.raises(Refused) as refused:
        await tasks.create_task(session, anna, wanted(piotr, world["mine"]), TODAY)
    assert refused.value.errors == {"owner_id": "Piotr Nowak does not look after this customer; choose who does."}
    with pytest.raises(Refused) as refused:
        await tasks.create_task(session, anna, wanted(finance, world["mine"]), TODAY)
    assert refused.value.errors == {"owner_id": "Choose an active account manager."}
    # finance gives a task to the customer's manager, or keeps it themselves
    given = await tasks.create_task(session, finance, wanted(anna, world["mine"]), TODAY)
    kept = await tasks.create_task(session, finance, wanted(finance, world["piotrs"]), TODAY)
    assert (given.owner_id, kept.owner_id) == (anna.id, finance.id)
    assert [owner.id for owner in await tasks.owner_choices(session, finance)][0] == finance.id


# --- changing, snoozing, closing --------------------------------------------------------------------


async def test_snoozing_keeps_from_which_day_to_which_and_the_note_and_raises_the_version(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = world["anna"]
    task = await tasks.create_task(session, anna, wanted(anna, world["mine"]), TODAY)
    snoozed = await tasks.snooze(session, anna, task.id, date(2026, 12, 7), "They close the books first", 1, TODAY)
    assert snoozed.due_on == date(2026, 12, 7) and snoozed.version == 2
    event = (await events_of(session, task))[-1]
    assert (event.kind, event.from_due, event.to_due, event.note) == (
        TaskEventKind.SNOOZED,
        TODAY + timedelta(days=2),
        date(2026, 12, 7),
        "They close the books first",
    )


@pytest.mark.parametrize(
    ("to_day", "message"),
    [
        (None, "Choose the day to move it to."),
        (TODAY - timedelta(days=1), "Snooze to today or a later day."),
        (TODAY + timedelta(days=2), "The task is already due that day."),
        (date(2029, 1, 1), "A due date can be at most 2 years ahead: 27 Nov 2028 at the latest."),
    ],
)
async def test_a_snooze_to_no_day_a_past_day_the_same_day_or_too_far_is_refused(
    session: AsyncSession, world: dict[str, Any], to_day: date | None, message: str
) -> None:
    anna = world["anna"]
    task = await tasks.create_task(session, anna, wanted(anna, world["mine"]), TODAY)
    with pytest.raises(Refused) as refused:
        await tasks.snooze(session, anna, task.id, to_day, "", 1, TODAY)
    assert refused.value.errors == {"to_day": message}


async def test_the_quick_snooze_choices_count_from_today_or_the_later_due_date(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = world["anna"]
    overdue = await tasks.create_task(session, anna, wanted(anna, None, due_on=TODAY - timedelta(days=3)), TODAY)
    later = await tasks.create_task(session, anna, wanted(anna, None, due_on=date(2026, 12, 2)), TODAY)
    assert [choice.day for choice in tasks.snooze_choices(overdue, TODAY)] == [
        date(2026, 11, 28),
        date(2026, 11, 30),
        date(2026, 11, 30),
    ]
    assert [(c.label, c.day) for c in tasks.snooze_choices(later, TODAY)] == [
        ("+1 day", date(2026, 12, 3)),
        ("+3 days", date(2026, 12, 5)),
        ("Next Monday", date(2026, 12, 7)),
    ]


async def test_completing_twice_tells_the_second_who_did_it_and_changes_nothing(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, finance = world["anna"], world["finance"]
    task = await tasks.create_task(session, anna, wanted(anna, world["mine"]), TODAY)
    done = await tasks.complete(session, anna, task.id, 1)
    assert done.status is TaskStatus.DONE and done.closed_by_id == anna.id and done.version == 2
    with pytest.raises(Refused) as refused:
        await tasks.complete(session, finance, task.id, 1)
    assert refused.value.message == "Anna Kowalska marked this task done at 10:00. Nothing was changed."
    with pytest.raises(Refused) as refused:
        await tasks.snooze(session, anna, task.id, TODAY + timedelta(days=5), "", 2, TODAY)
    assert "Reopen it to snooze it." in refused.value.message
    assert [event.kind for event in await events_of(session, task)] == [TaskEventKind.CREATED, TaskEventKind.DONE]
    reopened = await tasks.reopen(session, finance, task.id, 2)
    assert reopened.status is TaskStatus.OPEN and reopened.closed_at is None and reopened.version == 3
    cancelled = await tasks.cancel(session, anna, task.id, 3)
    assert cancelled.status is TaskStatus.CANCELLED
    assert (await events_of(session, task))[-2:][0].kind is TaskEventKind.REOPENED


async def test_of_two_changes_made_on_the_same_version_the_later_is_told_who_changed_it_and_when(
    session: AsyncSession, world: dict[str, Any], frozen_clock: Any
) -> None:
    anna, admin = world["anna"], world["admin"]
    task = await tasks.create_task(session, anna, wanted(anna, world["mine"]), TODAY)
    frozen_clock.advance(minutes=14)
    await tasks.edit_task(session, admin, task.id, wanted(anna, world["mine"], title="Call Jan today"), 1, TODAY)
    with pytest.raises(Conflict) as conflict:
        await tasks.edit_task(session, anna, task.id, wanted(anna, world["mine"], notes="Ask about pallets"), 1, TODAY)
    assert conflict.value.status_code == 409
    assert conflict.value.message == (
        "This task was changed by Adam Admin at 10:14 meanwhile; here it is now — check and save again."
    )
    with pytest.raises(Conflict):
        await tasks.snooze(session, anna, task.id, TODAY + timedelta(days=4), "", 1, TODAY)
    await session.refresh(task)
    assert (task.title, task.notes, task.version) == ("Call Jan today", "", 2)


async def test_the_conditional_update_tells_the_later_of_two_who_read_the_same_version(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    """Both read version 1 before either wrote: the write itself (… WHERE version = 1) refuses the later."""
    anna = world["anna"]
    task = await tasks.create_task(session, anna, wanted(anna, world["mine"]), TODAY)
    first = await tasks._open_task(session, task.id, 1, "edit")
    event = TaskEvent(actor_id=anna.id, kind=TaskEventKind.DONE)
    await tasks._save(session, first, 1, {"status": TaskStatus.DONE}, event)
    with pytest.raises(Conflict):
        await tasks._save(session, first, 1, {"status": TaskStatus.CANCELLED}, TaskEvent(kind=TaskEventKind.CANCELLED))


async def test_an_edit_keeps_an_old_due_date_but_refuses_moving_it_far_back_and_records_what_changed(
    session: AsyncSession, world: dict[str, Any], frozen_clock: Any
) -> None:
    anna = world["anna"]
    task = await tasks.create_task(session, anna, wanted(anna, world["mine"], due_on=TODAY - timedelta(days=30)), TODAY)
    later = TODAY + timedelta(days=10)  # the task is 40 days overdue by then
    changed = await tasks.edit_task(
        session, anna, task.id, wanted(anna, world["mine"], due_on=task.due_on, title="Call Jan"), 1, later
    )
    assert changed.title == "Call Jan" and changed.version == 2
    with pytest.raises(Refused) as refused:
        await tasks.edit_task(
            session, anna, task.id, wanted(anna, world["mine"], due_on=later - timedelta(days=31)), 2, later
        )
    assert set(refused.value.errors) == {"due_on"}
    last = (await events_of(session, task))[-1]
    assert last.kind is TaskEventKind.CHANGED and tasks.HistoryEntry(last).changes == "title"
    unchanged = await tasks.edit_task(
        session, anna, task.id, wanted(anna, world["mine"], due_on=task.due_on, title="Call Jan"), 2, later
    )
    assert unchanged.version == 2  # nothing changed, nothing written


# --- My day ------------------------------------------------------------------------------------------


async def my_day_titles(session: AsyncSession, user: User, today: date = TODAY) -> tuple[list[str], ...]:
    day = await tasks.my_day(session, user, today)
    return tuple([row.title for row in rows] for rows in (day.overdue, day.today, day.next_7_days))


async def test_my_day_is_overdue_today_and_the_next_7_days_of_open_tasks(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, piotr = world["anna"], world["piotr"]
    for title, days in [("Late", -2), ("At 9", 0), ("Any time today", 0), ("In a week", 7), ("In 8 days", 8)]:
        due_time = time(9) if title == "At 9" else None
        due_on = TODAY + timedelta(days)
        await tasks.create_task(
            session, anna, wanted(anna, world["mine"], title=title, due_on=due_on, due_time=due_time), TODAY
        )
    done = await tasks.create_task(
        session, anna, wanted(anna, world["mine"], title="Done already", due_on=TODAY), TODAY
    )
    await tasks.complete(session, anna, done.id, 1)
    await tasks.create_task(session, piotr, wanted(piotr, world["piotrs"], title="Piotr's", due_on=TODAY), TODAY)
    assert await my_day_titles(session, anna) == (["Late"], ["At 9", "Any time today"], ["In a week"])
    day = await tasks.my_day(session, anna, TODAY)
    assert day.overdue[0].overdue and day.overdue[0].days_overdue == 2 and day.count == 4
    assert day.today[0].time == "09:00" and day.today[0].someone_elses is None
    assert await tasks.due_count(session, anna, TODAY) == 3


async def test_a_deputy_sees_the_colleagues_open_tasks_of_the_covered_customers_while_covering(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, ola = world["anna"], world["ola"]
    olas = await make_company(session, name="Ola's customer", account_manager_id=ola.id)
    await tasks.create_task(session, ola, wanted(ola, olas, title="Ola's call", due_on=TODAY), TODAY)
    await tasks.create_task(session, ola, wanted(ola, None, title="Ola's own errand", due_on=TODAY), TODAY)
    assert await my_day_titles(session, anna) == ([], [], [])
    session.add(Deputy(manager_id=ola.id, deputy_id=anna.id, starts_on=TODAY, ends_on=TODAY + timedelta(days=3)))
    await session.flush()
    day = await tasks.my_day(session, anna, TODAY)
    assert [row.title for row in day.today] == ["Ola's call"]
    assert day.today[0].someone_elses is not None and day.today[0].someone_elses.full_name == "Ola Wiśniewska"
    after = TODAY + timedelta(days=4)
    assert (await tasks.my_day(session, anna, after)).count == 0  # the cover is over


async def test_team_tasks_are_in_the_my_day_of_the_team_and_of_admins(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    company = world["mine"]
    key = tasks.origin_key(TaskReason.PROSPECT_WON, 4)
    await tasks.add_system_task(
        session,
        tasks.SystemTask(
            reason=TaskReason.PROSPECT_WON,
            key=key,
            due_on=TODAY,
            title="Set terms and credit for Northwind",
            team=Role.FINANCE,
            company_id=company.id,
        ),
    )
    admins = await tasks.my_day(session, world["admin"], TODAY)
    assert [row.title for row in admins.today] == ["Set terms and credit for Northwind"]
    assert admins.today[0].team == "Finance team"
    assert (await tasks.my_day(session, world["finance"], TODAY)).count == 1
    assert (await tasks.my_day(session, world["anna"], TODAY)).count == 0


async def test_a_system_task_is_worded_from_its_reason_and_says_why(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, company = world["anna"], world["mine"]
    quote = await make_quote(session, company, "Q-2026-000777")
    made = await tasks.add_system_task(
        session,
        tasks.SystemTask(
            reason=TaskReason.QUOTE_EXPIRING,
            key=tasks.origin_key(TaskReason.QUOTE_EXPIRING, quote.id, "v1"),
            due_on=TODAY,
            title="Follow up quote Q-2026-000777",
            owner_id=anna.id,
            company_id=company.id,
            quote_id=quote.id,
        ),
    )
    assert made is not None
    [row] = await tasks.open_tasks_for(session, TODAY, company_id=company.id)
    assert row.title == "Follow up quote Q-2026-000777"
    why = row.why
    assert why is not None and (why.kind, why.target_id) == ("quote", quote.id)
    assert why.text == "Quote Q-2026-000777 expires on 29 Nov 2026."
    # a system task keeps its title and links whatever the form sends
    changed = await tasks.edit_task(
        session, anna, made, wanted(anna, None, title="Something else", due_on=TODAY + timedelta(days=1)), 1, TODAY
    )
    assert (changed.title, changed.quote_id, changed.company_id) == (
        "Follow up quote Q-2026-000777",
        quote.id,
        company.id,
    )


async def test_open_tasks_of_a_customer_are_its_open_ones_earliest_first(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, company = world["anna"], world["mine"]
    await tasks.create_task(session, anna, wanted(anna, company, title="Second", due_on=TODAY), TODAY)
    await tasks.create_task(session, anna, wanted(anna, company, title="First", due_on=TODAY - timedelta(1)), TODAY)
    await tasks.create_task(session, anna, wanted(anna, None, title="Not theirs", due_on=TODAY), TODAY)
    closed = await tasks.create_task(session, anna, wanted(anna, company, title="Closed", due_on=TODAY), TODAY)
    await tasks.cancel(session, anna, closed.id, 1)
    rows = await tasks.open_tasks_for(session, TODAY, company_id=company.id)
    assert [(row.title, row.overdue) for row in rows] == [("First", True), ("Second", False)]


async def test_a_task_for_a_prospect_is_its_owners_and_nobody_elses_to_link(
    session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, piotr = world["anna"], world["piotr"]
    prospect = Prospect(name="Hotel Bałtyk", owner_id=anna.id)
    session.add(prospect)
    await session.flush()
    contact = Contact(prospect_id=prospect.id, full_name="Ewa Nowicka")
    session.add(contact)
    await session.flush()
    task = await tasks.create_task(
        session, anna, wanted(anna, None, title="Send the catalogue", links=Links(contact_id=contact.id)), TODAY
    )
    assert (task.prospect_id, task.company_id, task.contact_id) == (prospect.id, None, contact.id)
    assert [row.title for row in await tasks.open_tasks_for(session, TODAY, prospect_id=prospect.id)] == [
        "Send the catalogue"
    ]
    with pytest.raises(NotFound):
        await tasks.create_task(session, piotr, wanted(piotr, None, links=Links(prospect_id=prospect.id)), TODAY)
