"""Start the bot as a real process (`python -m bot run`) against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.botapi import FakeBotApi
from tests.support.process import TOKEN, RunningBot, bot_environment


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Extra settings for the bot process; a test module overrides this fixture to add some."""
    return {}


@pytest.fixture
def api_limits() -> dict[str, float]:
    """Telegram's limits for the fake Bot API to enforce (none unless a module asks)."""
    return {}


@pytest.fixture
def bot_args() -> tuple[str, ...]:
    """The bot's command line; a test module overrides this to run it behind a webhook."""
    return ("run",)


@pytest.fixture
async def running_bot(
    tmp_path: Path,
    bot_env: dict[str, str],
    api_limits: dict[str, float],
    bot_args: tuple[str, ...],
) -> AsyncIterator[RunningBot]:
    """Migrate a fresh database, start the bot process, and stop it cleanly afterwards."""
    database, clock_file, log_file = tmp_path / "bot.db", tmp_path / "now", tmp_path / "bot.log"
    clock_file.write_text("2026-03-02T09:00:00+00:00")
    async with FakeBotApi(
        token=TOKEN,
        global_rate=api_limits.get("global_rate"),
        per_chat_rate=api_limits.get("per_chat_rate"),
    ) as api:
        env = {**bot_environment(api, database, clock_file), **bot_env}
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "migrate", cwd=tmp_path, env=env
        )
        assert await migrate.wait() == 0
        with log_file.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *bot_args,
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        bot = RunningBot(api, process, clock_file, log_file)
        try:
            # Polling asks for updates; a webhook is registered once the server listens.
            await api.wait_for(lambda call: call.method in ("getUpdates", "setWebhook"), timeout=30)
            yield bot
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()
        assert TOKEN.split(":")[1] not in bot.log(), "the bot token must never be logged"
