"""credit changes carry an optional message for the customer; payments keep an identity built from parsed values

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 01:00:00.000000

- `credit_events.customer_message`: what finance tells the buyers with a change; the reason
  stays internal. Added with a plain ALTER on both databases: SQLite's batch mode would copy the
  table and drop its append-only triggers with the old one.
- A payment imported without a reference was known by the raw text of its row
  ("FV/7|30.11.2026|100,00|1"), so the same payment written "2026-11-30,100.00" counted again.
  The identity is now invoice number | ISO date | amount with two decimals | position among equal
  rows. Identities of that old shape are rewritten from the row's own parsed `paid_on` and
  `amount`, numbered again 1, 2, … per invoice, date and amount in the order they were recorded.
  Downgrade keeps the rewritten identities (the raw text is gone; they are valid references).
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OCCURRENCE = re.compile(r"[1-9][0-9]{0,5}")

payments = sa.table(
    'payments',
    sa.column('id', sa.Integer()),
    sa.column('invoice_id', sa.Integer()),
    sa.column('reference', sa.String(100)),
    sa.column('paid_on', sa.Date()),
    sa.column('amount', sa.Numeric(14, 2)),
)
invoices = sa.table('invoices', sa.column('id', sa.Integer()), sa.column('number', sa.String(50)))


def _derived(reference: str, number: str) -> int | None:
    """The position among equal rows if `reference` was derived from a row of `number`'s invoice."""
    parts = reference.rsplit('|', 3)
    if len(parts) != 4 or parts[0] != number or not OCCURRENCE.fullmatch(parts[3]):
        return None
    return int(parts[3])


def _rewrite_payment_identities() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            payments.c.id,
            payments.c.invoice_id,
            payments.c.reference,
            payments.c.paid_on,
            payments.c.amount,
            invoices.c.number,
        )
        .join(invoices, invoices.c.id == payments.c.invoice_id)
        .order_by(payments.c.id)
    ).all()
    groups: dict[tuple[int, date, Decimal], list[tuple[int, int, str, str]]] = defaultdict(list)
    for row in rows:
        occurrence = _derived(row.reference, row.number)
        if occurrence is not None:
            amount = Decimal(row.amount).quantize(Decimal('0.01'))
            groups[(row.invoice_id, row.paid_on, amount)].append((occurrence, row.id, row.reference, row.number))
    changes: dict[int, str] = {}
    for (_, paid_on, amount), found in groups.items():
        for position, (_, payment_id, reference, number) in enumerate(sorted(found), start=1):
            identity = f"{number}|{paid_on.isoformat()}|{amount}|{position}"
            if identity != reference:
                changes[payment_id] = identity
    # Two steps, so no row ever takes an identity another row still holds.
    for payment_id in changes:
        connection.execute(
            payments.update().where(payments.c.id == payment_id).values(reference=f"~0009~{payment_id}")
        )
    for payment_id, identity in changes.items():
        connection.execute(payments.update().where(payments.c.id == payment_id).values(reference=identity))


def upgrade() -> None:
    op.add_column('credit_events', sa.Column('customer_message', sa.Text(), nullable=False, server_default=''))
    _rewrite_payment_identities()


def downgrade() -> None:
    op.drop_column('credit_events', 'customer_message')
