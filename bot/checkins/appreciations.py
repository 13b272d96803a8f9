"""The appreciation courier: a partner's short thank-you, delivered at the other's next morning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkins import schedules as checkin_schedules
from bot.checkins.weekly import couple_of, require_unpaused
from bot.core.errors import DomainError
from bot.db.checkins import Appreciation
from bot.db.models import User
from bot.people import conversation
from bot.people.profiles import name_of, zone_of

APPRECIATION_MAX_LENGTH = 400
APPRECIATING = "checkins.appreciate"


@dataclass(frozen=True)
class Written:
    """A sealed appreciation: who gets it, and when on their own clock."""

    recipient_name: str
    arrives_at: datetime  # aware, in the recipient's time zone


@dataclass(frozen=True)
class Note:
    """One appreciation on its way: its id, who wrote it, and what they wrote."""

    appreciation_id: int
    author_name: str
    text: str


def clean_appreciation(typed: str) -> str:
    """Return a typed appreciation ready to store, or raise a friendly error."""
    cleaned = typed.strip()
    if not cleaned:
        raise DomainError("checkins.appreciation_empty")
    if len(cleaned) > APPRECIATION_MAX_LENGTH:
        raise DomainError(
            "checkins.appreciation_too_long", limit=APPRECIATION_MAX_LENGTH, length=len(cleaned)
        )
    return cleaned


async def begin(session: AsyncSession, user_id: int, *, now: datetime) -> str:
    """Note that this person's next message is an appreciation; return the partner's name."""
    user, partner = await couple_of(session, user_id)
    await require_unpaused(session, user.couple_id)
    await conversation.expect(session, user_id, APPRECIATING, now=now)
    return name_of(partner)


async def write(
    session: AsyncSession,
    user_id: int,
    typed: str,
    *,
    now: datetime,
    default_morning: time,
    default_zone: str,
) -> Written:
    """Seal an appreciation for the partner; it travels to their next morning nudge time."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    await require_unpaused(session, user.couple_id)
    session.add(
        Appreciation(
            couple_id=user.couple_id,
            author_id=user.id,
            recipient_id=partner.id,
            text=clean_appreciation(typed),
            created_at=now,
        )
    )
    waiting = await conversation.awaiting(session, user_id)
    if waiting is not None and waiting.state == APPRECIATING:
        await conversation.forget(session, user_id)
    _, run_at = await checkin_schedules.plan_courier(
        session, partner, after=now, default_morning=default_morning, default_zone=default_zone
    )
    return Written(name_of(partner), run_at.astimezone(zone_of(partner, default=default_zone)))


async def pending_for(session: AsyncSession, recipient: User, *, until: datetime) -> list[Note]:
    """Return the undelivered appreciations from this person's current partner, oldest first."""
    if recipient.couple_id is None:
        return []
    result = await session.exec(
        select(Appreciation, User)
        .join(User, col(User.id) == col(Appreciation.author_id))
        .where(
            Appreciation.recipient_id == recipient.id,
            Appreciation.couple_id == recipient.couple_id,
            col(Appreciation.delivered_at).is_(None),
            col(Appreciation.created_at) <= until,
        )
        .order_by(col(Appreciation.created_at), col(Appreciation.id))
    )
    notes = []
    for appreciation, author in result.all():
        assert appreciation.id is not None
        notes.append(Note(appreciation.id, name_of(author), appreciation.text))
    return notes


async def mark_delivered(session: AsyncSession, ids: Sequence[int], *, now: datetime) -> None:
    """Record that Telegram accepted these appreciations."""
    if ids:
        await session.exec(
            update(Appreciation)
            .where(col(Appreciation.id).in_(list(ids)), col(Appreciation.delivered_at).is_(None))
            .values(delivered_at=now)
        )
