"""Counsellor contact: the private intake, the staff chat's claim and resolve, and the thread."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.claims import claim_rows
from bot.core.errors import DomainError, StaleAction
from bot.db.models import User
from bot.db.safety import CounsellorPost, CounsellorRequest, PostKind, RequestStatus
from bot.people import conversation
from bot.people.profiles import name_of, partner_of, require
from bot.safety.signals import Recipient, recipient_of

INTAKE, REPLYING = "counsellor.intake", "counsellor.reply"
# The questions in the order they are asked; "tell" only for a request about the couple.
STEPS = ("topic", "for", "tell", "urgency", "way", "time", "message")
REVIEW = "review"
CHOICES: dict[str, tuple[str, ...]] = {
    "for": ("me", "us"),
    "tell": ("yes", "no"),
    "urgency": ("days", "weeks", "any"),
    "way": ("chat", "call", "video"),
    "time": ("morning", "afternoon", "evening", "any"),
}
MESSAGE_MAX_LENGTH = 1000
REPLY_MAX_LENGTH = 2000
NAME_MAX_LENGTH = 128
# A request's stamp is the second it was made; this bound holds until the year 36812.
MAX_STAMP = 2**40


@dataclass(frozen=True)
class IntakeStep:
    """The next question of the intake and the answers so far."""

    step: str
    answers: dict[str, Any]
    partner_name: str | None


@dataclass(frozen=True)
class Submitted:
    """A stored request, and the partner to tell when the requester chose that."""

    request_id: int
    requester_name: str
    tell: Recipient | None


@dataclass(frozen=True)
class Card:
    """What the staff chat shows about a request."""

    request_id: int
    topic: str
    for_whom: str
    tell_partner: bool
    urgency: str
    contact_way: str
    contact_time: str
    message: str | None
    name: str | None
    username: str | None
    status: str
    claimed_by: str | None
    resolved_by: str | None
    created_at: datetime
    staff_chat_id: int | None
    staff_message_id: int | None
    # The requester's time zone, so the team sees their local time next to "Evenings".
    timezone: str | None = None

    @property
    def stamp(self) -> int:
        """Return the mark a staff button carries, so it acts only on this very request."""
        return stamp_of(self.created_at)


def stamp_of(created_at: datetime) -> int:
    """Return the stamp of a request made at `created_at` (whole seconds since 1970)."""
    return int(created_at.timestamp())


@dataclass(frozen=True)
class Changed:
    """A request a counsellor acted on, and its requester."""

    card: Card
    requester: Recipient
    newly_claimed: bool = False


@dataclass(frozen=True)
class Announcing:
    """When the staff chat hears about an unclaimed request: first, again, and after a failure."""

    # An unclaimed request is posted again this often (COUNSELLOR_REANNOUNCE_MINUTES).
    every: timedelta
    # The submitting handler posts the card itself; the job only steps in if that failed.
    post_grace: timedelta = timedelta(minutes=1)
    retry: timedelta = timedelta(minutes=1)

    def first_at(self, now: datetime, *, staff_chat: bool) -> datetime:
        """Return when the job should post a request submitted at `now`, if it is still due.

        Without a staff chat the request is due at once: it is posted as soon as one is set.
        """
        return now + self.post_grace if staff_chat else now


@dataclass(frozen=True)
class Due:
    """A request the staff chat should hear about now: its card, or a reminder under it."""

    card: Card
    # True when this staff chat has the card already: a reminder replies to it.
    posted_here: bool
    # Whole minutes since the request came in, for the reminder.
    waited_minutes: int = 0


@dataclass(frozen=True)
class Thread:
    """Where a requester's reply goes in the staff chat."""

    request_id: int
    staff_chat_id: int | None
    staff_message_id: int | None


@dataclass(frozen=True)
class Summary:
    """One line of /requests."""

    request_id: int
    topic: str
    for_whom: str
    status: str
    created_at: datetime


