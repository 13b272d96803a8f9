"""One nudge round in a process of its own, measured from the inside.

`python -m bench.engine_proc --now ISO [--unpaced]` builds the bot exactly as `python -m bot`
does (settings from the environment), runs one tick (every due row, batch by batch) and prints
one JSON line: the tick's report, its wall time, the CPU time the whole process spent during
the tick (all threads: aiosqlite's included) and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.app import build_application, freeze_startup_objects
from bot.core.clock import FixedClock
from bot.outbox.pacing import Pacer
from bot.settings import load_settings
from bot.telegram.context import services_of
from bot.telegram.sender import TelegramSender


def cpu_seconds() -> float:
    """Return the CPU time (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib() -> int:
    """Return this process's peak resident set size in KiB (Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def rss_kib() -> int:
    """Return this process's resident set size right now, in KiB (from /proc)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() // 1024


class StatementCounter:
    """Count the SQL statements every engine in this process executes."""

    def __init__(self) -> None:
        self.count = 0
        event.listen(Engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1


async def run(now: datetime, *, unpaced: bool) -> dict[str, Any]:
    """Run one tick at `now` and describe it."""
    statements = StatementCounter()
    settings = load_settings()
    application = build_application(settings, clock=FixedClock(now))
    engine = services_of(application).nudges
    if unpaced:
        # Limits off: the engine's own speed, not Telegram's ceiling (Pacer(per_second=0)).
        engine.sender = TelegramSender(application.bot, Pacer(per_second=0, per_chat_interval=0))
    freeze_startup_objects()  # as `python -m bot` does once the bot is built
    rss_before = rss_kib()
    try:
        async with application:
            cpu, start, counted = cpu_seconds(), time.perf_counter(), statements.count
            report = await engine.tick()
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            counted = statements.count - counted
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    return {
        "claimed": report.claimed,
        "sent": report.sent,
        "already_sent": report.already_sent,
        "dropped": report.dropped,
        "blocked": report.blocked,
        "retried": report.retried,
        "wall_seconds": wall,
        "sql_statements": counted,
        "cpu_seconds": cpu,
        "rss_kib_before_tick": rss_before,
        "peak_rss_kib": peak_rss_kib(),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.engine_proc")
    parser.add_argument("--now", type=datetime.fromisoformat, required=True)
    parser.add_argument("--unpaced", action="store_true", help="no overall or per-chat pacing")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(run(args.now, unpaced=args.unpaced))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
