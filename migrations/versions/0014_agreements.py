"""framework agreements: one active per company, with volume tiers over settlement periods,
payment-term options, an agreed assortment, and the closed periods with their rebates; an order
keeps the agreement's terms it was placed under (payment effect, prepaid, skonto)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


FROZEN = 'agreement_id, company_id, starts_on, ends_on, tier_mode, currency, turnover, rebate, closed_at'
"""A closed period keeps its numbers; only the ERP's taking it (`exported_at`) is written later."""

POSTGRESQL_TRIGGERS = [
    """
    CREATE FUNCTION rebates_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    f"""
    CREATE TRIGGER settlement_closes_append_only BEFORE UPDATE OF {FROZEN} OR DELETE ON settlement_closes
    FOR EACH ROW EXECUTE FUNCTION rebates_append_only()
    """,
    """
    CREATE TRIGGER rebate_lines_append_only BEFORE UPDATE OR DELETE ON rebate_lines
    FOR EACH ROW EXECUTE FUNCTION rebates_append_only()
    """,
]

SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER settlement_closes_no_update BEFORE UPDATE OF {FROZEN} ON settlement_closes
    BEGIN SELECT RAISE(ABORT, 'settlement_closes is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER settlement_closes_no_delete BEFORE DELETE ON settlement_closes
    BEGIN SELECT RAISE(ABORT, 'settlement_closes is append-only: DELETE refused'); END
    """,
    """
    CREATE TRIGGER rebate_lines_no_update BEFORE UPDATE ON rebate_lines
    BEGIN SELECT RAISE(ABORT, 'rebate_lines is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER rebate_lines_no_delete BEFORE DELETE ON rebate_lines
    BEGIN SELECT RAISE(ABORT, 'rebate_lines is append-only: DELETE refused'); END
    """,
]


def _choice(name: str, kind: str, *values: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Enum(*values, name=kind, native_enum=False, length=30), nullable=False)


def _parent(table: str, column: str, parent: str, ondelete: str = 'CASCADE') -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f'{parent}.id'], name=op.f(f'fk_{table}_{column}_{parent}'), ondelete=ondelete
    )


