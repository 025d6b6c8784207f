"""reporting: the worker's monthly summary per customer (`report_months`), each customer's
purchase mix by category over the trailing 12 months (`report_category_mix`), the settings the
reports price credit and service with (`report_settings`, one row), when the summary was last
made (`report_refresh`, one row); each order keeps its goods' value at list prices
(`orders.list_total`), so the discount against list price is remembered, not recalculated; indexes
for a customer's order timeline and for the open invoices every credit figure sums

Orders submitted before this revision get their list value from the products' list prices of the
day of the upgrade (the best there is: earlier list prices were never kept).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 13:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(14, 2)
SUM = sa.Numeric(18, 2)
"""Sums over many invoices and days (balance × days) outgrow an amount's 14 digits."""


def _money(name: str, kind: sa.Numeric = AMOUNT) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, kind, nullable=False, server_default='0')


def _count(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), nullable=False, server_default='0')


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('list_total', AMOUNT, nullable=True))
        batch.create_index('ix_orders_counted_on', ['counted_on', 'company_id'])
    op.create_index('ix_order_events_company_at', 'order_events', ['company_id', 'at'])
    op.create_index(
        'ix_invoices_open',
        'invoices',
        ['company_id', 'due_date'],
        postgresql_where=sa.text('paid_amount < gross_amount'),
        sqlite_where=sa.text('paid_amount < gross_amount'),
    )
    op.execute(
        'UPDATE orders SET list_total = (SELECT SUM(ROUND(p.list_price * l.quantity, 2)) FROM order_lines l'
        ' JOIN products p ON p.id = l.product_id WHERE l.order_id = orders.id)'
    )
    op.create_table(
        'report_months',
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        _count('orders'),
        _money('net'),
        _money('cost'),
        _money('goods_net'),
        _money('list_total'),
        _count('small_orders'),
        _money('skonto'),
        _money('rebates'),
        _count('quotes_sent'),
        _count('approvals'),
        _money('balance_days', SUM),
        _money('paid', SUM),
        _money('late_days', SUM),
        sa.ForeignKeyConstraint(
            ['company_id'], ['companies.id'], name=op.f('fk_report_months_company_id_companies'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('company_id', 'month', name=op.f('pk_report_months')),
    )
    op.create_index(op.f('ix_report_months_month'), 'report_months', ['month'])
    op.create_table(
        'report_category_mix',
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=False),
        _money('net'),
        _count('months'),
        sa.ForeignKeyConstraint(
            ['company_id'],
            ['companies.id'],
            name=op.f('fk_report_category_mix_company_id_companies'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['category_id'],
            ['product_categories.id'],
            name=op.f('fk_report_category_mix_category_id_product_categories'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('company_id', 'category_id', name=op.f('pk_report_category_mix')),
    )
    settings = op.create_table(
        'report_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('credit_rate_pct', sa.Numeric(5, 2), nullable=False),
        sa.Column('order_cost', AMOUNT, nullable=False),
        sa.Column('delivery_cost', AMOUNT, nullable=False),
        sa.Column('quote_cost', AMOUNT, nullable=False),
        sa.Column('approval_cost', AMOUNT, nullable=False),
        sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['updated_by_id'], ['users.id'], name=op.f('fk_report_settings_updated_by_id_users'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_settings')),
        sa.CheckConstraint('id = 1', name=op.f('ck_report_settings_one_row')),
        sa.CheckConstraint(
            'credit_rate_pct >= 0 AND order_cost >= 0 AND delivery_cost >= 0 AND quote_cost >= 0'
            ' AND approval_cost >= 0',
            name=op.f('ck_report_settings_not_negative'),
        ),
    )
    op.bulk_insert(
        settings,
        [
            {
                'id': 1,
                'credit_rate_pct': 8,
                'order_cost': 25,
                'delivery_cost': 40,
                'quote_cost': 60,
                'approval_cost': 10,
            }
        ],
    )
    refresh = op.create_table(
        'report_refresh',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('refreshed_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('through', sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_refresh')),
        sa.CheckConstraint('id = 1', name=op.f('ck_report_refresh_one_row')),
    )
    op.bulk_insert(refresh, [{'id': 1}])


def downgrade() -> None:
    op.drop_table('report_refresh')
    op.drop_table('report_settings')
    op.drop_table('report_category_mix')
    op.drop_index(op.f('ix_report_months_month'), table_name='report_months')
    op.drop_table('report_months')
    op.drop_index('ix_invoices_open', table_name='invoices')
    op.drop_index('ix_order_events_company_at', table_name='order_events')
    with op.batch_alter_table('orders') as batch:
        batch.drop_index('ix_orders_counted_on')
        batch.drop_column('list_total')
