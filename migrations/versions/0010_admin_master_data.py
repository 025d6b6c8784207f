"""master data kept by admins: company status, behaviour and delivery terms; retired addresses;
price list codes; the order's delivery fee; one-time access links; the append-only audit log

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 22:00:00.000000

Columns are added with plain ALTERs (no batch copy), so SQLite keeps the append-only
triggers of the tables it would otherwise copy.
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

APPEND_ONLY_MESSAGE = 'audit_log is append-only'

POSTGRESQL_TRIGGERS = [
    f"""
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}: % refused', TG_OP USING ERRCODE = 'integrity_constraint_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
]

SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: UPDATE refused'); END
    """,
    f"""
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}: DELETE refused'); END
    """,
]


def upgrade() -> None:
    op.add_column('companies', sa.Column('is_active', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.add_column('companies', sa.Column('auto_approve', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('companies', sa.Column('margin_floor_pct', sa.Numeric(5, 2), nullable=True))
    op.add_column('companies', sa.Column('delivery_weekdays', sa.String(7), server_default='12345', nullable=False))
    op.add_column('companies', sa.Column('order_cutoff', sa.Time(), nullable=True))
    op.add_column('companies', sa.Column('min_order_value', sa.Numeric(14, 2), server_default='0', nullable=False))
    op.add_column('companies', sa.Column('delivery_fee', sa.Numeric(14, 2), server_default='0', nullable=False))
    op.add_column('companies', sa.Column('free_delivery_from', sa.Numeric(14, 2), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.create_check_constraint(
            'ck_companies_delivery_terms_not_negative', 'companies', 'min_order_value >= 0 AND delivery_fee >= 0'
        )
    op.add_column('addresses', sa.Column('retired', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('price_lists', sa.Column('code', sa.String(40), nullable=True))
    op.create_index(op.f('ix_price_lists_code'), 'price_lists', ['code'], unique=True)
    op.add_column('orders', sa.Column('delivery_fee', sa.Numeric(14, 2), server_default='0', nullable=False))
    op.add_column('orders', sa.Column('delivery_fee_vat_rate', sa.Numeric(5, 2), server_default='23', nullable=False))

    op.create_table(
        'access_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('purpose', sa.Enum('invitation', 'password_reset', name='token_purpose', native_enum=False, length=30), nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('email', sa.String(254), nullable=False),
        sa.Column('full_name', sa.String(200), nullable=False),
        sa.Column('role', sa.Enum('buyer', 'account_manager', 'finance', 'admin', name='user_role', native_enum=False, length=20), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('expires_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('used_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('withdrawn_at', DateTimeUTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_access_tokens_company_id_companies'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_tokens_user_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_access_tokens_created_by_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_access_tokens')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_access_tokens_token_hash')),
    )
    op.create_index(op.f('ix_access_tokens_email'), 'access_tokens', ['email'])
    op.create_index(op.f('ix_access_tokens_company_id'), 'access_tokens', ['company_id'])
    op.create_index(op.f('ix_access_tokens_user_id'), 'access_tokens', ['user_id'])

    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor', sa.String(254), nullable=False),
        sa.Column('action', sa.String(40), nullable=False),
        sa.Column('object_type', sa.String(40), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=True),
        sa.Column('object_label', sa.String(200), nullable=False),
        sa.Column('company_id', sa.Integer(), nullable=True),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    op.create_index(op.f('ix_audit_log_at'), 'audit_log', ['at'])
    op.create_index(op.f('ix_audit_log_actor_id'), 'audit_log', ['actor_id'])
    op.create_index(op.f('ix_audit_log_company_id'), 'audit_log', ['company_id'])
    op.create_index('ix_audit_log_object', 'audit_log', ['object_type', 'object_id'])
    triggers = POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == 'postgresql' else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log')
        op.execute('DROP FUNCTION IF EXISTS audit_log_append_only()')
        op.drop_constraint('ck_companies_delivery_terms_not_negative', 'companies', type_='check')
    op.drop_table('audit_log')
    op.drop_table('access_tokens')
    op.drop_column('orders', 'delivery_fee_vat_rate')
    op.drop_column('orders', 'delivery_fee')
    op.drop_index(op.f('ix_price_lists_code'), table_name='price_lists')
    op.drop_column('price_lists', 'code')
    op.drop_column('addresses', 'retired')
    for column in (
        'free_delivery_from', 'delivery_fee', 'min_order_value', 'order_cutoff', 'delivery_weekdays',
        'margin_floor_pct', 'auto_approve', 'is_active',
    ):
        op.drop_column('companies', column)
