"""Check-ins together: plans, check-ins, entries, answers, appreciations, topics, schedule.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = bot.db.types.UTCDateTime


def _user_fk(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=op.f(f"fk_{table}_{column}_users"), ondelete="CASCADE"
    )


def _couple_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["couple_id"],
        ["couples.id"],
        name=op.f(f"fk_{table}_couple_id_couples"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "checkin_plans",
        sa.Column("couple_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("at", sa.Time(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        _couple_fk("checkin_plans"),
        sa.PrimaryKeyConstraint("couple_id", name=op.f("pk_checkin_plans")),
    )
    op.create_table(
        "checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("question_ids", sa.JSON(), nullable=False),
        sa.Column("week_of", sa.Date(), nullable=False),
        sa.Column("opened_at", UTC(), nullable=False),
        sa.Column("closes_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        _couple_fk("checkins"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    with op.batch_alter_table("checkins") as batch_op:
        batch_op.create_index(
            "ix_checkins_couple_id_opened_at", ["couple_id", "opened_at"], unique=False
        )
        batch_op.create_index("ix_checkins_status_closes_at", ["status", "closes_at"], unique=False)
    op.create_index(
        "uq_checkins_one_open_per_couple",
        "checkins",
        ["couple_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "checkin_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.SmallInteger(), nullable=False),
        sa.Column("invited_at", UTC(), nullable=True),
        sa.Column("submitted_at", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_checkin_entries_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        _user_fk("checkin_entries", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_entries")),
        sa.UniqueConstraint("checkin_id", "user_id", name="uq_checkin_entries_checkin_id_user_id"),
    )
    op.create_table(
        "checkin_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("question_id", sa.String(length=48), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("text", sa.String(length=500), nullable=True),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UTC(), nullable=False),
        sa.CheckConstraint(
            "score IS NULL OR (score >= 1 AND score <= 5)",
            name=op.f("ck_checkin_answers_score_range"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["checkin_entries.id"],
            name=op.f("fk_checkin_answers_entry_id_checkin_entries"),
            ondelete="CASCADE",
        ),
        _user_fk("checkin_answers", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_answers")),
        sa.UniqueConstraint(
            "entry_id", "question_id", name="uq_checkin_answers_entry_id_question_id"
        ),
    )
    op.create_table(
        "appreciations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("delivered_at", UTC(), nullable=True),
        _couple_fk("appreciations"),
        _user_fk("appreciations", "author_id"),
        _user_fk("appreciations", "recipient_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appreciations")),
    )
    with op.batch_alter_table("appreciations") as batch_op:
        batch_op.create_index("ix_appreciations_recipient_id", ["recipient_id"], unique=False)
    op.create_table(
        "topic_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("topic_id", sa.String(length=48), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("revealed_at", UTC(), nullable=True),
        _couple_fk("topic_flags"),
        _user_fk("topic_flags", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_topic_flags")),
        sa.UniqueConstraint(
            "couple_id", "user_id", "topic_id", name="uq_topic_flags_couple_id_user_id_topic_id"
        ),
    )
    op.create_table(
        "checkin_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("next_run_at", UTC(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", UTC(), nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_checkin_schedules_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        _user_fk("checkin_schedules", "user_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_schedules")),
        sa.UniqueConstraint("user_id", "kind", name="uq_checkin_schedules_user_id_kind"),
    )
    with op.batch_alter_table("checkin_schedules") as batch_op:
        batch_op.create_index("ix_checkin_schedules_next_run_at", ["next_run_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkin_schedules") as batch_op:
        batch_op.drop_index("ix_checkin_schedules_next_run_at")
    op.drop_table("checkin_schedules")
    op.drop_table("topic_flags")
    with op.batch_alter_table("appreciations") as batch_op:
        batch_op.drop_index("ix_appreciations_recipient_id")
    op.drop_table("appreciations")
    op.drop_table("checkin_answers")
    op.drop_table("checkin_entries")
    op.drop_index("uq_checkins_one_open_per_couple", table_name="checkins")
    with op.batch_alter_table("checkins") as batch_op:
        batch_op.drop_index("ix_checkins_status_closes_at")
        batch_op.drop_index("ix_checkins_couple_id_opened_at")
    op.drop_table("checkins")
    op.drop_table("checkin_plans")
