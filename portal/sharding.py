"""Where each table would live on a PostgreSQL cluster sharded by customer (Citus).

The portal runs on one PostgreSQL; this module is the plan for the day it does not. A customer's
data is *distributed* by `company_id`: every such table has it NOT NULL, in its primary key
`(id, company_id)` and in every unique key, and a foreign key between two of them carries it on
both sides, so a customer's rows sit together on one node and a query that names the company goes
to that node only (migration 0019 shapes the keys on PostgreSQL). Tables every customer shares and
that are small and mostly read are *reference* tables, copied to every node. The rest is the
seller's own data, whose rows belong to no customer or to a prospect (the CRM, the queues, the
counters, the sign-in machinery): *local* tables that stay on the coordinator.

`citus_plan()` turns the classification into the statements that would distribute the schema.
"""

from __future__ import annotations

from portal.models import Base, WebSession

DISTRIBUTION_COLUMN = "company_id"
WEB_SESSIONS: str = WebSession.__tablename__
"""The sessions' table, declared by the session store outside `Base`."""

DISTRIBUTED = frozenset(
    {
        "addresses",
        "agreements",
        "agreement_tiers",
        "agreement_payment_options",
        "agreement_assortment",
        "settlement_closes",
        "rebate_lines",
        "contract_prices",
        "invoices",
        "payments",
        "credit_events",
        "customer_notes",
        "carts",
        "cart_lines",
        "orders",
        "order_lines",
        "order_flags",
        "order_events",
        "quotes",
        "quote_versions",
        "quote_lines",
        "quote_comments",
        "quote_events",
        "delivery_schedules",
        "schedule_lines",
        "schedule_occurrences",
        "shopping_lists",
        "shopping_list_lines",
        "report_months",
        "report_category_mix",
    }
)
"""A customer's own data, sharded by `company_id` and co-located: one customer, one node."""

REFERENCE = frozenset(
    {
        "companies",
        "users",
        "product_categories",
        "products",
        "price_lists",
        "price_list_items",
        "lost_reasons",
        "stage_probabilities",
        "deputies",
        "notification_opt_outs",
        "report_settings",
    }
)
"""Shared by every customer, small and read far more than written: a copy on every node, so any
customer's query joins them where it runs. `companies` is the customers' directory and `users`
includes the seller's staff (no company), both read on every request."""

LOCAL = frozenset(
    {
        "login_throttles",
        "web_sessions",
        "access_tokens",
        "api_keys",
        "idempotent_responses",
        "audit_log",
        "outbox_messages",
        "order_number_sequences",
        "quote_number_sequences",
        "prospects",
        "crm_contacts",
        "activities",
        "opportunities",
        "opportunity_moves",
        "tasks",
        "task_events",
        "task_digests",
        "report_refresh",
    }
)
"""The seller's own data, on the coordinator: the CRM (a prospect has no company yet), the e-mail
queue the workers claim across customers, the yearly number counters (one per year for the whole
seller, which is what keeps order and quote numbers unique across customers), sign-in tokens found
by their hash alone, the audit trail, the API's keys and stored replies."""

SEVERED = frozenset(
    {
        ("quotes", "opportunity_id"),
        ("opportunities", "order_id"),
        ("opportunity_moves", "quote_id"),
        ("tasks", "order_id"),
        ("tasks", "quote_id"),
    }
)
"""Foreign keys between a local and a distributed table, which Citus cannot enforce: the plan drops
them and the services that write these columns keep them true (they copy an id they just read)."""


def all_tables() -> set[str]:
    return set(Base.metadata.tables) | {WEB_SESSIONS}


def placement(table: str) -> str:
    """ "distributed", "reference" or "local"; KeyError for a table nobody placed."""
    for name, tables in (("distributed", DISTRIBUTED), ("reference", REFERENCE), ("local", LOCAL)):
        if table in tables:
            return name
    raise KeyError(table)


def citus_plan() -> list[str]:
    """The SQL that would distribute the migrated schema on a Citus coordinator, in order: the
    severed foreign keys dropped, then every table placed, parents before the tables that refer to
    them (every distributed table co-located with the first)."""
    statements = [
        f"ALTER TABLE {table} DROP CONSTRAINT fk_{table}_{column}_{_referred(table, column)}"
        for table, column in sorted(SEVERED)
    ]
    tables = [table.name for table in Base.metadata.sorted_tables] + [WEB_SESSIONS]
    leader = next(table for table in tables if table in DISTRIBUTED)
    for table in tables:
        kind = placement(table)
        if kind == "reference":
            statements.append(f"SELECT create_reference_table('{table}')")
        elif kind == "local":
            statements.append(f"SELECT citus_add_local_table_to_metadata('{table}')")
        else:
            group = "none" if table == leader else leader
            statements.append(
                f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}', colocate_with => '{group}')"
            )
    return statements


def _referred(table: str, column: str) -> str:
    (key,) = Base.metadata.tables[table].c[column].foreign_keys
    return key.column.table.name
