"""What the bot is waiting for from each person, kept in the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db.models import Conversation


@dataclass(frozen=True)
class Awaiting:
    """The step a person is in and the little it needs to remember."""

    state: str
    data: dict[str, Any] = field(default_factory=dict)


async def awaiting(session: AsyncSession, user_id: int) -> Awaiting | None:
    """Return what the bot waits for from this person, if anything."""
    row = await session.get(Conversation, user_id)
    return None if row is None else Awaiting(row.state, dict(row.data))


async def expect(
    session: AsyncSession,
    user_id: int,
    state: str,
    *,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """Remember that the next message or button from this person belongs to `state`."""
    row = await session.get(Conversation, user_id)
    if row is None:
        row = Conversation(user_id=user_id, state=state, data=data or {}, updated_at=now)
    else:
        row.state, row.data, row.updated_at = state, data or {}, now
    session.add(row)


async def forget(session: AsyncSession, user_id: int) -> None:
    """Stop waiting for anything from this person."""
    await session.exec(delete(Conversation).where(col(Conversation.user_id) == user_id))
