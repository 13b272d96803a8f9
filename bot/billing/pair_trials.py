"""Remember that a pair of people used their trial, by a keyed hash that does not name them."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db.billing import PairTrial
from bot.db.engine import dialect_insert


def pair_key(signing_key: bytes) -> bytes:
    """Derive the key that names pairs from the payment signing key (one secret, two uses)."""
    return hmac.new(signing_key, b"remainly-pair-trials", hashlib.sha256).digest()


def pair_hash(key: bytes, a: int, b: int) -> str:
    """Name a pair of people the same way whichever of the two comes first."""
    low, high = sorted((a, b))
    return hmac.new(key, f"{low}:{high}".encode(), hashlib.sha256).hexdigest()


async def remember(session: AsyncSession, key: bytes, a: int, b: int, started_at: datetime) -> None:
    """Note that this pair's trial began at `started_at`; an earlier start is kept."""
    insert = dialect_insert(session)
    await session.exec(
        insert(PairTrial)
        .values(pair_hash=pair_hash(key, a, b), started_at=started_at)
        .on_conflict_do_nothing(index_elements=["pair_hash"])
    )


async def started(
    session: AsyncSession, key: bytes, pairs: Collection[tuple[int, int]]
) -> dict[tuple[int, int], datetime]:
    """Return when each of these pairs' trial began, for the pairs that used one."""
    if not pairs:
        return {}
    hashes = {pair_hash(key, a, b): (a, b) for a, b in pairs}
    result = await session.exec(
        select(PairTrial.pair_hash, PairTrial.started_at).where(
            col(PairTrial.pair_hash).in_(list(hashes))
        )
    )
    return {hashes[pair_hash]: started_at for pair_hash, started_at in result.all()}
