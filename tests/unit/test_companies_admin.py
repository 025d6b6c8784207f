"""The company record's one validation, saving with its audit entry, and the CSV kind `companies`
(plan, apply, export) built on the same validation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from portal.errors import Refused
from portal.models import AuditEntry, Company, DeliverySchedule, PriceList, Role
from portal.services import companies_admin
from portal.services.companies_admin import COMPANIES, CompanyRecord
from portal.services.master_data import Outcome, kinds
from portal.services.recurring import run_pass
from tests.factories import make_company, make_product, make_schedule, make_user

TODAY = date(2026, 11, 27)
NIP_A, NIP_B, NIP_C = "5260001246", "1234563218", "7770001111"


def record(**fields: object) -> CompanyRecord:
    values: dict[str, object] = {"name": "Hotel Baltic Sp. z o.o.", "tax_id": NIP_A}
    values.update(fields)
    return CompanyRecord(**values)  # type: ignore[arg-type]


async def refusal(session: AsyncSession, rec: CompanyRecord, company_id: int | None = None) -> dict[str, str]:
    with pytest.raises(Refused) as refused:
        await companies_admin.save_company(session, "tester", company_id, rec)
    return refused.value.errors


async def test_a_nip_typed_with_prefix_spaces_and_dashes_is_kept_as_its_ten_digits(session: AsyncSession) -> None:
    company = await companies_admin.save_company(session, "tester", None, record(tax_id="PL 526-000-12-46"))
    assert company.tax_id == "PL5260001246"
    assert company.is_active and not company.auto_approve and company.delivery_weekdays == "12345"


@pytest.mark.parametrize("typed", ["5260001247", "526000124", "PL52600012460", "５２６０００１２４６", "abc", "   "])
async def test_a_nip_failing_its_checksum_or_form_is_refused(session: AsyncSession, typed: str) -> None:
    assert "tax_id" in await refusal(session, record(tax_id=typed))


async def test_a_duplicate_nip_names_the_company_that_has_it(session: AsyncSession) -> None:
    await make_company(session, name="Pensjonat Mewa", tax_id=NIP_A)
    errors = await refusal(session, record(tax_id=f"PL{NIP_A}"))
    assert "Pensjonat Mewa" in errors["tax_id"]


async def test_the_currency_must_be_the_price_lists(session: AsyncSession) -> None:
    euro = PriceList(name="Export", currency="EUR", code="EXPORT")
    session.add(euro)
    await session.flush()
    errors = await refusal(session, record(price_list_id=euro.id, currency="PLN"))
    assert "EUR" in errors["currency"]
    company = await companies_admin.save_company(session, "tester", None, record(price_list_id=euro.id, currency="eur"))
    assert company.currency == "EUR"


async def test_the_manager_must_be_an_active_account_manager(session: AsyncSession) -> None:
    gone = await make_user(session, Role.ACCOUNT_MANAGER, full_name="Ola Gone", is_active=False)
    finance = await make_user(session, Role.FINANCE)
    assert "Ola Gone" in (await refusal(session, record(account_manager_id=gone.id)))["account_manager_id"]
    assert "account_manager_id" in await refusal(session, record(account_manager_id=finance.id))


async def test_every_field_out_of_range_is_refused_at_once_and_nothing_is_saved(session: AsyncSession) -> None:
    errors = await refusal(
        session,
        record(
            name=" ",
            payment_terms_days=366,
            currency="PL",
            general_discount_pct=Decimal("100"),
            margin_floor_pct=Decimal("100.5"),
            delivery_weekdays="",
            min_order_value=Decimal("-1"),
            delivery_fee=Decimal("99999999999.00"),
            free_delivery_from=Decimal("0"),
        ),
    )
    assert set(errors) == {
        "name",
        "payment_terms_days",
        "currency",
        "general_discount_pct",
        "margin_floor_pct",
        "delivery_weekdays",
        "min_order_value",
        "delivery_fee",
        "free_delivery_from",
    }
    assert await session.scalar(select(func.count()).select_from(Company)) == 0


def test_a_cutoff_is_hours_and_minutes() -> None:
    assert companies_admin.parse_cutoff("14:30") == time(14, 30)
    assert companies_admin.parse_cutoff("07:05:00") == time(7, 5)
    for bad in ("24:00", "7:30", "14.30", "１４:３０", "14:30:15", ""):
        assert companies_admin.parse_cutoff(bad) is None


async def test_saving_writes_an_audit_entry_with_old_and_new_values(session: AsyncSession) -> None:
    admin = await make_user(session, Role.ADMIN, email="admin@seller.example")
    company = await companies_admin.save_company(session, admin, None, record())
    changed = replace(companies_admin.record_of(company), payment_terms_days=60, order_cutoff=time(12, 0))
    await companies_admin.save_company(session, admin, company.id, changed)
    await companies_admin.save_company(session, admin, company.id, changed)  # no change: no entry
    entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.action, e.object_type, e.company_id, e.actor) for e in entries] == [
        ("create", "company", company.id, "admin@seller.example"),
        ("update", "company", company.id, "admin@seller.example"),
    ]
    assert entries[1].changes == {"payment_terms_days": ["30", "60"], "order_cutoff": [None, "12:00"]}


async def test_an_old_tax_id_is_kept_while_it_is_not_changed(session: AsyncSession) -> None:
    old = await make_company(session, name="Demo", tax_id="PL5250001001")
    saved = await companies_admin.save_company(
        session, "tester", old.id, replace(companies_admin.record_of(old), name="Demo 2")
    )
    assert saved.tax_id == "PL5250001001" and saved.name == "Demo 2"


# The CSV kind.
def rows(*cells: dict[str, str]) -> list[dict[str, str]]:
    return [dict(row) for row in cells]


ROW_A = {
    "name": "Hotel Baltic",
    "tax_id": "PL 526-000-12-46",
    "payment_terms_days": "14",
    "price_list": "horeca",
    "general_discount_pct": "2,5",
    "po_number_required": "tak",
    "auto_approve": "no",
    "account_manager_email": "Anna@seller.example",
    "delivery_weekdays": "135",
    "order_cutoff": "14:00",
    "min_order_value": "300",
    "delivery_fee": "25,00",
    "free_delivery_from": "1 500",
}
ROW_B = {"name": "Bistro Mewa", "tax_id": NIP_B}


async def world(session: AsyncSession) -> PriceList:
    horeca = PriceList(name="Horeca", currency="PLN", code="HORECA")
    session.add(horeca)
    await make_user(session, Role.ACCOUNT_MANAGER, email="anna@seller.example", full_name="Anna Kowalska")
    await session.flush()
    return horeca


async def test_companies_is_a_kind_of_master_data() -> None:
    assert kinds()["companies"] is COMPANIES
    assert {"nazwa", "nip", "dni_dostaw", "opiekun", "cennik"} <= {name for c in COMPANIES.columns for name in c.names}


async def test_plan_says_what_would_change_and_writes_nothing(session: AsyncSession) -> None:
    await world(session)
    existing = await make_company(session, name="Bistro Mewa", tax_id=NIP_B, payment_terms_days=30)
    plan = await COMPANIES.plan(session, rows(ROW_A, {**ROW_B, "payment_terms_days": "60"}), today=TODAY)
    assert plan.ok, plan.errors
    assert [(c.row, c.outcome) for c in plan.changes] == [(1, Outcome.NEW), (2, Outcome.CHANGED)]
    assert plan.changes[1].fields == {"payment_terms_days": ["30", "60"]}
    assert await session.scalar(select(func.count()).select_from(Company)) == 1
    assert existing.payment_terms_days == 30


async def test_apply_export_and_apply_again_changes_nothing(session: AsyncSession) -> None:
    horeca = await world(session)
    admin = await make_user(session, Role.ADMIN)
    await COMPANIES.apply(session, admin, rows(ROW_A, ROW_B), today=TODAY)
    baltic = await session.scalar(select(Company).where(Company.tax_id == "PL" + NIP_A))
    assert baltic is not None
    assert (baltic.price_list_id, baltic.general_discount_pct, baltic.delivery_weekdays) == (
        horeca.id,
        Decimal("2.50"),
        "135",
    )
    assert (baltic.order_cutoff, baltic.free_delivery_from, baltic.po_number_required) == (
        time(14, 0),
        Decimal("1500.00"),
        True,
    )
    exported = await COMPANIES.export(session)
    assert [row["tax_id"] for row in exported] == ["PL" + NIP_B, "PL" + NIP_A]
    assert exported[1]["price_list"] == "HORECA" and exported[1]["account_manager_email"] == "anna@seller.example"
    again = await COMPANIES.plan(session, exported, today=TODAY)
    assert again.ok and again.count(Outcome.UNCHANGED) == 2
    same = await COMPANIES.plan(session, rows(ROW_A, ROW_B), today=TODAY)
    assert same.count(Outcome.UNCHANGED) == 2
    entries = await session.scalar(select(func.count()).select_from(AuditEntry))
    assert entries == 2


async def test_one_bad_row_refuses_the_whole_file(session: AsyncSession) -> None:
    await world(session)
    admin = await make_user(session, Role.ADMIN)
    bad = {"name": "Zły", "tax_id": "1234567890", "delivery_weekdays": "89", "order_cutoff": "25:00", "rabat": "x"}
    plan = await COMPANIES.plan(session, rows(ROW_A, bad), today=TODAY)
    assert {(e.row, e.field) for e in plan.errors} == {(2, "tax_id"), (2, "delivery_weekdays"), (2, "order_cutoff")}
    with pytest.raises(Refused):
        await COMPANIES.apply(session, admin, rows(ROW_A, bad), today=TODAY)
    assert await session.scalar(select(func.count()).select_from(Company)) == 0


async def test_the_same_nip_twice_in_a_file_and_unknown_references_are_row_errors(session: AsyncSession) -> None:
    await world(session)
    plan = await COMPANIES.plan(
        session,
        rows(
            ROW_B,
            {**ROW_B, "tax_id": f"PL{NIP_B}"},
            {"name": "X", "tax_id": NIP_C, "price_list": "NOPE", "account_manager_email": "who@x"},
        ),
        today=TODAY,
    )
    assert {(e.row, e.field) for e in plan.errors} == {(2, "tax_id"), (3, "price_list"), (3, "account_manager_email")}
    assert "row 1" in plan.errors[0].message


async def test_a_blank_cell_keeps_the_value_and_a_dash_clears_it(session: AsyncSession) -> None:
    horeca = await world(session)
    await make_company(
        session, name="Bistro Mewa", tax_id=NIP_B, price_list_id=horeca.id, margin_floor_pct=Decimal("12")
    )
    plan = await COMPANIES.plan(session, rows({**ROW_B, "margin_floor_pct": "-"}), today=TODAY)
    assert plan.changes[0].fields == {"margin_floor_pct": ["12", None]}


async def test_planning_costs_the_same_few_queries_for_any_number_of_rows(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    await world(session)
    nips = [NIP_A, NIP_B, NIP_C, "9510002221", "1112223332"]
    many = [{"name": f"Firma {n}", "tax_id": nip, "opiekun": "", "price_list": "HORECA"} for n, nip in enumerate(nips)]
    statements: list[str] = []
    sync_engine = session.bind.sync_engine if session.bind is not None else engine.sync_engine

    def counted(*_: object) -> None:
        statements.append("")

    event.listen(sync_engine, "before_cursor_execute", counted)
    try:
        plan = await COMPANIES.plan(session, many, today=TODAY)
    finally:
        event.remove(sync_engine, "before_cursor_execute", counted)
    assert plan.ok, plan.errors
    assert len(statements) == 3


async def test_a_reactivated_company_goes_on_from_its_next_delivery_without_a_backlog(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    company = await make_company(session, credit_limit=Decimal("100000"))
    admin = await make_user(session, Role.ADMIN)
    towels = await make_product(session, list_price=Decimal("10.0000"))
    plan = await make_schedule(session, company, [(towels, 5)], first=date(2026, 12, 4), today=TODAY)
    await companies_admin.set_active(session, admin, company.id, False, today=TODAY)
    await session.commit()
    maker = async_sessionmaker(engine, expire_on_commit=False)

    asleep = await run_pass(maker, date(2026, 12, 20))
    async with maker() as other:
        await companies_admin.set_active(
            other, admin, company.id, True, today=date(2026, 12, 20)
        )  # Sunday: next delivery ordered in time is Friday 25 Dec, delivered on Monday 28 Dec
        await other.commit()
    awake = await run_pass(maker, date(2026, 12, 20))
    restarted = await session.scalar(
        select(DeliverySchedule).where(DeliverySchedule.id == plan.id).execution_options(populate_existing=True)
    )

    assert (asleep.generated, asleep.missed) == (0, 0)
    assert (awake.generated, awake.missed) == (0, 0)
    assert restarted is not None and restarted.next_delivery == date(2026, 12, 25)
    assert (await run_pass(maker, date(2026, 12, 23))).generated == 0  # Christmas Day moves to Monday 28 Dec
    assert (await run_pass(maker, date(2026, 12, 26))).generated == 1
