"""The migrations build the whole schema, tear it down, and match the models."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from portal import migrate, sharding
from portal.models import Base, WebSession
from tests.conftest import _postgres_admin, backend, postgres_admin_url

EXPECTED_TABLES = {
    "companies",
    "agreements",
    "agreement_tiers",
    "agreement_payment_options",
    "agreement_assortment",
    "settlement_closes",
    "rebate_lines",
    "addresses",
    "users",
    "login_throttles",
    "product_categories",
    "products",
    "price_lists",
    "price_list_items",
    "contract_prices",
    "api_keys",
    "idempotent_responses",
    "invoices",
    "web_sessions",
    "carts",
    "cart_lines",
    "orders",
    "order_lines",
    "order_flags",
    "order_events",
    "order_number_sequences",
    "deputies",
    "customer_notes",
    "shopping_lists",
    "shopping_list_lines",
    "payments",
    "credit_events",
    "delivery_schedules",
    "schedule_lines",
    "schedule_occurrences",
    "outbox_messages",
    "notification_opt_outs",
    "access_tokens",
    "audit_log",
    "quote_number_sequences",
    "quotes",
    "quote_versions",
    "quote_lines",
    "quote_comments",
    "quote_events",
    "prospects",
    "crm_contacts",
    "activities",
    "tasks",
    "task_events",
    "task_digests",
    "lost_reasons",
    "stage_probabilities",
    "opportunities",
    "opportunity_moves",
}


SEARCH_INDEX = "ix_trgm_"
"""PostgreSQL's trigram indexes for the staff search (migration 0016): not declared on the models,
which have no way to say "on PostgreSQL only"; checked by name instead."""
SEARCH_INDEXES = {
    "ix_trgm_orders_number",
    "ix_trgm_orders_po_number",
    "ix_trgm_invoices_number",
    "ix_trgm_invoices_order_number",
    "ix_trgm_quotes_number",
    "ix_trgm_quotes_title",
    "ix_trgm_crm_contacts_full_name",
    "ix_trgm_crm_contacts_email",
}
SEARCHED = ("orders", "invoices", "quotes", "crm_contacts")


def _not_a_search_index(name, type_, parent_names):  # type: ignore[no-untyped-def]
    return not (type_ == "index" and name and name.startswith(SEARCH_INDEX))


def _not_a_sharding_key(object_, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """On PostgreSQL a foreign key to a customer's table carries `company_id` (migration 0019), which
    the one-column keys of the models cannot say; `test_sharding_keys` checks these keys instead."""
    return not (type_ == "foreign_key_constraint" and object_.referred_table.name in sharding.DISTRIBUTED)


def _inspect(url: str, job):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(job)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _scratch_database(tmp_path) -> str:  # type: ignore[no-untyped-def]
    if backend() == "postgresql":
        import secrets

        from sqlalchemy import make_url

        name = f"portal_test_migrations_{secrets.token_hex(4)}"
        _postgres_admin(f'CREATE DATABASE "{name}"')
        return make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    return f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"


def test_upgrade_from_empty_to_head_and_down_to_base(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = _scratch_database(tmp_path)
    try:
        migrate.upgrade(url)
        tables = set(_inspect(url, lambda c: inspect(c).get_table_names()))
        assert tables >= EXPECTED_TABLES

        diff = _inspect(
            url,
            lambda c: compare_metadata(
                MigrationContext.configure(
                    c,
                    opts={
                        "compare_type": c.dialect.name == "postgresql",
                        "include_name": _not_a_search_index,
                        "include_object": _not_a_sharding_key if c.dialect.name == "postgresql" else None,
                    },
                ),
                [Base.metadata, WebSession.metadata],
            ),
        )
        assert diff == [], f"models and migrations disagree: {diff}"
        indexes = _inspect(
            url, lambda c: {index["name"] for table in SEARCHED for index in inspect(c).get_indexes(table)}
        )
        found = {name for name in indexes if name and name.startswith(SEARCH_INDEX)}
        assert found == (SEARCH_INDEXES if backend() == "postgresql" else set())

        migrate.downgrade(url)
        remaining = set(_inspect(url, lambda c: inspect(c).get_table_names()))
        assert remaining & EXPECTED_TABLES == set()

        migrate.upgrade(url)
        assert set(_inspect(url, lambda c: inspect(c).get_table_names())) >= EXPECTED_TABLES
    finally:
        if backend() == "postgresql":
            from sqlalchemy import make_url

            _postgres_admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
