"""The test PostgreSQL server: where it is, admin statements, and whether it answers."""

from __future__ import annotations

import asyncio
import os

import asyncpg

PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("TEST_PG_DATABASE", "postgres")


def pg_url(database: str) -> str:
    """Return the SQLAlchemy URL of a database on the test PostgreSQL server."""
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def pg_admin(sql: str) -> None:
    """Run one statement (CREATE or DROP DATABASE) on the server's admin database."""
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=5
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def pg_unreachable() -> str | None:
    """Return why the test PostgreSQL server cannot be used, or None when it answers."""
    try:
        asyncio.run(pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL at {PG_HOST}:{PG_PORT} is not reachable ({type(error).__name__})"
    return None
