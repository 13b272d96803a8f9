"""Waiting in tests without fixed sleeps: step a fixed clock through due work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from bot.core.clock import FixedClock
from bot.db.models import NudgeSchedule
from bot.nudges.engine import NudgeEngine


async def run_until(nudger: NudgeEngine, clock: FixedClock, until: datetime) -> None:
    """Move the clock from one due row to the next (as ticks would find them) up to `until`."""
    while clock.now() < until:
        async with nudger.sessions() as session:
            upcoming = (await session.exec(select(func.min(NudgeSchedule.next_run_at)))).one()
        if upcoming is None or upcoming.replace(tzinfo=UTC) > until:
            clock.set(until)
        else:
            # A tick runs a little after the row is due, never before it.
            clock.set(max(clock.now(), upcoming.replace(tzinfo=UTC) + timedelta(seconds=20)))
        await nudger.tick()
