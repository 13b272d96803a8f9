"""A reply to someone's own action goes ahead of a paced bulk round, within Telegram's limits."""

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from bot.core.clock import FixedClock
from bot.db.engine import create_engine, create_sessions
from tests.support.factories import START, onboard, pair
from tests.support.process import RunningBot
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e

COUPLES = 150  # 300 morning nudges: ten seconds at 30 msg/s
ASKERS = 10
MORNING = time(9, 5)
FIRST = 10_000  # the seeded partners' ids (and chats)


@pytest.fixture
def api_limits() -> dict[str, float]:
    """Telegram's limits: about 30 messages a second overall and one a second per chat."""
    return {"global_rate": 30.0, "per_chat_rate": 1.0}


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Nothing gated, so the seeded couples get no trial notices: the nudges are the round."""
    return {"GATED_FEATURES": ""}


async def _seed_couples(database: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    sessions, clock = create_sessions(engine), FixedClock(START)
    try:
        for number in range(COUPLES):
            a, b = FIRST + 2 * number, FIRST + 2 * number + 1
            await onboard(sessions, clock, a, f"A{number}", "Europe/London", morning=MORNING)
            await onboard(sessions, clock, b, f"B{number}", "Europe/London", morning=MORNING)
            await pair(sessions, clock, a, b)
    finally:
        await engine.dispose()


async def test_help_is_answered_ahead_of_a_paced_morning_round(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    api = running_bot.api
    due = 2 * COUPLES
    seeded = set(range(FIRST, FIRST + due))
    await _seed_couples(tmp_path / "bot.db")

    def nudges_sent() -> int:
        return sum(1 for c in api.calls_to("sendMessage") if c.ok and c.params["chat_id"] in seeded)

    assert nudges_sent() == 0
    running_bot.set_clock(datetime(2026, 3, 2, 9, 5, 30, tzinfo=UTC))
    await api.wait_until(lambda: nudges_sent() >= 30, timeout=60)

    askers = [api.user(900 + n, f"Asker{n}") for n in range(ASKERS)]
    for asker in askers:
        await asker.send_text("/help")
    for asker in askers:
        await wait_for_text(asker, "What Remainly can do", timeout=60)
    await api.wait_until(lambda: nudges_sent() >= due, timeout=120)

    # Where each reply fell in the stream of sends: a reply queued behind the round would come
    # after all 300 nudges; one that goes ahead comes while most of them still wait their turn.
    sends = [c for c in api.calls_to("sendMessage") if c.ok]
    replies = [n for n, c in enumerate(sends) if c.params["chat_id"] not in seeded]
    nudges_before = [sum(1 for c in sends[:n] if c.params["chat_id"] in seeded) for n in replies]
    assert len(replies) == ASKERS
    assert max(nudges_before) < due // 2, nudges_before
    assert all(api.messages_to(chat_id) for chat_id in seeded)
    assert nudges_sent() == due, "nobody got their nudge twice"
    assert api.stats.rejected_429 == 0
