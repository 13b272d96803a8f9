"""Fixtures shared by the service tests: a paired couple in two time zones, a nudge engine."""

from __future__ import annotations

import pytest

from bot.core.clock import FixedClock
from bot.db.engine import Sessions
from bot.nudges.engine import NudgeEngine
from tests.support.factories import ALEX, SAM, nudge_engine, onboard, pair
from tests.support.senders import FakeSender


@pytest.fixture
async def couple(sessions: Sessions, clock: FixedClock) -> int:
    """Alex in Lisbon and Sam in Tokyo, paired on Monday 2 March 2026 at 09:00 UTC."""
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    await onboard(sessions, clock, SAM, "Sam", "Asia/Tokyo")
    return await pair(sessions, clock)


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def nudger(sessions: Sessions, clock: FixedClock, sender: FakeSender) -> NudgeEngine:
    return nudge_engine(sessions, clock, sender)
