"""languages, documents and the delivery calendar: a user's language left to the browser until
chosen, a company's backorder rule, where a schedule's non-working-day dates move, an order line's
price kept as data (the price list's name and the break) rather than English words, an e-mail's
language and attachment, and codes in place of sentences in the occurrences' notes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 02:30:00.000000

Columns are added with plain ALTERs (no batch copy).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OCCURRENCE_NOTES = {
    'no order was made before the delivery date.': 'no_order_in_time',
    'none of the products is sold any more.': 'nothing_sold',
}
BREAK = re.compile(r'^(.*), from (\d+)$')


def upgrade() -> None:
    op.execute("UPDATE users SET locale = ''")
    op.add_column(
        'companies', sa.Column('allow_backorders', sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column(
        'delivery_schedules',
        sa.Column('non_working_day', sa.String(10), server_default='next', nullable=False),
    )
    op.add_column('order_lines', sa.Column('price_min_quantity', sa.Integer(), server_default='1', nullable=False))
    op.add_column('outbox_messages', sa.Column('locale', sa.String(10), server_default='', nullable=False))
    op.add_column('outbox_messages', sa.Column('attachment', sa.String(60), server_default='', nullable=False))
    bind = op.get_bind()
    for sentence, code in OCCURRENCE_NOTES.items():
        bind.execute(
            sa.text('UPDATE schedule_occurrences SET note = :code WHERE note = :sentence'),
            {'code': code, 'sentence': sentence},
        )
    notes = bind.execute(sa.text("SELECT DISTINCT price_note FROM order_lines WHERE price_note <> ''")).scalars()
    for note in list(notes):
        name, minimum = note, 1
        found = BREAK.match(note)
        if found:
            name, minimum = found.group(1), int(found.group(2))
        name = name[len('price list ') :] if name.startswith('price list ') else ''
        bind.execute(
            sa.text('UPDATE order_lines SET price_note = :name, price_min_quantity = :minimum WHERE price_note = :note'),
            {'name': name.strip(), 'minimum': minimum, 'note': note},
        )


def downgrade() -> None:
    op.drop_column('outbox_messages', 'attachment')
    op.drop_column('outbox_messages', 'locale')
    op.drop_column('order_lines', 'price_min_quantity')
    op.drop_column('delivery_schedules', 'non_working_day')
    op.drop_column('companies', 'allow_backorders')
    op.execute("UPDATE users SET locale = 'en'")
