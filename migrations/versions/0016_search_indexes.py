"""trigram indexes for the staff search on PostgreSQL: numbers, PO numbers, quote titles and
contacts are found by any part of them (`services/staff_search.py`) without reading whole tables;
SQLite has no such index and needs none at its size

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 11:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

FOLD = "lower(translate({}, 'ĄĆĘŁŃÓŚŹŻąćęłńóśźż', 'ACELNOSZZacelnoszz'))"
"""The staff search's folded text (`staff_search.Folded`), the same expression so the index serves it."""

INDEXES = {
    'ix_trgm_orders_number': ('orders', 'number'),
    'ix_trgm_orders_po_number': ('orders', 'lower(po_number)'),
    'ix_trgm_invoices_number': ('invoices', 'lower(number)'),
    'ix_trgm_invoices_order_number': ('invoices', 'lower(order_number)'),
    'ix_trgm_quotes_number': ('quotes', 'number'),
    'ix_trgm_quotes_title': ('quotes', FOLD.format('title')),
    'ix_trgm_crm_contacts_full_name': ('crm_contacts', FOLD.format('full_name')),
    'ix_trgm_crm_contacts_email': ('crm_contacts', 'lower(email)'),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for name, (table, expression) in INDEXES.items():
        op.execute(f'CREATE INDEX {name} ON {table} USING gin (({expression}) gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name in INDEXES:
        op.execute(f'DROP INDEX IF EXISTS {name}')
