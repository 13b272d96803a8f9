"""Create the async engine and session factory for SQLite (embedded) or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

# One writer at a time: a tick or a reply waits its turn while a round commits a group,
# which on a busy machine can take several seconds, rather than failing as "locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def ensure_sqlite_directory(url: str) -> None:
    """Create the folder a SQLite file lives in, so a fresh checkout just works."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while the tick writes; the busy timeout waits out short locks
    # instead of failing with "database is locked". Secure delete overwrites what a deletion
    # frees, so erased words do not linger in the file's free space.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    """Create an engine with the per-backend settings this project relies on.

    `pool_size` connections stay open (and as many again may be opened at busy moments):
    the bot sizes it to the updates it handles at once, so none waits for a connection.
    """
    # Statements carry what people write (answers, appreciations, messages): parameters must
    # never reach an exception's text, and from there a log.
    if is_sqlite(url):
        ensure_sqlite_directory(url)
        engine = create_async_engine(
            url, echo=echo, hide_parameters=True, pool_size=pool_size, max_overflow=pool_size
        )
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size,
    )


def on_checkout(engine: AsyncEngine, reached: Callable[[], None]) -> None:
    """Call `reached` whenever the engine hands out a working connection."""
    # With pre-ping on, a checkout happens only after the connection answered.
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: reached())


Sessions = async_sessionmaker[AsyncSession]


def create_sessions(engine: AsyncEngine) -> Sessions:
    """Create the session factory handed to services."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def table_of(model: type[SQLModel]) -> Table:
    """Return a model's table, for Core statements run with many parameter sets at once."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


def dialect_insert(session: AsyncSession) -> Any:
    """Return the INSERT of the session's database, which knows ON CONFLICT (upserts)."""
    # Both dialects spell ON CONFLICT the same way; only the construct's home differs.
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
