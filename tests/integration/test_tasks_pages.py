"""Tasks over HTTP: the new-task form (prefilled from the customer page), the task page's forms
(change, snooze, done, cancel, reopen) with each refusal next to its field, two people saving the
same version, "My day" on the home pages, the list of one's tasks, and what another manager's
customer answers (404)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import format_date
from portal.models import Company, Deputy, Role, Task, TaskReason, TaskStatus, User
from portal.services import tasks
from portal.services.tasks import Links, TaskInput
from tests.factories import csrf_from, make_company, make_user, sign_in, text_of
from tests.queries import counted_statements

TODAY = date(2026, 11, 27)
"""A Friday: the seller's today under `frozen_clock`."""


@pytest.fixture
async def world(session: AsyncSession, frozen_clock: Any) -> dict[str, Any]:
    anna = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Anna Kowalska", email="anna@seller.example")
    piotr = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Piotr Nowak", email="piotr@seller.example")
    finance = await make_user(session, Role.FINANCE, full_name="Fiona Finance", email="fin@seller.example")
    admin = await make_user(session, Role.ADMIN, full_name="Adam Admin", email="admin@seller.example")
    mine = await make_company(session, name="Northwind Trading", account_manager_id=anna.id)
    theirs = await make_company(session, name="Baltic Foods", account_manager_id=piotr.id)
    await session.commit()
    return {"anna": anna, "piotr": piotr, "finance": finance, "admin": admin, "mine": mine, "theirs": theirs}


async def make_task(
    session: AsyncSession, owner: User, company: Company | None, title: str = "Call about pallets", days: int = 0
) -> Task:
    wanted = TaskInput(title, TODAY + timedelta(days=days), owner.id, links=Links(company.id if company else None))
    task = await tasks.create_task(session, owner, wanted, TODAY)
    await session.commit()
    return task


def error_of(html: str, key: str) -> str:
    return text_of(html.split(f'id="{key}-error"')[1].split(">", 1)[1].split("</p>")[0])


def section(html: str, element_id: str, end: str = "</section>") -> str:
    return html.split(f'id="{element_id}"')[1].split(end)[0]


async def task_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(Task)) or 0


async def post(client: AsyncTestClient, url: str, data: dict[str, str], **options: Any) -> Any:
    return await client.post(url, data=data, follow_redirects=False, **options)


def form_of(**values: Any) -> dict[str, str]:
    base = {"title": "Call Jan about the Q1 order", "due_on": (TODAY + timedelta(days=2)).isoformat()}
    base.update({key: str(value) for key, value in values.items()})
    return {key: value for key, value in base.items() if value != "None"}


# --- making a task ----------------------------------------------------------------------------------


