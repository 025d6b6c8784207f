"""`GET /api/v1/rebates` and `POST /api/v1/rebates/{id}/acknowledge`: the ERP pulls the closed
settlement periods that earned a rebate, each with its lines (one per scope: all products or a
category), books each as a credit note and acknowledges it, which sets its `exported_at` once
(`services/agreements.py`, `closes_for_erp` and `acknowledge_close`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import PathParameter, QueryParameter

from portal.models import SettlementClose
from portal.services import agreements
from portal.services.agreements import Taken
from portal.web.api.access import CallingKey, DbSession
from portal.web.api.once import IdempotencyKey, once
from portal.web.api.problems import responses

PAGE_DEFAULT = 100
PAGE_MAX = 500
ID_MAX = 2**31 - 1

Money = Annotated[
    str,
    msgspec.Meta(pattern=r"^-?[0-9]{1,12}\.[0-9]{2}$", description="An amount with 2 decimals.", examples=["3600.00"]),
]
Percent = Annotated[
    str, msgspec.Meta(pattern=r"^[0-9]{1,3}\.[0-9]{2}$", description="A rebate in percent.", examples=["3.00"])
]
CloseIdInPath = Annotated[int, PathParameter(ge=1, le=ID_MAX, description="The closed period's id.")]


class RebateLineOut(msgspec.Struct):
    """One scope of the period: all products (`category` null) or one category."""

    category: str | None
    turnover: Money
    threshold: Money | None
    """The tier reached (null: none)."""
    rebate_pct: Percent
    amount: Money


class RebateOut(msgspec.Struct):
    """A closed settlement period with a rebate to credit, as the ERP books the credit note."""

    id: int
    company_name: str
    company_tax_id: str
    agreement_number: str
    period_start: date
    period_end: date
    currency: str
    turnover: Money
    rebate: Money
    closed_at: datetime
    exported_at: datetime | None
    """When the ERP acknowledged it; null until then."""
    lines: list[RebateLineOut]


class RebatesOut(msgspec.Struct):
    rebates: list[RebateOut]
    next: int | None
    """Send it as `after` for the next page; null on the last page."""


class AcknowledgedOut(msgspec.Struct):
    id: int
    exported_at: datetime
    already_acknowledged: bool
    """True when it had been acknowledged before: nothing changed."""


def _text(amount: Decimal) -> str:
    return format(amount, "f")


def rebate_out(close: SettlementClose) -> RebateOut:
    return RebateOut(
        id=close.id,
        company_name=close.agreement.company.name,
        company_tax_id=close.agreement.company.tax_id,
        agreement_number=close.agreement.number,
        period_start=close.starts_on,
        period_end=close.ends_on,
        currency=close.currency,
        turnover=_text(close.turnover),
        rebate=_text(close.rebate),
        closed_at=close.closed_at,
        exported_at=close.exported_at,
        lines=[
            RebateLineOut(
                category=line.category_name or None,
                turnover=_text(line.turnover),
                threshold=_text(line.threshold) if line.threshold is not None else None,
                rebate_pct=_text(line.rebate_pct),
                amount=_text(line.amount),
            )
            for line in close.lines
        ],
    )


def acknowledged_out(taken: Taken) -> AcknowledgedOut:
    assert taken.close.exported_at is not None
    return AcknowledgedOut(id=taken.close.id, exported_at=taken.close.exported_at, already_acknowledged=taken.already)


@get(
    "/rebates",
    name="erp_rebates",
    opt={"scope": "rebates:read"},
    responses=responses(),
    summary="Pull the rebates of closed settlement periods",
    description="Closed settlement periods whose rebate is above zero, oldest first, with a line per scope "
    "(all products or a category): turnover, tier reached, rebate % and amount. `exported=false` lists those "
    "not acknowledged yet, `true` those acknowledged, without it all. Follow `next` as `after` until it is null.",
)
async def list_rebates(
    db_session: DbSession,
    exported: Annotated[bool | None, QueryParameter(description="Acknowledged already (true) or not (false).")] = None,
    after: Annotated[int, QueryParameter(ge=0, le=ID_MAX, description="The `next` of the page before.")] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=PAGE_MAX, description=f"Per page, 1–{PAGE_MAX}.")] = PAGE_DEFAULT,
) -> Response[RebatesOut]:
    closes = await agreements.closes_for_erp(db_session, exported=exported, after=after, limit=limit + 1)
    shown = closes[:limit]
    following = shown[-1].id if len(closes) > limit else None
    return Response(RebatesOut(rebates=[rebate_out(close) for close in shown], next=following))


@post(
    "/rebates/{close_id:int}/acknowledge",
    name="acknowledge_rebate",
    opt={"scope": "rebates:write"},
    status_code=200,
    responses=responses(404),
    summary="Acknowledge a rebate as booked",
    description="The ERP has booked the credit note of this closed period: it leaves the `exported=false` list. "
    "Acknowledging it again changes nothing and answers `already_acknowledged: true`; an unknown id (or a period "
    "without a rebate) answers 404.",
)
async def acknowledge_rebate(
    request: Request[Any, Any, Any],
    db_session: DbSession,
    key: CallingKey,
    close_id: CloseIdInPath,
    idempotency_key: IdempotencyKey = "",
) -> Response[AcknowledgedOut]:
    async def work() -> AcknowledgedOut:
        return acknowledged_out(await agreements.acknowledge_close(db_session, close_id))

    return await once(request, db_session, key, idempotency_key, work)


ROUTES = [list_rebates, acknowledge_rebate]
