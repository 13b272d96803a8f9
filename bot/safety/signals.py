"""Safety: the private safety signal that pauses couple exercises, and discreet mode."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, literal, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.errors import DomainError, StaleAction
from bot.db.engine import dialect_insert
from bot.db.models import Couple, Delivery, DeliveryStatus, NudgeKind, User
from bot.db.safety import HeldMessage, SafetySignal, SentMessage
from bot.db.types import UTCDateTime
from bot.people.profiles import require

# The nudges a couple does together; a safety signal pauses these (reading goes on).
COUPLE_EXERCISES = frozenset({NudgeKind.MORNING, NudgeKind.EVENING, NudgeKind.REMINDER})
_PAUSED_COUPLES = "safety.paused_couples"
# Telegram lets a bot delete its messages in a private chat for 48 hours.
DELETABLE_FOR = timedelta(hours=48)
# A neutral notification can be opened with Show for this long.
HELD_FOR = timedelta(days=7)


@dataclass(frozen=True)
class Recipient:
    """Where to reach a person, and whether only with a neutral notification."""

    user_id: int
    chat_id: int
    locale: str
    discreet: bool


def recipient_of(user: User) -> Recipient:
    """Describe a stored person as someone to notify."""
    return Recipient(user.id, user.chat_id, user.locale, user.discreet_since is not None)


@dataclass(frozen=True)
class SafetyState:
    """What /safety shows a person about themselves."""

    signalled: bool
    paired: bool
    exercises_paused: bool
    discreet: bool
    timezone: str | None


@dataclass(frozen=True)
class Held:
    """A message kept back from a neutral notification, ready to be shown."""

    text: str
    buttons: list[list[tuple[str, str]]]
    # Where the rest of the words are, to copy from (chat id, message id), if anywhere.
    copy_from: tuple[int, int] | None = None


async def exercises_paused(session: AsyncSession, couple_id: int | None) -> bool:
    """Tell whether a couple's shared exercises are paused by a safety signal.

    One query, as the nudge engine asks this for every shared nudge it sends.
    """
    if couple_id is None:
        return False
    # A signal given before this couple formed counts too: it is often the same partner.
    member_signalled = (
        select(SafetySignal.user_id)
        .join(User, col(User.id) == col(SafetySignal.user_id))
        .where(col(User.couple_id) == couple_id)
        .exists()
    )
    result = await session.exec(
        select(Couple.id).where(
            col(Couple.id) == couple_id,
            or_(col(Couple.exercises_paused_at).is_not(None), member_signalled),
        )
    )
    return result.first() is not None


async def paused_couples(session: AsyncSession) -> frozenset[int]:
    """Return every couple whose shared exercises are paused, once per session.

    For loops over many people (the nudge engine composes a group per session): one small
    query instead of one per person, since safety signals are few.
    """
    cached = session.info.get(_PAUSED_COUPLES)
    if cached is None:
        signalled = select(User.couple_id).join(
            SafetySignal, col(SafetySignal.user_id) == col(User.id)
        )
        result = await session.exec(
            select(Couple.id).where(
                or_(
                    col(Couple.exercises_paused_at).is_not(None),
                    col(Couple.id).in_(signalled.where(col(User.couple_id).is_not(None))),
                )
            )
        )
        cached = session.info[_PAUSED_COUPLES] = frozenset(i for i in result.all() if i)
    return frozenset(cached)


async def state_of(session: AsyncSession, user_id: int) -> SafetyState | None:
    """Describe a person's safety settings, or None for someone the bot doesn't know."""
    user = await session.get(User, user_id)
    if user is None:
        return None
    signalled = await session.get(SafetySignal, user_id) is not None
    return SafetyState(
        signalled=signalled,
        paired=user.couple_id is not None,
        exercises_paused=await exercises_paused(session, user.couple_id),
        discreet=user.discreet_since is not None,
        timezone=user.timezone,
    )


async def signal(session: AsyncSession, user_id: int, *, now: datetime) -> bool:
    """Record that a person does not always feel safe and pause their couple's exercises.

    Returns whether a couple was paused. Nothing here tells the partner anything.
    """
    user = await require(session, user_id)
    if await session.get(SafetySignal, user_id) is None:
        session.add(SafetySignal(user_id=user_id, signalled_at=now))
    if user.couple_id is None:
        return False
    await session.exec(
        update(Couple)
        .where(col(Couple.id) == user.couple_id, col(Couple.exercises_paused_at).is_(None))
        .values(exercises_paused_at=now)
    )
    return True


async def feel_safe_again(session: AsyncSession, user_id: int) -> bool:
    """Drop a person's safety signal; resume their couple unless the partner signalled too.

    Returns whether the couple's exercises resumed. A press with no signal to drop is stale.
    """
    user = await require(session, user_id)
    row = await session.get(SafetySignal, user_id)
    if row is None:
        raise StaleAction()
    await session.delete(row)
    partners = select(User.id).where(User.couple_id == user.couple_id, User.id != user_id)
    still = await session.exec(select(SafetySignal).where(col(SafetySignal.user_id).in_(partners)))
    partner_signalled = user.couple_id is not None and still.first() is not None
    # Earlier couples too: one revived by pairing again must not stay paused for this signal.
    mine = or_(col(Couple.partner_a_id) == user_id, col(Couple.partner_b_id) == user_id)
    if partner_signalled:
        mine = and_(mine, col(Couple.id) != user.couple_id)
    await session.exec(
        update(Couple)
        .where(mine, col(Couple.exercises_paused_at).is_not(None))
        .values(exercises_paused_at=None)
    )
    return user.couple_id is not None and not await exercises_paused(session, user.couple_id)


async def set_discreet(session: AsyncSession, user_id: int, *, on: bool, now: datetime) -> bool:
    """Switch discreet mode on or off; return whether it changed."""
    user = await require(session, user_id)
    if (user.discreet_since is not None) == on:
        return False
    user.discreet_since, user.updated_at = (now if on else None), now
    session.add(user)
    return True


async def record_sent(
    session: AsyncSession, chat_id: int, message_id: int, *, now: datetime
) -> None:
    """Remember a message sent to a person's private chat, so /hide can delete it later.

    Written as INSERT ... SELECT from users: a chat that is no person's records nothing.
    """
    rows = select(col(User.id), literal(message_id), literal(now, UTCDateTime())).where(
        col(User.id) == chat_id
    )
    insert = dialect_insert(session)
    statement = (
        insert(SentMessage)
        .from_select(["user_id", "message_id", "sent_at"], rows)
        .on_conflict_do_nothing(index_elements=["user_id", "message_id"])
    )
    await session.exec(statement)


async def take_recent_messages(session: AsyncSession, user_id: int, *, now: datetime) -> list[int]:
    """Return the ids of the bot's messages to this person that can still be deleted.

    They are forgotten here: the caller deletes them in Telegram next.
    """
    since = now - DELETABLE_FOR
    recorded = await session.exec(
        select(SentMessage.message_id).where(
            SentMessage.user_id == user_id, col(SentMessage.sent_at) > since
        )
    )
    nudges = await session.exec(
        select(Delivery.message_id).where(
            Delivery.user_id == user_id,
            Delivery.status == DeliveryStatus.SENT,
            col(Delivery.message_id).is_not(None),
            col(Delivery.sent_at) > since,
        )
    )
    ids = {*recorded.all(), *(message_id for message_id in nudges.all() if message_id)}
    await session.exec(delete(SentMessage).where(col(SentMessage.user_id) == user_id))
    return sorted(ids)


async def hold(
    session: AsyncSession,
    user_id: int,
    text: str,
    buttons: Sequence[Sequence[tuple[str, str]]],
    *,
    now: datetime,
    about: int | None = None,
    copy_from: tuple[int, int] | None = None,
) -> int:
    """Keep a message back for a person in discreet mode; return the id their Show button names.

    `about` names the person whose words the message carries; `copy_from` a message elsewhere
    whose words are shown by copying it, so they are never stored here.
    """
    row = HeldMessage(
        user_id=user_id,
        text=text,
        buttons=[[[label, data] for label, data in line] for line in buttons],
        created_at=now,
        about_user_id=about,
        copy_chat_id=copy_from[0] if copy_from else None,
        copy_message_id=copy_from[1] if copy_from else None,
    )
    session.add(row)
    await session.flush()
    assert row.id is not None
    return row.id


async def show_held(session: AsyncSession, user_id: int, held_id: int) -> Held:
    """Hand over a held message once, to the person it was kept for."""
    row = await session.get(HeldMessage, held_id)
    if row is None:
        # Shown already, past its time, or its words went with the person who wrote them.
        raise DomainError("safety.held_gone")
    if row.user_id != user_id:
        raise StaleAction()
    await session.delete(row)
    buttons: list[Any] = row.buttons
    copy_from = (
        (row.copy_chat_id, row.copy_message_id)
        if row.copy_chat_id is not None and row.copy_message_id is not None
        else None
    )
    return Held(row.text, [[(str(b[0]), str(b[1])) for b in line] for line in buttons], copy_from)


async def forget_held_between(session: AsyncSession, first: int, second: int) -> int:
    """Erase what either of two people holds of the other's words (they are no longer a couple)."""
    result = await session.exec(
        delete(HeldMessage).where(
            or_(
                and_(col(HeldMessage.user_id) == first, col(HeldMessage.about_user_id) == second),
                and_(col(HeldMessage.user_id) == second, col(HeldMessage.about_user_id) == first),
            )
        )
    )
    return int(result.rowcount or 0)


async def prune(session: AsyncSession, *, now: datetime) -> int:
    """Forget message ids too old to delete and held messages nobody opened in time."""
    old = await session.exec(
        delete(SentMessage).where(col(SentMessage.sent_at) <= now - DELETABLE_FOR)
    )
    stale = await session.exec(
        delete(HeldMessage).where(col(HeldMessage.created_at) <= now - HELD_FOR)
    )
    return int(old.rowcount or 0) + int(stale.rowcount or 0)
