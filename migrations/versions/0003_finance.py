"""finance: credit history, payments, invoices linked to orders

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

The credit history is append-only in the database itself: triggers refuse
every UPDATE and DELETE of `credit_events`, on PostgreSQL and on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

APPEND_ONLY_MESSAGE = 'credit_events is append-only'

POSTGRESQL_TRIGGERS = [
    f"""
    CREATE FUNCTION credit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER credit_events_append_only BEFORE UPDATE OR DELETE ON credit_events
    FOR EACH ROW EXECUTE FUNCTION credit_events_append_only()
    """,
]

SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER credit_events_no_update BEFORE UPDATE ON credit_events
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: UPDATE refused'); END
    """,
    f"""
    CREATE TRIGGER credit_events_no_delete BEFORE DELETE ON credit_events
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: DELETE refused'); END
    """,
]


def upgrade() -> None:
    op.create_table('credit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('limit_changed', 'hold', 'release', name='credit_event_kind', native_enum=False, length=30), nullable=False),
    sa.Column('old_limit', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('new_limit', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_credit_events_actor_id_users')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_credit_events_company_id_companies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_events'))
    )
    with op.batch_alter_table('credit_events', schema=None) as batch_op:
        batch_op.create_index('ix_credit_events_company_at', ['company_id', 'at'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=100), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('recorded_at', DateTimeUTC(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payments_amount_positive')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_payments_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments')),
    sa.UniqueConstraint('reference', name=op.f('uq_payments_reference'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payments_invoice_id'), ['invoice_id'], unique=False)

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_number', sa.String(length=30), nullable=True))
        batch_op.create_index(batch_op.f('ix_invoices_order_number'), ['order_number'], unique=False)

    triggers = POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == 'postgresql' else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS credit_events_append_only ON credit_events')
        op.execute('DROP FUNCTION IF EXISTS credit_events_append_only()')
    else:
        op.execute('DROP TRIGGER IF EXISTS credit_events_no_update')
        op.execute('DROP TRIGGER IF EXISTS credit_events_no_delete')

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_order_number'))
        batch_op.drop_column('order_number')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_payments_company_id'))

    op.drop_table('payments')
    with op.batch_alter_table('credit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_events_company_at')

    op.drop_table('credit_events')