def _next_step(answers: dict[str, Any], paired: bool) -> str:
    for step in STEPS:
        if step == "tell" and (answers.get("for") != "us" or not paired):
            continue
        if step not in answers:
            return step
    return REVIEW


async def _step(
    session: AsyncSession, user: User, answers: dict[str, Any], *, now: datetime
) -> IntakeStep:
    partner = await partner_of(session, user)
    answers["step"] = _next_step(answers, partner is not None)
    await conversation.expect(session, user.id, INTAKE, now=now, data=answers)
    shown = {k: v for k, v in answers.items() if k != "step"}
    return IntakeStep(answers["step"], shown, name_of(partner) if partner else None)


async def begin_intake(
    session: AsyncSession, user_id: int, *, now: datetime, for_whom: str | None = None
) -> IntakeStep:
    """Start the intake (again), optionally already knowing whom it is for."""
    user = await require(session, user_id)
    answers: dict[str, Any] = {}
    if for_whom is not None:
        if for_whom not in CHOICES["for"]:
            raise StaleAction()
        answers["for"] = for_whom
    return await _step(session, user, answers, now=now)


async def _answers(session: AsyncSession, user_id: int, step: str) -> dict[str, Any]:
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != INTAKE or waiting.data.get("step") != step:
        raise StaleAction()
    return dict(waiting.data)


async def choose(
    session: AsyncSession,
    user_id: int,
    step: str,
    value: str,
    *,
    topics: Collection[str],
    now: datetime,
) -> IntakeStep:
    """Take a button answer to the step this person is at."""
    allowed = topics if step == "topic" else CHOICES.get(step, ())
    if value not in allowed:
        raise StaleAction()
    answers = await _answers(session, user_id, step)
    answers[step] = value
    return await _step(session, await require(session, user_id), answers, now=now)


async def set_message(
    session: AsyncSession, user_id: int, text: str | None, *, now: datetime
) -> IntakeStep:
    """Take the optional short message (None skips it)."""
    answers = await _answers(session, user_id, "message")
    if text is not None:
        text = text.strip()
        if not text:
            raise DomainError("counsellor.ask_message", limit=MESSAGE_MAX_LENGTH)
        if len(text) > MESSAGE_MAX_LENGTH:
            raise DomainError("counsellor.too_long", limit=MESSAGE_MAX_LENGTH, length=len(text))
    answers["message"] = text
    return await _step(session, await require(session, user_id), answers, now=now)


async def submit(
    session: AsyncSession,
    user_id: int,
    *,
    share_identity: bool,
    topics: Collection[str],
    now: datetime,
    announce_at: datetime,
) -> Submitted:
    """Store the reviewed request; the person's press on Send is their consent."""
    answers = await _answers(session, user_id, REVIEW)
    if answers.get("topic") not in topics or any(
        answers.get(step) not in CHOICES[step] for step in ("for", "urgency", "way", "time")
    ):
        raise StaleAction()
    user = await require(session, user_id)
    partner = await partner_of(session, user)
    tell = answers.get("for") == "us" and answers.get("tell") == "yes" and partner is not None
    request = CounsellorRequest(
        user_id=user_id,
        topic=answers["topic"],
        for_whom=answers["for"],
        tell_partner=tell,
        urgency=answers["urgency"],
        contact_way=answers["way"],
        contact_time=answers["time"],
        message=answers.get("message"),
        identity_shared_at=now if share_identity else None,
        created_at=now,
        next_announce_at=announce_at,
    )
    session.add(request)
    await conversation.forget(session, user_id)
    await session.flush()
    assert request.id is not None
    return Submitted(request.id, name_of(user), recipient_of(partner) if tell and partner else None)


async def cancel_intake(session: AsyncSession, user_id: int) -> None:
    """Drop a half-finished intake; a Cancel from an intake that is over is stale."""
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != INTAKE:
        raise StaleAction()
    await conversation.forget(session, user_id)


