"""The ERP integration API under `/api/v1`: JSON in and out, API keys (`access`), problem
documents for every refusal (`problems`), idempotent writes (`once`), and the OpenAPI schema of
these routes only, at `/api/v1/schema` (JSON) with a browsable page at `/api/v1/schema/docs`."""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from portal.web.api import agreements, catalogue, companies, finance, orders, prices, rebates
from portal.web.api.access import api_key_guard, calling_key
from portal.web.api.docs import DocsPage, SchemaJson

MAX_BODY_BYTES = 16_000_000
"""A request body larger than this is refused with 413 (10,000 products with long descriptions fit)."""

API_ROUTER = Router(
    path="/api/v1",
    route_handlers=[
        *catalogue.ROUTES,
        *prices.ROUTES,
        *companies.ROUTES,
        *finance.ROUTES,
        *orders.ROUTES,
        *rebates.ROUTES,
        *agreements.ROUTES,
    ],
    guards=[api_key_guard],
    dependencies={"key": Provide(calling_key, sync_to_thread=False)},
    request_max_body_size=MAX_BODY_BYTES,
    security=[{"apiKey": []}],
    tags=["ERP"],
)

OPENAPI_CONFIG = OpenAPIConfig(
    title="Buyer portal ERP API",
    version="1.0.0",
    description="Master data in, approved orders out. Authenticate with `Authorization: Bearer <key>`; "
    "keys are created by an admin on /admin/api-keys. Errors are RFC 9457 problem documents.",
    path="/api/v1/schema",
    render_plugins=[SchemaJson(), DocsPage()],
    components=Components(
        security_schemes={"apiKey": SecurityScheme(type="http", scheme="bearer", description="An API key.")}
    ),
    create_examples=False,
)
