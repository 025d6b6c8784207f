"""The raw ceiling: the page of `ceiling_app.py` with nothing between Litestar and the database.

One route, `/products`, runs one SQL query for 50 active products ordered by name and SKU through
psycopg 3 (async, a `psycopg_pool.AsyncConnectionPool` opened at start-up) and renders the rows
with Jinja2 directly (`templates/products.html`, the same output as the ORM ceiling's). No ORM,
no advanced-alchemy, no database session, no sign-in, CSRF or pricing: the most the portal's stack
can serve this page at, and the measure the catalog page is held against.

Served by uvicorn, with the database URL from BENCH_DATABASE_URL (the SQLAlchemy form
`postgresql+psycopg://…` is accepted):

    BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench \\
        uvicorn --app-dir bench raw_ceiling_app:create_app --factory --workers 2 --port 8102
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import Environment, FileSystemLoader
from litestar import Litestar, MediaType, Response, get
from litestar.datastructures import State
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/portal_bench"
TEMPLATES = Path(__file__).resolve().parent / "templates"
ROWS = 50
POOL_MIN, POOL_MAX = 5, 15
"""Per worker, as SQLAlchemy's default pool of the ORM ceiling (5, overflowing to 15)."""
PRODUCTS = "SELECT sku, name, unit, list_price, stock FROM products WHERE is_active ORDER BY name, sku LIMIT %(rows)s"
JINJA = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)


def conninfo(url: str) -> str:
    """libpq's form of a SQLAlchemy URL: `postgresql+psycopg://` becomes `postgresql://`."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


@get("/products")
async def products(state: State) -> Response[str]:
    pool: AsyncConnectionPool = state.pool
    async with pool.connection() as connection, connection.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(PRODUCTS, {"rows": ROWS})
        rows = await cursor.fetchall()
    html = JINJA.get_template("products.html").render(products=rows)
    return Response(html, media_type=MediaType.HTML)


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app() -> Litestar:
    url = conninfo(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))

    @asynccontextmanager
    async def pool(app: Litestar) -> AsyncIterator[None]:
        async with AsyncConnectionPool(url, min_size=POOL_MIN, max_size=POOL_MAX, open=False) as opened:
            await opened.wait()
            app.state.pool = opened
            yield

    return Litestar(route_handlers=[products, health], lifespan=[pool], debug=False)
