"""trigram indexes for the catalog's search on PostgreSQL: a product is found by any part of its
name or SKU (`services/catalog.py`, `ILIKE '%term%'`) without reading the whole product table;
SQLite has no such index and needs none at its size

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 15:45:00.000000
"""

from __future__ import annotations

from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_trgm_products_name': ('products', 'name'),
    'ix_trgm_products_sku': ('products', 'sku'),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for name, (table, column) in INDEXES.items():
        op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name in INDEXES:
        op.execute(f'DROP INDEX IF EXISTS {name}')
