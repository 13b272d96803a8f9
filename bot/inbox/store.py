"""The inbox's rows: store arrivals once, claim each chat's next update, settle, retry or park.

Claims go through the project's one lease + SKIP LOCKED claim (bot/core/claims.py). A row is
claimable only while no earlier row of its chat is still pending, so a chat's updates are
handled one at a time and in arrival order, by whichever process claims them; a row that
waits for its retry holds its chat's later updates back. Parked rows do not: a person is never
stuck behind an update that could not be handled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col
from sqlmodel import select as sql_select

from bot.core.claims import claim_rows, lease_free, new_token
from bot.core.clock import Clock
from bot.db.engine import Sessions, dialect_insert, table_of
from bot.db.inbox import InboxLane, InboxStatus, InboxUpdate

# Handled rows keep their update_id (and nothing else) this long, so Telegram delivering the
# same update again (a webhook answer lost on the way) is recognised and ignored.
DEDUP_WINDOW = timedelta(hours=1)
REASON_MAX = 200


@dataclass(frozen=True)
class Arrival:
    """An update as it arrived: Telegram's id, the chat it is ordered by, its lane and JSON."""

    update_id: int
    chat_key: int | None
    kind: str
    lane: InboxLane
    payload: str


@dataclass(frozen=True)
class Claimed:
    """An update this process holds the lease of."""

    id: int
    update_id: int
    chat_key: int | None
    payload: str
    attempts: int
    # An earlier try saved changes before it died or broke (bot/inbox/effects.py).
    saved_changes: bool = False


@dataclass(frozen=True)
class Parked:
    """An update that failed every attempt, as operators see it (never its words)."""

    id: int
    update_id: int
    kind: str
    chat_key: int | None
    attempts: int
    reason: str | None
    received_at: datetime
    parked_at: datetime | None


@dataclass(frozen=True)
class Policy:
    """How long a claim holds, how often to try, and how long to wait between tries."""

    lease: timedelta = timedelta(seconds=120)
    max_attempts: int = 8
    first_backoff: timedelta = timedelta(seconds=2)
    max_backoff: timedelta = timedelta(minutes=5)
    keep_parked: timedelta = timedelta(days=7)

    def backoff(self, attempts: int) -> timedelta:
        """Return the wait before the next try after `attempts` failed ones."""
        factor: int = 2 ** max(0, min(attempts - 1, 20))
        wait: timedelta = self.first_backoff * factor
        return min(wait, self.max_backoff)


def arrival_of(raw: dict[str, object], *, chat_key: int | None) -> Arrival:
    """Describe a raw update for storing: its kind decides its lane."""
    update_id = raw.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("an update needs an integer update_id")
    kind = next((key for key in raw if key != "update_id"), "unknown")[:32]
    fast = kind in FAST_KINDS
    return Arrival(
        update_id=update_id,
        chat_key=None if fast else chat_key,
        kind=kind,
        lane=InboxLane.FAST if fast else InboxLane.NORMAL,
        payload=json.dumps(raw, ensure_ascii=False, separators=(",", ":")),
    )


# Telegram waits 10 seconds for a checkout answer, then the payment fails: these never queue.
FAST_KINDS = frozenset({"pre_checkout_query", "shipping_query"})


