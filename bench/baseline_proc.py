"""The baseline: a bare python-telegram-bot loop sending the engine's messages, measured.

`python -m bench.baseline_proc --couples N --due N` renders the very morning nudges the engine
would send to the seeded population (same template, same prompt choice, same partner names),
then sends them with `Bot.send_message` through the same HTTP transport the bot builds and
with the engine's concurrency (tasks behind a semaphore). Only the sending is timed. Prints
one JSON line like `bench.engine_proc`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bench.engine_proc import cpu_seconds, peak_rss_kib
from bench.population import NAMES, Population, user_id
from bot.app import freeze_startup_objects
from bot.content.library import Library
from bot.content.texts import Texts
from bot.nudges import rotation
from bot.nudges.engine import EngineConfig
from bot.settings import load_settings
from bot.telegram.transport import api_request


def messages(population: Population, texts: Texts, library: Library) -> list[tuple[int, str]]:
    """Return (chat id, HTML text) of every morning nudge due in `population`."""
    deck = library.deck("affirmations", "en")
    out = []
    for index in range(population.due_users):
        chat = user_id(index)
        prompt = rotation.choose(deck, [], salt=str(chat))
        partner = NAMES[(index ^ 1) % len(NAMES)]
        text = texts.render("nudges.morning", locale="en", prompt=prompt.text, partner=partner)
        out.append((chat, text))
    return out


async def run(population: Population, concurrency: int) -> dict[str, Any]:
    """Send every message once and describe how it went."""
    settings = load_settings()
    texts = Texts(settings.content_dir, default_locale=settings.default_locale)
    library = Library(settings.content_dir, default_locale=settings.default_locale)
    outgoing = messages(population, texts, library)
    assert settings.telegram_bot_token is not None
    bot = Bot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.bot_api_url,
        request=api_request(settings),  # None: PTB's own httpx client, as the bot gets it
    )
    gate = asyncio.Semaphore(concurrency)
    failed = 0
    freeze_startup_objects()  # the baseline gets what the bot gets

    async def send(chat: int, text: str) -> None:
        nonlocal failed
        async with gate:
            try:
                await bot.send_message(chat, text, parse_mode=ParseMode.HTML)
            except TelegramError:
                failed += 1

    async with bot:
        cpu, start = cpu_seconds(), time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for chat, text in outgoing:
                group.create_task(send(chat, text))
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {
        "sent": len(outgoing) - failed,
        "failed": failed,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_kib": peak_rss_kib(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_proc")
    parser.add_argument("--couples", type=int, required=True)
    parser.add_argument("--due", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=EngineConfig().concurrency)
    args = parser.parse_args(argv)
    result = asyncio.run(run(Population(args.couples, args.due), args.concurrency))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
