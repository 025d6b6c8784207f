"""The pipeline's settings an admin keeps: the reasons an opportunity may be lost for, and the
chance an opportunity at each stage is won (for the pipeline's weighted value).

- Lost reasons are a short ordered list. A label is unique (whatever its letter case) and at most
  200 characters. A reason no longer offered is retired, never deleted, so a lost opportunity keeps
  the reason it was lost for; a retired one can be offered again. The order is the admin's.
- A probability is a percentage from 0 to 100 for lead, qualified, offer and negotiation; a won
  opportunity counts 100 % and a lost one 0 %, always. A stage without a saved value counts its
  default (`DEFAULT_PERCENT`, as the migration seeds them).
Every change is audited."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import NotFound, Refused
from portal.i18n import gettext
from portal.models import LostReason, Stage, StageProbability, User
from portal.services import audit

LABEL_MAX = 200
"""`lost_reasons.label` is VARCHAR(200)."""
EDITABLE_STAGES = (Stage.LEAD, Stage.QUALIFIED, Stage.OFFER, Stage.NEGOTIATION)
FIXED_PERCENT = {Stage.WON: Decimal("100"), Stage.LOST: Decimal("0")}
DEFAULT_PERCENT = {
    Stage.LEAD: Decimal("10"),
    Stage.QUALIFIED: Decimal("25"),
    Stage.OFFER: Decimal("50"),
    Stage.NEGOTIATION: Decimal("75"),
    **FIXED_PERCENT,
}
HUNDRED = Decimal("100")
CENT = Decimal("0.01")


# Lost reasons.
async def lost_reasons(session: AsyncSession, *, active_only: bool = False) -> list[LostReason]:
    """The reasons in the admin's order (retired ones too, unless `active_only`)."""
    statement = select(LostReason).order_by(LostReason.position, LostReason.id)
    if active_only:
        statement = statement.where(LostReason.is_active.is_(True))
    return list(await session.scalars(statement))


async def _reason(session: AsyncSession, reason_id: int) -> LostReason:
    reason = await session.get(LostReason, reason_id)
    if reason is None:
        raise NotFound()
    return reason


async def _checked_label(session: AsyncSession, label: str, reason_id: int | None) -> str:
    label = label.strip()
    if not label:
        raise Refused(gettext("Enter the reason."), "label")
    if len(label) > LABEL_MAX:
        raise Refused(gettext("Use at most %(limit)s characters.") % {"limit": LABEL_MAX}, "label")
    same = await session.scalar(
        select(LostReason.id).where(func.lower(LostReason.label) == label.lower(), LostReason.id != (reason_id or 0))
    )
    if same is not None:
        raise Refused(gettext("This reason is on the list already."), "label")
    return label


async def add_lost_reason(session: AsyncSession, actor: User, label: str) -> LostReason:
    """A new reason, offered at the end of the list."""
    label = await _checked_label(session, label, None)
    last = await session.scalar(select(func.max(LostReason.position)))
    reason = LostReason(label=label, is_active=True, position=(last or 0) + 1)
    session.add(reason)
    await session.flush()
    audit.record(session, actor, "create", "lost_reason", reason.id, label, changes={"label": [None, label]})
    await session.flush()
    return reason


async def rename_lost_reason(session: AsyncSession, actor: User, reason_id: int, label: str) -> LostReason:
    """A new wording; opportunities lost for it show the new one."""
    reason = await _reason(session, reason_id)
    label = await _checked_label(session, label, reason.id)
    if label != reason.label:
        changes: dict[str, list[str | None]] = {"label": [reason.label, label]}
        reason.label = label
        audit.record(session, actor, "update", "lost_reason", reason.id, label, changes=changes)
        await session.flush()
    return reason


async def set_lost_reason_active(session: AsyncSession, actor: User, reason_id: int, active: bool) -> LostReason:
    """Retires a reason (no longer offered; opportunities lost for it keep it) or offers it again."""
    reason = await _reason(session, reason_id)
    if reason.is_active != active:
        reason.is_active = active
        action = "reactivate" if active else "retire"
        changes = {"active": [audit.as_text(not active), audit.as_text(active)]}
        audit.record(session, actor, action, "lost_reason", reason.id, reason.label, changes=changes)
        await session.flush()
    return reason


async def move_lost_reason(
    session: AsyncSession, actor: User, reason_id: int, direction: Literal["up", "down"]
) -> LostReason:
    """Moves a reason one place up or down the list (the first stays first, the last last)."""
    reasons = await lost_reasons(session)
    index = next((n for n, item in enumerate(reasons) if item.id == reason_id), None)
    if index is None:
        raise NotFound()
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(reasons):
        return reasons[index]
    reasons[index], reasons[target] = reasons[target], reasons[index]
    for position, item in enumerate(reasons):
        item.position = position
    moved = reasons[target]
    changes: dict[str, list[str | None]] = {"position": [str(index + 1), str(target + 1)]}
    audit.record(session, actor, "reorder", "lost_reason", moved.id, moved.label, changes=changes)
    await session.flush()
    return moved


# Stage probabilities.
async def probabilities(session: AsyncSession) -> dict[Stage, Decimal]:
    """The chance of winning, in per cent, for every stage (one query)."""
    saved = {row.stage: row.percent for row in await session.scalars(select(StageProbability))}
    percent = {stage: saved.get(stage, DEFAULT_PERCENT[stage]) for stage in Stage}
    percent.update(FIXED_PERCENT)
    return percent


async def set_probabilities(
    session: AsyncSession, actor: User, values: Mapping[Stage, Decimal]
) -> dict[Stage, Decimal]:
    """Saves the percentages of lead, qualified, offer and negotiation (0–100, at most 2 decimals);
    won and lost stay 100 and 0. Any wrong value refuses them all, with a message at its field."""
    errors: dict[str, str] = {}
    for stage in EDITABLE_STAGES:
        value = values.get(stage)
        if value is None:
            errors[stage.value] = gettext("Enter a percentage from 0 to 100.")
        elif value != value.quantize(CENT) or not 0 <= value <= HUNDRED:
            errors[stage.value] = gettext("Enter a percentage from 0 to 100, with at most 2 decimals.")
    if errors:
        raise Refused(gettext("Please correct the marked fields."), errors=errors)
    rows = {row.stage: row for row in await session.scalars(select(StageProbability))}
    wanted = {stage: values[stage] for stage in EDITABLE_STAGES} | FIXED_PERCENT
    changes: dict[str, list[str | None]] = {}
    for stage, percent in wanted.items():
        row = rows.get(stage)
        if row is None:
            session.add(StageProbability(stage=stage, percent=percent))
            changes[stage.value] = [None, audit.as_text(percent)]
        elif row.percent != percent:
            changes[stage.value] = [audit.as_text(row.percent), audit.as_text(percent)]
            row.percent = percent
    if changes:
        audit.record(session, actor, "update", "stage_probabilities", None, "stage probabilities", changes=changes)
    await session.flush()
    return await probabilities(session)