def _owned(table: str, *columns: sa.Column, parent: str = 'agreements', key: str = 'agreement_id') -> None:  # type: ignore[type-arg]
    """A table whose rows belong to a parent row and to the parent's company."""
    op.create_table(
        table,
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column(key, sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        *columns,
        _parent(table, key, parent),
        _parent(table, 'company_id', 'companies'),
        sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    )
    op.create_index(op.f(f'ix_{table}_{key}'), table, [key])
    op.create_index(op.f(f'ix_{table}_company_id'), table, ['company_id'])


def upgrade() -> None:
    op.create_table(
        'agreements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(40), nullable=False),
        _choice('status', 'agreement_status', 'draft', 'active', 'ended'),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_to', sa.Date(), nullable=True),
        _choice('period', 'settlement_period', 'month', 'quarter', 'year'),
        _choice('tier_mode', 'tier_mode', 'retrospective', 'prospective'),
        sa.Column('price_list_id', sa.Integer(), nullable=True),
        sa.Column('special_terms', sa.Text(), nullable=False),
        sa.Column('skonto_pct', sa.Numeric(5, 2), nullable=True),
        sa.Column('skonto_days', sa.Integer(), nullable=True),
        sa.Column('assortment_blocking', sa.Boolean(), nullable=False),
        sa.Column('closed_through', sa.Date(), nullable=True),
        sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('ended_at', DateTimeUTC(timezone=True), nullable=True),
        _parent('agreements', 'company_id', 'companies'),
        _parent('agreements', 'price_list_id', 'price_lists', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agreements')),
        sa.UniqueConstraint('number', name=op.f('uq_agreements_number')),
    )
    op.create_index(op.f('ix_agreements_company_id'), 'agreements', ['company_id'])
    op.create_index(op.f('ix_agreements_status'), 'agreements', ['status'])
    _owned(
        'agreement_tiers',
        sa.Column('applies_from', sa.Date(), nullable=False),
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('threshold', sa.Numeric(14, 2), nullable=False),
        sa.Column('rebate_pct', sa.Numeric(5, 2), nullable=False),
        _parent('agreement_tiers', 'category_id', 'product_categories'),
        sa.CheckConstraint('threshold > 0', name=op.f('ck_agreement_tiers_threshold_positive')),
        sa.CheckConstraint('rebate_pct > 0 AND rebate_pct <= 100', name=op.f('ck_agreement_tiers_rebate_in_range')),
    )
    _owned(
        'agreement_payment_options',
        sa.Column('days', sa.Integer(), nullable=False),
        sa.Column('price_effect_pct', sa.Numeric(5, 2), nullable=False),
        sa.UniqueConstraint('agreement_id', 'days', name=op.f('uq_agreement_payment_options_agreement_id_days')),
    )
    _owned(
        'agreement_assortment',
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('product_id', sa.Integer(), nullable=True),
        _parent('agreement_assortment', 'category_id', 'product_categories'),
        _parent('agreement_assortment', 'product_id', 'products'),
        sa.CheckConstraint(
            '(category_id IS NULL) <> (product_id IS NULL)', name=op.f('ck_agreement_assortment_category_or_product')
        ),
    )
    _owned(
        'settlement_closes',
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        _choice('tier_mode', 'tier_mode', 'retrospective', 'prospective'),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('turnover', sa.Numeric(14, 2), nullable=False),
        sa.Column('rebate', sa.Numeric(14, 2), nullable=False),
        sa.Column('closed_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('exported_at', DateTimeUTC(timezone=True), nullable=True),
        sa.UniqueConstraint('agreement_id', 'starts_on', name=op.f('uq_settlement_closes_agreement_id_starts_on')),
    )
    op.create_index(op.f('ix_settlement_closes_closed_at'), 'settlement_closes', ['closed_at'])
    _owned(
        'rebate_lines',
        sa.Column('category_id', sa.Integer(), nullable=True),
        sa.Column('category_name', sa.String(100), nullable=False),
        sa.Column('turnover', sa.Numeric(14, 2), nullable=False),
        sa.Column('threshold', sa.Numeric(14, 2), nullable=True),
        sa.Column('rebate_pct', sa.Numeric(5, 2), nullable=False),
        sa.Column('amount', sa.Numeric(14, 2), nullable=False),
        _parent('rebate_lines', 'category_id', 'product_categories', 'SET NULL'),
        parent='settlement_closes',
        key='close_id',
    )
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('agreement_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('payment_effect_pct', sa.Numeric(5, 2), server_default='0', nullable=False))
        batch.add_column(sa.Column('prepaid', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('skonto_pct', sa.Numeric(5, 2), nullable=True))
        batch.add_column(sa.Column('skonto_days', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('counted_on', sa.Date(), nullable=True))
        batch.create_index('ix_orders_company_counted', ['company_id', 'counted_on'])
        batch.create_foreign_key(
            batch.f('fk_orders_agreement_id_agreements'), 'agreements', ['agreement_id'], ['id'], ondelete='SET NULL'
        )
    # Orders approved before: the (UTC) day of their approval.
    day = 'CAST(MIN(e.at) AS DATE)' if op.get_bind().dialect.name == 'postgresql' else 'DATE(MIN(e.at))'
    op.execute(
        f"UPDATE orders SET counted_on = (SELECT {day} FROM order_events e"
        " WHERE e.order_id = orders.id AND e.to_status = 'approved')"
        " WHERE status IN ('approved', 'exported', 'invoiced')"
    )
    for statement in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == 'postgresql' else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS rebate_lines_append_only ON rebate_lines')
        op.execute('DROP TRIGGER IF EXISTS settlement_closes_append_only ON settlement_closes')
        op.execute('DROP FUNCTION IF EXISTS rebates_append_only()')
    else:
        for name in ('rebate_lines_no_delete', 'rebate_lines_no_update', 'settlement_closes_no_delete', 'settlement_closes_no_update'):
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    with op.batch_alter_table('orders') as batch:
        batch.drop_constraint('fk_orders_agreement_id_agreements', type_='foreignkey')
        batch.drop_index('ix_orders_company_counted')
        for column in ('counted_on', 'skonto_days', 'skonto_pct', 'prepaid', 'payment_effect_pct', 'agreement_id'):
            batch.drop_column(column)
    for table in (
        'rebate_lines',
        'settlement_closes',
        'agreement_assortment',
        'agreement_payment_options',
        'agreement_tiers',
        'agreements',
    ):
        op.drop_table(table)
