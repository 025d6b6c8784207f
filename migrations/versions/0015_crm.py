"""CRM: prospects, contacts, activities, tasks (with their history and the daily digests),
opportunities with their stage moves, the lost reasons and stage probabilities an admin keeps;
a quote may be linked to an opportunity

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

STAGES = ('lead', 'qualified', 'offer', 'negotiation', 'won', 'lost')
PROBABILITIES = {'lead': 10, 'qualified': 25, 'offer': 50, 'negotiation': 75, 'won': 100, 'lost': 0}
LOST_REASONS = ('Price too high', 'Chose a competitor', 'No budget', 'Delivery terms', 'No answer', 'Other')


def _choice(name: str, kind: str, *values: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Enum(*values, name=kind, native_enum=False, length=30), nullable=nullable)


def _fk(table: str, column: str, parent: str, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f'{parent}.id'], name=op.f(f'fk_{table}_{column}_{parent}'), ondelete=ondelete
    )


def _id() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column('id', sa.Integer(), nullable=False)


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, DateTimeUTC(timezone=True), nullable=nullable)


def _int(name: str, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _has_owner(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(
        'company_id IS NOT NULL OR prospect_id IS NOT NULL', name=op.f(f'ck_{table}_has_owner')
    )


def upgrade() -> None:
    op.create_table(
        'prospects',
        _id(),
        sa.Column('name', sa.String(200), nullable=False),
        sa.Column('tax_id', sa.String(32), nullable=False),
        _int('owner_id', nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        _int('company_id'),
        _at('converted_at', nullable=True),
        _at('created_at'),
        _fk('prospects', 'owner_id', 'users'),
        _fk('prospects', 'company_id', 'companies', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prospects')),
        sa.UniqueConstraint('company_id', name=op.f('uq_prospects_company_id')),
    )
    op.create_index(op.f('ix_prospects_owner_id'), 'prospects', ['owner_id'])
    op.create_table(
        'crm_contacts',
        _id(),
        _int('company_id'),
        _int('prospect_id'),
        _int('user_id'),
        sa.Column('full_name', sa.String(200), nullable=False),
        sa.Column('position', sa.String(100), nullable=False),
        sa.Column('phone', sa.String(40), nullable=False),
        sa.Column('email', sa.String(254), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('primary_purchasing', sa.Boolean(), nullable=False),
        sa.Column('primary_payables', sa.Boolean(), nullable=False),
        sa.Column('retired', sa.Boolean(), nullable=False),
        _at('created_at'),
        _at('updated_at'),
        _fk('crm_contacts', 'company_id', 'companies', 'CASCADE'),
        _fk('crm_contacts', 'prospect_id', 'prospects', 'CASCADE'),
        _fk('crm_contacts', 'user_id', 'users', 'SET NULL'),
        _has_owner('crm_contacts'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_contacts')),
    )
    op.create_index(op.f('ix_crm_contacts_company_id'), 'crm_contacts', ['company_id'])
    op.create_index(op.f('ix_crm_contacts_prospect_id'), 'crm_contacts', ['prospect_id'])
    op.create_table(
        'activities',
        _id(),
        _int('company_id'),
        _int('prospect_id'),
        _choice('kind', 'activity_kind', 'call', 'meeting', 'visit', 'email'),
        _at('happened_at'),
        _int('contact_id'),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('outcome', sa.Text(), nullable=False),
        _int('author_id', nullable=False),
        _at('created_at'),
        _fk('activities', 'company_id', 'companies', 'CASCADE'),
        _fk('activities', 'prospect_id', 'prospects', 'CASCADE'),
        _fk('activities', 'contact_id', 'crm_contacts'),
        _fk('activities', 'author_id', 'users'),
        _has_owner('activities'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
    )
    op.create_index('ix_activities_company_happened', 'activities', ['company_id', 'happened_at'])
    op.create_index(op.f('ix_activities_prospect_id'), 'activities', ['prospect_id'])
    op.create_table(
        'lost_reasons',
        _id(),
        sa.Column('label', sa.String(200), nullable=False),
        sa.Column('is_active', sa.Boolean(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_lost_reasons')),
        sa.UniqueConstraint('label', name=op.f('uq_lost_reasons_label')),
    )
    stage_probabilities = op.create_table(
        'stage_probabilities',
        _choice('stage', 'opportunity_stage', *STAGES),
        sa.Column('percent', sa.Numeric(5, 2), nullable=False),
        sa.CheckConstraint('percent >= 0 AND percent <= 100', name=op.f('ck_stage_probabilities_percent_range')),
        sa.PrimaryKeyConstraint('stage', name=op.f('pk_stage_probabilities')),
    )
    op.create_table(
        'opportunities',
        _id(),
        _int('company_id'),
        _int('prospect_id'),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('expected_value', sa.Numeric(14, 2), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('expected_close_on', sa.Date(), nullable=False),
        _choice('stage', 'opportunity_stage', *STAGES),
        _int('owner_id', nullable=False),
        _int('lost_reason_id'),
        sa.Column('lost_note', sa.Text(), nullable=False),
        _int('order_id'),
        _at('created_at'),
        _at('updated_at'),
        _at('stage_changed_at'),
        sa.Column('version', sa.Integer(), nullable=False),
        _fk('opportunities', 'company_id', 'companies', 'CASCADE'),
        _fk('opportunities', 'prospect_id', 'prospects', 'CASCADE'),
        _fk('opportunities', 'owner_id', 'users'),
        _fk('opportunities', 'lost_reason_id', 'lost_reasons'),
        _fk('opportunities', 'order_id', 'orders', 'SET NULL'),
        _has_owner('opportunities'),
        sa.CheckConstraint('expected_value >= 0', name=op.f('ck_opportunities_value_not_negative')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunities')),
    )
    for column in ('company_id', 'prospect_id', 'stage', 'owner_id'):
        op.create_index(op.f(f'ix_opportunities_{column}'), 'opportunities', [column])
    op.create_table(
        'opportunity_moves',
        _id(),
        _int('opportunity_id', nullable=False),
        _int('company_id'),
        _at('at'),
        _int('actor_id'),
        _choice('from_stage', 'opportunity_stage', *STAGES, nullable=True),
        _choice('to_stage', 'opportunity_stage', *STAGES),
        _int('quote_id'),
        sa.Column('note', sa.Text(), nullable=False),
        _fk('opportunity_moves', 'opportunity_id', 'opportunities', 'CASCADE'),
        _fk('opportunity_moves', 'company_id', 'companies', 'CASCADE'),
        _fk('opportunity_moves', 'actor_id', 'users'),
        _fk('opportunity_moves', 'quote_id', 'quotes', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_opportunity_moves')),
    )
    op.create_index(op.f('ix_opportunity_moves_opportunity_id'), 'opportunity_moves', ['opportunity_id'])
    op.create_index(op.f('ix_opportunity_moves_company_id'), 'opportunity_moves', ['company_id'])
    op.create_table(
        'tasks',
        _id(),
        sa.Column('title', sa.String(200), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('due_on', sa.Date(), nullable=False),
        sa.Column('due_time', sa.Time(), nullable=True),
        _int('owner_id'),
        _choice('team', 'user_role', 'buyer', 'account_manager', 'finance', 'admin', nullable=True),
        _choice('status', 'task_status', 'open', 'done', 'cancelled'),
        _int('company_id'),
        _int('prospect_id'),
        _int('contact_id'),
        _int('quote_id'),
        _int('opportunity_id'),
        _int('order_id'),
        _choice(
            'reason',
            'task_reason',
            'late_customer',
            'quote_expiring',
            'changes_requested',
            'credit_blocked',
            'prospect_won',
            nullable=True,
        ),
        sa.Column('origin_key', sa.String(100), nullable=True),
        _int('created_by_id'),
        _at('created_at'),
        _at('updated_at'),
        _at('closed_at', nullable=True),
        _int('closed_by_id'),
        sa.Column('version', sa.Integer(), nullable=False),
        _fk('tasks', 'owner_id', 'users'),
        _fk('tasks', 'company_id', 'companies', 'CASCADE'),
        _fk('tasks', 'prospect_id', 'prospects', 'CASCADE'),
        _fk('tasks', 'contact_id', 'crm_contacts'),
        _fk('tasks', 'quote_id', 'quotes', 'SET NULL'),
        _fk('tasks', 'opportunity_id', 'opportunities', 'SET NULL'),
        _fk('tasks', 'order_id', 'orders', 'SET NULL'),
        _fk('tasks', 'created_by_id', 'users'),
        _fk('tasks', 'closed_by_id', 'users'),
        sa.CheckConstraint('owner_id IS NOT NULL OR team IS NOT NULL', name=op.f('ck_tasks_has_owner')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
        sa.UniqueConstraint('origin_key', name=op.f('uq_tasks_origin_key')),
    )
    op.create_index(op.f('ix_tasks_owner_id'), 'tasks', ['owner_id'])
    op.create_index(op.f('ix_tasks_company_id'), 'tasks', ['company_id'])
    op.create_index('ix_tasks_status_due', 'tasks', ['status', 'due_on'])
    op.create_table(
        'task_events',
        _id(),
        _int('task_id', nullable=False),
        _at('at'),
        _int('actor_id'),
        _choice('kind', 'task_event_kind', 'created', 'changed', 'snoozed', 'done', 'cancelled', 'reopened'),
        sa.Column('from_due', sa.Date(), nullable=True),
        sa.Column('to_due', sa.Date(), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        _fk('task_events', 'task_id', 'tasks', 'CASCADE'),
        _fk('task_events', 'actor_id', 'users'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_task_events')),
    )
    op.create_index(op.f('ix_task_events_task_id'), 'task_events', ['task_id'])
    op.create_table(
        'task_digests',
        _int('user_id', nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        _at('created_at'),
        _fk('task_digests', 'user_id', 'users', 'CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'day', name=op.f('pk_task_digests')),
    )
    with op.batch_alter_table('quotes') as batch:
        batch.add_column(sa.Column('opportunity_id', sa.Integer(), nullable=True))
        batch.create_index('ix_quotes_opportunity_id', ['opportunity_id'])
        batch.create_foreign_key(
            batch.f('fk_quotes_opportunity_id_opportunities'),
            'opportunities',
            ['opportunity_id'],
            ['id'],
            ondelete='SET NULL',
        )
    op.bulk_insert(stage_probabilities, [{'stage': s, 'percent': p} for s, p in PROBABILITIES.items()])
    lost_reasons = sa.table(
        'lost_reasons', sa.column('label', sa.String), sa.column('is_active', sa.Boolean), sa.column('position', sa.Integer)
    )
    op.bulk_insert(
        lost_reasons, [{'label': label, 'is_active': True, 'position': n} for n, label in enumerate(LOST_REASONS)]
    )


def downgrade() -> None:
    with op.batch_alter_table('quotes') as batch:
        batch.drop_constraint('fk_quotes_opportunity_id_opportunities', type_='foreignkey')
        batch.drop_index('ix_quotes_opportunity_id')
        batch.drop_column('opportunity_id')
    for table in (
        'task_digests',
        'task_events',
        'tasks',
        'opportunity_moves',
        'opportunities',
        'stage_probabilities',
        'lost_reasons',
        'activities',
        'crm_contacts',
        'prospects',
    ):
        op.drop_table(table)
