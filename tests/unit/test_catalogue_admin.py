"""The catalogue's rules, as the admin form, the CSV import and the ERP API all meet them: products,
categories, price-list rows and contract prices; the CSV kinds plan, apply and export."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from portal.errors import Refused
from portal.models import AuditEntry, ContractPrice, PriceListItem, Product, ProductCategory, Role, User
from portal.services import catalogue_admin, master_data, prices_admin
from portal.services.catalogue_admin import PRODUCTS, CategoryRecord, ProductRecord, product_errors
from portal.services.master_data import Outcome
from portal.services.prices_admin import CONTRACT_PRICES, PRICE_LIST_ITEMS, PriceRecord, price_errors
from tests.factories import add_contract_price, add_list_price, make_company, make_price_list, make_product, make_user

TODAY = date(2026, 11, 27)


def towel(**changes: object) -> ProductRecord:
    values: dict[str, object] = {
        "sku": "TWL-1",
        "name": "Towel",
        "category_id": 1,
        "list_price": Decimal("10.50"),
        "cost": Decimal("6"),
    }
    values.update(changes)
    return ProductRecord(**values)  # type: ignore[arg-type]


def product_row(sku: str = "TWL-1", **cells: str) -> dict[str, str]:
    row = {"sku": sku, "name": "Towel", "vat_rate": "23", "list_price": "10,50", "cost": "6", "category": "Linen"}
    row.update(cells)
    return {key: value for key, value in row.items() if value != ""}


async def admin_and_category(session: AsyncSession, name: str = "Linen") -> tuple[User, ProductCategory]:
    admin = await make_user(session, Role.ADMIN)
    category = ProductCategory(name=name)
    session.add(category)
    await session.flush()
    return admin, category


# Validation of one product.
def test_a_valid_product_has_no_errors() -> None:
    assert product_errors(towel()) == {}


@pytest.mark.parametrize("rate", ["7", "22", "-1", "23.5"])
def test_only_the_polish_vat_rates_are_accepted(rate: str) -> None:
    assert product_errors(towel(vat_rate=Decimal(rate))) == {"vat_rate": "The VAT rate is one of 23, 8, 5 or 0 %."}


def test_negative_and_absurd_prices_are_refused_with_a_clear_message() -> None:
    errors = product_errors(towel(list_price=Decimal("-1"), cost=Decimal("25000000")))
    assert errors["list_price"] == "A price cannot be negative."
    assert "typing mistake" in errors["cost"]
    assert product_errors(towel(list_price=Decimal("1.23456")))["list_price"] == "Use at most 4 decimal places."


def test_pack_size_stock_sku_and_unit_have_their_bounds() -> None:
    errors = product_errors(towel(pack_size=0, stock=-1, sku="TWL 1", unit=""))
    assert set(errors) == {"pack_size", "stock", "sku", "unit"}
    assert product_errors(towel(pack_size=10_001))["pack_size"] == "The pack size is a whole number from 1 to 10,000."
    assert product_errors(towel(sku="A/B-1_2.x")) == {}


async def test_a_duplicate_sku_is_refused_and_nothing_is_saved(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    await catalogue_admin.save_product(session, admin, towel(category_id=category.id))
    with pytest.raises(Refused) as refused:
        await catalogue_admin.save_product(session, admin, towel(category_id=category.id, name="Another"))
    assert refused.value.errors == {"sku": "Another product already has SKU TWL-1."}
    assert await session.scalar(select(func.count()).select_from(Product)) == 1


async def test_saving_a_product_audits_each_changed_field(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    made = await catalogue_admin.save_product(session, admin, towel(category_id=category.id, sku=" TWL-1 "))
    assert made.sku == "TWL-1"
    await catalogue_admin.save_product(
        session,
        admin,
        towel(category_id=category.id, list_price=Decimal("12"), is_active=False),
        made.id,
    )
    entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [entry.action for entry in entries] == ["create", "update"]
    assert entries[1].object_type == "product" and entries[1].object_id == made.id
    assert entries[1].changes == {"list_price": ["10.5", "12"], "active": ["yes", "no"]}


async def test_category_names_are_unique_and_margin_floors_within_0_and_100(session: AsyncSession) -> None:
    admin, _ = await admin_and_category(session)
    with pytest.raises(Refused) as refused:
        await catalogue_admin.save_category(session, admin, CategoryRecord("linen", Decimal("101")))
    assert set(refused.value.errors) == {"name", "margin_floor_pct"}
    saved = await catalogue_admin.save_category(session, admin, CategoryRecord(" Glass ", Decimal("12.5")))
    assert saved.name == "Glass"
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "category"))
    assert entry is not None and entry.changes == {"name": [None, "Glass"], "margin_floor_pct": [None, "12.5"]}


# Price rows.
def test_a_validity_that_ends_before_it_starts_is_refused() -> None:
    record = PriceRecord("TWL-1", Decimal("9"), 1, date(2026, 12, 1), date(2026, 11, 30))
    assert price_errors(record) == {"valid_to": "The validity ends before it starts."}
    assert price_errors(PriceRecord("TWL-1", Decimal("9"), 0))["min_quantity"].startswith("The minimum quantity")


async def test_an_overlapping_price_list_row_is_refused_naming_the_other_row(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    product = await make_product(session, sku="TWL-1", category=category)
    standard = await make_price_list(session, "Standard")
    await add_list_price(session, standard, product, "9.5", 10, date(2026, 1, 1), date(2026, 12, 31))
    overlapping = PriceRecord("TWL-1", Decimal("9"), 10, date(2026, 6, 1))
    with pytest.raises(Refused) as refused:
        await prices_admin.save_price_list_item(session, admin, standard.id, overlapping)
    assert refused.value.errors == {
        "valid_from": "Overlaps another row for the same product and minimum quantity: "
        "9.50, valid from 2026-01-01 to 2026-12-31."
    }
    later = PriceRecord("TWL-1", Decimal("9"), 10, date(2027, 1, 1))
    await prices_admin.save_price_list_item(session, admin, standard.id, later)
    other_quantity = PriceRecord("TWL-1", Decimal("8"), 50, date(2026, 6, 1))
    await prices_admin.save_price_list_item(session, admin, standard.id, other_quantity)
    assert await session.scalar(select(func.count()).select_from(PriceListItem)) == 3


async def test_an_inactive_product_gets_no_new_price(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    await make_product(session, sku="OLD-1", category=category, is_active=False)
    company = await make_company(session)
    with pytest.raises(Refused) as refused:
        await prices_admin.save_contract_price(session, admin, company.id, PriceRecord("OLD-1", Decimal("5")))
    assert refused.value.errors == {"sku": "Product OLD-1 is inactive: it cannot get a new price."}


async def test_a_contract_price_is_audited_with_its_company(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    await make_product(session, sku="TWL-1", category=category)
    company = await make_company(session, name="Hotel Bristol")
    row = await prices_admin.save_contract_price(session, admin, company.id, PriceRecord("TWL-1", Decimal("7.25"), 5))
    await prices_admin.delete_contract_price(session, admin, row.id)
    entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.object_type, e.company_id) for e in entries] == [
        ("create", "contract_price", company.id),
        ("delete", "contract_price", company.id),
    ]
    assert entries[0].object_label == "Hotel Bristol / TWL-1 / from 5"


# The CSV kinds.
def test_every_catalogue_kind_is_listed_for_import_and_export() -> None:
    assert {"products", "price_list_items", "contract_prices"} <= master_data.kinds().keys()


async def test_products_plan_then_apply_then_the_same_file_changes_nothing(session: AsyncSession) -> None:
    admin, _ = await admin_and_category(session)
    rows = [product_row("TWL-1", stock="5"), product_row("TWL-2", name="Big towel", active="nie")]
    plan = await PRODUCTS.plan(session, rows, today=TODAY)
    assert plan.ok and plan.count(Outcome.NEW) == 2
    assert await session.scalar(select(func.count()).select_from(Product)) == 0
    await PRODUCTS.apply(session, admin, rows, today=TODAY)
    second = await session.scalar(select(Product).where(Product.sku == "TWL-2"))
    assert second is not None and second.name == "Big towel" and not second.is_active
    assert second.list_price == Decimal("10.5")
    again = await PRODUCTS.apply(session, admin, rows, today=TODAY)
    assert again.count(Outcome.UNCHANGED) == 2
    changed = await PRODUCTS.plan(session, [product_row("TWL-1", stock="7")], today=TODAY)
    assert [(c.outcome, c.fields) for c in changed.changes] == [(Outcome.CHANGED, {"stock": ["5", "7"]})]
    assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 2


async def test_a_product_file_with_errors_is_refused_whole_with_row_numbered_errors(session: AsyncSession) -> None:
    admin, _ = await admin_and_category(session)
    rows = [
        product_row("TWL-1"),
        product_row("TWL-1"),
        product_row("TWL-3", vat_rate="7"),
        product_row("TWL-4", category="Glassware"),
        product_row("TWL-5", pack_size="0", list_price="-3", cost="abc"),
    ]
    plan = await PRODUCTS.plan(session, rows, today=TODAY)
    assert [(e.row, e.field) for e in plan.errors] == [
        (2, "sku"),
        (3, "vat_rate"),
        (4, "category"),
        (5, "cost"),
        (5, "pack_size"),
        (5, "list_price"),
    ]
    assert "add it on the categories page" in next(e.message for e in plan.errors if e.row == 4)
    with pytest.raises(Refused):
        await PRODUCTS.apply(session, admin, rows, today=TODAY)
    assert await session.scalar(select(func.count()).select_from(Product)) == 0


async def test_ten_thousand_bad_rows_all_come_back_as_errors(session: AsyncSession) -> None:
    await admin_and_category(session)
    rows = [product_row(f"BAD-{n}", vat_rate="7") for n in range(10_000)]
    plan = await PRODUCTS.plan(session, rows, today=TODAY)
    assert len(plan.errors) == 10_000 and plan.errors[-1].row == 10_000
    assert not plan.changes


async def test_products_export_then_import_is_all_unchanged(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    await make_product(session, sku="A-1", category=category, list_price=Decimal("12.3456"), description="Soft")
    await make_product(session, sku="A-2", category=category, is_active=False, stock=40, pack_size=6)
    exported = await PRODUCTS.export(session)
    assert exported[0]["list_price"] == "12.3456" and exported[1]["active"] == "no"
    rows = [{key: value for key, value in row.items() if value} for row in exported]
    plan = await PRODUCTS.apply(session, admin, rows, today=TODAY)
    assert plan.ok and plan.count(Outcome.UNCHANGED) == 2


async def test_price_list_items_round_trip_and_overlaps_within_the_file(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    await make_product(session, sku="TWL-1", category=category)
    await make_product(session, sku="OLD-1", category=category, is_active=False)
    standard = await make_price_list(session, "Standard")
    standard.code = "STD"
    rows = [
        {"price_list": "std", "sku": "TWL-1", "unit_price": "9,50", "valid_to": "2026-12-31"},
        {"price_list": "Standard", "sku": "TWL-1", "min_quantity": "10", "unit_price": "9", "valid_from": "01.01.2026"},
    ]
    plan = await PRICE_LIST_ITEMS.apply(session, admin, rows, today=TODAY)
    assert plan.count(Outcome.NEW) == 2
    exported = await PRICE_LIST_ITEMS.export(session)
    assert exported[0] == {
        "price_list": "STD",
        "sku": "TWL-1",
        "min_quantity": "1",
        "unit_price": "9.50",
        "valid_from": "",
        "valid_to": "2026-12-31",
    }
    again = await PRICE_LIST_ITEMS.plan(session, [{k: v for k, v in row.items() if v} for row in exported], today=TODAY)
    assert again.ok and again.count(Outcome.UNCHANGED) == 2
    bad = [
        {"price_list": "STD", "sku": "TWL-1", "unit_price": "9", "valid_from": "2026-06-01"},
        {"price_list": "STD", "sku": "TWL-1", "min_quantity": "5", "unit_price": "9", "valid_from": "2026-06-01"},
        {"price_list": "STD", "sku": "TWL-1", "min_quantity": "5", "unit_price": "8", "valid_from": "2026-07-01"},
        {"price_list": "STD", "sku": "OLD-1", "unit_price": "8"},
        {"price_list": "NOPE", "sku": "TWL-1", "unit_price": "8"},
        {"price_list": "STD", "sku": "TWL-1", "unit_price": "8", "valid_from": "2027-02-01", "valid_to": "2027-01-01"},
    ]
    plan = await PRICE_LIST_ITEMS.plan(session, bad, today=TODAY)
    messages = {(e.row, e.field): e.message for e in plan.errors}
    assert messages[(1, "valid_from")] == (
        "Overlaps another row for the same product and minimum quantity: 9.50, valid until 2026-12-31."
    )
    assert "row 2 of the file" in messages[(3, "valid_from")]
    assert "inactive" in messages[(4, "sku")]
    assert (5, "price_list") in messages and (6, "valid_to") in messages
    assert (2, "valid_from") not in messages


async def test_contract_prices_by_tax_id_round_trip(session: AsyncSession) -> None:
    admin, category = await admin_and_category(session)
    product = await make_product(session, sku="TWL-1", category=category)
    company = await make_company(session, tax_id="PL5250001001")
    await add_contract_price(session, company, product, "7.1", 1, date(2026, 1, 1))
    rows = [{"tax_id": "525-000-10-01", "sku": "TWL-1", "unit_price": "7.20", "valid_from": "2026-01-01"}]
    plan = await CONTRACT_PRICES.apply(session, admin, rows, today=TODAY)
    assert [(c.outcome, c.fields) for c in plan.changes] == [(Outcome.CHANGED, {"unit_price": ["7.1", "7.2"]})]
    row = await session.scalar(select(ContractPrice))
    await session.refresh(row)
    assert row is not None and row.unit_price == Decimal("7.2")
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.object_type == "contract_price"))
    assert entry is not None and entry.company_id == company.id and entry.action == "update"
    exported = await CONTRACT_PRICES.export(session)
    assert exported == [
        {
            "tax_id": "PL5250001001",
            "sku": "TWL-1",
            "min_quantity": "1",
            "unit_price": "7.20",
            "valid_from": "2026-01-01",
            "valid_to": "",
        }
    ]
    again = await CONTRACT_PRICES.plan(session, [{k: v for k, v in r.items() if v} for r in exported], today=TODAY)
    assert again.count(Outcome.UNCHANGED) == 1


async def test_a_new_product_without_prices_is_told_which_are_missing(session: AsyncSession) -> None:
    await admin_and_category(session)
    row = {key: value for key, value in product_row("TWL-9").items() if key not in {"list_price", "cost"}}
    plan = await PRODUCTS.plan(session, [row], today=TODAY)
    assert [(e.row, e.field, e.message) for e in plan.errors] == [
        (1, "list_price", "This field is required."),
        (1, "cost", "This field is required."),
    ]
