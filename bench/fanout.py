"""Fan-out at the limit: everyone due at the same minute, the fake enforcing Telegram's limits.

The real bot process (`python -m bot run`: long polling plus the JobQueue tick) with its
default pacing (SEND_RATE_PER_SECOND=30, PER_CHAT_INTERVAL_SECONDS=1) against the fake Bot API
in its own process, answering 429 with retry_after above 30 msg/s overall or ~1 msg/s per chat
(burst 3). The rate is the fake's: accepted sends between the first and the last one.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

from bench.harness import Harness
from bench.population import NOW, Population, ledger
from bench.procs import FakeApi, bot_running, child_env, logged_errors
from bench.results import ScenarioResult
from bench.tally import tally

LIMIT = 30.0
TARGET_SHARE = 0.95


def write_clock(path: Path, text: str) -> None:
    """Replace the bot's clock file atomically (it re-reads it on every `now()`)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


async def run(harness: Harness) -> ScenarioResult:
    """Send one round to `due` people at the fake's limits and measure rate, 429s, duplicates."""
    started = time.monotonic()
    due = harness.scale(20_000, 750)
    population = Population(couples=due // 2, due_users=due)
    databases = harness.databases()
    url = await databases.fresh(population)
    clock_file = harness.workdir / "fanout-clock"
    write_clock(clock_file, NOW.isoformat())
    result = ScenarioResult("fanout")
    try:
        async with FakeApi(harness.workdir, global_rate=LIMIT, per_chat_rate=1.0) as fake:
            env = child_env(
                TELEGRAM_API_BASE_URL=fake.api_root,
                DATABASE_URL=url,
                CLOCK_FILE=str(clock_file),
                POLLING_TIMEOUT_SECONDS="5",
                NUDGE_TICK_SECONDS="5",
                SEND_RATE_PER_SECOND=str(LIMIT),
                PER_CHAT_INTERVAL_SECONDS="1.0",
                LOG_LEVEL="INFO",
            )
            async with bot_running(harness.workdir, env, "fanout-bot") as bot:
                await fake.wait_for_sent(due, within=120 + 1.6 * due / LIMIT, stall=90)
                log_file = bot.log_file
            stats = await fake.stats(per_chat=True)
        counts = await ledger(url)
    finally:
        await databases.drop(url)
    stats.pop("per_chat", None)
    seen = tally(stats.pop("texts", {}), population.due_user_ids())
    rate = float(stats["mean_send_rate"])
    share = 100 * rate / LIMIT
    result.add("people due", due)
    result.add("send rate (first to last accepted)", rate, "msg/s")
    result.add(
        "share of 30 msg/s",
        share,
        "%",
        target=f">= {TARGET_SHARE:.0%}",
        met=share >= 100 * TARGET_SHARE,
    )
    result.add("429s received", stats["rejected_429"], target="0", met=stats["rejected_429"] == 0)
    result.add("duplicates", seen.duplicates, target="0", met=seen.duplicates == 0)
    result.add("not delivered", seen.lost, target="0", met=seen.lost == 0)
    span = (stats["last_sent_at"] or 0.0) - (stats["first_sent_at"] or 0.0)
    errors = logged_errors(log_file)
    result.add("errors the bot logged", len(errors), target="0", met=not errors)
    result.add("round duration", span, "s")
    result.add("peak sends in any 1 s", stats["peak_sends_per_second"], "msg")
    result.notes.append(
        f"database {harness.database}; fake Bot API CPU {stats['cpu_seconds']:.1f}s; "
        f"other messages to due people: {seen.others}, to anyone else: {seen.strays}; "
        f"ledger {counts}"
    )
    result.details.update(
        stats=stats,
        ledger=counts,
        tally=asdict(seen),
        database=harness.database,
        errors=errors[:20],
        bot_log=str(log_file),
    )
    result.seconds = time.monotonic() - started
    return result