async def requests_of(session: AsyncSession, user_id: int, limit: int = 20) -> list[Summary]:
    """List a person's own requests, newest first."""
    result = await session.exec(
        select(CounsellorRequest)
        .where(CounsellorRequest.user_id == user_id)
        .order_by(col(CounsellorRequest.created_at).desc(), col(CounsellorRequest.id).desc())
        .limit(limit)
    )
    return [Summary(r.id or 0, r.topic, r.for_whom, r.status, r.created_at) for r in result.all()]


def _card(request: CounsellorRequest, user: User) -> Card:
    shared = request.identity_shared_at is not None
    assert request.id is not None
    return Card(
        request_id=request.id,
        topic=request.topic,
        for_whom=request.for_whom,
        tell_partner=request.tell_partner,
        urgency=request.urgency,
        contact_way=request.contact_way,
        contact_time=request.contact_time,
        message=request.message,
        name=user.telegram_name if shared else None,
        username=user.username if shared else None,
        status=request.status,
        claimed_by=request.claimed_by_name,
        resolved_by=request.resolved_by_name,
        created_at=request.created_at,
        staff_chat_id=request.staff_chat_id,
        staff_message_id=request.staff_message_id,
        timezone=user.timezone,
    )


async def card(session: AsyncSession, request_id: int) -> Card | None:
    """Describe a request for the staff chat."""
    request = await session.get(CounsellorRequest, request_id)
    if request is None:
        return None
    return _card(request, await require(session, request.user_id))


async def _for_staff(
    session: AsyncSession,
    request_id: int,
    staff_id: int,
    staff: Collection[int],
    stamp: int | None = None,
) -> tuple[CounsellorRequest, User]:
    # Checked on every press and reply: being in the staff chat is not enough.
    if staff_id not in staff:
        raise DomainError("counsellor.staff_only")
    request = await session.get(CounsellorRequest, request_id)
    if stamp is not None and (request is None or stamp_of(request.created_at) != stamp):
        # A card outlives its request (erased with its requester): it must not act on another.
        raise DomainError("counsellor.stale_card", number=request_id)
    if request is None:
        raise StaleAction()
    if request.status == RequestStatus.RESOLVED:
        raise DomainError("counsellor.already_resolved")
    return request, await require(session, request.user_id)


def _staffname_of(name: str) -> str:
    return (" ".join(name.split()) or "A counsellor")[:NAME_MAX_LENGTH]


async def _take(
    session: AsyncSession, request: CounsellorRequest, staff_id: int, name: str, now: datetime
) -> None:
    # Conditional, so two counsellors pressing at once cannot both take it.
    result = await session.exec(
        update(CounsellorRequest)
        .where(
            col(CounsellorRequest.id) == request.id,
            col(CounsellorRequest.status) == RequestStatus.OPEN,
        )
        .values(
            status=RequestStatus.CLAIMED,
            claimed_by_id=staff_id,
            claimed_by_name=_staffname_of(name),
            claimed_at=now,
            next_announce_at=None,
        )
    )
    if result.rowcount != 1:
        await session.refresh(request)
        raise DomainError("counsellor.already_claimed", name=request.claimed_by_name or "")
    await session.refresh(request)


async def claim(
    session: AsyncSession,
    request_id: int,
    *,
    stamp: int,
    staff_id: int,
    staff_name: str,
    staff: Collection[int],
    now: datetime,
) -> Changed:
    """Let a counsellor take the request a card with this stamp shows."""
    request, user = await _for_staff(session, request_id, staff_id, staff, stamp)
    if request.status == RequestStatus.CLAIMED:
        raise DomainError("counsellor.already_claimed", name=request.claimed_by_name or "")
    await _take(session, request, staff_id, staff_name, now)
    return Changed(_card(request, user), recipient_of(user), newly_claimed=True)


