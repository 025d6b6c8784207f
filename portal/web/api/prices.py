"""`PUT /api/v1/price-lists/{code}` and `PUT /api/v1/companies/{tax_id}/contract-prices`: one
price list's rows or one company's contract prices from the ERP, through the kinds the admin's
CSV imports use (`PRICE_LIST_ITEMS`, `CONTRACT_PRICES`), so the checks and the upsert are theirs.

Each call says what it means: `merge` upserts the rows sent and keeps the others; `replace` makes
the list exactly the rows sent, deleting (and auditing) every other row of that list or company in
the same transaction. A row is known by its product, minimum quantity and start of validity."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, put
from litestar.params import JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import ApiKey
from portal.services.prices_admin import (
    CONTRACT_PRICES,
    LIST_CODE_MAX,
    MAX_MIN_QUANTITY,
    PRICE_LIST_ITEMS,
    PricesKind,
)
from portal.web.api import bulk
from portal.web.api.access import CallingKey, DbSession, Today
from portal.web.api.once import IdempotencyKey, once
from portal.web.api.problems import ApiProblem, ItemsRefused, ProblemItem, responses
from portal.web.api.types import ItemOutcome, Price, Sku, TaxIdInPath

MAX_ITEMS = 10_000

ListCode = Annotated[
    str,
    Parameter(
        min_length=1,
        max_length=LIST_CODE_MAX,
        pattern=r"^[A-Za-z0-9\-_.]+$",
        description="The price list's code (any case), as the ERP knows it: letters, digits and - _ .",
    ),
]


class PriceItemIn(msgspec.Struct):
    """One price row: a product's unit price from a minimum quantity, valid between two dates
    (inclusive; left out: open)."""

    sku: Sku
    unit_price: Price
    min_quantity: Annotated[int, msgspec.Meta(ge=1, le=MAX_MIN_QUANTITY)] = 1
    valid_from: date | None = None
    valid_to: date | None = None


class PriceItemsIn(msgspec.Struct):
    mode: Annotated[
        Literal["replace", "merge"],
        msgspec.Meta(
            description='"merge": upsert the rows sent, keep the others. "replace": the rows sent become all '
            "the rows; the others are deleted."
        ),
    ]
    items: Annotated[
        list[PriceItemIn],
        msgspec.Meta(
            max_length=MAX_ITEMS, description='Up to 10,000 rows; empty only with "replace" (which removes every row).'
        ),
    ]


class PriceItemsResult(msgspec.Struct):
    """What a write of price rows did: counts, each row's outcome in the order sent, and how many
    rows `replace` deleted."""

    created: int
    updated: int
    unchanged: int
    deleted: int
    items: list[ItemOutcome]


DESCRIPTION = (
    " Up to 10,000 rows per call, all or none: any bad row refuses the call and every bad row is listed."
    ' `mode` is required: "merge" upserts the rows sent (by SKU, minimum quantity and valid_from) and keeps'
    ' the others; "replace" also deletes every other row, so the rows sent become all the rows'
    ' ("replace" with no items empties them; "merge" needs at least one item).'
)


async def write_prices(
    session: AsyncSession,
    kind: PricesKind,
    key: ApiKey,
    owner: str,
    data: PriceItemsIn,
    today: date,
    unknown: str,
) -> PriceItemsResult:
    """The rows of the list or company `owner` names (404 with `unknown` when none), merged or replaced."""
    if data.mode == "merge" and not data.items:
        raise ApiProblem(
            422,
            gettext("The request has invalid values; nothing was written."),
            [ProblemItem("/items", gettext('Send at least one item, or use mode "replace" to empty the list.'))],
        )
    owner_id = await kind.owner(session, owner)
    if owner_id is None:
        raise ApiProblem(404, unknown)
    rows = [{**bulk.row_of(item), kind.owner_field: owner} for item in data.items]
    target = kind.replacing([owner_id]) if data.mode == "replace" else None
    try:
        result = await bulk.write(session, target or kind, key, rows, today=today)
    except ItemsRefused as refused:
        if any(error.pointer.endswith(f"/{kind.owner_field}") for error in refused.errors):
            raise ApiProblem(404, unknown) from None  # the owner went away while the rows were checked
        raise
    return PriceItemsResult(
        created=result.created,
        updated=result.updated,
        unchanged=result.unchanged,
        deleted=target.deleted if target else 0,
        items=result.items,
    )


@put(
    "/price-lists/{code:str}",
    opt={"scope": "prices:write"},
    responses=responses(404, 409, 413),
    summary="Set a price list's rows",
    description="The rows (quantity breaks with validity) of the price list with this code." + DESCRIPTION,
)
async def put_price_list(
    request: Request[Any, Any, Any],
    code: ListCode,
    data: JSONBody[PriceItemsIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[PriceItemsResult]:
    unknown = gettext("No price list has the code %(code)s.") % {"code": code}
    return await once(
        request,
        db_session,
        key,
        idempotency_key,
        lambda: write_prices(db_session, PRICE_LIST_ITEMS, key, code, data, today, unknown),
    )


@put(
    "/companies/{tax_id:str}/contract-prices",
    opt={"scope": "prices:write"},
    responses=responses(404, 409, 413),
    summary="Set a company's contract prices",
    description="The contract prices of the company with this NIP." + DESCRIPTION,
)
async def put_contract_prices(
    request: Request[Any, Any, Any],
    tax_id: TaxIdInPath,
    data: JSONBody[PriceItemsIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[PriceItemsResult]:
    unknown = gettext("No company has the tax id %(tax_id)s.") % {"tax_id": tax_id}
    return await once(
        request,
        db_session,
        key,
        idempotency_key,
        lambda: write_prices(db_session, CONTRACT_PRICES, key, tax_id, data, today, unknown),
    )


ROUTES = [put_price_list, put_contract_prices]
