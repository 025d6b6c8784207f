"""A wholesaler's whole catalogue in one file: 20,000 products are planned and applied through the
import service in under 30 seconds on PostgreSQL (the figure is printed), and the same file applied
again changes nothing."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.models import AuditEntry, Product, ProductCategory, Role
from portal.services.catalogue_admin import PRODUCTS
from portal.services.master_data import Outcome
from tests.conftest import backend
from tests.factories import make_user

PRODUCTS_IN_FILE = 20_000
BOUND_SECONDS = 30.0
TODAY = date(2026, 11, 27)


def catalogue_rows(count: int) -> list[dict[str, str]]:
    categories = ["Linen", "Glass", "Cleaning", "Paper"]
    return [
        {
            "sku": f"SKU-{n:06d}",
            "name": f"Product number {n}",
            "description": "A product of the catalogue" if n % 3 else "",
            "unit": "pcs" if n % 5 else "kg",
            "pack_size": str(1 + n % 12),
            "vat_rate": ("23", "8", "5", "0")[n % 4],
            "list_price": f"{10 + n % 997},{n % 100:02d}",
            "cost": f"{5 + n % 500}.{n % 10000:04d}",
            "category": categories[n % len(categories)],
            "stock": str(n % 1000),
            "active": "tak" if n % 50 else "nie",
        }
        for n in range(count)
    ]


async def test_twenty_thousand_products_import_in_under_thirty_seconds(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN)
    session.add_all(ProductCategory(name=name) for name in ("Linen", "Glass", "Cleaning", "Paper"))
    await session.flush()
    rows = catalogue_rows(PRODUCTS_IN_FILE)

    started = time.perf_counter()
    plan = await PRODUCTS.plan(session, rows, today=TODAY)
    applied = await PRODUCTS.apply(session, admin, rows, today=TODAY)
    await session.commit()
    seconds = time.perf_counter() - started

    assert plan.ok and plan.count(Outcome.NEW) == PRODUCTS_IN_FILE
    assert applied.count(Outcome.NEW) == PRODUCTS_IN_FILE
    assert await session.scalar(select(func.count()).select_from(Product)) == PRODUCTS_IN_FILE
    assert await session.scalar(select(func.count()).select_from(AuditEntry)) == PRODUCTS_IN_FILE
    sample = await session.scalar(select(Product).where(Product.sku == "SKU-012345"))
    assert sample is not None and sample.list_price == Decimal("391.45") and sample.pack_size == 10

    again_started = time.perf_counter()
    again = await PRODUCTS.apply(session, admin, rows, today=TODAY)
    again_seconds = time.perf_counter() - again_started
    assert again.count(Outcome.UNCHANGED) == PRODUCTS_IN_FILE
    assert await session.scalar(select(func.count()).select_from(AuditEntry)) == PRODUCTS_IN_FILE

    print(
        f"\n{PRODUCTS_IN_FILE:,} products on {backend()}: plan + apply {seconds:.1f} s, "
        f"the same file again {again_seconds:.1f} s"
    )
    if backend() == "postgresql":
        assert seconds < BOUND_SECONDS
