"""Live bot processes: each says it is alive now and then, and learns how many share the work.

Telegram's overall limit is per bot, not per process. Several workers on one PostgreSQL
database each pace their sends at the configured rate divided by the number of live workers;
a worker that stops saying it is alive (stopped, or killed) drops out after `ttl`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, func
from sqlmodel import col, select

from bot.core.clock import Clock
from bot.db.engine import Sessions, dialect_insert
from bot.db.models import Worker

# How often a worker says it is alive, and how long silence means it is gone. Frequent beats
# keep the overshoot short when a worker joins: until the others hear of it, they still send
# at their old share.
BEAT_INTERVAL = timedelta(seconds=1)
TTL = timedelta(seconds=15)


class Presence:
    """This process's entry among the live workers."""

    def __init__(
        self,
        sessions: Sessions,
        clock: Clock,
        *,
        on_count: Callable[[int], None],
        ttl: timedelta = TTL,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.ttl = ttl
        self.on_count = on_count
        self.worker_id = secrets.token_hex(16)

    async def beat(self) -> int:
        """Say this worker is alive; hand on (and return) how many workers are, itself included."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            insert = dialect_insert(session)(Worker).values(id=self.worker_id, last_seen=now)
            await session.exec(
                insert.on_conflict_do_update(index_elements=["id"], set_={"last_seen": now})
            )
            await session.exec(delete(Worker).where(col(Worker.last_seen) < now - self.ttl))
            live = (await session.exec(select(func.count()).select_from(Worker))).one()
        count = max(1, int(live))
        self.on_count(count)
        return count

    async def leave(self) -> None:
        """Drop out at once (a clean stop), so the others take up the whole rate."""
        async with self.sessions.begin() as session:
            await session.exec(delete(Worker).where(col(Worker.id) == self.worker_id))
