"""Focus areas and article reading progress.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "focus_choices",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("area", sa.String(length=32), nullable=False),
        sa.Column("chosen_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_focus_choices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "area", name=op.f("pk_focus_choices")),
    )
    op.create_table(
        "article_progress",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.String(length=48), nullable=False),
        sa.Column("next_excerpt", sa.Integer(), nullable=False),
        sa.Column("updated_at", bot.db.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", bot.db.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_article_progress_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "article_id", name=op.f("pk_article_progress")),
    )


def downgrade() -> None:
    op.drop_table("article_progress")
    op.drop_table("focus_choices")
