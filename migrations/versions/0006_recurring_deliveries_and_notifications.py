"""recurring deliveries and notifications

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 06:35:27.318857
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('address_id', sa.Integer(), nullable=False),
    sa.Column('frequency', sa.Enum('weekly', 'monthly', name='frequency', native_enum=False, length=30), nullable=False),
    sa.Column('interval_weeks', sa.Integer(), nullable=False),
    sa.Column('month_day', sa.Integer(), nullable=False),
    sa.Column('first_delivery', sa.Date(), nullable=False),
    sa.Column('lead_days', sa.Integer(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('next_delivery', sa.Date(), nullable=True),
    sa.Column('next_generation_on', sa.Date(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', DateTimeUTC(timezone=True), nullable=False),
    sa.CheckConstraint('interval_weeks BETWEEN 1 AND 52', name=op.f('ck_delivery_schedules_interval_weeks_range')),
    sa.CheckConstraint('lead_days BETWEEN 0 AND 60', name=op.f('ck_delivery_schedules_lead_days_range')),
    sa.CheckConstraint('month_day BETWEEN 1 AND 31', name=op.f('ck_delivery_schedules_month_day_range')),
    sa.ForeignKeyConstraint(['address_id'], ['addresses.id'], name=op.f('fk_delivery_schedules_address_id_addresses')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_delivery_schedules_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_delivery_schedules_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_schedules'))
    )
    with op.batch_alter_table('delivery_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_schedules_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_schedules_next_generation_on'), ['next_generation_on'], unique=False)

    op.create_table('notification_opt_outs',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('order_submitted', 'order_decided', 'recurring_generated', 'recurring_missed', 'credit_changed', name='notification_kind', native_enum=False, length=30), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_opt_outs_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_notification_opt_outs'))
    )
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('order_submitted', 'order_decided', 'recurring_generated', 'recurring_missed', 'credit_changed', name='notification_kind', native_enum=False, length=30), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'failed', name='message_status', native_enum=False, length=30), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', DateTimeUTC(timezone=True), nullable=False),
    sa.Column('sent_at', DateTimeUTC(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outbox_messages_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_status_next', ['status', 'next_attempt_at'], unique=False)

    op.create_table('schedule_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('confirmed_price', sa.Numeric(precision=14, scale=4), nullable=True),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_schedule_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_schedule_lines_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_schedule_lines_product_id_products')),
    sa.ForeignKeyConstraint(['schedule_id'], ['delivery_schedules.id'], name=op.f('fk_schedule_lines_schedule_id_delivery_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_lines')),
    sa.UniqueConstraint('schedule_id', 'product_id', name=op.f('uq_schedule_lines_schedule_id_product_id'))
    )
    with op.batch_alter_table('schedule_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_lines_schedule_id'), ['schedule_id'], unique=False)

    op.create_table('schedule_occurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('delivery_date', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('generated', 'missed', 'skipped', name='occurrence_status', native_enum=False, length=30), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('at', DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_schedule_occurrences_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_schedule_occurrences_order_id_orders'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['delivery_schedules.id'], name=op.f('fk_schedule_occurrences_schedule_id_delivery_schedules'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_occurrences')),
    sa.UniqueConstraint('schedule_id', 'delivery_date', name=op.f('uq_schedule_occurrences_schedule_id_delivery_date'))
    )
    with op.batch_alter_table('schedule_occurrences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schedule_occurrences_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_schedule_occurrences_order_id'), ['order_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('schedule_occurrences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_occurrences_order_id'))
        batch_op.drop_index(batch_op.f('ix_schedule_occurrences_company_id'))

    op.drop_table('schedule_occurrences')
    with op.batch_alter_table('schedule_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schedule_lines_schedule_id'))

    op.drop_table('schedule_lines')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_status_next')

    op.drop_table('outbox_messages')
    op.drop_table('notification_opt_outs')
    with op.batch_alter_table('delivery_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_schedules_next_generation_on'))
        batch_op.drop_index(batch_op.f('ix_delivery_schedules_company_id'))

    op.drop_table('delivery_schedules')
