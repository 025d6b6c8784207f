"""outbox: a message is claimed (sending) in its own transaction before it goes to the mail server

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 23:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_at', DateTimeUTC(timezone=True), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE outbox_messages SET status = 'pending' WHERE status = 'sending'")
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('claimed_at')
