"""Safety signals, counsellor requests and their thread, discreet mode.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = bot.db.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "safety_signals",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("signalled_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_safety_signals_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_safety_signals")),
    )
    op.create_table(
        "counsellor_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=32), nullable=False),
        sa.Column("for_whom", sa.String(length=8), nullable=False),
        sa.Column("tell_partner", sa.Boolean(), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("contact_way", sa.String(length=16), nullable=False),
        sa.Column("contact_time", sa.String(length=16), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.Column("identity_shared_at", UTC(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("claimed_by_id", sa.BigInteger(), nullable=True),
        sa.Column("claimed_by_name", sa.String(length=128), nullable=True),
        sa.Column("claimed_at", UTC(), nullable=True),
        sa.Column("resolved_by_name", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", UTC(), nullable=True),
        sa.Column("staff_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("staff_message_id", sa.BigInteger(), nullable=True),
        sa.Column("next_announce_at", UTC(), nullable=True),
        sa.Column("announcements", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_counsellor_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counsellor_requests")),
    )
    with op.batch_alter_table("counsellor_requests") as batch_op:
        batch_op.create_index(
            "ix_counsellor_requests_status_next_announce_at",
            ["status", "next_announce_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_counsellor_requests_user_id"), ["user_id"], unique=False
        )
    op.create_table(
        "counsellor_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["counsellor_requests.id"],
            name=op.f("fk_counsellor_posts_request_id_counsellor_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counsellor_posts")),
        sa.UniqueConstraint("chat_id", "message_id", name="uq_counsellor_posts_chat_id_message_id"),
    )
    with op.batch_alter_table("counsellor_posts") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_counsellor_posts_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "sent_messages",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("sent_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sent_messages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "message_id", name="pk_sent_messages"),
    )
    with op.batch_alter_table("sent_messages") as batch_op:
        batch_op.create_index("ix_sent_messages_sent_at", ["sent_at"], unique=False)
    op.create_table(
        "held_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("buttons", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_held_messages_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_messages")),
    )
    with op.batch_alter_table("held_messages") as batch_op:
        batch_op.create_index(batch_op.f("ix_held_messages_user_id"), ["user_id"], unique=False)
    # Plain ADD COLUMN on both databases: nullable, no default, so SQLite needs no table copy.
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("discreet_since", UTC(), nullable=True))
    with op.batch_alter_table("couples") as batch_op:
        batch_op.add_column(sa.Column("exercises_paused_at", UTC(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("couples") as batch_op:
        batch_op.drop_column("exercises_paused_at")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("discreet_since")
    op.drop_table("held_messages")
    op.drop_table("sent_messages")
    op.drop_table("counsellor_posts")
    op.drop_table("counsellor_requests")
    op.drop_table("safety_signals")
