"""The outbox's send path in a process of its own, or a bare aiohttp loop doing the same sends.

`python -m bench.outbox_proc outbox --messages N [--unpaced]` builds the bot exactly as
`python -m bot` does (settings from the environment, so TELEGRAM_HTTP_TRANSPORT picks the
transport and PAID_BROADCAST the pace) and sends a round through the outbox's `Runner` and the
bot's `TelegramSender`, recording every result group in the database (one executemany insert
into a scratch table per group, committed), as the scheduled kinds do. `--unpaced` swaps in
`Pacer(per_second=0, per_chat_interval=0)`: the send path's own speed, not Telegram's ceiling.

`python -m bench.outbox_proc bare --messages N` is the baseline: `aiohttp.ClientSession.post`
to sendMessage with the same form fields (text, parse mode, the keyboard as JSON), the same
concurrency (tasks behind a semaphore) and a pool of the same size, reading each answer.

Both send the same round: morning nudges (plain) and evening questions (two buttons) in turn,
to as many chats. Only the sending is timed. Each prints one JSON line: messages accepted,
wall time, CPU time of the whole process (all threads) during the round, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.engine_proc import cpu_seconds, peak_rss_kib
from bench.population import NAMES, user_id
from bot.app import build_application, freeze_startup_objects
from bot.content.library import Library
from bot.content.texts import Texts
from bot.nudges import rotation
from bot.outbox.messages import Outcome, Outgoing
from bot.outbox.pacing import Pacer
from bot.outbox.runner import Runner, RunnerConfig, Sent, each
from bot.settings import Settings, load_settings
from bot.telegram.context import services_of
from bot.telegram.sender import TelegramSender
from bot.telegram.transport import DEFAULT_POOL_SIZE

CONCURRENCY = RunnerConfig().concurrency

_SCRATCH = MetaData()
RESULTS = Table(
    "bench_outbox_results",
    _SCRATCH,
    Column("id", Integer, primary_key=True),
    Column("chat_id", BigInteger, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("message_id", BigInteger, nullable=True),
)


def round_messages(count: int, settings: Settings) -> list[Outgoing]:
    """Return a round of `count` messages: a morning nudge and an evening question in turn."""
    texts = Texts(settings.content_dir, default_locale=settings.default_locale)
    library = Library(settings.content_dir, default_locale=settings.default_locale)
    mornings, evenings = library.deck("affirmations", "en"), library.deck("curiosity", "en")
    answer = texts.render("buttons.answer", locale="en")
    skip = texts.render("buttons.skip_question", locale="en")
    out = []
    for index in range(count):
        chat, partner = user_id(index), NAMES[(index ^ 1) % len(NAMES)]
        if index % 2 == 0:
            prompt = rotation.choose(mornings, [], salt=str(chat))
            text = texts.render("nudges.morning", locale="en", prompt=prompt.text, partner=partner)
            out.append(Outgoing(chat, text))
            continue
        prompt = rotation.choose(evenings, [], salt=f"couple-{index // 2}")
        text = texts.render("nudges.evening", locale="en", question=prompt.text, partner=partner)
        question = 1_000_000 + index // 2
        buttons = (((answer, f"ans:go:{question}"), (skip, f"ans:skip:{question}")),)
        out.append(Outgoing(chat, text, buttons))
    return out


async def run_outbox(messages: list[Outgoing], *, unpaced: bool) -> dict[str, Any]:
    """Send the round through the bot's Runner and TelegramSender, recording every result."""
    application = build_application(load_settings())
    services = services_of(application)
    sender = services.nudges.sender
    if unpaced:
        sender = TelegramSender(application.bot, Pacer(per_second=0, per_chat_interval=0))
    counts: dict[str, int] = {}

    async def record(session: AsyncSession, items: Sequence[Sent[Outgoing]]) -> None:
        rows = []
        for sent in items:
            outcome = sent.result.outcome.value
            counts[outcome] = counts.get(outcome, 0) + 1
            row = {"chat_id": sent.item.chat_id, "outcome": outcome}
            rows.append(row | {"message_id": sent.result.message_id})
        await session.exec(RESULTS.insert(), params=rows)

    runner: Runner[Outgoing] = Runner(
        sessions=services.sessions,
        sender=sender,
        message_of=lambda message: message,
        record=record,
        what="message",
    )
    try:
        async with services.sessions.begin() as session:
            await session.run_sync(lambda sync: _SCRATCH.create_all(sync.connection()))
        freeze_startup_objects()  # as `python -m bot` does once the bot is built
        async with application:
            cpu, start = cpu_seconds(), time.perf_counter()
            await runner.run(each(messages))
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    return {
        "sent": counts.get(Outcome.SENT.value, 0),
        "outcomes": counts,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_kib": peak_rss_kib(),
    }


def _form(message: Outgoing) -> dict[str, str]:
    fields = {"chat_id": str(message.chat_id), "text": message.text, "parse_mode": "HTML"}
    if message.buttons:
        keyboard = [
            [{"text": label, "callback_data": target} for label, target in row]
            for row in message.buttons
        ]
        fields["reply_markup"] = json.dumps({"inline_keyboard": keyboard})
    return fields


async def run_bare(messages: list[Outgoing]) -> dict[str, Any]:
    """Send the round with bare `ClientSession.post` calls, as lean as a client gets."""
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    url = f"{settings.bot_api_url}{settings.telegram_bot_token.get_secret_value()}/sendMessage"
    gate = asyncio.Semaphore(CONCURRENCY)
    sent = failed = 0
    connector = aiohttp.TCPConnector(limit=DEFAULT_POOL_SIZE)

    async def send(message: Outgoing) -> None:
        nonlocal sent, failed
        async with gate:
            try:
                async with session.post(url, data=_form(message)) as reply:
                    answer = await reply.json()
            except (aiohttp.ClientError, TimeoutError):
                failed += 1
                return
            if answer.get("ok") and answer["result"]["message_id"]:
                sent += 1
            else:
                failed += 1

    freeze_startup_objects()  # the baseline gets what the bot gets
    async with aiohttp.ClientSession(connector=connector) as session:
        cpu, start = cpu_seconds(), time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for message in messages:
                group.create_task(send(message))
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return {
        "sent": sent,
        "outcomes": {"sent": sent, "failed": failed},
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "peak_rss_kib": peak_rss_kib(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.outbox_proc")
    parser.add_argument("which", choices=("outbox", "bare"))
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--unpaced", action="store_true", help="no overall or per-chat pacing")
    args = parser.parse_args(argv)
    messages = round_messages(args.messages, load_settings())
    if args.which == "bare":
        result = asyncio.run(run_bare(messages))
    else:
        result = asyncio.run(run_outbox(messages, unpaced=args.unpaced))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
