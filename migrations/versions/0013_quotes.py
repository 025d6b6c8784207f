"""quotes: a quote per company with its versions, lines, thread and timeline, a yearly quote
number; an order made from a quote (its number and version) or placed by an account manager for
the company; a cart per user and company, so an account manager keeps one for each customer

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

STATUSES = (
    'requested',
    'draft',
    'sent',
    'changes_requested',
    'accepted',
    'declined',
    'expired',
    'withdrawn',
)


def _status(name: str, nullable: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Enum(*STATUSES, name='quote_status', native_enum=False, length=30), nullable=nullable)


def _company(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ['company_id'], ['companies.id'], name=op.f(f'fk_{table}_company_id_companies'), ondelete='CASCADE'
    )


def _user(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ['users.id'], name=op.f(f'fk_{table}_{column}_users'), ondelete='SET NULL')


def upgrade() -> None:
    op.create_table(
        'quote_number_sequences',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_number', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_quote_number_sequences')),
    )
    op.create_table(
        'quotes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(30), nullable=False),
        _status('status', False),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('wanted_by', sa.Date(), nullable=True),
        sa.Column('sent_version', sa.Integer(), server_default='0', nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.Column('reminded_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
        _company('quotes'),
        _user('quotes', 'requested_by_id'),
        _user('quotes', 'created_by_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quotes')),
        sa.UniqueConstraint('number', name=op.f('uq_quotes_number')),
    )
    op.create_index(op.f('ix_quotes_company_id'), 'quotes', ['company_id'])
    op.create_index(op.f('ix_quotes_status'), 'quotes', ['status'])
    op.create_index(op.f('ix_quotes_valid_until'), 'quotes', ['valid_until'])
    op.create_index(op.f('ix_quotes_updated_at'), 'quotes', ['updated_at'])
    op.create_table(
        'quote_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('quote_id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=True),
        sa.Column('delivery_terms', sa.Text(), nullable=False),
        sa.Column('payment_terms', sa.Text(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('sent_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('sent_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['quote_id'], ['quotes.id'], name=op.f('fk_quote_versions_quote_id_quotes'), ondelete='CASCADE'
        ),
        _company('quote_versions'),
        _user('quote_versions', 'sent_by_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_versions')),
        sa.UniqueConstraint('quote_id', 'number', name=op.f('uq_quote_versions_quote_id_number')),
    )
    op.create_index(op.f('ix_quote_versions_company_id'), 'quote_versions', ['company_id'])
    op.create_table(
        'quote_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('version_id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('line_key', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('sku', sa.String(40), nullable=False),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('unit', sa.String(10), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('requested_quantity', sa.Integer(), nullable=True),
        sa.Column('target_price', sa.Numeric(14, 4), nullable=True),
        sa.Column('unit_price', sa.Numeric(14, 4), nullable=True),
        sa.Column('unit_cost', sa.Numeric(14, 4), nullable=True),
        sa.Column('catalogue_price', sa.Numeric(14, 4), nullable=True),
        sa.Column('vat_rate', sa.Numeric(5, 2), nullable=False),
        sa.Column('below_floor_reason', sa.Text(), nullable=False),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_quote_lines_quantity_positive')),
        sa.CheckConstraint(
            'unit_price IS NULL OR unit_price > 0', name=op.f('ck_quote_lines_unit_price_positive')
        ),
        sa.ForeignKeyConstraint(
            ['version_id'], ['quote_versions.id'], name=op.f('fk_quote_lines_version_id_quote_versions'), ondelete='CASCADE'
        ),
        _company('quote_lines'),
        sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_quote_lines_product_id_products')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_lines')),
    )
    op.create_index(op.f('ix_quote_lines_version_id'), 'quote_lines', ['version_id'])
    op.create_table(
        'quote_comments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('quote_id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('internal', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('at', DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['quote_id'], ['quotes.id'], name=op.f('fk_quote_comments_quote_id_quotes'), ondelete='CASCADE'
        ),
        _company('quote_comments'),
        _user('quote_comments', 'author_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_comments')),
    )
    op.create_index(op.f('ix_quote_comments_quote_id'), 'quote_comments', ['quote_id'])
    op.create_table(
        'quote_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('quote_id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        _status('from_status', True),
        _status('to_status', False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ['quote_id'], ['quotes.id'], name=op.f('fk_quote_events_quote_id_quotes'), ondelete='CASCADE'
        ),
        _company('quote_events'),
        _user('quote_events', 'actor_id'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_quote_events')),
    )
    op.create_index(op.f('ix_quote_events_quote_id'), 'quote_events', ['quote_id'])
    op.create_index(op.f('ix_quote_events_company_id'), 'quote_events', ['company_id'])
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('quote_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('quote_version', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('placed_by_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_orders_quote_id_quotes'), 'quotes', ['quote_id'], ['id'], ondelete='SET NULL'
        )
        batch.create_foreign_key(
            batch.f('fk_orders_placed_by_id_users'), 'users', ['placed_by_id'], ['id'], ondelete='SET NULL'
        )
        batch.create_unique_constraint(batch.f('uq_orders_quote_id'), ['quote_id'])
    with op.batch_alter_table('carts') as batch:
        batch.drop_constraint('uq_carts_user_id', type_='unique')
        batch.create_unique_constraint(batch.f('uq_carts_user_id_company_id'), ['user_id', 'company_id'])


def downgrade() -> None:
    op.execute("DELETE FROM carts WHERE company_id IS NOT NULL AND user_id IN (SELECT id FROM users WHERE company_id IS NULL OR company_id <> carts.company_id)")
    with op.batch_alter_table('carts') as batch:
        batch.drop_constraint('uq_carts_user_id_company_id', type_='unique')
        batch.create_unique_constraint('uq_carts_user_id', ['user_id'])
    with op.batch_alter_table('orders') as batch:
        batch.drop_constraint('uq_orders_quote_id', type_='unique')
        batch.drop_constraint('fk_orders_placed_by_id_users', type_='foreignkey')
        batch.drop_constraint('fk_orders_quote_id_quotes', type_='foreignkey')
        batch.drop_column('placed_by_id')
        batch.drop_column('quote_version')
        batch.drop_column('quote_id')
    op.drop_table('quote_events')
    op.drop_table('quote_comments')
    op.drop_table('quote_lines')
    op.drop_table('quote_versions')
    op.drop_table('quotes')
    op.drop_table('quote_number_sequences')
