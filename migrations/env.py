"""Run Alembic migrations against the configured database, async drivers included."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import bot.db.tables  # noqa: F401  (registers every table on the metadata)
from bot.db.engine import create_engine

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import load_settings

    return load_settings().database_url


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can't ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=sqlite,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migrations broke foreign keys: {broken[:5]}")


async def _run_async() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # Batch mode rebuilds a table by dropping it, and with foreign keys on, SQLite's
                # DROP first deletes every row, cascading into the tables that refer to it.
                # SQLite ignores this pragma inside a transaction, so it comes first; the
                # connection is thrown away with the engine afterwards.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Emit SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (connection := config.attributes.get("connection")) is not None:
    _configure(connection)
else:
    asyncio.run(_run_async())
