"""The inbox: every update stored before Telegram is told it arrived.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_key", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lane", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("saved_changes", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("next_attempt_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("received_at", bot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", bot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_updates")),
        sa.UniqueConstraint("update_id", name=op.f("uq_inbox_updates_update_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_inbox_updates_status_lane_id", "inbox_updates", ["status", "lane", "id"], unique=False
    )
    op.create_index("ix_inbox_updates_chat_key_id", "inbox_updates", ["chat_key", "id"])
    op.create_index("ix_inbox_updates_finished_at", "inbox_updates", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_updates_finished_at", table_name="inbox_updates")
    op.drop_index("ix_inbox_updates_chat_key_id", table_name="inbox_updates")
    op.drop_index("ix_inbox_updates_status_lane_id", table_name="inbox_updates")
    op.drop_table("inbox_updates")
