"""The bot as a real process (`python -m bot ...`): its command line, and `run` against the fake
Bot API with partners who onboard and pair through it (end-to-end tests)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.fakes.botapi import FakeBotApi, FakeMessage, FakeUser
from tests.support.waiting import wait_for_message, wait_for_text

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "7000001:e2e-secret-token"


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot` with these arguments, no Telegram settings but those in `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    clean.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


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


def bot_environment(api: FakeBotApi, database: Path, clock_file: Path) -> dict[str, str]:
    """Return the environment of a bot process on `database` that polls the fake Bot API."""
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


async def onboard(
    user: FakeUser,
    city: str,
    morning: str,
    evening: str,
    choose: str | None = None,
    *,
    safety_answer: str = "Skip for now",
) -> None:
    """Answer every onboarding question, picking `choose` when the city is ambiguous."""
    await wait_for_text(user, "What should we call you?")
    await user.press_button("Use “")
    await wait_for_text(user, "Where in the world are you?")
    await user.send_text(city)
    if choose is not None:
        await wait_for_text(user, "Which one is yours?")
        await user.press_button(choose)
    await wait_for_text(user, "morning nudge")
    await user.send_text(morning)
    await wait_for_text(user, "evening question")
    await user.send_text(evening)
    await wait_for_text(user, "Do you ever feel afraid of your partner")
    await user.press_button(safety_answer)
    if safety_answer == "Yes, sometimes":
        await wait_for_text(user, "what happens next")
        await user.press_button("Yes, go ahead")
    await wait_for_text(user, "you're all set")


async def invite(inviter: FakeUser, invitee: FakeUser) -> None:
    """The inviter (onboarded) asks for an invite link; the invitee opens it and accepts."""
    await inviter.press_button("Invite your partner")
    link = await wait_for_text(inviter, "private invite link")
    payload = re.search(r"start=(inv_[\w-]+)", link.text or "")
    assert payload
    await invitee.start(payload.group(1))
    await wait_for_text(invitee, "has invited you")
    await invitee.press_button("Accept")


async def pair(
    alex: FakeUser,
    sam: FakeUser,
    city: str,
    morning: str = "08:00",
    evening: str = "21:00",
    choose: str | None = None,
    *,
    safety_answer: str = "Skip for now",
) -> None:
    """Alex onboards in Lisbon and invites Sam, who accepts and onboards in `city`."""
    await alex.start()
    await onboard(alex, "Lisbon", "08:00", "21:00")
    await invite(alex, sam)
    await onboard(sam, city, morning, evening, choose, safety_answer=safety_answer)


async def wait_for_photo(user: FakeUser, timeout: float = 30.0) -> FakeMessage:  # noqa: ASYNC109
    """Read the user's new messages until a photo arrives."""
    return await wait_for_message(user, lambda m: m.method == "sendPhoto", "a photo", timeout)


async def check_in(user: FakeUser, scores: tuple[int, int, int], words: tuple[str, str]) -> None:
    """Answer this week's check-in from its invitation, the way a person taps and types."""
    await user.press_button("Let's begin")
    for number, score in enumerate(scores, start=1):
        await wait_for_text(user, f"{number} of 5")
        await user.press_button(str(score))
    for number, word in enumerate(words, start=4):
        await wait_for_text(user, f"{number} of 5")
        await user.send_text(word)
    await wait_for_text(user, "Your answers")
    await user.press_button("Send my answers")


async def start_bot(
    args: tuple[str, ...], cwd: Path, env: dict[str, str], log_file: Path
) -> asyncio.subprocess.Process:
    """Start another bot process (after a kill, say), appending to the same log."""
    with log_file.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *args,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
