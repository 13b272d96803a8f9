"""How the engine hands messages to the sender: early, and never far ahead of its records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import col, select

from bot.content import Library
from bot.db.engine import Sessions
from bot.db.models import Delivery, DeliveryStatus
from bot.services.clock import FixedClock
from bot.services.nudges import EngineConfig, NudgeEngine, Outcome, Outgoing, SendResult
from bot.texts import Texts
from tests.services.test_nudges import onboard, pair

CONTENT = Path(__file__).resolve().parents[2] / "content"
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
    engine = NudgeEngine(
        sessions=sessions,
        texts=Texts(CONTENT),
        library=Library(CONTENT),
        clock=clock,
        sender=sender,
        config=CONFIG,
    )

    report = await engine.tick()

    assert report.sent == 2 * COUPLES and sorted(sender.sent) == list(people)
    # The first message went out after one group was composed, not the whole batch.
    assert sender.composed_at_first_send is not None
    assert sender.composed_at_first_send <= CONFIG.compose_group
    # A crash at any moment would leave at most `concurrency` sent but unrecorded.
    assert sender.most_unrecorded <= CONFIG.concurrency
    clock.advance(timedelta(minutes=1))
    assert (await engine.tick()).sent == 0
