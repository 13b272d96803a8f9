"""Pairing two people into a couple: invites, consent, and unpairing."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.errors import DomainError, StaleAction
from bot.db.models import Couple, CoupleQuestion, Invite, InviteStatus, User
from bot.nudges import schedules
from bot.nudges.schedules import Rhythm
from bot.people import conversation
from bot.people.profiles import name_of, partner_of, require
from bot.safety.signals import forget_held_between

INVITE_PREFIX = "inv_"
# 24 random bytes = 192 bits; token_urlsafe keeps to the characters deep links allow.
INVITE_BYTES = 24
_CODE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
VIEWING_INVITE = "pairing.viewing_invite"
# How long an ended couple's shared answers are kept (hidden) in case the same two re-pair.
HISTORY_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class NewInvite:
    """A freshly made invite; the code exists only here and in the link."""

    payload: str
    expires_at: datetime


@dataclass(frozen=True)
class InvitePreview:
    """What the invited person sees before choosing."""

    invite_id: int
    inviter_name: str


@dataclass(frozen=True)
class Paired:
    """Two people who just became a couple."""

    couple_id: int
    inviter: User
    invitee: User


@dataclass(frozen=True)
class Declined:
    """An invite that was turned down, and who made it."""

    inviter: User


def hash_code(code: str) -> str:
    """Hash an invite code; only the hash is stored."""
    return hashlib.sha256(code.encode()).hexdigest()


def is_invite_payload(payload: str) -> bool:
    """Tell whether a /start payload is meant to be an invite.

    The bot makes no other deep links, so anything at all after /start is treated as one:
    a mangled or made-up link gets told it doesn't work, like a forged invite.
    """
    return bool(payload)


async def _revoke_active(session: AsyncSession, user_ids: list[int], now: datetime) -> None:
    await session.exec(
        update(Invite)
        .where(col(Invite.inviter_id).in_(user_ids), col(Invite.status) == InviteStatus.ACTIVE)
        .values(status=InviteStatus.REVOKED, resolved_at=now)
    )


async def create_invite(
    session: AsyncSession, user_id: int, *, now: datetime, ttl: timedelta
) -> NewInvite:
    """Make a new single-use invite, replacing any earlier one of this person."""
    user = await require(session, user_id)
    if user.couple_id is not None:
        raise DomainError("pairing.already_paired")
    await _revoke_active(session, [user_id], now)
    code = secrets.token_urlsafe(INVITE_BYTES)
    expires_at = now + ttl
    session.add(
        Invite(
            inviter_id=user_id,
            code_hash=hash_code(code),
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return NewInvite(payload=INVITE_PREFIX + code, expires_at=expires_at)


async def active_invite(session: AsyncSession, user_id: int, *, now: datetime) -> Invite | None:
    """Return this person's invite that can still be accepted, if any."""
    result = await session.exec(
        select(Invite).where(
            Invite.inviter_id == user_id,
            Invite.status == InviteStatus.ACTIVE,
            col(Invite.expires_at) > now,
        )
    )
    return result.first()


async def revoke_invite(session: AsyncSession, user_id: int, *, now: datetime) -> bool:
    """Cancel this person's open invite; tell whether there was one."""
    had = await active_invite(session, user_id, now=now) is not None
    await _revoke_active(session, [user_id], now)
    return had


def _throttled(user: User, *, now: datetime, limit: int, window: timedelta) -> bool:
    start = user.bad_code_window_start
    return start is not None and now - start < window and user.bad_code_count >= limit


def _count_bad_code(user: User, *, now: datetime, window: timedelta) -> None:
    start = user.bad_code_window_start
    if start is None or now - start >= window:
        user.bad_code_window_start, user.bad_code_count = now, 0
    user.bad_code_count += 1


