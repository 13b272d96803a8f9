"""Live workers share the bot's send rate: they say they are alive, and drop out when silent."""

from __future__ import annotations

from datetime import timedelta

from bot.core.clock import FixedClock
from bot.core.workers import Presence
from bot.db.engine import Sessions
from bot.outbox.pacing import Pacer

TTL = timedelta(seconds=60)


def _worker(sessions: Sessions, clock: FixedClock, counts: list[int]) -> Presence:
    return Presence(sessions, clock, on_count=counts.append, ttl=TTL)


async def test_workers_count_each_other_and_a_silent_one_drops_out(
    sessions: Sessions, clock: FixedClock
) -> None:
    first_counts: list[int] = []
    second_counts: list[int] = []
    first = _worker(sessions, clock, first_counts)
    second = _worker(sessions, clock, second_counts)
    assert await first.beat() == 1
    assert await second.beat() == 2
    clock.advance(timedelta(seconds=30))
    assert await first.beat() == 2  # the second spoke 30 s ago: still alive
    clock.advance(timedelta(seconds=45))
    # The second has been silent for 75 s (killed, say): the first takes the whole rate again.
    assert await first.beat() == 1
    assert first_counts == [1, 2, 1] and second_counts == [2]
    # A worker that stops cleanly leaves at once.
    assert await second.beat() == 2
    await second.leave()
    assert await first.beat() == 1


def test_a_pacer_takes_its_share_of_the_overall_rate() -> None:
    pacer = Pacer(per_second=30)
    assert pacer.rate == 30
    pacer.share(3)
    assert pacer.rate == 10
    pacer.share(1)
    assert pacer.rate == 30
    unlimited = Pacer(per_second=0)
    unlimited.share(2)
    assert unlimited.rate == 0  # no limit is no limit, however many share it