async def resolve(
    session: AsyncSession,
    request_id: int,
    *,
    stamp: int,
    staff_id: int,
    staff_name: str,
    staff: Collection[int],
    now: datetime,
) -> Changed:
    """Let a counsellor close the request a card with this stamp shows."""
    request, user = await _for_staff(session, request_id, staff_id, staff, stamp)
    request.status, request.resolved_at = RequestStatus.RESOLVED, now
    request.resolved_by_name, request.next_announce_at = _staffname_of(staff_name), None
    session.add(request)
    await session.flush()
    return Changed(_card(request, user), recipient_of(user))


async def request_of_post(session: AsyncSession, chat_id: int, message_id: int) -> int | None:
    """Return the request a bot message in the staff chat belongs to, if any."""
    result = await session.exec(
        select(CounsellorPost.request_id).where(
            CounsellorPost.chat_id == chat_id, CounsellorPost.message_id == message_id
        )
    )
    return result.first()


async def reminders_of(session: AsyncSession, request_id: int) -> list[tuple[int, int]]:
    """Return where a request's reminders are in the staff chat: (chat id, message id)."""
    result = await session.exec(
        select(CounsellorPost.chat_id, CounsellorPost.message_id).where(
            CounsellorPost.request_id == request_id, CounsellorPost.kind == PostKind.REMINDER
        )
    )
    return [(chat_id, message_id) for chat_id, message_id in result.all()]


async def thread_of_post(
    session: AsyncSession, user_id: int, chat_id: int, message_id: int
) -> int | None:
    """Return the request of this person's that a message in their chat belongs to, if any."""
    result = await session.exec(
        select(CounsellorPost.request_id)
        .join(CounsellorRequest, col(CounsellorRequest.id) == col(CounsellorPost.request_id))
        .where(
            CounsellorPost.chat_id == chat_id,
            CounsellorPost.message_id == message_id,
            CounsellorRequest.user_id == user_id,
        )
    )
    return result.first()


async def active_request_of(session: AsyncSession, user_id: int) -> int | None:
    """Return this person's newest request that is not resolved yet, if any."""
    result = await session.exec(
        select(CounsellorRequest.id)
        .where(
            CounsellorRequest.user_id == user_id,
            col(CounsellorRequest.status) != RequestStatus.RESOLVED,
        )
        .order_by(col(CounsellorRequest.id).desc())
        .limit(1)
    )
    return result.first()


async def take_message(session: AsyncSession, user_id: int, request_id: int, text: str) -> Thread:
    """Take a message a requester wrote to the team about one of their requests."""
    request = await session.get(CounsellorRequest, request_id)
    if request is None or request.user_id != user_id:
        raise StaleAction()
    if request.status == RequestStatus.RESOLVED:
        raise DomainError("counsellor.request_closed", number=request.id)
    text = text.strip()
    if len(text) > REPLY_MAX_LENGTH:
        raise DomainError("counsellor.too_long", limit=REPLY_MAX_LENGTH, length=len(text))
    assert request.id is not None
    return Thread(request.id, request.staff_chat_id, request.staff_message_id)


async def staff_reply(
    session: AsyncSession,
    request_id: int,
    *,
    staff_id: int,
    staff_name: str,
    staff: Collection[int],
    now: datetime,
) -> Changed:
    """Check that a counsellor may write to a request's requester; writing claims it."""
    request, user = await _for_staff(session, request_id, staff_id, staff)
    newly = request.status == RequestStatus.OPEN
    if newly:
        await _take(session, request, staff_id, staff_name, now)
    return Changed(_card(request, user), recipient_of(user), newly_claimed=newly)


async def begin_reply(
    session: AsyncSession, user_id: int, request_id: int, *, now: datetime
) -> None:
    """Wait for the requester's typed reply to the counsellor team."""
    request = await session.get(CounsellorRequest, request_id)
    if request is None or request.user_id != user_id or request.status == RequestStatus.OPEN:
        raise StaleAction()
    if request.status == RequestStatus.RESOLVED:
        raise DomainError("counsellor.request_closed", number=request_id)
    await conversation.expect(session, user_id, REPLYING, now=now, data={"request": request_id})