class InboxStore:
    """The inbox table, for one process (its claims carry this process's token)."""

    def __init__(self, sessions: Sessions, clock: Clock, policy: Policy | None = None) -> None:
        self.sessions = sessions
        self.clock = clock
        self.policy = policy or Policy()
        self.token = new_token()

    @property
    def _mine(self) -> ColumnElement[bool]:
        return col(InboxUpdate.claim_token) == self.token

    async def add(self, arrivals: Sequence[Arrival]) -> int:
        """Store arrivals in one transaction, ignoring ones already stored; return how many new."""
        if not arrivals:
            return 0
        now = self.clock.now()
        rows = [
            {
                "update_id": a.update_id,
                "chat_key": a.chat_key,
                "kind": a.kind,
                "lane": a.lane.value,
                "status": InboxStatus.PENDING.value,
                "payload": a.payload,
                "attempts": 0,
                "next_attempt_at": now,
                "received_at": now,
            }
            for a in sorted(arrivals, key=lambda a: a.update_id)
        ]
        async with self.sessions.begin() as session:
            insert = dialect_insert(session)(table_of(InboxUpdate))
            statement = insert.on_conflict_do_nothing(index_elements=["update_id"]).returning(
                table_of(InboxUpdate).c.id
            )
            result = await session.exec(statement, params=rows)
            return len(result.all())

    async def claim(self, lane: InboxLane, limit: int) -> list[Claimed]:
        """Take up to `limit` updates whose turn has come, oldest first."""
        if limit <= 0:
            return []
        now = self.clock.now()
        earlier = aliased(InboxUpdate)
        head_of_chat = or_(
            col(InboxUpdate.chat_key).is_(None),
            ~exists().where(
                col(earlier.chat_key) == col(InboxUpdate.chat_key),
                col(earlier.id) < col(InboxUpdate.id),
                col(earlier.status) == InboxStatus.PENDING,
            ),
        )
        due = and_(
            col(InboxUpdate.status) == InboxStatus.PENDING,
            col(InboxUpdate.lane) == lane,
            col(InboxUpdate.next_attempt_at) <= now,
            lease_free(InboxUpdate.claimed_until, now),
            head_of_chat,
        )
        async with self.sessions.begin() as session:
            rows = await claim_rows(
                session,
                InboxUpdate,
                due=due,
                order_by=col(InboxUpdate.id),
                limit=limit,
                take={
                    "claim_token": self.token,
                    "claimed_until": now + self.policy.lease,
                    "attempts": col(InboxUpdate.attempts) + 1,
                },
                returning=(
                    col(InboxUpdate.id),
                    col(InboxUpdate.update_id),
                    col(InboxUpdate.chat_key),
                    col(InboxUpdate.payload),
                    col(InboxUpdate.attempts),
                    col(InboxUpdate.saved_changes),
                ),
            )
        claimed = [Claimed(r[0], r[1], r[2], r[3] or "{}", r[4], bool(r[5])) for r in rows]
        claimed.sort(key=lambda c: c.id)
        return claimed

    def final(self, claimed: Claimed) -> bool:
        """Tell whether this is an update's last attempt before it is parked."""
        return claimed.attempts >= self.policy.max_attempts

    async def finish(self, claimed: Claimed) -> None:
        """Mark an update handled and erase its words and chat; its chat's next update may go."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            await session.exec(
                update(InboxUpdate)
                .where(col(InboxUpdate.id) == claimed.id, self._mine)
                .values(
                    status=InboxStatus.DONE,
                    payload=None,
                    chat_key=None,
                    claim_token=None,
                    claimed_until=None,
                    reason=None,
                    finished_at=now,
                )
            )

    async def fail(self, claimed: Claimed, reason: str) -> bool:
        """Try an update again later, or park it after its last attempt; True when parked."""
        now = self.clock.now()
        parked = self.final(claimed)
        values: dict[str, object] = {
            "claim_token": None,
            "claimed_until": None,
            "reason": reason[:REASON_MAX],
        }
        if parked:
            values.update(status=InboxStatus.PARKED, finished_at=now)
        else:
            values["next_attempt_at"] = now + self.policy.backoff(claimed.attempts)
        async with self.sessions.begin() as session:
            await session.exec(
                update(InboxUpdate)
                .where(col(InboxUpdate.id) == claimed.id, self._mine)
                .values(**values)
            )
        return parked

    async def release(self, *, everyone: bool = False) -> int:
        """Give back this process's claims (or, with one process only, everyone's) at once."""
        statement = update(InboxUpdate).where(col(InboxUpdate.status) == InboxStatus.PENDING)
        if everyone:
            statement = statement.where(col(InboxUpdate.claim_token).is_not(None))
        else:
            statement = statement.where(col(InboxUpdate.claim_token) == self.token)
        async with self.sessions.begin() as session:
            result = await session.exec(statement.values(claim_token=None, claimed_until=None))
        return int(getattr(result, "rowcount", 0) or 0)

    async def prune(self) -> int:
        """Forget handled updates past the dedup window and parked ones past their keeping."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            result = await session.exec(
                delete(InboxUpdate).where(
                    or_(
                        and_(
                            col(InboxUpdate.status) == InboxStatus.DONE,
                            col(InboxUpdate.finished_at) < now - DEDUP_WINDOW,
                        ),
                        and_(
                            col(InboxUpdate.status) == InboxStatus.PARKED,
                            col(InboxUpdate.finished_at) < now - self.policy.keep_parked,
                        ),
                    )
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def pending(self) -> int:
        """Return how many updates wait to be handled (the inbox is reachable when this works)."""
        async with self.sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(InboxUpdate)
                .where(col(InboxUpdate.status) == InboxStatus.PENDING)
            )
        return int(count or 0)

    async def parked(self) -> list[Parked]:
        """Return the parked updates, oldest first."""
        async with self.sessions() as session:
            rows = (
                await session.exec(
                    sql_select(InboxUpdate)
                    .where(col(InboxUpdate.status) == InboxStatus.PARKED)
                    .order_by(col(InboxUpdate.id))
                )
            ).all()
            return [
                Parked(
                    id=row.id or 0,
                    update_id=row.update_id,
                    kind=row.kind,
                    chat_key=row.chat_key,
                    attempts=row.attempts,
                    reason=row.reason,
                    received_at=row.received_at,
                    parked_at=row.finished_at,
                )
                for row in rows
            ]

    async def retry(self, row_id: int) -> bool:
        """Put a parked update back in line for a fresh set of attempts; False if none."""
        now = self.clock.now()
        async with self.sessions.begin() as session:
            result = await session.exec(
                update(InboxUpdate)
                .where(col(InboxUpdate.id) == row_id, col(InboxUpdate.status) == InboxStatus.PARKED)
                .values(
                    status=InboxStatus.PENDING,
                    attempts=0,
                    saved_changes=False,
                    next_attempt_at=now,
                    finished_at=None,
                    claim_token=None,
                    claimed_until=None,
                )
            )
        return bool(getattr(result, "rowcount", 0))

    async def drop(self, row_id: int) -> bool:
        """Give up on a parked update for good, erasing it; False if there is none."""
        async with self.sessions.begin() as session:
            result = await session.exec(
                delete(InboxUpdate).where(
                    col(InboxUpdate.id) == row_id, col(InboxUpdate.status) == InboxStatus.PARKED
                )
            )
        return bool(getattr(result, "rowcount", 0))
