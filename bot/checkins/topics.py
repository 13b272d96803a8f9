"""Mutual topics: each partner privately flags topics; one shows to both only if both flag it."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkins.weekly import couple_of, lock_couple, require_unpaused
from bot.core.errors import StaleAction
from bot.db.checkins import TopicFlag
from bot.db.engine import dialect_insert
from bot.db.models import User


@dataclass(frozen=True)
class Topics:
    """What one partner may see: their own flags, and the topics both flagged."""

    mine: frozenset[str]
    shared: frozenset[str]


@dataclass(frozen=True)
class Toggled:
    """The outcome of a tap: the partner's view now, and a topic both just turned out to want."""

    topics: Topics
    matched: str | None
    partner: User


async def _flags(session: AsyncSession, couple_id: int, user_id: int) -> set[str]:
    result = await session.exec(
        select(TopicFlag.topic_id).where(
            TopicFlag.couple_id == couple_id, TopicFlag.user_id == user_id
        )
    )
    return set(result.all())


async def _view(session: AsyncSession, user: User, partner: User) -> Topics:
    assert user.couple_id is not None
    mine = await _flags(session, user.couple_id, user.id)
    # Only the intersection of the partner's flags is ever read into a result.
    theirs = await _flags(session, user.couple_id, partner.id)
    return Topics(frozenset(mine), frozenset(mine & theirs))


async def view(session: AsyncSession, user_id: int) -> Topics:
    """Return this person's own flags and the topics both partners flagged."""
    user, partner = await couple_of(session, user_id)
    return await _view(session, user, partner)


async def toggle(
    session: AsyncSession, user_id: int, topic_id: str, *, known: Collection[str], now: datetime
) -> Toggled:
    """Flag or unflag a topic; tell when the partner had flagged it too."""
    if topic_id not in known:
        raise StaleAction()
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    await require_unpaused(session, user.couple_id)
    await lock_couple(session, user.couple_id)
    mine = (
        col(TopicFlag.couple_id) == user.couple_id,
        col(TopicFlag.topic_id) == topic_id,
    )
    removed = await session.exec(delete(TopicFlag).where(*mine, col(TopicFlag.user_id) == user.id))
    matched = None
    if not removed.rowcount:
        insert = dialect_insert(session)
        await session.exec(
            insert(TopicFlag)
            .values(couple_id=user.couple_id, user_id=user.id, topic_id=topic_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["couple_id", "user_id", "topic_id"])
        )
        theirs = (
            await session.exec(select(TopicFlag).where(*mine, col(TopicFlag.user_id) == partner.id))
        ).first()
        if theirs is not None:
            matched = topic_id
            await session.exec(
                update(TopicFlag)
                .where(*mine, col(TopicFlag.revealed_at).is_(None))
                .values(revealed_at=now)
            )
    return Toggled(await _view(session, user, partner), matched, partner)
