"""the ERP integration API: API keys (hashed secrets, scopes, expiry, revocation, rate-limit
window), stored responses of idempotent writes, and the source of a credit event

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:10:00.000000

The credit events' column is added with a plain ALTER (no batch copy), so SQLite keeps the
table's append-only triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'api_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('prefix', sa.String(16), nullable=False),
        sa.Column('secret_hash', sa.String(64), nullable=False),
        sa.Column('scopes', sa.String(500), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
        sa.Column('expires_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('revoked_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('last_used_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('window_started_at', DateTimeUTC(timezone=True), nullable=True),
        sa.Column('window_count', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(
            ['created_by_id'], ['users.id'], name=op.f('fk_api_keys_created_by_id_users'), ondelete='SET NULL'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_api_keys_secret_hash')),
    )
    op.create_table(
        'idempotent_responses',
        sa.Column('api_key_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(200), nullable=False),
        sa.Column('request_hash', sa.String(64), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['api_key_id'], ['api_keys.id'], name=op.f('fk_idempotent_responses_api_key_id_api_keys'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('api_key_id', 'key', name=op.f('pk_idempotent_responses')),
    )
    op.create_index(op.f('ix_idempotent_responses_created_at'), 'idempotent_responses', ['created_at'])
    op.add_column('credit_events', sa.Column('source', sa.String(20), server_default='portal', nullable=False))


def downgrade() -> None:
    op.drop_column('credit_events', 'source')
    op.drop_index(op.f('ix_idempotent_responses_created_at'), table_name='idempotent_responses')
    op.drop_table('idempotent_responses')
    op.drop_table('api_keys')
