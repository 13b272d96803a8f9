"""Ids that reach buttons and staff cards are never reused on SQLite.

Without AUTOINCREMENT, SQLite gives a new row the highest id in use plus one, so deleting
the newest row hands its id to the next one, and a stale button acts on someone else's row.
SQLite only takes AUTOINCREMENT when a table is created, so batch mode rebuilds each table.
PostgreSQL sequences never go back: nothing to do there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "couples",
    "invites",
    "couple_questions",
    "counsellor_requests",
    "held_messages",
    "checkins",
    "subscriptions",
)


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)
