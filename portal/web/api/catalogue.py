"""`PUT /api/v1/products` and `PUT /api/v1/stock`: the catalogue from the ERP, through the kinds
the admin's CSV imports use (`PRODUCTS`, `STOCK`)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, put
from litestar.params import JSONBody

from portal.services.catalogue_admin import PACK_SIZE_MAX, PRODUCTS, STOCK_MAX
from portal.services.stock import STOCK
from portal.web.api import bulk
from portal.web.api.access import CallingKey, DbSession, Today
from portal.web.api.once import IdempotencyKey, once
from portal.web.api.problems import responses
from portal.web.api.types import BulkResult, Percent, Price, Sku, text

MAX_ITEMS = 10_000


class ProductIn(msgspec.Struct):
    """A product, known by its SKU. A field left out keeps the stored value (or takes the default
    for a new product: unit "pcs", pack size 1, active)."""

    sku: Sku
    name: Annotated[str, text(200, 1)]
    category: Annotated[str, text(100, 1)]
    """The name of an existing category."""
    vat_rate: Percent | None = None
    list_price: Price | None = None
    cost: Price | None = None
    unit: Annotated[str, text(10, 1)] | None = None
    pack_size: Annotated[int, msgspec.Meta(ge=1, le=PACK_SIZE_MAX)] | None = None
    description: Annotated[str, text(5000)] | None = None
    active: bool | None = None


class ProductsIn(msgspec.Struct):
    items: Annotated[list[ProductIn], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


class StockIn(msgspec.Struct):
    sku: Sku
    quantity: Annotated[int, msgspec.Meta(ge=0, le=STOCK_MAX)]


class StockLevelsIn(msgspec.Struct):
    items: Annotated[list[StockIn], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]


@put(
    "/products",
    opt={"scope": "catalogue:write"},
    responses=responses(409, 413),
    summary="Upsert products by SKU",
    description="Up to 10,000 products per call, all or none: any bad item refuses the call and every "
    "bad item is listed.",
)
async def put_products(
    request: Request[Any, Any, Any],
    data: JSONBody[ProductsIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[BulkResult]:
    rows = [bulk.row_of(item) for item in data.items]
    return await once(
        request, db_session, key, idempotency_key, lambda: bulk.write(db_session, PRODUCTS, key, rows, today=today)
    )


@put(
    "/stock",
    opt={"scope": "catalogue:write"},
    responses=responses(409, 413),
    summary="Set stock levels by SKU",
    description="Up to 10,000 SKUs per call, all or none; every SKU must name an existing product.",
)
async def put_stock(
    request: Request[Any, Any, Any],
    data: JSONBody[StockLevelsIn],
    db_session: DbSession,
    key: CallingKey,
    today: Today,
    idempotency_key: IdempotencyKey = "",
) -> Response[BulkResult]:
    rows = [{"sku": item.sku, "stock": str(item.quantity)} for item in data.items]
    return await once(
        request,
        db_session,
        key,
        idempotency_key,
        lambda: bulk.write(db_session, STOCK, key, rows, today=today, renamed={"stock": "quantity"}),
    )


ROUTES = [put_products, put_stock]
