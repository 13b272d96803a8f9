"""The migrations are the only source of the schema, so they must match the models exactly."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

import bot.db.tables  # noqa: F401  (registers every table)
from bot.db.engine import create_engine
from bot.db.migrate import upgrade


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, SQLModel.metadata))


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


async def test_a_model_change_without_migration_is_caught(engine: AsyncEngine) -> None:
    """Prove the check above can fail: drop a column the models still have."""
    async with engine.begin() as connection:
        await connection.execute(text("DROP INDEX uq_invites_one_active_per_inviter"))
    async with engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert any("uq_invites_one_active_per_inviter" in repr(d) for d in differences)


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_secure_delete(
    sqlite_url: str,
) -> None:
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar()
            timeout = (await connection.execute(text("PRAGMA busy_timeout"))).scalar()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar()
            secure_delete = (await connection.execute(text("PRAGMA secure_delete"))).scalar()
    finally:
        await engine.dispose()
    assert (mode, foreign_keys, secure_delete) == ("wal", 1, 1)
    assert timeout is not None and int(timeout) >= 1000


def test_migrating_a_fresh_sqlite_file_creates_its_folder(tmp_path: Any) -> None:
    path = tmp_path / "nested" / "folder" / "bot.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    upgrade(f"sqlite+aiosqlite:///{path}")  # idempotent
    assert path.exists()