async def test_a_task_started_on_the_customer_page_is_saved_and_shows_there_and_in_my_day(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, company = world["anna"], world["mine"]
    await sign_in(client, anna.email)
    customer = await client.get(f"/customers/{company.id}")
    due = section(customer.text, "due")
    assert "No open tasks." in text_of(due) and f'href="/tasks/new?company_id={company.id}"' in due
    form = await client.get(f"/tasks/new?company_id={company.id}")
    assert form.status_code == 200
    assert f'<option value="{company.id}" selected>Northwind Trading</option>' in form.text
    assert "Baltic Foods" not in form.text  # only the customers Anna sees are offered
    saved = await post(
        client,
        "/tasks",
        data=form_of(company_id=company.id, owner_id=anna.id, due_time="14:30", _csrf_token=csrf_from(form.text)),
    )
    assert saved.status_code == 303
    task = await session.scalar(select(Task))
    assert task is not None and saved.headers["location"] == f"/tasks/{task.id}"
    shown = text_of((await client.get(saved.headers["location"])).text)
    assert "Task saved." in shown and "Call Jan about the Q1 order" in shown and "14:30" in shown
    assert f"Made by Anna Kowalska, due {format_date(TODAY + timedelta(days=2))}" in shown
    home = (await client.get("/manager")).text
    assert "Call Jan about the Q1 order" in text_of(section(home, "my-day-next", "</ul>"))
    listed = text_of(section((await client.get(f"/customers/{company.id}")).text, "customer-tasks", "</table>"))
    assert "Call Jan about the Q1 order" in listed and "Anna Kowalska" in listed


REFUSALS: list[tuple[dict[str, Any], str, str]] = [
    ({"title": "   "}, "title", "Say what is to be done."),
    ({"title": "x" * 201}, "title", "Use at most 200 characters."),
    ({"due_on": "2026-10-27"}, "due_on", "A due date can be at most 30 days back: 28 Oct 2026 at the earliest."),
    ({"due_on": "2029-01-05"}, "due_on", "A due date can be at most 2 years ahead: 27 Nov 2028 at the latest."),
    ({"due_on": "27.11.2026"}, "due_on", "Enter the date as YYYY-MM-DD."),
    ({"due_on": None}, "due_on", "This field is required."),
    ({"due_time": "25:00"}, "due_time", "Enter the time as HH:MM, such as 14:30."),
    ({"owner": "piotr"}, "owner_id", "Piotr Nowak does not look after this customer; choose who does."),
    ({"owner": "finance"}, "owner_id", "Choose an active account manager."),
    ({"notes": "n" * 5001}, "notes", "Use at most 5,000 characters."),
]


async def test_a_refused_new_task_is_shown_with_the_message_next_to_its_field_and_nothing_saved(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, company = world["anna"], world["mine"]
    await sign_in(client, anna.email)
    page = await client.get(f"/tasks/new?company_id={company.id}")
    for case, field, message in REFUSALS:
        values = dict(case)
        owner = world[values.pop("owner", "anna")]
        sent = form_of(company_id=company.id, owner_id=owner.id, _csrf_token=csrf_from(page.text), **values)
        refused = await post(client, "/tasks", data=sent)
        assert refused.status_code == 400, case
        assert error_of(refused.text, field) == message, case
        assert f'aria-describedby="{field}-error"' in refused.text
        assert f'<option value="{company.id}" selected>' in refused.text  # what was chosen is kept
        if field != "title":
            assert 'value="Call Jan about the Q1 order"' in refused.text
    assert await task_count(session) == 0


async def test_another_managers_customer_answers_404_to_a_new_task_and_to_its_tasks(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, theirs = world["anna"], world["theirs"]
    their_task = await make_task(session, world["piotr"], theirs, "Piotr's call")
    await sign_in(client, anna.email)
    page = await client.get("/tasks/new")
    token = csrf_from(page.text)
    assert (await client.get(f"/tasks/new?company_id={theirs.id}")).status_code == 404
    linked = await post(client, "/tasks", data=form_of(company_id=theirs.id, owner_id=anna.id, _csrf_token=token))
    assert linked.status_code == 404
    assert await task_count(session) == 1
    assert (await client.get(f"/tasks/{their_task.id}")).status_code == 404
    done = await post(client, f"/tasks/{their_task.id}/complete", data={"version": "1", "_csrf_token": token})
    assert done.status_code == 404
    await session.refresh(their_task)
    assert their_task.status is TaskStatus.OPEN
    assert "Piotr's call" not in (await client.get("/tasks")).text


# --- the task page's forms --------------------------------------------------------------------------


async def test_a_change_is_saved_and_a_refused_one_shows_its_message_next_to_the_field(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, company = world["anna"], world["mine"]
    task = await make_task(session, anna, company)
    await sign_in(client, anna.email)
    page = await client.get(f"/tasks/{task.id}")
    edit = section(page.text, "edit")
    assert 'value="Call about pallets"' in edit and 'name="version" value="1"' in edit
    token = csrf_from(page.text)
    base = form_of(title="Call about pallets", company_id=company.id, owner_id=anna.id, version=1, _csrf_token=token)
    refused = await post(client, f"/tasks/{task.id}", data={**base, "due_on": "2025-01-01"})
    assert refused.status_code == 400
    assert "at most 30 days back" in error_of(refused.text, "due_on")
    assert 'name="due_on" type="date" value="2025-01-01"' in refused.text
    saved = await post(client, f"/tasks/{task.id}", data={**base, "notes": "Ask for the EUR pallets back"})
    assert saved.status_code == 303
    shown = text_of((await client.get(f"/tasks/{task.id}")).text)
    assert "Task changed." in shown and "Ask for the EUR pallets back" in shown
    assert "Changed by Anna Kowalska: notes, due date (due 27 Nov 2026 → 29 Nov 2026)" in shown


async def test_of_two_forms_of_the_same_version_the_later_is_told_and_sees_the_task_as_it_is_now(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any], frozen_clock: Any
) -> None:
    anna, company = world["anna"], world["mine"]
    task = await make_task(session, anna, company)
    await sign_in(client, anna.email)
    token = csrf_from((await client.get(f"/tasks/{task.id}")).text)
    first_tab = form_of(title="Call Jan at 9", company_id=company.id, owner_id=anna.id, version=1, _csrf_token=token)
    second_tab = {**first_tab, "title": "Email Jan instead"}
    frozen_clock.advance(minutes=5)
    assert (await post(client, f"/tasks/{task.id}", data=first_tab)).status_code == 303
    later = await post(client, f"/tasks/{task.id}", data=second_tab)
    assert later.status_code == 409
    assert error_of(later.text, "task") == (
        "This task was changed by Anna Kowalska at 10:05 meanwhile; here it is now — check and save again."
    )
    assert "<h1>Call Jan at 9" in later.text  # the task as it is now
    edit = section(later.text, "edit")
    assert 'name="version" value="2"' in edit and 'value="Email Jan instead"' in edit  # what was typed, to save again
    await session.refresh(task)
    assert (task.title, task.version) == ("Call Jan at 9", 2)


async def test_snoozing_with_a_quick_choice_or_a_day_keeps_the_history_and_refuses_a_past_day(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = world["anna"]
    task = await make_task(session, anna, world["mine"], days=-2)
    await sign_in(client, anna.email)
    page = await client.get(f"/tasks/{task.id}")
    choices = text_of(section(page.text, "snooze-choices", "</p>"))
    assert "+1 day · 28 Nov 2026" in choices and "Next Monday · 30 Nov 2026" in choices
    token = csrf_from(page.text)
    past = await post(
        client, f"/tasks/{task.id}/snooze", data={"to_day": "2026-11-20", "version": "1", "_csrf_token": token}
    )
    assert past.status_code == 400 and error_of(past.text, "to_day") == "Snooze to today or a later day."
    assert 'id="snooze-to-day" name="to_day" type="date" value="2026-11-20"' in past.text
    quick = await post(
        client,
        f"/tasks/{task.id}/snooze",
        data={"quick": "2026-11-30", "note": "Jan is away until Monday", "version": "1", "_csrf_token": token},
    )
    assert quick.status_code == 303
    shown = text_of((await client.get(f"/tasks/{task.id}")).text)
    assert "Snoozed until 30 Nov 2026." in shown
    assert "Snoozed by Anna Kowalska from 25 Nov 2026 to 30 Nov 2026: Jan is away until Monday" in shown


async def test_done_cancelled_and_reopened_from_the_task_page_and_a_closed_task_cannot_be_snoozed(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = world["anna"]
    task = await make_task(session, anna, world["mine"])
    await sign_in(client, anna.email)
    token = csrf_from((await client.get(f"/tasks/{task.id}")).text)
    done = await post(client, f"/tasks/{task.id}/complete", data={"version": "1", "_csrf_token": token})
    assert done.status_code == 303 and done.headers["location"] == f"/tasks/{task.id}"
    again = await post(client, f"/tasks/{task.id}/complete", data={"version": "1", "_csrf_token": token})
    assert again.status_code == 400
    assert error_of(again.text, "close") == "Anna Kowalska marked this task done at 10:00. Nothing was changed."
    snoozed = await post(
        client, f"/tasks/{task.id}/snooze", data={"to_day": "2026-12-01", "version": "2", "_csrf_token": token}
    )
    assert snoozed.status_code == 400 and 'id="snooze-form"' not in snoozed.text
    assert error_of(snoozed.text, "close") == ("Anna Kowalska marked this task done at 10:00. Reopen it to snooze it.")
    assert (
        await post(client, f"/tasks/{task.id}/reopen", data={"version": "2", "_csrf_token": token})
    ).status_code == 303
    cancelled = await post(
        client, f"/tasks/{task.id}/cancel", data={"version": "3", "back": "customer", "_csrf_token": token}
    )
    assert cancelled.headers["location"] == f"/customers/{world['mine'].id}"
    await session.refresh(task)
    assert task.status is TaskStatus.CANCELLED and task.version == 4
    history = text_of(section((await client.get(f"/tasks/{task.id}")).text, "task-history", "</ol>"))
    for words in ("Cancelled by Anna Kowalska", "Reopened by Anna Kowalska", "Marked done by Anna Kowalska"):
        assert words in history
    assert (await post(client, f"/tasks/{task.id}/complete", data={"_csrf_token": token})).status_code == 400


async def test_marking_done_from_my_day_swaps_the_row_for_htmx_and_goes_home_without_it(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna = world["anna"]
    first = await make_task(session, anna, world["mine"], "Call Jan")
    second = await make_task(session, anna, world["mine"], "Send the price list", days=-1)
    await sign_in(client, anna.email)
    home = await client.get("/manager")
    assert "Send the price list" in text_of(section(home.text, "my-day-overdue", "</ul>"))
    assert "1 day overdue" in text_of(section(home.text, "my-day-overdue", "</ul>"))
    token = csrf_from(home.text)
    htmx = {"hx-request": "true", "x-csrftoken": token}
    swapped = await post(client, f"/tasks/{first.id}/complete", data={"version": "1", "back": "home"}, headers=htmx)
    assert swapped.status_code == 200 and swapped.text.lstrip().startswith(
        f'<li class="task-row" id="task-row-{first.id}"'
    )
    assert "Done" in text_of(swapped.text) and "Undo" in text_of(swapped.text)
    told = await post(client, f"/tasks/{first.id}/complete", data={"version": "1", "back": "home"}, headers=htmx)
    assert told.status_code == 200 and "marked this task done" in text_of(told.text)
    assert 'class="row-error"' in told.text
    plain = await post(
        client, f"/tasks/{second.id}/complete", data={"version": "1", "back": "home", "_csrf_token": token}
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/manager"
    assert "Nothing overdue, nothing due today" in text_of((await client.get("/manager")).text)


# --- lists, My day of finance and admins, the count in the navigation ------------------------------


async def test_the_task_list_shows_open_done_and_cancelled_and_the_teams(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    finance, company = world["finance"], world["mine"]
    await tasks.add_system_task(
        session,
        tasks.SystemTask(
            reason=TaskReason.PROSPECT_WON,
            key=tasks.origin_key(TaskReason.PROSPECT_WON, 1),
            due_on=TODAY,
            title="Set terms and credit for Northwind Trading",
            team=Role.FINANCE,
            company_id=company.id,
        ),
    )
    own = await make_task(session, finance, world["theirs"], "Chase the overdue invoice", days=3)
    await tasks.complete(session, finance, own.id, 1)
    await session.commit()
    await sign_in(client, finance.email)
    home = text_of(section((await client.get("/finance")).text, "my-day"))
    assert "Set terms and credit for Northwind Trading" in home and "Finance team" in home
    assert "Why: Northwind Trading was won as a prospect and is a customer now." in home
    mine = text_of((await client.get("/tasks")).text)
    assert "Set terms and credit" in mine and "Chase the overdue invoice" not in mine and "1 task" in mine
    done = text_of((await client.get("/tasks?status=done")).text)
    assert "Chase the overdue invoice" in done
    team = text_of((await client.get("/tasks?scope=team")).text)
    assert "Set terms and credit" in team
    assert (await client.get("/tasks?status=finished")).status_code == 400
    assert text_of((await client.get("/tasks/due-count")).text) == "1"


async def test_a_deputy_has_the_covered_colleagues_tasks_in_my_day(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    anna, piotr = world["anna"], world["piotr"]
    await make_task(session, piotr, world["theirs"], "Piotr's follow-up")
    session.add(Deputy(manager_id=piotr.id, deputy_id=anna.id, starts_on=TODAY, ends_on=TODAY + timedelta(days=2)))
    await session.commit()
    await sign_in(client, anna.email)
    today = text_of(section((await client.get("/manager")).text, "my-day-today", "</ul>"))
    assert "Piotr's follow-up" in today and "for Piotr Nowak" in today


async def test_the_admins_home_has_their_own_and_the_finance_teams_tasks(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    admin = world["admin"]
    await make_task(session, admin, world["mine"], "Check the new price list", days=1)
    await sign_in(client, admin.email)
    shown = text_of(section((await client.get("/admin")).text, "my-day"))
    assert "Check the new price list" in shown and "Next 7 days (1)" in shown


# --- what the pages cost ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/tasks", "/manager"])
async def test_the_task_list_and_my_day_cost_the_same_queries_for_3_and_30_tasks(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any], path: str
) -> None:
    anna, company = world["anna"], world["mine"]
    await sign_in(client, anna.email)
    made = 0

    async def statements_for(count: int) -> int:
        nonlocal made
        for _ in range(count - made):
            made += 1
            await make_task(session, anna, company, f"Task {made}", days=made % 9 - 1)
        with counted_statements(client.app) as statements:
            page = await client.get(path)
            assert page.status_code == 200
        return len(statements)

    few = await statements_for(3)
    many = await statements_for(30)
    assert few == many
    # /tasks: session, user, the queue counter (covers, pending orders), covers, the count, the page of tasks
    assert many <= (7 if path == "/tasks" else 11)
