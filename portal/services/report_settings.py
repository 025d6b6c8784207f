"""The report settings an admin keeps: what the reports price trade credit and service with.

- the annual rate trade credit costs the seller, a percentage from 0 to 100 (cost of credit =
  unpaid balance × days × rate ÷ 365);
- what handling one order, one delivery under the free-delivery threshold, one quote version sent
  and one order a person decided cost, each an amount of 0 or more (two decimals, within the
  column).
They are applied when a report is read (`reports.Figures`), so a change shows on every report at
once, with no new summary. One row (id 1), which migration 0017 creates; should it be missing, the
reports count the defaults (`reports.DEFAULT_SETTINGS`) and saving creates it. Every change is
audited."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from portal import clock
from portal.errors import Refused
from portal.i18n import gettext
from portal.models import ReportSettings, User
from portal.services import audit, reports

RATE_FIELD = "credit_rate_pct"
COST_FIELDS = ("order_cost", "delivery_cost", "quote_cost", "approval_cost")
FIELDS = (RATE_FIELD, *COST_FIELDS)
MAX_RATE = Decimal("100")
MAX_COST = Decimal("999999999999.99")
"""The largest amount NUMERIC(14,2) holds."""
CENT = Decimal("0.01")


async def current(session: AsyncSession) -> ReportSettings:
    """The settings with who last changed them (the defaults, unsaved, should the row be missing)."""
    found = await session.scalar(
        select(ReportSettings).where(ReportSettings.id == 1).options(joinedload(ReportSettings.updated_by))
    )
    return found or ReportSettings(id=1, updated_by=None, **reports.DEFAULT_SETTINGS)


def _problems(values: Mapping[str, Decimal | None]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name in FIELDS:
        value = values.get(name)
        limit = MAX_RATE if name == RATE_FIELD else MAX_COST
        if value is None:
            errors[name] = gettext("This field is required.")
        elif value != value.quantize(CENT):
            errors[name] = gettext("Use at most %(places)d decimal places.") % {"places": 2}
        elif name == RATE_FIELD and not 0 <= value <= limit:
            errors[name] = gettext("Enter a percentage from 0 to 100.")
        elif not 0 <= value <= limit:
            errors[name] = gettext("Enter an amount of 0 or more.")
    return errors


async def save(session: AsyncSession, actor: User, values: Mapping[str, Decimal | None]) -> ReportSettings:
    """Saves all five values, or none: any wrong one refuses them all, with a message at its field."""
    if errors := _problems(values):
        raise Refused(gettext("Please correct the marked fields."), errors=errors)
    row = await session.get(ReportSettings, 1, with_for_update=True)
    if row is None:
        row = ReportSettings(id=1, **reports.DEFAULT_SETTINGS)
        session.add(row)
    before = audit.snapshot(row, FIELDS)
    for name in FIELDS:
        setattr(row, name, values[name])
    changes = audit.changed(before, audit.snapshot(row, FIELDS))
    if changes:
        row.updated_at, row.updated_by_id = clock.now(), actor.id
        audit.record(session, actor, "update", "report_settings", 1, "report settings", changes=changes)
    await session.flush()
    return row
