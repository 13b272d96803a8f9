"""Onboarding's order: one step at a time, the safety check last, then done, on real databases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import FixedClock
from bot.db.engine import Sessions
from bot.people import conversation, onboarding
from bot.people import profiles as people
from bot.people.onboarding import ONBOARDING, SAFETY, SETTINGS, STEPS, Cancelled
from bot.people.profiles import Profile
from tests.support.factories import RHYTHM

ALEX = 1


def _profile(
    *,
    chosen_name: bool = False,
    timezone: str | None = None,
    morning: time | None = None,
    evening: time | None = None,
    onboarded: bool = False,
) -> Profile:
    return Profile(
        user_id=ALEX,
        chat_id=ALEX,
        name="Alex",
        telegram_name="Alex",
        chosen_name=chosen_name,
        username=None,
        locale="en",
        timezone=timezone,
        morning_time=morning,
        evening_time=evening,
        couple_id=None,
        onboarded=onboarded,
    )


@given(
    answered=st.fixed_dictionaries({step: st.booleans() for step in STEPS}),
    onboarded=st.booleans(),
    safety_asked=st.booleans(),
)
def test_the_next_step_is_the_first_unanswered_one_and_the_safety_check_comes_last(
    answered: dict[str, bool], onboarded: bool, safety_asked: bool
) -> None:
    profile = _profile(
        chosen_name=answered["name"],
        timezone="Europe/Lisbon" if answered["timezone"] else None,
        morning=time(8) if answered["morning"] else None,
        evening=time(21) if answered["evening"] else None,
        onboarded=onboarded,
    )
    # Someone already onboarded kept their Telegram name: that counts as answered.
    missing = [s for s in STEPS if not answered[s] and not (s == "name" and onboarded)]
    expected = missing[0] if missing else None
    if expected is None and not onboarded and not safety_asked:
        expected = SAFETY
    assert onboarding.next_step(profile, safety_asked=safety_asked) == expected


def test_states_name_their_mode_and_step() -> None:
    assert onboarding.step_of(onboarding.state_of(ONBOARDING, "timezone")) == (
        ONBOARDING,
        "timezone",
    )
    assert onboarding.step_of(onboarding.state_of(SETTINGS, "evening")) == (SETTINGS, "evening")
    # The safety check takes buttons only; other flows' states are not profile steps.
    assert onboarding.step_of(onboarding.state_of(ONBOARDING, SAFETY)) is None
    assert onboarding.step_of("counsellor.intake") is None
    assert onboarding.step_of("settings.nonsense") is None
    assert onboarding.asks_safety("onboarding.safety")
    assert not onboarding.asks_safety("settings.safety")
    assert onboarding.is_onboarding("onboarding.name")
    assert not onboarding.is_onboarding("settings.name")


async def _register(sessions: Sessions, clock: FixedClock) -> None:
    async with sessions.begin() as session:
        await people.register(
            session,
            user_id=ALEX,
            chat_id=ALEX,
            telegram_name="Alex",
            username=None,
            locale="en",
            now=clock.now(),
            rhythm=RHYTHM,
        )


async def _advance(
    sessions: Sessions, clock: FixedClock, *, safety_asked: bool = False
) -> onboarding.Progress:
    async with sessions.begin() as session:
        return await onboarding.advance(
            session, ALEX, now=clock.now(), rhythm=RHYTHM, safety_asked=safety_asked
        )


async def _waiting_for(sessions: Sessions) -> str | None:
    async with sessions() as session:
        waiting = await conversation.awaiting(session, ALEX)
    return None if waiting is None else waiting.state


async def test_onboarding_asks_each_step_in_order_then_finishes_once(
    sessions: Sessions, clock: FixedClock
) -> None:
    await _register(sessions, clock)
    now = clock.now()
    asked = []
    answers: list[Callable[[AsyncSession], Awaitable[object]]] = [
        lambda s: people.set_name(s, ALEX, "Alex", now=now),
        lambda s: people.set_timezone(s, ALEX, "Europe/Lisbon", now=now, rhythm=RHYTHM),
        lambda s: people.set_nudge_time(s, ALEX, "morning", time(8), now=now, rhythm=RHYTHM),
        lambda s: people.set_nudge_time(s, ALEX, "evening", time(21), now=now, rhythm=RHYTHM),
    ]
    for answer in answers:
        progress = await _advance(sessions, clock)
        assert progress.step is not None
        assert await _waiting_for(sessions) == f"onboarding.{progress.step}"
        asked.append(progress.step)
        async with sessions.begin() as session:
            await answer(session)
    assert asked == list(STEPS)
    assert (await _advance(sessions, clock)).step == SAFETY
    assert await _waiting_for(sessions) == "onboarding.safety"
    done = await _advance(sessions, clock, safety_asked=True)
    assert done.step is None and done.profile.onboarded
    assert await _waiting_for(sessions) is None
    async with sessions() as session:
        assert (await people.require(session, ALEX)).onboarded_at == now
    # Done is done: a later call asks nothing, not even the safety check again.
    assert (await _advance(sessions, clock)).step is None


async def test_answering_names_the_step_a_name_zone_or_time_belongs_to(
    sessions: Sessions, clock: FixedClock
) -> None:
    await _register(sessions, clock)
    async with sessions.begin() as session:
        assert await onboarding.answering(session, ALEX) is None
        await onboarding.ask(session, ALEX, SETTINGS, "morning", now=clock.now())
        assert await onboarding.answering(session, ALEX) == (SETTINGS, "morning")


@pytest.mark.parametrize(
    ("state", "expected", "kept"),
    [
        (None, Cancelled.NOTHING, None),
        ("onboarding.timezone", Cancelled.ONBOARDING, "onboarding.timezone"),
        ("settings.evening", Cancelled.DROPPED, None),
        ("counsellor.intake", Cancelled.DROPPED, None),
    ],
)
async def test_cancel_drops_anything_but_onboarding(
    sessions: Sessions,
    clock: FixedClock,
    state: str | None,
    expected: Cancelled,
    kept: str | None,
) -> None:
    await _register(sessions, clock)
    async with sessions.begin() as session:
        if state is not None:
            await conversation.expect(session, ALEX, state, now=clock.now())
    async with sessions.begin() as session:
        assert await onboarding.cancel(session, ALEX) is expected
    assert await _waiting_for(sessions) == kept
