"""Onboarding's order: which question comes next, when it is done, and what /cancel may drop."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.nudges.schedules import Rhythm
from bot.people import conversation
from bot.people import profiles as people
from bot.people.profiles import Profile, profile_of

# The steps in the order onboarding asks them; /settings asks one of them alone.
STEPS = ("name", "timezone", "morning", "evening")
ONBOARDING, SETTINGS = "onboarding", "settings"
# Asked once, privately, after the time questions; skipping it records nothing, so only
# finishing onboarding marks it as asked.
SAFETY = "safety"


def next_step(profile: Profile, *, safety_asked: bool = False) -> str | None:
    """Return the first onboarding step this person has not answered yet."""
    answered = {
        "name": profile.onboarded or profile.chosen_name,
        "timezone": profile.timezone is not None,
        "morning": profile.morning_time is not None,
        "evening": profile.evening_time is not None,
    }
    step = next((step for step in STEPS if not answered[step]), None)
    if step is None and not profile.onboarded and not safety_asked:
        return SAFETY
    return step


def state_of(mode: str, step: str) -> str:
    """Return the conversation state that waits for one step's answer."""
    return f"{mode}.{step}"


def step_of(state: str) -> tuple[str, str] | None:
    """Return (mode, step) when a state waits for a name, zone or time; None otherwise."""
    mode, _, step = state.partition(".")
    if mode in (ONBOARDING, SETTINGS) and step in STEPS:
        return mode, step
    return None


def asks_safety(state: str) -> bool:
    """Tell whether a state waits for the answer to onboarding's safety check."""
    return state == state_of(ONBOARDING, SAFETY)


def is_onboarding(state: str) -> bool:
    """Tell whether a state belongs to onboarding, which has to be finished."""
    return state.startswith(f"{ONBOARDING}.")


async def ask(session: AsyncSession, user_id: int, mode: str, step: str, *, now: datetime) -> None:
    """Remember that this person's next answer is for one step of onboarding or /settings."""
    await conversation.expect(session, user_id, state_of(mode, step), now=now)


async def answering(session: AsyncSession, user_id: int) -> tuple[str, str] | None:
    """Return the (mode, step) this person's next name, zone or time belongs to, if any."""
    waiting = await conversation.awaiting(session, user_id)
    return None if waiting is None else step_of(waiting.state)


@dataclass(frozen=True)
class Progress:
    """Where onboarding stands: the step to ask next, or None once it has just finished."""

    profile: Profile
    step: str | None


async def advance(
    session: AsyncSession,
    user_id: int,
    *,
    now: datetime,
    rhythm: Rhythm,
    safety_asked: bool = False,
) -> Progress:
    """Wait for the next unanswered step, or finish onboarding when every step is answered."""
    profile = profile_of(await people.require(session, user_id))
    step = next_step(profile, safety_asked=safety_asked)
    if step is not None:
        await ask(session, user_id, ONBOARDING, step, now=now)
        return Progress(profile, step)
    await conversation.forget(session, user_id)
    user = await people.finish_onboarding(session, user_id, now=now, rhythm=rhythm)
    return Progress(profile_of(user), None)


class Cancelled(enum.Enum):
    """What /cancel did."""

    NOTHING = "nothing"  # nothing was waiting
    DROPPED = "dropped"  # a half-finished change or request was dropped
    ONBOARDING = "onboarding"  # onboarding can't be cancelled: it goes on


async def cancel(session: AsyncSession, user_id: int) -> Cancelled:
    """Drop whatever this person was in the middle of, except onboarding."""
    await people.require(session, user_id)
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None:
        return Cancelled.NOTHING
    if is_onboarding(waiting.state):
        return Cancelled.ONBOARDING
    await conversation.forget(session, user_id)
    return Cancelled.DROPPED
