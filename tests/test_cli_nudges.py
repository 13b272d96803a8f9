"""Operators' nudge commands: a dry run, a real tick against a fake Bot API, and a preview."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.core.clock import FixedClock
from bot.db.engine import create_engine, create_sessions
from tests.fakes.botapi import FakeBotApi
from tests.support.factories import ALEX, SAM, START, onboard, pair

ROOT = Path(__file__).resolve().parent.parent


async def _bot(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return await process.wait(), output.decode()


@pytest.fixture
async def seeded(sqlite_url: str) -> str:
    engine = create_engine(sqlite_url)
    sessions, clock = create_sessions(engine), FixedClock(START)
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    await onboard(sessions, clock, SAM, "Sam", "Asia/Tokyo")
    await pair(sessions, clock)
    await engine.dispose()
    return sqlite_url


async def test_dry_run_preview_and_one_real_tick(seeded: str) -> None:
    env = {"DATABASE_URL": seeded, "TELEGRAM_BOT_TOKEN": ""}
    code, out = await _bot("nudges", "due", "--now", "2026-03-02T12:00:30Z", "--dry-run", env=env)
    assert code == 0, out
    assert f"user {SAM} · evening" in out and "Tonight's question" in out
    assert f"user {ALEX}" not in out

    code, out = await _bot("nudges", "preview", str(ALEX), env=env)
    assert code == 0, out
    assert out.index("· evening") < out.index("· morning")

    async with FakeBotApi(token="9:cli") as api:
        env.update(TELEGRAM_BOT_TOKEN="9:cli", TELEGRAM_API_BASE_URL=api.api_root)
        code, out = await _bot("nudges", "due", "--now", "2026-03-02T12:00:30Z", env=env)
        assert code == 0, out
        assert "sent 1" in out
        assert "Tonight's question" in (api.last_message(SAM).text or "")
        code, out = await _bot("nudges", "due", "--now", "2026-03-02T12:01:30Z", env=env)
        assert "sent 0" in out  # nothing twice
        assert len(api.messages_to(SAM)) == 1


async def test_a_bad_time_is_a_clear_error(seeded: str) -> None:
    code, out = await _bot("nudges", "due", "--now", "yesterday", env={"DATABASE_URL": seeded})
    assert code == 2 and "is not an ISO time" in out
