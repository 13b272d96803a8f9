"""How the engine hands messages to the sender: early, and never far ahead of its records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.core.clock import FixedClock
from bot.db.engine import Sessions
from bot.db.models import Delivery, DeliveryStatus
from bot.nudges.engine import EngineConfig
from bot.outbox.messages import Outcome, Outgoing, SendResult
from tests.support.factories import nudge_engine, onboard, pair
from tests.support.senders import FakeSender

COUPLES = 6
CONFIG = EngineConfig(batch_size=5, compose_group=2, concurrency=3)


@dataclass
class WatchingSender:
    """Accepts every message and notes, at each send, what the ledger says so far."""

    sessions: Sessions
    sent: list[int] = field(default_factory=list)
    composed_at_first_send: int | None = None
    most_unrecorded: int = 0

    async def send(self, message: Outgoing) -> SendResult:
        async with self.sessions() as session:
            composed = (
                await session.exec(
                    select(func.count()).select_from(Delivery).where(col(Delivery.attempts) > 0)
                )
            ).one()
            recorded = (
                await session.exec(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status == DeliveryStatus.SENT)
                )
            ).one()
        if self.composed_at_first_send is None:
            self.composed_at_first_send = composed
        self.sent.append(message.chat_id)
        self.most_unrecorded = max(self.most_unrecorded, len(self.sent) - recorded)
        return SendResult(Outcome.SENT, len(self.sent))


async def test_sending_starts_early_and_stays_close_to_the_ledger(
    sessions: Sessions, clock: FixedClock
) -> None:
    people = range(101, 101 + 2 * COUPLES)
    for person in people:
        await onboard(sessions, clock, person, f"P{person}", "Europe/Lisbon", evening=time(21, 0))
    for first in people[::2]:
        await pair(sessions, clock, first, first + 1)
    clock.set(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    sender = WatchingSender(sessions)
    engine = nudge_engine(sessions, clock, sender, CONFIG)

    report = await engine.tick()

    assert report.sent == 2 * COUPLES and sorted(sender.sent) == list(people)
    # The first message went out after one group was composed, not the whole batch.
    assert sender.composed_at_first_send is not None
    assert sender.composed_at_first_send <= CONFIG.compose_group
    # A crash at any moment would leave at most `concurrency` sent but unrecorded.
    assert sender.most_unrecorded <= CONFIG.concurrency
    clock.advance(timedelta(minutes=1))
    assert (await engine.tick()).sent == 0


class StatementCounter:
    """Counts the SQL statements sent to any database while it is active."""

    def __init__(self) -> None:
        self.count = 0

    def _seen(self, *_: object) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(Engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._seen)


async def _round_statements(
    sessions: Sessions, clock: FixedClock, *, couples: int, first: int, evening: time
) -> int:
    """Pair `couples` couples due together, run their evening round; return its statements."""
    people = range(first, first + 2 * couples)
    for person in people:
        await onboard(sessions, clock, person, f"P{person}", "Europe/Lisbon", evening=evening)
    for one in people[::2]:
        await pair(sessions, clock, one, one + 1)
    sender = FakeSender()
    # Everything in one group and every result in one commit, so only the size differs.
    config = EngineConfig(
        compose_group=100,
        concurrency=100,
        record_gap=timedelta(seconds=5),
        record_linger=timedelta(seconds=5),
    )
    engine = nudge_engine(sessions, clock, sender, config)
    clock.set(datetime.combine(clock.now().date(), evening, UTC) + timedelta(seconds=30))
    with StatementCounter() as statements:
        report = await engine.tick()
    assert report.sent == 2 * couples == len(sender.sent)
    return statements.count


async def test_a_group_costs_the_same_statements_whatever_its_size(
    sessions: Sessions, clock: FixedClock
) -> None:
    # Lisbon is on UTC in March: 21:00 and then 22:00 local are those hours in UTC.
    small = await _round_statements(sessions, clock, couples=3, first=200, evening=time(21, 0))
    large = await _round_statements(sessions, clock, couples=12, first=300, evening=time(22, 0))
    # Set-based composing and recording: no statement per person (evening questions included).
    assert large == small
