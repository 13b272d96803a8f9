"""The outbox: replies ahead of bulk, one runner's guarantees, discreet mode and parking."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.db.engine import Sessions
from bot.db.models import User
from bot.outbox.messages import Outcome, Outgoing, Priority, SendResult
from bot.outbox.outbox import Outbox
from bot.outbox.pacing import Pacer
from bot.outbox.runner import Runner, RunnerConfig, Sent, each
from bot.safety import signals as safety
from tests.support.factories import ALEX, CONTENT, onboard
from tests.support.senders import FakeCarrier


async def test_a_reply_takes_the_next_slot_ahead_of_a_waiting_fan_out() -> None:
    pacer = Pacer(per_second=50, per_chat_interval=0)
    order: list[str] = []

    async def send(name: str, chat_id: int, priority: Priority) -> None:
        await pacer.wait_turn(chat_id, priority)
        order.append(name)

    bulk = [asyncio.create_task(send(f"bulk{n}", n, Priority.BULK)) for n in range(12)]
    await asyncio.sleep(0)  # the fan-out is queued first
    reply = asyncio.create_task(send("reply", 99, Priority.REPLY))
    await asyncio.gather(reply, *bulk)

    # The first bulk send held the turn when the reply arrived; the reply went right after it.
    assert order.index("reply") <= 2
    assert [name for name in order if name != "reply"] == [f"bulk{n}" for n in range(12)]


async def test_a_reply_to_a_chat_is_not_held_back_by_that_chats_spacing() -> None:
    pacer = Pacer(per_second=0, per_chat_interval=60)
    await pacer.wait_turn(7, Priority.BULK)
    # A scheduled message to the same chat would wait a minute; the answer to a tap does not.
    await asyncio.wait_for(pacer.wait_turn(7, Priority.REPLY), timeout=5)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pacer.wait_turn(7, Priority.BULK), timeout=0.05)


async def test_replies_to_a_chat_do_not_hold_back_its_next_scheduled_message() -> None:
    pacer = Pacer(per_second=0, per_chat_interval=1)
    for _ in range(60):
        await pacer.wait_turn(7, Priority.REPLY)  # a quick conversation: sixty answers at once
    # The scheduled message keeps one interval from the last answer, not one per answer.
    await asyncio.wait_for(pacer.wait_turn(7, Priority.BULK), timeout=10)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pacer.wait_turn(7, Priority.BULK), timeout=0.05)


@dataclass
class _Counting:
    """A sender that accepts everything and counts."""

    sent: list[int] = field(default_factory=list)

    async def send(self, message: Outgoing) -> SendResult:
        self.sent.append(message.chat_id)
        await asyncio.sleep(0)
        return SendResult(Outcome.SENT, len(self.sent))


async def test_the_runner_records_every_result_in_groups(sessions: Sessions) -> None:
    sender = _Counting()
    groups: list[int] = []

    async def record(session: AsyncSession, items: Sequence[Sent[int]]) -> None:
        assert all(item.result.outcome is Outcome.SENT for item in items)
        groups.append(len(items))

    runner: Runner[int] = Runner(
        sessions=sessions,
        sender=sender,
        message_of=lambda n: Outgoing(n, f"hello {n}"),
        record=record,
        config=RunnerConfig(concurrency=8),
    )
    await runner.run(each(range(40)))

    assert sorted(sender.sent) == list(range(40)) and sum(groups) == 40
    assert len(groups) < 40  # results that arrive together share a commit
    assert max(groups) <= 4  # half the slots: the other half goes on sending meanwhile


async def test_the_runner_stops_sending_when_recording_breaks(sessions: Sessions) -> None:
    sender = _Counting()

    async def record(session: AsyncSession, items: Sequence[Sent[int]]) -> None:
        raise RuntimeError("the database went away")

    runner: Runner[int] = Runner(
        sessions=sessions,
        sender=sender,
        message_of=lambda n: Outgoing(n, "hello"),
        record=record,
        config=RunnerConfig(concurrency=3),
    )
    with pytest.raises(RuntimeError, match="went away"):
        await runner.run(each(range(24)))

    assert 0 < len(sender.sent) <= 3


class _Carrier(FakeCarrier):
    pass


@pytest.fixture
def carrier() -> _Carrier:
    return _Carrier()


@pytest.fixture
def outbox(sessions: Sessions, clock: FixedClock, carrier: _Carrier) -> Outbox:
    return Outbox(sessions=sessions, texts=Texts(CONTENT), clock=clock, carrier=carrier)


async def test_what_the_outbox_sends_to_a_person_can_be_hidden(
    sessions: Sessions, clock: FixedClock, outbox: Outbox
) -> None:
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    first = await outbox.send(Outgoing(ALEX, "one", priority=Priority.REPLY))
    second = await outbox.send(Outgoing(ALEX, "two", priority=Priority.REPLY))
    await outbox.send(Outgoing(-100, "to the staff chat"))  # a group: nothing to hide there

    async with sessions.begin() as session:
        ids = await safety.take_recent_messages(session, ALEX, now=clock.now())
    assert ids == sorted([first.message_id or 0, second.message_id or 0])


async def test_a_notification_is_neutral_in_discreet_mode_but_a_reply_is_not(
    sessions: Sessions, clock: FixedClock, outbox: Outbox, carrier: _Carrier
) -> None:
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    async with sessions.begin() as session:
        await safety.set_discreet(session, ALEX, on=True, now=clock.now())
        user = await session.get(User, ALEX)
        assert user is not None
        recipient = safety.recipient_of(user)

    note = Outgoing(ALEX, "Sam wrote you a note", ((("Read", "x:1"),),))
    await outbox.send(note, notify=recipient)
    await outbox.send(Outgoing(ALEX, "Here is your answer"))

    neutral, answer = carrier.sent
    assert "Sam" not in neutral.text and answer.text == "Here is your answer"
    ((_, data),) = neutral.buttons[0]
    async with sessions.begin() as session:
        held = await safety.show_held(session, ALEX, int(data.rsplit(":", 1)[1]))
    assert held.text == "Sam wrote you a note" and held.buttons == [[("Read", "x:1")]]


async def test_a_person_who_blocked_the_bot_is_parked(
    sessions: Sessions, clock: FixedClock, outbox: Outbox, carrier: _Carrier
) -> None:
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    carrier.script[ALEX] = [Outcome.BLOCKED]

    result = await outbox.send(Outgoing(ALEX, "hello"))

    assert result.outcome is Outcome.BLOCKED
    async with sessions() as session:
        user = await session.get(User, ALEX)
    assert user is not None and user.unreachable_since is not None
