"""Pair trials: which pairs of people used their trial, by a keyed hash of their two ids.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pair_trials",
        sa.Column("pair_hash", sa.String(length=64), nullable=False),
        sa.Column("started_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pair_hash", name=op.f("pk_pair_trials")),
    )


def downgrade() -> None:
    op.drop_table("pair_trials")
