"""Which process polls Telegram: one per database, by a PostgreSQL advisory lock.

Telegram answers a second getUpdates for the same bot with 409 Conflict. The process holding
the lock polls; the others handle the updates it stores and try for the lock now and then, so
one of them takes over when the poller stops. SQLite has one process: it always polls.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# An arbitrary constant naming "the poller" among the advisory locks on the database.
POLLING_LOCK_KEY = 0x52454D49_4E4C59  # "REMINLY"


class PollingLock:
    """Held by the one process that polls; kept on its own connection for as long as it polls."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._connection: AsyncConnection | None = None

    @property
    def shared(self) -> bool:
        """Tell whether several processes may share this database."""
        return self.engine.dialect.name == "postgresql"

    async def acquire(self) -> bool:
        """Try to become the poller; True when this process is (or already was)."""
        if not self.shared:
            return True
        if self._connection is not None:
            return True
        connection = await self.engine.connect()
        try:
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": POLLING_LOCK_KEY}
            )
            await connection.commit()
        except BaseException:
            await connection.close()
            raise
        if got:
            self._connection = connection
            return True
        await connection.close()
        return False

    async def release(self) -> None:
        """Stop being the poller (closing the connection frees the lock in any case)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(SQLAlchemyError, OSError):
            await connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": POLLING_LOCK_KEY}
            )
        with contextlib.suppress(SQLAlchemyError, OSError):
            await connection.close()
