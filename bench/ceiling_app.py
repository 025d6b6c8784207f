"""The ceiling of the portal's stack: a Fortunes-style page with nothing else.

One route, `/products`, runs one query for 50 product rows (the portal's own
`Product` mapping, ordered by name as the catalog's first page is) through an
advanced-alchemy async session and renders them in a Jinja2 table. No session,
no sign-in, no CSRF, no pricing: whatever the catalog page costs beyond this is
the portal's own work.

Served by uvicorn, with the database URL from BENCH_DATABASE_URL:

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench \\
        uvicorn --app-dir bench ceiling_app:create_app --factory --workers 2 --port 8101
"""

from __future__ import annotations

import os
from pathlib import Path

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template import TemplateConfig
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import Product

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
TEMPLATES = Path(__file__).resolve().parent / "templates"
ROWS = 50


@get("/products")
async def products(db_session: AsyncSession) -> Template:
    statement = select(Product).where(Product.is_active).order_by(Product.name, Product.sku).limit(ROWS)
    rows = await db_session.scalars(statement)
    return Template("products.html", context={"products": list(rows)})


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    database = SQLAlchemyAsyncConfig(
        connection_string=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL),
        session_config=AsyncSessionConfig(expire_on_commit=False),
        create_all=False,
    )
    return Litestar(
        route_handlers=[products, health],
        plugins=[SQLAlchemyPlugin(config=database)],
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        debug=False,
    )
