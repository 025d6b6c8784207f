"""The admin's pipeline settings over HTTP: lost reasons (add, rename, retire, offer again, reorder)
and the chance of winning by stage; a refused form comes back with its message next to the field;
other roles get 403."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import AuditEntry, LostReason, Role, Stage, StageProbability
from portal.services import pipeline_settings
from tests.factories import csrf_from, make_user, sign_in, text_of


@pytest.fixture
async def world(session: AsyncSession) -> dict[str, Any]:
    await session.execute(delete(LostReason))
    await session.execute(delete(StageProbability))
    reasons = [LostReason(label=label, position=n) for n, label in enumerate(("Price too high", "No budget", "Other"))]
    session.add_all(reasons)
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    manager = await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example")
    await session.commit()
    return {"admin": admin, "manager": manager, "reasons": reasons}


def error_of(html: str, key: str) -> str:
    return text_of(html.split(f'id="{key}-error"')[1].split(">", 1)[1].split("</p>")[0])


async def labels(session: AsyncSession) -> list[tuple[str, bool]]:
    session.expire_all()
    return [(item.label, item.is_active) for item in await pipeline_settings.lost_reasons(session)]


async def signed_in_admin(client: AsyncTestClient, world: dict[str, Any]) -> str:
    await sign_in(client, world["admin"].email)
    page = await client.get("/admin/pipeline")
    assert page.status_code == 200
    return csrf_from(page.text)


async def test_the_admin_adds_renames_retires_and_reorders_lost_reasons(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    csrf = await signed_in_admin(client, world)
    price, budget, other = (reason.id for reason in world["reasons"])
    added = await client.post("/admin/pipeline/lost-reasons", data={"label": " Lead time ", "_csrf_token": csrf})
    assert added.status_code == 200 and "Lost reason “Lead time” added." in text_of(added.text)
    await client.post(
        f"/admin/pipeline/lost-reasons/{budget}", data={"label": "No budget this year", "_csrf_token": csrf}
    )
    await client.post(f"/admin/pipeline/lost-reasons/{other}/retire", data={"_csrf_token": csrf})
    moved = await client.post(
        f"/admin/pipeline/lost-reasons/{price}/move", data={"direction": "down", "_csrf_token": csrf}
    )
    shown = text_of(moved.text)
    assert "Lost reasons reordered." in shown and "Offer again" in shown
    assert await labels(session) == [
        ("No budget this year", True),
        ("Price too high", True),
        ("Other", False),
        ("Lead time", True),
    ]
    assert [item.label for item in await pipeline_settings.lost_reasons(session, active_only=True)] == [
        "No budget this year",
        "Price too high",
        "Lead time",
    ]
    await client.post(f"/admin/pipeline/lost-reasons/{other}/reactivate", data={"_csrf_token": csrf})
    assert ("Other", True) in await labels(session)
    actions = {
        entry.action
        for entry in await session.scalars(select(AuditEntry).where(AuditEntry.object_type == "lost_reason"))
    }
    assert actions == {"create", "update", "retire", "reactivate", "reorder"}


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("", "This field is required."),
        ("   ", "Enter the reason."),
        ("x" * 201, "Use at most 200 characters."),
        ("no BUDGET", "This reason is on the list already."),
    ],
)
async def test_a_refused_reason_is_shown_next_to_its_field(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any], label: str, message: str
) -> None:
    csrf = await signed_in_admin(client, world)
    answer = await client.post("/admin/pipeline/lost-reasons", data={"label": label, "_csrf_token": csrf})
    assert answer.status_code == 400 and error_of(answer.text, "label") == message
    reason = world["reasons"][0]
    renamed = await client.post(f"/admin/pipeline/lost-reasons/{reason.id}", data={"label": label, "_csrf_token": csrf})
    assert renamed.status_code == 400 and error_of(renamed.text, f"reason-{reason.id}") == message
    assert len(await labels(session)) == 3 and (await labels(session))[0] == ("Price too high", True)


async def test_the_admin_sets_the_chance_of_each_open_stage_and_won_and_lost_stay_fixed(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any]
) -> None:
    csrf = await signed_in_admin(client, world)
    shown = text_of((await client.get("/admin/pipeline")).text)
    assert "Won: 100 % (always)" in shown and "Lost: 0 % (always)" in shown
    form = {"lead": "5", "qualified": "20,5", "offer": "50", "negotiation": "80", "_csrf_token": csrf}
    saved = await client.post("/admin/pipeline/probabilities", data=form)
    assert "Stage probabilities saved." in text_of(saved.text)
    assert await pipeline_settings.probabilities(session) == {
        Stage.LEAD: Decimal("5"),
        Stage.QUALIFIED: Decimal("20.5"),
        Stage.OFFER: Decimal("50"),
        Stage.NEGOTIATION: Decimal("80"),
        Stage.WON: Decimal("100"),
        Stage.LOST: Decimal("0"),
    }
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "stage_probabilities"))
    assert entry is not None and entry.changes["lead"] == [None, "5"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lead", "101", "Enter a percentage from 0 to 100, with at most 2 decimals."),
        ("qualified", "-1", "Enter a percentage from 0 to 100, with at most 2 decimals."),
        ("offer", "abc", "Enter a percentage from 0 to 100, with at most 2 decimals."),
        ("negotiation", "", "Enter a percentage from 0 to 100, with at most 2 decimals."),
        ("lead", "10.123", "Enter a percentage from 0 to 100, with at most 2 decimals."),
    ],
)
async def test_a_refused_chance_is_shown_next_to_its_stage_and_nothing_is_saved(
    client: AsyncTestClient, session: AsyncSession, world: dict[str, Any], field: str, value: str, message: str
) -> None:
    csrf = await signed_in_admin(client, world)
    form = {"lead": "10", "qualified": "25", "offer": "50", "negotiation": "75", field: value, "_csrf_token": csrf}
    answer = await client.post("/admin/pipeline/probabilities", data=form)
    assert answer.status_code == 400 and error_of(answer.text, field) == message
    assert await session.scalar(select(StageProbability).limit(1)) is None


async def test_the_settings_are_the_admins_only(client: AsyncTestClient, world: dict[str, Any]) -> None:
    await sign_in(client, world["manager"].email)
    assert (await client.get("/admin/pipeline")).status_code == 403
    csrf = csrf_from((await client.get("/prospects")).text)
    reason = world["reasons"][0]
    for path in (
        "/admin/pipeline/lost-reasons",
        f"/admin/pipeline/lost-reasons/{reason.id}/retire",
        "/admin/pipeline/probabilities",
    ):
        assert (await client.post(path, data={"label": "x", "_csrf_token": csrf})).status_code == 403
