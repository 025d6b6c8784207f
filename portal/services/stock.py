"""Stock levels as the ERP reports them: SKU → quantity on hand, for products that exist. The
one path for the CSV import of stock and `PUT /api/v1/stock`; each change is audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from portal.i18n import gettext
from portal.models import Product, User
from portal.services.catalogue_admin import STOCK_MAX, audit_values, product_label, record_many
from portal.services.master_data import Change, Column, Outcome, Plan, PlanRefused, Row, RowError, parse_int


@dataclass(frozen=True)
class _Change:
    id: int
    label: str
    old: int
    new: int


class StockKind:
    """Stock of existing products, by SKU."""

    code = "stock"
    columns: Sequence[Column] = (
        Column("sku", ("sku", "indeks")),
        Column("stock", ("stock", "stan")),
    )

    def title(self) -> str:
        return gettext("Stock")

    async def _planned(self, session: AsyncSession, rows: Sequence[Row]) -> tuple[Plan, list[_Change]]:
        """The plan, and each change to write."""
        wanted = {row.get("sku", "").strip() for row in rows} - {""}
        products = {
            sku: (id_, name, stock)
            for id_, sku, name, stock in await session.execute(
                select(Product.id, Product.sku, Product.name, Product.stock).where(Product.sku.in_(wanted))
            )
        }
        plan, changes, seen = Plan(), list[_Change](), dict[str, int]()
        for number, row in enumerate(rows, 1):
            sku = row.get("sku", "").strip()
            cell = row.get("stock", "").strip()
            errors: list[tuple[str, str]] = []
            if not sku:
                errors.append(("sku", gettext("This field is required.")))
            elif sku not in products:
                errors.append(("sku", gettext("There is no product with SKU %(sku)s.") % {"sku": sku}))
            elif sku in seen:
                errors.append(("sku", gettext("SKU %(sku)s is also in row %(row)d.") % {"sku": sku, "row": seen[sku]}))
            else:
                seen[sku] = number
            quantity = parse_int(cell, 0, STOCK_MAX) if cell else None
            if not cell:
                errors.append(("stock", gettext("This field is required.")))
            elif quantity is None:
                errors.append(
                    (
                        "stock",
                        gettext("Not a whole number from 0 to %(max)s: %(value)s") % {"max": STOCK_MAX, "value": cell},
                    )
                )
            plan.errors.extend(RowError(number, key, message) for key, message in errors)
            if errors or quantity is None:
                continue
            id_, name, stock = products[sku]
            if stock == quantity:
                plan.changes.append(Change(number, sku, Outcome.UNCHANGED))
            else:
                plan.changes.append(Change(number, sku, Outcome.CHANGED, {"stock": [str(stock), str(quantity)]}))
                changes.append(_Change(id_, product_label(sku, name), stock, quantity))
        return plan, changes

    async def plan(self, session: AsyncSession, rows: Sequence[Row], *, today: date) -> Plan:
        plan, _ = await self._planned(session, rows)
        return plan

    async def apply(self, session: AsyncSession, actor: User | str, rows: Sequence[Row], *, today: date) -> Plan:
        plan, changes = await self._planned(session, rows)
        if not plan.ok:
            raise PlanRefused(plan)
        if changes:
            await session.execute(update(Product), [{"id": item.id, "stock": item.new} for item in changes])
            await record_many(
                session,
                [
                    audit_values(
                        actor, "update", "product", item.id, item.label, {"stock": [str(item.old), str(item.new)]}
                    )
                    for item in changes
                ],
            )
        return plan

    async def export(self, session: AsyncSession) -> list[dict[str, str]]:
        rows = await session.execute(select(Product.sku, Product.stock).order_by(Product.sku))
        return [{"sku": sku, "stock": str(stock)} for sku, stock in rows.tuples()]


STOCK = StockKind()
