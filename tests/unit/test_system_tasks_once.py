"""A system task is made once per thing it is about, whoever asks how often."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Role, Task, TaskEvent, TaskReason, TaskStatus
from portal.services import tasks
from tests.factories import make_company, make_user


async def test_the_same_origin_makes_one_task_and_one_created_event(session: AsyncSession) -> None:
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="am@seller.example")
    company = await make_company(session, name="Warta", account_manager_id=manager.id)
    wanted = tasks.SystemTask(
        reason=TaskReason.LATE_CUSTOMER,
        key=tasks.origin_key(TaskReason.LATE_CUSTOMER, company.id, date(2026, 11, 2)),
        due_on=date(2026, 12, 6),
        title="Call Warta about their usual order",
        owner_id=manager.id,
        company_id=company.id,
    )
    first = await tasks.add_system_task(session, wanted)
    again = await tasks.add_system_task(session, wanted)
    assert first is not None and again is None
    assert wanted.key == f"late_customer:{company.id}:2026-11-02"
    task = await session.scalar(select(Task).where(Task.id == first))
    assert task is not None and task.status is TaskStatus.OPEN and task.owner_id == manager.id
    assert await session.scalar(select(func.count()).select_from(Task)) == 1
    assert await session.scalar(select(func.count()).select_from(TaskEvent)) == 1
    await session.refresh(task, ["company", "prospect", "quote", "order"])
    assert tasks.title_of(task) == "Call Warta about their usual order"
