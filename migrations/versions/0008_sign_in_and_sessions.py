"""sign-in throttling per account and address; session lifetimes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 01:00:00.000000

The throttle rows are short-lived counters: the old per-e-mail rows are dropped, not converted.
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("login_throttles")
    op.create_table(
        "login_throttles",
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("counted_since", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_failed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("succeeded_at", DateTimeUTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "email", "address", name=op.f("pk_login_throttles")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
    op.drop_table("login_throttles")
    op.create_table(
        "login_throttles",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("locked_until", DateTimeUTC(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_login_throttles")),
    )
