"""Start the bot as a real process (`python -m bot run`) against a fake Bot API on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from tests.fakes.botapi import FakeBotApi, FakeMessage, FakeUser

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "7000001:e2e-secret-token"


@dataclass
class RunningBot:
    """The bot process, its fake Bot API, and the file its clock reads."""

    api: FakeBotApi
    process: asyncio.subprocess.Process
    clock_file: Path
    log_file: Path

    def set_clock(self, at: datetime) -> None:
        """Move the bot's clock (it reads this file on every `now()`)."""
        temporary = self.clock_file.with_suffix(".tmp")
        temporary.write_text(at.isoformat())
        temporary.replace(self.clock_file)

    def log(self) -> str:
        """Return what the bot process logged so far."""
        return self.log_file.read_text(errors="replace")


async def wait_for_text(user: FakeUser, needle: str, timeout: float = 15.0) -> FakeMessage:  # noqa: ASYNC109
    """Read the user's new messages until one contains `needle`."""
    deadline = asyncio.get_running_loop().time() + timeout
    seen: list[str | None] = []
    while True:
        left = deadline - asyncio.get_running_loop().time()
        try:
            message = await user.next_message(timeout=max(left, 0.01))
        except TimeoutError:
            raise AssertionError(f"{user.first_name} never got {needle!r}; got {seen}") from None
        seen.append(message.text)
        if needle in (message.text or ""):
            return message


def _environment(api: FakeBotApi, database: Path, clock_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=api.api_root,
        DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        CLOCK_FILE=str(clock_file),
        POLLING_TIMEOUT_SECONDS="1",
        NUDGE_TICK_SECONDS="0.3",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Extra settings for the bot process; a test module overrides this fixture to add some."""
    return {}


@pytest.fixture
async def running_bot(tmp_path: Path, bot_env: dict[str, str]) -> AsyncIterator[RunningBot]:
    """Migrate a fresh database, start the bot process, and stop it cleanly afterwards."""
    database, clock_file, log_file = tmp_path / "bot.db", tmp_path / "now", tmp_path / "bot.log"
    clock_file.write_text("2026-03-02T09:00:00+00:00")
    async with FakeBotApi(token=TOKEN) as api:
        env = {**_environment(api, database, clock_file), **bot_env}
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "migrate", cwd=tmp_path, env=env
        )
        assert await migrate.wait() == 0
        with log_file.open("wb") as log:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=tmp_path,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        bot = RunningBot(api, process, clock_file, log_file)
        try:
            await api.wait_for(lambda call: call.method == "getUpdates", timeout=30)
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
