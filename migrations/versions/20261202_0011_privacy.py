"""Held messages name whose words they carry, and may hold a reference instead of words.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode rebuilds the table on SQLite: it must keep AUTOINCREMENT (see 0008).
    with op.batch_alter_table(
        "held_messages", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(sa.Column("about_user_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("copy_chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("copy_message_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_held_messages_about_user_id"), ["about_user_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_held_messages_about_user_id_users"),
            "users",
            ["about_user_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # Batch mode rebuilds the table on SQLite: it must keep AUTOINCREMENT (see 0008).
    with op.batch_alter_table(
        "held_messages", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_constraint("fk_held_messages_about_user_id_users", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_held_messages_about_user_id"))
        batch_op.drop_column("copy_message_id")
        batch_op.drop_column("copy_chat_id")
        batch_op.drop_column("about_user_id")
