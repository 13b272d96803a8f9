"""Closeness exercises: expectations maps and answers, vulnerability opt-ins, rounds, answers,
and their schedule.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = bot.db.types.UTCDateTime


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
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
        "expectation_maps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("statement_ids", sa.JSON(), nullable=False),
        sa.Column("opened_at", UTC(), nullable=False),
        sa.Column("revealed_at", UTC(), nullable=True),
        sa.Column("focus_areas", sa.JSON(), nullable=False),
        sa.Column("focus", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        _couple_fk("expectation_maps"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expectation_maps")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("expectation_maps") as batch_op:
        batch_op.create_index(
            "ix_expectation_maps_couple_id_opened_at", ["couple_id", "opened_at"], unique=False
        )
    op.create_index(
        "uq_expectation_maps_one_open_per_couple",
        "expectation_maps",
        ["couple_id"],
        unique=True,
        sqlite_where=sa.text("revealed_at IS NULL"),
        postgresql_where=sa.text("revealed_at IS NULL"),
    )
    op.create_table(
        "expectation_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("map_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("statement_id", sa.String(length=48), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("answered_at", UTC(), nullable=False),
        sa.CheckConstraint(
            "score >= 1 AND score <= 5", name=op.f("ck_expectation_answers_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["map_id"],
            ["expectation_maps.id"],
            name=op.f("fk_expectation_answers_map_id_expectation_maps"),
            ondelete="CASCADE",
        ),
        _user_fk("expectation_answers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expectation_answers")),
        sa.UniqueConstraint(
            "map_id",
            "user_id",
            "statement_id",
            name="uq_expectation_answers_map_id_user_id_statement_id",
        ),
    )
    op.create_table(
        "vulnerability_opt_ins",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("opted_in_at", UTC(), nullable=False),
        _user_fk("vulnerability_opt_ins"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_vulnerability_opt_ins")),
    )
    op.create_table(
        "vulnerability_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("prompt_id", sa.String(length=48), nullable=False),
        sa.Column("opened_at", UTC(), nullable=False),
        sa.Column("closes_at", UTC(), nullable=False),
        sa.Column("revealed_at", UTC(), nullable=True),
        _couple_fk("vulnerability_rounds"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulnerability_rounds")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("vulnerability_rounds") as batch_op:
        batch_op.create_index(
            "ix_vulnerability_rounds_couple_id_opened_at",
            ["couple_id", "opened_at"],
            unique=False,
        )
    op.create_table(
        "vulnerability_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=True),
        sa.Column("not_ready", sa.Boolean(), nullable=False),
        sa.Column("answered_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["vulnerability_rounds.id"],
            name=op.f("fk_vulnerability_answers_round_id_vulnerability_rounds"),
            ondelete="CASCADE",
        ),
        _user_fk("vulnerability_answers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vulnerability_answers")),
        sa.UniqueConstraint(
            "round_id", "user_id", name="uq_vulnerability_answers_round_id_user_id"
        ),
    )
    op.create_table(
        "closeness_schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("next_run_at", UTC(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("claimed_until", UTC(), nullable=True),
        _user_fk("closeness_schedules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closeness_schedules")),
        sa.UniqueConstraint("user_id", "kind", name="uq_closeness_schedules_user_id_kind"),
    )
    with op.batch_alter_table("closeness_schedules") as batch_op:
        batch_op.create_index("ix_closeness_schedules_next_run_at", ["next_run_at"], unique=False)


def downgrade() -> None:
    op.drop_table("closeness_schedules")
    op.drop_table("vulnerability_answers")
    op.drop_table("vulnerability_rounds")
    op.drop_table("vulnerability_opt_ins")
    op.drop_index("uq_expectation_maps_one_open_per_couple", table_name="expectation_maps")
    op.drop_table("expectation_answers")
    op.drop_table("expectation_maps")
