"""The migrations are the only source of the schema, so they must match the models exactly."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, make_url, text
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


def test_ids_in_buttons_are_never_reused_on_sqlite(sqlite_url: str) -> None:
    """Every table asking for AUTOINCREMENT got it from the migrations, not only the models."""
    wanted = {
        table.name
        for table in SQLModel.metadata.sorted_tables
        if table.dialect_options["sqlite"]["autoincrement"]
    }
    assert {"counsellor_requests", "held_messages", "checkins", "subscriptions"} <= wanted
    path = make_url(sqlite_url).database
    with closing(sqlite3.connect(str(path))) as connection:
        schema = dict(connection.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"))
    assert {name for name in wanted if "AUTOINCREMENT" not in schema[name]} == set()


def test_rebuilding_a_table_on_sqlite_keeps_the_rows_that_refer_to_it(tmp_path: Any) -> None:
    """Batch mode drops and recreates tables; foreign keys must not cascade that drop."""
    path = tmp_path / "bot.db"
    upgrade(f"sqlite+aiosqlite:///{path}", "0007")
    now = "2026-03-02 09:00:00.000000"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA foreign_keys=ON")
        for person in (1, 2):
            connection.execute(
                "INSERT INTO users (id, chat_id, telegram_name, locale, bad_code_count,"
                " nudge_days, created_at, updated_at) VALUES (?, ?, 'x', 'en', 0, 127, ?, ?)",
                (person, person, now, now),
            )
        connection.execute(
            "INSERT INTO couples (id, partner_a_id, partner_b_id, created_at) VALUES (5, 1, 2, ?)",
            (now,),
        )
        connection.execute("UPDATE users SET couple_id = 5")
        connection.execute(
            "INSERT INTO couple_questions (couple_id, question_date, prompt_id, created_at)"
            " VALUES (5, '2026-03-02', 'p', ?)",
            (now,),
        )
        connection.commit()
    upgrade(f"sqlite+aiosqlite:///{path}")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT couple_id FROM users").fetchall() == [(5,), (5,)]
        assert connection.execute("SELECT couple_id FROM couple_questions").fetchall() == [(5,)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
