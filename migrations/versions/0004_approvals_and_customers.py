"""approvals and customers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_customer_notes_author_id_users')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_customer_notes_company_id_companies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_notes'))
    )
    with op.batch_alter_table('customer_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_notes_company_id'), ['company_id'], unique=False)

    op.create_table('deputies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('manager_id', sa.Integer(), nullable=False),
    sa.Column('deputy_id', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=False),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.CheckConstraint('manager_id <> deputy_id', name=op.f('ck_deputies_not_self')),
    sa.CheckConstraint('starts_on <= ends_on', name=op.f('ck_deputies_range_order')),
    sa.ForeignKeyConstraint(['deputy_id'], ['users.id'], name=op.f('fk_deputies_deputy_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['manager_id'], ['users.id'], name=op.f('fk_deputies_manager_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deputies'))
    )
    with op.batch_alter_table('deputies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deputies_deputy_id'), ['deputy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deputies_manager_id'), ['manager_id'], unique=False)

    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_behalf_of_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_order_events_on_behalf_of_id_users'), 'users', ['on_behalf_of_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_order_events_on_behalf_of_id_users'), type_='foreignkey')
        batch_op.drop_column('on_behalf_of_id')

    with op.batch_alter_table('deputies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deputies_manager_id'))
        batch_op.drop_index(batch_op.f('ix_deputies_deputy_id'))

    op.drop_table('deputies')
    with op.batch_alter_table('customer_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_notes_company_id'))

    op.drop_table('customer_notes')
