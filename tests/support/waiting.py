"""Waiting in tests without fixed sleeps: step a fixed clock through due work, or poll the bot
process (end-to-end tests) until something holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import select

from bot.core.clock import FixedClock
from bot.db.models import NudgeSchedule
from bot.nudges.engine import NudgeEngine
from tests.fakes.botapi import FakeGroup, FakeMessage, FakeUser


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


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:  # noqa: ASYNC109
    """Poll something outside the fake Bot API (the bot's database file) until it holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    # Polled, because a database file written by another process has no event to wait on.
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the bot never got there")
        await asyncio.sleep(0.1)


async def wait_for_message(
    chat: FakeUser | FakeGroup,
    wanted: Callable[[FakeMessage], bool],
    what: str,
    timeout: float = 15.0,  # noqa: ASYNC109
) -> FakeMessage:
    """Read the chat's new messages until one is `wanted`; on time-out, say `what` never came."""
    deadline = asyncio.get_running_loop().time() + timeout
    seen: list[str | None] = []
    while True:
        left = deadline - asyncio.get_running_loop().time()
        try:
            message = await chat.next_message(timeout=max(left, 0.01))
        except TimeoutError:
            name = chat.first_name if isinstance(chat, FakeUser) else chat.title
            raise AssertionError(f"{name} never got {what}; got {seen}") from None
        seen.append(message.text)
        if wanted(message):
            return message


async def wait_for_text(
    chat: FakeUser | FakeGroup,
    needle: str,
    timeout: float = 15.0,  # noqa: ASYNC109
) -> FakeMessage:
    """Read the chat's new messages until one contains `needle`."""
    return await wait_for_message(chat, lambda m: needle in (m.text or ""), repr(needle), timeout)
