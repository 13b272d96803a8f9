"""Something meaningful together: rounds of ideas, each partner's side, their schedule.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = bot.db.types.UTCDateTime
ACTIVE = sa.text("status IN ('marking', 'matched', 'planned')")


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def _plan_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["plan_id"],
        ["together_plans.id"],
        name=op.f(f"fk_{table}_plan_id_together_plans"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "together_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idea_ids", sa.JSON(), nullable=False),
        sa.Column("matched_ids", sa.JSON(), nullable=True),
        sa.Column("idea_id", sa.String(length=48), nullable=True),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("planned_at", UTC(), nullable=True),
        sa.Column("revealed_at", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name=op.f("fk_together_plans_couple_id_couples"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_together_plans")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("together_plans") as batch_op:
        batch_op.create_index(
            "ix_together_plans_couple_id_created_at", ["couple_id", "created_at"], unique=False
        )
    op.create_index(
        "uq_together_plans_one_active_per_couple",
        "together_plans",
        ["couple_id"],
        unique=True,
        sqlite_where=ACTIVE,
        postgresql_where=ACTIVE,
    )
    op.create_table(
        "together_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("liked", sa.JSON(), nullable=False),
        sa.Column("shown_at", UTC(), nullable=True),
        sa.Column("marked_at", UTC(), nullable=True),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("not_done", sa.Boolean(), nullable=False),
        sa.Column("words", sa.String(length=300), nullable=True),
        sa.Column("answered_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.CheckConstraint(
            "score IS NULL OR (score >= 1 AND score <= 5)",
            name=op.f("ck_together_entries_score_range"),
        ),
        _plan_fk("together_entries"),
        _user_fk("together_entries"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_together_entries")),
        sa.UniqueConstraint("plan_id", "user_id", name="uq_together_entries_plan_id_user_id"),
    )
    op.create_table(
        "together_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("next_run_at", UTC(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", UTC(), nullable=True),
        _plan_fk("together_schedules"),
        _user_fk("together_schedules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_together_schedules")),
        sa.UniqueConstraint("user_id", "kind", name="uq_together_schedules_user_id_kind"),
    )
    with op.batch_alter_table("together_schedules") as batch_op:
        batch_op.create_index("ix_together_schedules_next_run_at", ["next_run_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("together_schedules") as batch_op:
        batch_op.drop_index("ix_together_schedules_next_run_at")
    op.drop_table("together_schedules")
    op.drop_table("together_entries")
    op.drop_index("uq_together_plans_one_active_per_couple", table_name="together_plans")
    with op.batch_alter_table("together_plans") as batch_op:
        batch_op.drop_index("ix_together_plans_couple_id_created_at")
    op.drop_table("together_plans")