async def take_reply(session: AsyncSession, user_id: int, text: str, *, now: datetime) -> Thread:
    """Take the requester's typed reply; the caller posts it to the request's thread."""
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != REPLYING:
        raise StaleAction()
    request_id = waiting.data.get("request")
    request = (
        await session.get(CounsellorRequest, request_id) if isinstance(request_id, int) else None
    )
    if request is None or request.user_id != user_id:
        await conversation.forget(session, user_id)
        raise StaleAction()
    if request.status == RequestStatus.RESOLVED:
        await conversation.forget(session, user_id)
        raise DomainError("counsellor.request_closed", number=request.id)
    text = text.strip()
    if len(text) > REPLY_MAX_LENGTH:
        raise DomainError("counsellor.too_long", limit=REPLY_MAX_LENGTH, length=len(text))
    await conversation.forget(session, user_id)
    assert request.id is not None
    return Thread(request.id, request.staff_chat_id, request.staff_message_id)


async def record_post(
    session: AsyncSession,
    request_id: int,
    kind: str,
    *,
    chat_id: int,
    message_id: int,
    now: datetime,
) -> None:
    """Remember a bot message in the staff chat as part of a request's thread."""
    session.add(
        CounsellorPost(
            request_id=request_id, kind=kind, chat_id=chat_id, message_id=message_id, created_at=now
        )
    )


async def mark_announced(
    session: AsyncSession,
    due: Due,
    *,
    chat_id: int,
    message_id: int,
    now: datetime,
    announcing: Announcing,
) -> None:
    """Record that the staff chat heard about a request, and when it should hear again."""
    request_id = due.card.request_id
    request = await session.get(CounsellorRequest, request_id)
    if request is None:
        return
    card_posted = not due.posted_here
    if card_posted:
        request.staff_chat_id, request.staff_message_id = chat_id, message_id
    request.announcements += 1
    if request.status == RequestStatus.OPEN:
        request.next_announce_at = now + announcing.every
    else:
        request.next_announce_at = None
    session.add(request)
    kind = PostKind.CARD if card_posted else PostKind.REMINDER
    await record_post(session, request_id, kind, chat_id=chat_id, message_id=message_id, now=now)


async def announce_later(
    session: AsyncSession, request_id: int, *, now: datetime, announcing: Announcing
) -> None:
    """Try posting a request to the staff chat again a little later (the last try failed)."""
    await session.exec(
        update(CounsellorRequest)
        .where(
            col(CounsellorRequest.id) == request_id,
            col(CounsellorRequest.status) == RequestStatus.OPEN,
        )
        .values(next_announce_at=now + announcing.retry)
    )


async def claim_due(
    session: AsyncSession,
    *,
    chat_id: int,
    now: datetime,
    announcing: Announcing,
    limit: int = 20,
) -> list[Due]:
    """Take the unclaimed requests the staff chat should hear about now (never posted or
    waiting too long); each moves its next announcement on, so two workers don't both post."""
    taken = await claim_rows(
        session,
        CounsellorRequest,
        due=and_(
            col(CounsellorRequest.status) == RequestStatus.OPEN,
            col(CounsellorRequest.next_announce_at) <= now,
        ),
        order_by=col(CounsellorRequest.next_announce_at),
        limit=limit,
        # The next announcement moving on is this kind's lease: nobody else posts it meanwhile.
        take={"next_announce_at": now + announcing.every},
        returning=(col(CounsellorRequest.id),),
    )
    result = await session.exec(
        select(CounsellorRequest)
        .where(col(CounsellorRequest.id).in_([row[0] for row in taken]))
        .order_by(col(CounsellorRequest.id))
    )
    due: list[Due] = []
    for request in result.all():
        posted_here = request.staff_chat_id == chat_id and request.staff_message_id is not None
        waited = max(0, int((now - request.created_at).total_seconds() // 60))
        card = _card(request, await require(session, request.user_id))
        due.append(Due(card, posted_here, waited))
    return due
