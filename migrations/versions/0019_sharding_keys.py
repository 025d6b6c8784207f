"""sharding-ready keys: every customer table's keys carry `company_id`, so the schema could be
distributed by customer on a Citus cluster without rewriting queries (`portal/sharding.py` places
every table: distributed, reference or local); the e-mail queue notes the customer a message concerns

On PostgreSQL, for every distributed table:
- the primary key becomes `(id, company_id)`: `id` keeps its sequence (inserts are unchanged) and
  leads the key, so every lookup by id still uses it; the ORM's identity stays `id`;
- a foreign key to a distributed table carries `company_id` on both sides
  (`(order_id, company_id) → orders (id, company_id)`); one that sets NULL on delete nulls only its
  own column (`ON DELETE SET NULL (order_id)`), never `company_id`.
On both databases every unique key of a distributed table is extended with `company_id`. Numbers
stay unique across the seller by how they are made: order and quote numbers are drawn from the
yearly counters (`order_number_sequences`, `quote_number_sequences`, one row per year for the whole
seller); invoice and agreement numbers come from the ERP and payment references from the bank,
which issue each once, and the imports look an existing one up before adding it. Checkout keys
were always looked up per customer.
SQLite keeps its one-column primary and foreign keys: a composite primary key would cost it the
rowid's autoincrement, and the single-file database is never distributed.

`outbox_messages.company_id` (nullable: staff and invitations have no company) is filled from the
recipient's company for the messages already queued.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

KEYED = (
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
)
"""The distributed tables whose primary key was `id` alone (the report tables' already lead with
`company_id`)."""

UNIQUE = (
    ("invoices", ("number",)),
    ("orders", ("number",)),
    ("orders", ("idempotency_key",)),
    ("orders", ("quote_id",)),
    ("quotes", ("number",)),
    ("agreements", ("number",)),
    ("payments", ("reference",)),
    ("cart_lines", ("cart_id", "product_id")),
    ("shopping_list_lines", ("list_id", "product_id")),
    ("schedule_lines", ("schedule_id", "product_id")),
    ("schedule_occurrences", ("schedule_id", "delivery_date")),
    ("quote_versions", ("quote_id", "number")),
    ("agreement_payment_options", ("agreement_id", "days")),
    ("settlement_closes", ("agreement_id", "starts_on")),
)
"""Unique keys that gain `company_id` in front."""

REFERENCES = (
    ("agreement_assortment", "agreement_id", "agreements", "CASCADE"),
    ("agreement_payment_options", "agreement_id", "agreements", "CASCADE"),
    ("agreement_tiers", "agreement_id", "agreements", "CASCADE"),
    ("settlement_closes", "agreement_id", "agreements", "CASCADE"),
    ("rebate_lines", "close_id", "settlement_closes", "CASCADE"),
    ("payments", "invoice_id", "invoices", "CASCADE"),
    ("cart_lines", "cart_id", "carts", "CASCADE"),
    ("orders", "delivery_address_id", "addresses", "SET NULL"),
    ("orders", "agreement_id", "agreements", "SET NULL"),
    ("orders", "quote_id", "quotes", "SET NULL"),
    ("order_lines", "order_id", "orders", "CASCADE"),
    ("order_flags", "order_id", "orders", "CASCADE"),
    ("order_events", "order_id", "orders", "CASCADE"),
    ("quote_versions", "quote_id", "quotes", "CASCADE"),
    ("quote_comments", "quote_id", "quotes", "CASCADE"),
    ("quote_events", "quote_id", "quotes", "CASCADE"),
    ("quote_lines", "version_id", "quote_versions", "CASCADE"),
    ("delivery_schedules", "address_id", "addresses", None),
    ("schedule_lines", "schedule_id", "delivery_schedules", "CASCADE"),
    ("schedule_occurrences", "schedule_id", "delivery_schedules", "CASCADE"),
    ("schedule_occurrences", "order_id", "orders", "SET NULL"),
    ("shopping_list_lines", "list_id", "shopping_lists", "CASCADE"),
    ("opportunities", "order_id", "orders", "SET NULL"),
    ("opportunity_moves", "quote_id", "quotes", "SET NULL"),
    ("tasks", "order_id", "orders", "SET NULL"),
    ("tasks", "quote_id", "quotes", "SET NULL"),
)
"""Every foreign key to a distributed table: (table, column, referred table, on delete). The CRM's
(opportunities, moves, tasks) are local tables, whose `company_id` is NULL for a prospect's rows;
their key is then not checked, as before for a NULL column."""


def _fk_name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def _uq_name(table: str, columns: tuple[str, ...]) -> str:
    return f"uq_{table}_{'_'.join(columns)}"


def _on_delete(action: str | None, column: str) -> str:
    if action is None:
        return ""
    return f" ON DELETE SET NULL ({column})" if action == "SET NULL" else f" ON DELETE {action}"


def _swap_unique(table: str, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    with op.batch_alter_table(table) as batch:
        batch.drop_constraint(_uq_name(table, old), type_="unique")
        batch.create_unique_constraint(_uq_name(table, new), list(new))


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        for table, column, referred, _ in REFERENCES:
            op.drop_constraint(_fk_name(table, column, referred), table, type_="foreignkey")
        for table in KEYED:
            op.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, ADD CONSTRAINT pk_{table} PRIMARY KEY (id, company_id)"
            )
    for table, columns in UNIQUE:
        _swap_unique(table, columns, ("company_id", *columns))
    if postgresql:
        for table, column, referred, action in REFERENCES:
            op.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {_fk_name(table, column, referred)}"
                f" FOREIGN KEY ({column}, company_id) REFERENCES {referred} (id, company_id){_on_delete(action, column)}"
            )
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("company_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_outbox_messages_company_id_companies", "companies", ["company_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_outbox_messages_company_id", ["company_id"])
    op.execute(
        "UPDATE outbox_messages SET company_id = (SELECT users.company_id FROM users"
        " WHERE users.id = outbox_messages.user_id) WHERE user_id IS NOT NULL"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_index("ix_outbox_messages_company_id")
        batch.drop_constraint("fk_outbox_messages_company_id_companies", type_="foreignkey")
        batch.drop_column("company_id")
    if postgresql:
        for table, column, referred, _ in REFERENCES:
            op.drop_constraint(_fk_name(table, column, referred), table, type_="foreignkey")
    for table, columns in UNIQUE:
        _swap_unique(table, ("company_id", *columns), columns)
    if postgresql:
        for table in KEYED:
            op.execute(f"ALTER TABLE {table} DROP CONSTRAINT pk_{table}, ADD CONSTRAINT pk_{table} PRIMARY KEY (id)")
        for table, column, referred, action in REFERENCES:
            op.create_foreign_key(_fk_name(table, column, referred), table, referred, [column], ["id"], ondelete=action)
