"""People, couples and engines for service tests, written straight to the database.

The shared clock starts on Monday 2 March 2026 at 09:00 UTC.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing.entitlements import Policy
from bot.content.library import Library
from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.db.engine import Sessions
from bot.nudges.engine import EngineConfig, NudgeEngine
from bot.nudges.schedules import Rhythm
from bot.outbox.messages import Sender
from bot.people import pairing
from bot.people import profiles as people
from bot.safety import counsellor

T = TypeVar("T")
CONTENT = Path(__file__).resolve().parents[2] / "content"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALEX, SAM = 1, 2
COUNSELLOR_TOPICS = ("trust", "other")
COUNSELLOR_ANNOUNCING = counsellor.Announcing(every=timedelta(minutes=60))
# The defaults the settings start from: excerpts Tuesday and Friday 12:30, videos Sunday 18:00.
RHYTHM = Rhythm()
POLICY = Policy()
# For tests that run past the 7-day trial when billing is not what they test.
NOTHING_GATED = Policy(gated=frozenset())


async def _in(sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one transaction and return what it returned."""
    async with sessions.begin() as session:
        return await work(session)


async def onboard(
    sessions: Sessions,
    clock: FixedClock,
    user_id: int,
    name: str,
    zone: str,
    morning: time = time(8, 0),
    evening: time = time(21, 0),
) -> None:
    """Register someone and finish their onboarding (time zone, nudge times) in one go."""
    now = clock.now()
    async with sessions.begin() as session:
        await people.register(
            session,
            user_id=user_id,
            chat_id=user_id,
            telegram_name=name,
            username=None,
            locale="en",
            now=now,
            rhythm=RHYTHM,
        )
        await people.set_timezone(session, user_id, zone, now=now, rhythm=RHYTHM)
        await people.set_nudge_time(session, user_id, "morning", morning, now=now, rhythm=RHYTHM)
        await people.set_nudge_time(session, user_id, "evening", evening, now=now, rhythm=RHYTHM)
        await people.finish_onboarding(session, user_id, now=now, rhythm=RHYTHM)


async def pair(sessions: Sessions, clock: FixedClock, a: int = ALEX, b: int = SAM) -> int:
    """Pair two onboarded people through an invite from `a`; return the couple id."""
    async with sessions.begin() as session:
        made = await pairing.create_invite(session, a, now=clock.now(), ttl=timedelta(hours=48))
    async with sessions.begin() as session:
        preview = await pairing.open_invite(
            session,
            b,
            made.payload,
            now=clock.now(),
            bad_code_limit=5,
            bad_code_window=timedelta(minutes=15),
        )
    async with sessions.begin() as session:
        paired = await pairing.accept(session, b, preview.invite_id, now=clock.now(), rhythm=RHYTHM)
    return paired.couple_id


def nudge_engine(
    sessions: Sessions,
    clock: FixedClock,
    sender: Sender,
    config: EngineConfig | None = None,
    *,
    policy: Policy = POLICY,
    rhythm: Rhythm = RHYTHM,
) -> NudgeEngine:
    """Return a nudge engine on the real content, sending through `sender`."""
    return NudgeEngine(
        sessions=sessions,
        texts=Texts(CONTENT),
        library=Library(CONTENT),
        clock=clock,
        sender=sender,
        rhythm=rhythm,
        policy=policy,
        config=config or EngineConfig(reminder_time=time(12, 0), retry_delay=timedelta(minutes=1)),
    )


async def counsellor_choice(
    sessions: Sessions, clock: FixedClock, user_id: int, step: str, value: str
) -> counsellor.IntakeStep:
    """Answer one step of the counsellor intake."""
    return await _in(
        sessions,
        lambda s: counsellor.choose(
            s, user_id, step, value, topics=COUNSELLOR_TOPICS, now=clock.now()
        ),
    )


async def counsellor_request(
    sessions: Sessions,
    clock: FixedClock,
    user_id: int = SAM,
    *,
    for_whom: str = "me",
    tell: str | None = None,
    share: bool = True,
    staff_chat: bool = False,
) -> counsellor.Submitted:
    """Go through the whole intake and submit."""
    await _in(sessions, lambda s: counsellor.begin_intake(s, user_id, now=clock.now()))
    answers = [("topic", "trust"), ("for", for_whom)]
    answers += [("tell", tell)] if tell else []
    answers += [("urgency", "days"), ("way", "chat"), ("time", "evening")]
    for step, value in answers:
        await counsellor_choice(sessions, clock, user_id, step, value)
    await _in(sessions, lambda s: counsellor.set_message(s, user_id, None, now=clock.now()))
    return await _in(
        sessions,
        lambda s: counsellor.submit(
            s,
            user_id,
            share_identity=share,
            topics=COUNSELLOR_TOPICS,
            now=clock.now(),
            announce_at=COUNSELLOR_ANNOUNCING.first_at(clock.now(), staff_chat=staff_chat),
        ),
    )