async def open_invite(
    session: AsyncSession,
    user_id: int,
    payload: str,
    *,
    now: datetime,
    bad_code_limit: int,
    bad_code_window: timedelta,
) -> InvitePreview:
    """Look up the invite behind a deep link and remember that this person is choosing."""
    user = await require(session, user_id)
    if _throttled(user, now=now, limit=bad_code_limit, window=bad_code_window):
        start = user.bad_code_window_start or now
        minutes = max(1, int((start + bad_code_window - now).total_seconds() // 60) + 1)
        raise DomainError("pairing.too_many_tries", minutes=minutes)
    try:
        return await _preview(session, user, payload.removeprefix(INVITE_PREFIX), now=now)
    except DomainError:
        _count_bad_code(user, now=now, window=bad_code_window)
        session.add(user)
        raise


async def _preview(session: AsyncSession, user: User, code: str, *, now: datetime) -> InvitePreview:
    if not _CODE_SHAPE.match(code):
        raise DomainError("pairing.invite_unknown")
    invite = (await session.exec(select(Invite).where(Invite.code_hash == hash_code(code)))).first()
    if invite is None:
        raise DomainError("pairing.invite_unknown")
    inviter = await require(session, invite.inviter_id)
    if invite.inviter_id == user.id:
        raise DomainError("pairing.invite_self")
    if invite.status == InviteStatus.REVOKED:
        raise DomainError("pairing.invite_revoked", inviter=name_of(inviter))
    if invite.status != InviteStatus.ACTIVE:
        raise DomainError("pairing.invite_used")
    if invite.expires_at <= now:
        raise DomainError("pairing.invite_expired", inviter=name_of(inviter))
    if user.couple_id is not None:
        partner = await partner_of(session, user)
        if partner is not None and partner.id == inviter.id:
            raise DomainError("pairing.already_together", partner=name_of(inviter))
        raise DomainError("pairing.already_paired")
    if inviter.couple_id is not None:
        raise DomainError("pairing.inviter_paired", inviter=name_of(inviter))
    assert invite.id is not None
    await conversation.expect(
        session, user.id, VIEWING_INVITE, now=now, data={"invite_id": invite.id}
    )
    return InvitePreview(invite_id=invite.id, inviter_name=name_of(inviter))


async def _already_together(session: AsyncSession, user_id: int, invite_id: int) -> None:
    """Say so when this person and the inviter are a couple already (their invites crossed)."""
    invite = await session.get(Invite, invite_id)
    user = await session.get(User, user_id)
    if invite is None or user is None or user.couple_id is None:
        return
    inviter = await session.get(User, invite.inviter_id)
    if inviter is not None and inviter.couple_id == user.couple_id:
        raise DomainError("pairing.already_together", partner=name_of(inviter))


async def _invite_being_viewed(
    session: AsyncSession, user_id: int, invite_id: int, *, now: datetime
) -> tuple[User, Invite]:
    """Check that this person really opened this invite, and that it is still open."""
    await _already_together(session, user_id, invite_id)
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != VIEWING_INVITE:
        raise StaleAction()
    if waiting.data.get("invite_id") != invite_id:
        raise StaleAction()
    invite = await session.get(Invite, invite_id)
    if invite is None:
        raise StaleAction()
    user = await require(session, user_id)
    if invite.status == InviteStatus.REVOKED:
        raise DomainError(
            "pairing.invite_revoked", inviter=name_of(await require(session, invite.inviter_id))
        )
    if invite.status != InviteStatus.ACTIVE:
        raise DomainError("pairing.invite_used")
    if invite.expires_at <= now:
        raise DomainError(
            "pairing.invite_expired", inviter=name_of(await require(session, invite.inviter_id))
        )
    return user, invite


async def _recent_couple(
    session: AsyncSession, low: int, high: int, *, now: datetime
) -> Couple | None:
    result = await session.exec(
        select(Couple)
        .where(
            Couple.partner_a_id == low,
            Couple.partner_b_id == high,
            col(Couple.ended_at).is_not(None),
            col(Couple.ended_at) > now - HISTORY_GRACE,
        )
        .order_by(col(Couple.ended_at).desc())
    )
    return result.first()


async def purge_ended_history(session: AsyncSession, *, now: datetime) -> int:
    """Erase the shared answers of couples that ended longer ago than the grace period."""
    ended = select(Couple.id).where(
        col(Couple.ended_at).is_not(None), col(Couple.ended_at) <= now - HISTORY_GRACE
    )
    result = await session.exec(
        delete(CoupleQuestion).where(col(CoupleQuestion.couple_id).in_(ended))
    )
    return int(result.rowcount or 0)


async def accept(
    session: AsyncSession, user_id: int, invite_id: int, *, now: datetime, rhythm: Rhythm
) -> Paired:
    """Pair the invited person with the inviter, if both are still free."""
    invitee, invite = await _invite_being_viewed(session, user_id, invite_id, now=now)
    inviter = await require(session, invite.inviter_id)
    if invitee.couple_id is not None:
        raise DomainError("pairing.already_paired")
    if inviter.couple_id is not None:
        raise DomainError("pairing.inviter_paired", inviter=name_of(inviter))
    low, high = sorted((inviter.id, invitee.id))
    couple = await _recent_couple(session, low, high, now=now)
    if couple is None:
        couple = Couple(partner_a_id=low, partner_b_id=high, created_at=now)
    else:
        # The same two people within the grace period: their shared history comes back.
        couple.ended_at, couple.ended_by_id = None, None
    session.add(couple)
    await session.flush()
    assert couple.id is not None
    # Conditional update: if either person was paired meanwhile (another process), nothing
    # changes and the whole transaction is rolled back by the caller.
    result = await session.exec(
        update(User)
        .where(col(User.id).in_([low, high]), col(User.couple_id).is_(None))
        .values(couple_id=couple.id, updated_at=now)
    )
    if result.rowcount != 2:
        raise DomainError("pairing.inviter_paired", inviter=name_of(inviter))
    invite.status, invite.resolved_at, invite.invitee_id = InviteStatus.ACCEPTED, now, invitee.id
    session.add(invite)
    await _revoke_active(session, [low, high], now)
    await conversation.forget(session, invitee.id)
    await session.refresh(inviter)
    await session.refresh(invitee)
    for person in (inviter, invitee):
        await schedules.reschedule(session, person, now=now, rhythm=rhythm)
    return Paired(couple_id=couple.id, inviter=inviter, invitee=invitee)


async def decline(
    session: AsyncSession, user_id: int, invite_id: int, *, now: datetime
) -> Declined:
    """Turn an invite down; it cannot be used again."""
    invitee, invite = await _invite_being_viewed(session, user_id, invite_id, now=now)
    invite.status, invite.resolved_at, invite.invitee_id = InviteStatus.DECLINED, now, invitee.id
    session.add(invite)
    await conversation.forget(session, invitee.id)
    return Declined(inviter=await require(session, invite.inviter_id))


async def unpair(
    session: AsyncSession, user_id: int, couple_id: int, *, now: datetime, rhythm: Rhythm
) -> User | None:
    """End this person's couple; return the former partner so they can be told."""
    user = await require(session, user_id)
    if user.couple_id is None or user.couple_id != couple_id:
        raise StaleAction()
    couple = await session.get(Couple, couple_id)
    if couple is None or couple.ended_at is not None:
        raise StaleAction()
    partner = await partner_of(session, user)
    couple.ended_at, couple.ended_by_id = now, user_id
    session.add(couple)
    await session.exec(
        update(User).where(col(User.couple_id) == couple_id).values(couple_id=None, updated_at=now)
    )
    await _revoke_active(session, [user_id] + ([partner.id] if partner else []), now)
    if partner is not None:
        # Held reveals would otherwise keep showing each other's words after the couple ended.
        await forget_held_between(session, user_id, partner.id)
    await session.refresh(user)
    await schedules.reschedule(session, user, now=now, rhythm=rhythm)
    if partner is not None:
        await session.refresh(partner)
        await schedules.reschedule(session, partner, now=now, rhythm=rhythm)
    return partner
