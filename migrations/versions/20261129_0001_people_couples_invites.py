"""People, couples, invites and conversation state.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = bot.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("telegram_name", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("morning_time", sa.Time(), nullable=True),
        sa.Column("evening_time", sa.Time(), nullable=True),
        sa.Column("couple_id", sa.Integer(), nullable=True),
        sa.Column("onboarded_at", UTC(), nullable=True),
        sa.Column("bad_code_count", sa.Integer(), nullable=False),
        sa.Column("bad_code_window_start", UTC(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    with op.batch_alter_table("users") as batch_op:
        batch_op.create_index(batch_op.f("ix_users_couple_id"), ["couple_id"], unique=False)

    op.create_table(
        "couples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("partner_a_id", sa.BigInteger(), nullable=True),
        sa.Column("partner_b_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("ended_at", UTC(), nullable=True),
        sa.Column("ended_by_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["partner_a_id"],
            ["users.id"],
            name=op.f("fk_couples_partner_a_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["partner_b_id"],
            ["users.id"],
            name=op.f("fk_couples_partner_b_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_couples")),
    )
    # Added after both tables exist: users and couples refer to each other.
    with op.batch_alter_table("users") as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_users_couple_id_couples"),
            "couples",
            ["couple_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "conversations",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=48), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_conversations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_conversations")),
    )
    op.create_table(
        "invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inviter_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False),
        sa.Column("resolved_at", UTC(), nullable=True),
        sa.Column("invitee_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inviter_id"],
            ["users.id"],
            name=op.f("fk_invites_inviter_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_invites_code_hash")),
    )
    op.create_index(
        "uq_invites_one_active_per_inviter",
        "invites",
        ["inviter_id"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index("uq_invites_one_active_per_inviter", table_name="invites")
    op.drop_table("invites")
    op.drop_table("conversations")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint("fk_users_couple_id_couples", type_="foreignkey")
    op.drop_table("couples")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_couple_id"))
    op.drop_table("users")
