"""The schema could be distributed by customer: every table is placed, a customer's tables carry
`company_id` in every key (on the real, migrated schema), and the migration goes there and back."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Connection, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from portal import migrate, sharding
from portal.models import (
    Base,
    Company,
    MessageStatus,
    NotificationKind,
    OccurrenceStatus,
    OrderLine,
    OutboxMessage,
    Role,
    ScheduleOccurrence,
    User,
)
from portal.services import notifications
from tests.conftest import _postgres_admin, backend
from tests.factories import make_company, make_order, make_product, make_schedule, make_user
from tests.unit.test_migrations import _inspect, _scratch_database

COLUMN = sharding.DISTRIBUTION_COLUMN


def test_every_table_is_placed_exactly_once() -> None:
    places = [sharding.DISTRIBUTED, sharding.REFERENCE, sharding.LOCAL]
    assert sharding.all_tables() == set().union(*places)
    assert sum(len(place) for place in places) == len(sharding.all_tables())


def test_a_distributed_table_has_a_company_that_is_never_missing() -> None:
    for name in sharding.DISTRIBUTED:
        column = Base.metadata.tables[name].c.get(COLUMN)
        assert column is not None and not column.nullable, name


def _keys(connection: Connection) -> dict[str, Any]:
    found = inspect(connection)
    return {
        name: {
            "pk": found.get_pk_constraint(name)["constrained_columns"],
            "unique": [u["column_names"] for u in found.get_unique_constraints(name)]
            + [i["column_names"] for i in found.get_indexes(name) if i["unique"]],
            "fks": [
                (fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
                for fk in found.get_foreign_keys(name)
            ],
        }
        for name in found.get_table_names()
        if name in sharding.all_tables()
    }


async def test_the_migrated_schema_keys_every_customer_table_by_company(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        keys = await connection.run_sync(_keys)
        postgresql = connection.dialect.name == "postgresql"
    for name in sharding.DISTRIBUTED:
        for columns in keys[name]["unique"]:
            assert COLUMN in columns, (name, columns)
        if postgresql:
            assert COLUMN in keys[name]["pk"], name
    for name, table in keys.items():
        for columns, referred, referred_columns in table["fks"]:
            pair = (sharding.placement(name), sharding.placement(referred))
            if pair[1] == "distributed" and postgresql:
                assert COLUMN in columns and COLUMN in referred_columns, (name, columns, referred)
            if pair in {("distributed", "local"), ("local", "distributed")}:
                assert (name, columns[0]) in sharding.SEVERED, (name, columns, referred)
            else:
                assert pair in {
                    ("distributed", "distributed"),
                    ("distributed", "reference"),
                    ("reference", "reference"),
                    ("local", "reference"),
                    ("local", "local"),
                }, (name, columns, referred)


def _shape(connection: Connection) -> dict[str, Any]:
    found = inspect(connection)
    return {
        name: (
            found.get_pk_constraint(name),
            sorted(found.get_unique_constraints(name), key=lambda u: u["name"]),
            sorted(found.get_foreign_keys(name), key=lambda fk: fk["name"]),
            sorted(
                (i["name"], i["column_names"], i["unique"], {k: str(v) for k, v in i["dialect_options"].items()})
                for i in found.get_indexes(name)
            ),
            [column["name"] for column in found.get_columns(name)],
        )
        for name in sorted(found.get_table_names())
    }


def _queue_a_message_for_a_buyer(connection: Connection) -> None:
    connection.execute(insert(Company.__table__).values(id=7, name="Hotel", tax_id="PL7", credit_limit=0))
    connection.execute(
        insert(User.__table__).values(
            id=8, email="b@hotel.example", full_name="B", password_hash="x", role=Role.BUYER, company_id=7
        )
    )
    connection.execute(
        insert(OutboxMessage.__table__).values(
            kind=NotificationKind.ORDER_DECIDED,
            user_id=8,
            recipient="b@hotel.example",
            subject="S",
            body_text="T",
            body_html="H",
            link="/orders/1",
            status=MessageStatus.PENDING,
        )
    )
    connection.commit()


def test_the_migration_goes_there_and_back_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = _scratch_database(tmp_path)
    try:
        migrate.upgrade(url, "0018")
        before = _inspect(url, _shape)
        _inspect(url, _queue_a_message_for_a_buyer)
        migrate.upgrade(url, "0019")
        noted = _inspect(url, lambda c: c.execute(text("SELECT company_id FROM outbox_messages")).scalars().all())
        assert noted == [7]
        migrate.downgrade(url, "0018")
        assert _inspect(url, _shape) == before
        migrate.upgrade(url, "0019")
    finally:
        if backend() == "postgresql":
            from sqlalchemy import make_url

            _postgres_admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


async def test_a_message_to_a_buyer_notes_the_buyers_company(session: AsyncSession) -> None:
    buyer = await make_user(session)
    staff = await make_user(session, role=Role.ADMIN)
    await notifications.notify(
        session,
        NotificationKind.ORDER_DECIDED,
        [buyer, staff],
        lambda: "Hello",
        "order_decided",
        {"order": SimpleNamespace(number="ORD-1", delivery_fee=0, currency="PLN"), "decision": "approved"},
        "/orders/1",
    )
    await session.flush()
    noted = dict((await session.execute(select(OutboxMessage.user_id, OutboxMessage.company_id))).tuples().all())
    assert noted == {buyer.id: buyer.company_id, staff.id: None}


@pytest.mark.skipif(backend() != "postgresql", reason="the composite keys are PostgreSQL's")
async def test_a_line_cannot_belong_to_another_customers_order(session: AsyncSession) -> None:
    ours, theirs = await make_company(session), await make_company(session)
    order = await make_order(session, ours, gross="10.00")
    line = (await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))).one()
    with pytest.raises(IntegrityError):
        await session.execute(
            text("UPDATE order_lines SET company_id = :c WHERE id = :i"), {"c": theirs.id, "i": line.id}
        )


@pytest.mark.skipif(backend() != "postgresql", reason="the composite keys are PostgreSQL's")
async def test_deleting_an_order_forgets_it_on_the_occurrence_and_keeps_the_customer(session: AsyncSession) -> None:
    company = await make_company(session)
    order = await make_order(session, company, gross="10.00")
    schedule = await make_schedule(
        session, company, [(await make_product(session), 1)], first=order.requested_delivery_date
    )
    occurrence = ScheduleOccurrence(
        schedule_id=schedule.id,
        company_id=company.id,
        delivery_date=order.requested_delivery_date,
        status=OccurrenceStatus.GENERATED,
        order_id=order.id,
    )
    session.add(occurrence)
    await session.flush()
    await session.execute(text("DELETE FROM orders WHERE id = :i"), {"i": order.id})
    row = (await session.execute(text("SELECT order_id, company_id FROM schedule_occurrences"))).one()
    assert tuple(row) == (None, company.id)


def test_the_citus_plan_places_every_table_once_after_severing_the_keys_citus_cannot_keep() -> None:
    plan = sharding.citus_plan()
    severed = [statement for statement in plan if statement.startswith("ALTER TABLE")]
    assert plan[: len(severed)] == severed and len(severed) == len(sharding.SEVERED)
    placed = [statement.split("'")[1] for statement in plan[len(severed) :]]
    assert sorted(placed) == sorted(sharding.all_tables())
    position = {name: index for index, name in enumerate(placed)}
    for table in Base.metadata.sorted_tables:
        for key in table.foreign_keys:
            if not key.use_alter and key.column.table is not table:
                assert position[key.column.table.name] < position[table.name], (table.name, key.column.table.name)
    distributed = [s for s in plan if "create_distributed_table" in s]
    assert len(distributed) == len(sharding.DISTRIBUTED) and all(f"'{COLUMN}'" in s for s in distributed)
