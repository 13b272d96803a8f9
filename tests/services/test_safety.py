"""The safety signal, paused couple exercises and discreet mode, on real databases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import FixedClock
from bot.core.errors import DomainError, StaleAction
from bot.db.engine import Sessions
from bot.db.models import Couple, Delivery, DeliveryStatus
from bot.db.safety import HeldMessage, SentMessage
from bot.nudges.engine import NudgeEngine
from bot.people import pairing
from bot.safety import signals as safety
from tests.support.factories import ALEX, RHYTHM, SAM, onboard, pair
from tests.support.senders import FakeSender
from tests.support.waiting import run_until

T = TypeVar("T")
KIM = 3


async def _in(sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions.begin() as session:
        return await work(session)


async def _paused(sessions: Sessions, couple_id: int) -> bool:
    return await _in(sessions, lambda s: safety.exercises_paused(s, couple_id))


async def test_a_signal_pauses_the_couple_and_feeling_safe_resumes_it(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    assert not await _paused(sessions, couple)
    paused = await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    assert paused and await _paused(sessions, couple)
    async with sessions() as session:
        stored = await session.get(Couple, couple)
        assert stored is not None and stored.exercises_paused_at == clock.now()
    state = await _in(sessions, lambda s: safety.state_of(s, SAM))
    assert state is not None and state.signalled and state.exercises_paused
    # The partner's own state shows the pause but no signal of theirs.
    other = await _in(sessions, lambda s: safety.state_of(s, ALEX))
    assert other is not None and not other.signalled and other.exercises_paused

    assert await _in(sessions, lambda s: safety.feel_safe_again(s, SAM))
    assert not await _paused(sessions, couple)
    with pytest.raises(StaleAction):
        await _in(sessions, lambda s: safety.feel_safe_again(s, SAM))


async def test_the_couple_stays_paused_while_either_partner_has_signalled(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    await _in(sessions, lambda s: safety.signal(s, ALEX, now=clock.now()))
    assert not await _in(sessions, lambda s: safety.feel_safe_again(s, SAM))
    assert await _paused(sessions, couple)
    assert await _in(sessions, lambda s: safety.feel_safe_again(s, ALEX))
    assert not await _paused(sessions, couple)


async def test_a_signal_given_before_pairing_pauses_the_new_couple(
    sessions: Sessions, clock: FixedClock
) -> None:
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    await onboard(sessions, clock, SAM, "Sam", "Asia/Tokyo")
    assert not await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    couple_id = await pair(sessions, clock)
    assert await _paused(sessions, couple_id)


async def test_paused_couples_get_no_shared_nudges_until_resumed(
    sessions: Sessions, clock: FixedClock, nudger: NudgeEngine, sender: FakeSender, couple: int
) -> None:
    await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    # A whole day: both partners' mornings and evenings come and go.
    await run_until(nudger, clock, datetime(2026, 3, 3, 9, 0, tzinfo=UTC))
    assert sender.nudges_to(ALEX) == [] and sender.nudges_to(SAM) == []
    async with sessions() as session:
        deliveries = (await session.exec(select(Delivery))).all()
    shared = [d for d in deliveries if d.kind in safety.COUPLE_EXERCISES]
    assert all(d.status != DeliveryStatus.SENT for d in shared)

    await _in(sessions, lambda s: safety.feel_safe_again(s, SAM))
    await run_until(nudger, clock, datetime(2026, 3, 3, 21, 1, tzinfo=UTC))
    assert any("Tonight's question" in text for text in sender.nudges_to(ALEX))
    assert any("Tonight's question" in text for text in sender.nudges_to(SAM))


async def test_discreet_mode_sends_a_neutral_line_and_keeps_the_words_for_show(
    sessions: Sessions, clock: FixedClock, nudger: NudgeEngine, sender: FakeSender, couple: int
) -> None:
    assert await _in(sessions, lambda s: safety.set_discreet(s, ALEX, on=True, now=clock.now()))
    assert not await _in(sessions, lambda s: safety.set_discreet(s, ALEX, on=True, now=clock.now()))
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC))
    [neutral] = [m for m in sender.sent if m.chat_id == ALEX]
    assert neutral.text == "You have a new message."
    [[(label, data)]] = neutral.buttons
    assert label == "Show" and data.startswith("dm:show:")
    held_id = int(data.rsplit(":", 1)[1])
    # Sam is not in discreet mode and gets the question itself.
    assert "Tonight's question" in sender.texts_to(SAM)[0]

    with pytest.raises(StaleAction):
        await _in(sessions, lambda s: safety.show_held(s, SAM, held_id))
    held = await _in(sessions, lambda s: safety.show_held(s, ALEX, held_id))
    assert "Tonight's question" in held.text
    answer, skip = (data for _, data in held.buttons[0])
    assert answer.startswith("ans:go:") and skip.startswith("ans:skip:")
    with pytest.raises(DomainError, match=r"safety\.held_gone"):
        await _in(sessions, lambda s: safety.show_held(s, ALEX, held_id))


async def test_sent_messages_are_recorded_for_people_only_and_taken_once(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    now = clock.now()
    await _in(sessions, lambda s: safety.record_sent(s, ALEX, 10, now=now - timedelta(hours=49)))
    await _in(sessions, lambda s: safety.record_sent(s, ALEX, 11, now=now - timedelta(hours=2)))
    await _in(sessions, lambda s: safety.record_sent(s, ALEX, 11, now=now))  # a repeat: no error
    await _in(sessions, lambda s: safety.record_sent(s, ALEX, 12, now=now))
    await _in(sessions, lambda s: safety.record_sent(s, SAM, 13, now=now))
    await _in(sessions, lambda s: safety.record_sent(s, -100123, 14, now=now))  # not a person
    await _in(sessions, lambda s: safety.record_sent(s, 999, 15, now=now))  # nobody we know
    async with sessions.begin() as session:
        session.add(
            Delivery(
                user_id=ALEX,
                kind="morning",
                local_date=now.date(),
                status=DeliveryStatus.SENT,
                message_id=20,
                created_at=now,
                sent_at=now - timedelta(hours=1),
            )
        )
    taken = await _in(sessions, lambda s: safety.take_recent_messages(s, ALEX, now=now))
    assert taken == [11, 12, 20]
    assert await _in(sessions, lambda s: safety.take_recent_messages(s, ALEX, now=now)) == [20]
    async with sessions() as session:
        rows = (await session.exec(select(SentMessage))).all()
    assert [(r.user_id, r.message_id) for r in rows] == [(SAM, 13)]


async def test_pruning_forgets_what_can_no_longer_be_deleted_or_shown(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    now = clock.now()
    await _in(sessions, lambda s: safety.record_sent(s, ALEX, 1, now=now - timedelta(hours=48)))
    await _in(sessions, lambda s: safety.record_sent(s, ALEX, 2, now=now - timedelta(hours=47)))
    await _in(sessions, lambda s: safety.hold(s, ALEX, "old", [], now=now - timedelta(days=8)))
    await _in(sessions, lambda s: safety.hold(s, ALEX, "new", [], now=now))
    assert await _in(sessions, lambda s: safety.prune(s, now=now)) == 2
    async with sessions() as session:
        assert [r.message_id for r in (await session.exec(select(SentMessage))).all()] == [2]
        assert [r.text for r in (await session.exec(select(HeldMessage))).all()] == ["new"]


async def test_an_unknown_person_has_no_safety_state(sessions: Sessions, clock: FixedClock) -> None:
    assert await _in(sessions, lambda s: safety.state_of(s, KIM)) is None
    await onboard(sessions, clock, KIM, "Kim", "Europe/London")
    state = await _in(sessions, lambda s: safety.state_of(s, KIM))
    assert state is not None and not state.paired and not state.signalled
    assert state.timezone == "Europe/London"


async def test_feeling_safe_after_unpairing_leaves_no_pause_for_a_later_reunion(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    await _in(sessions, lambda s: pairing.unpair(s, SAM, couple, now=clock.now(), rhythm=RHYTHM))
    assert not await _in(sessions, lambda s: safety.feel_safe_again(s, SAM))
    # The same two pair again within the grace period: their couple comes back, unpaused.
    assert await pair(sessions, clock) == couple
    assert not await _paused(sessions, couple)


async def test_the_engines_per_session_list_of_paused_couples_agrees(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    assert await _in(sessions, safety.paused_couples) == frozenset()
    await onboard(sessions, clock, KIM, "Kim", "Europe/London")
    await onboard(sessions, clock, 4, "Jo", "Europe/London")
    await _in(sessions, lambda s: safety.signal(s, KIM, now=clock.now()))  # before pairing
    other = await pair(sessions, clock, KIM, 4)
    await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    assert await _in(sessions, safety.paused_couples) == {couple, other}
    assert await _paused(sessions, other) and await _paused(sessions, couple)
