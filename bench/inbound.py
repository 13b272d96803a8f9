"""Updates in: the real bot against a bare python-telegram-bot bot answering the same updates.

Each person writes `/start` and then types a name (the answer to the step `/start` opened):
three replies from either bot. The fake Bot API (its own process) is handed the whole backlog
at once; a run lasts from then until the last reply arrived. Figures:

- updates/s of `python -m bot run` (SQLite, one process) ÷ the bare bot's, alternating runs;
- the bot on PostgreSQL with 1, 2 and 4 processes (one polls, all handle the inbox), with the
  CPU seconds per update of the bot's processes;
- both with 80 ms before every Bot API answer, as from far away;
- `pre_checkout_query` answers (p99, max) behind a 1,000-update backlog;
- kill -9 mid-backlog and a restart: updates lost (0), typed answers handled twice (0).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import time
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from bench.harness import Harness
from bench.population import pg_admin, pg_url
from bench.procs import BotProcess, FakeApi, child_env, logged_errors
from bench.results import ScenarioResult, median
from bot.db.migrate import upgrade

ASK_PLACE = "Where in the world are you?"
TEXTS = ["/start", "Sam"]
REPLIES_PER_PERSON = 3
FIRST_USER = 50_000_000
BARE = ("bench.inbound_baseline",)
BOT = ("bot", "run")


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Fresh:
    """Empty migrated databases: a copied SQLite file, or a PostgreSQL database per run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.template: Path | None = None
        self.created: list[str] = []

    async def url(self, kind: str) -> str:
        name = f"inbound_{uuid.uuid4().hex[:10]}"
        if kind == "sqlite":
            if self.template is None:
                self.template = self.workdir / "inbound-template.db"
                await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{self.template}")
            path = self.workdir / f"{name}.db"
            shutil.copyfile(self.template, path)
            return f"sqlite+aiosqlite:///{path}"
        await pg_admin(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        url = pg_url(name)
        await asyncio.to_thread(upgrade, url)
        return url

    async def close(self) -> None:
        for name in self.created:
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _until(fake: FakeApi, done: Any, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        stats = await fake.stats()
        if done(stats) or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


def _replies(stats: dict[str, Any]) -> int:
    return int(stats["by_method"].get("sendMessage", 0))


async def measure(
    harness: Harness,
    fresh: Fresh,
    *,
    module: tuple[str, ...],
    people: int,
    database: str = "sqlite",
    processes: int = 1,
    latency: float = 0.0,
    checkouts: int = 0,
    kill_after: int | None = None,
) -> dict[str, Any]:
    """Run one backlog through `processes` bots; return rate, CPU and what arrived."""
    url = await fresh.url(database)
    async with FakeApi(harness.workdir, latency=latency) as fake:
        env = child_env(
            TELEGRAM_API_BASE_URL=fake.api_root,
            DATABASE_URL=url,
            PAID_BROADCAST="true",
            PER_CHAT_INTERVAL_SECONDS="0",
            POLLING_TIMEOUT_SECONDS="1",
            LOG_LEVEL="WARNING",
        )
        bots = [
            await BotProcess.start(harness.workdir, env, f"inbound{n}", module)
            for n in range(processes)
        ]
        try:
            await _until(fake, lambda s: s["by_method"].get("getUpdates", 0) > 0, 60)
            await asyncio.sleep(3.0 if processes > 1 else 0.5)  # the others are up too
            await fake.reset()
            cpu_before = sum(_cpu_seconds(b.process.pid) for b in bots)
            started = time.monotonic()
            injected = await fake.inject(
                {"first_user": FIRST_USER, "users": people, "texts": TEXTS, "checkouts": checkouts}
            )
            expected = people * REPLIES_PER_PERSON
            killed_at = None
            if kill_after is not None:
                await _until(fake, lambda s: _replies(s) >= kill_after, 300)
                bots[0].kill()
                await bots[0].process.wait()
                killed_at = _replies(await fake.stats())
                bots[0] = await BotProcess.start(harness.workdir, env, "inbound-restart", module)
            stats = await _until(
                fake,
                lambda s: (
                    _replies(s) >= expected and len(s.get("checkout_latencies", [])) >= checkouts
                ),
                600,
            )
            elapsed = time.monotonic() - started
            cpu = sum(_cpu_seconds(b.process.pid) for b in bots) - cpu_before
            per_chat: dict[str, Any] = {}
            if kill_after is not None:
                # A /start handled again adds a reply: wait for the inbox itself to empty.
                deadline = time.monotonic() + 120
                # Polled: the database file of another process has no event to wait on.
                while _waiting(url) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                per_chat = await fake.stats(per_chat=True)
        finally:
            for bot in bots:
                await bot.stop()
        errors = [line for bot in bots for line in logged_errors(bot.log_file)]
    updates = int(injected["updates"]) + int(injected["checkouts"])
    result: dict[str, Any] = {
        "updates": updates,
        "replies": _replies(stats),
        "expected_replies": expected,
        "seconds": elapsed,
        "updates_per_second": updates / elapsed if elapsed else 0.0,
        "cpu_ms_per_update": 1000 * cpu / updates if kill_after is None else None,
        "checkout_latencies": sorted(stats.get("checkout_latencies", [])),
        "errors": len(errors),
    }
    if kill_after is not None:
        result.update(_after_kill(url, people, per_chat), killed_at=killed_at)
    return result


def _waiting(url: str) -> int:
    path = url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        row = connection.execute(
            "SELECT COUNT(*) FROM inbox_updates WHERE status = 'pending'"
        ).fetchone()
    return int(row[0])


def _after_kill(url: str, people: int, per_chat: dict[str, Any]) -> dict[str, Any]:
    path = url.removeprefix("sqlite+aiosqlite:///")
    with closing(sqlite3.connect(path)) as connection:
        named = connection.execute(
            "SELECT COUNT(*) FROM users WHERE display_name = ?", (TEXTS[1],)
        ).fetchone()[0]
        statuses = dict(
            connection.execute("SELECT status, COUNT(*) FROM inbox_updates GROUP BY status")
        )
    asked = [
        sum(ASK_PLACE in text for text in texts) for texts in per_chat.get("texts", {}).values()
    ]
    return {
        "people_named": named,
        "lost_updates": people * len(TEXTS) - int(statuses.get("done", 0)),
        "inbox": statuses,
        "typed_answers_twice": sum(1 for count in asked if count > 1),
        "typed_answers_unanswered": people - sum(1 for count in asked if count >= 1),
    }


def _p99(values: list[float]) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


async def run(harness: Harness) -> ScenarioResult:
    """Measure updates in, as the module docstring says."""
    result = ScenarioResult("inbound")
    fresh = Fresh(harness.workdir)
    people = harness.scale(1000, 300)
    try:
        bare, ours = [], []
        for _ in range(harness.scale(2, 1)):
            bare.append(await measure(harness, fresh, module=BARE, people=people))
            ours.append(await measure(harness, fresh, module=BOT, people=people))
        bare_rate = median([r["updates_per_second"] for r in bare])
        our_rate = median([r["updates_per_second"] for r in ours])
        result.add("bare PTB bot", bare_rate, "upd/s")
        result.add("bot, SQLite, 1 process", our_rate, "upd/s")
        ratio = our_rate / bare_rate if bare_rate else 0.0
        result.add("bot ÷ bare", ratio, "×", target="≥ 0.5", met=ratio >= 0.5)
        result.add("bot CPU per update", median([r["cpu_ms_per_update"] for r in ours]), "ms")
        result.details["sqlite"] = {"bare": bare, "bot": ours}

        scaling = {}
        for processes in (1, 2, 4):
            run_ = await measure(
                harness,
                fresh,
                module=BOT,
                people=people,
                database="postgresql",
                processes=processes,
            )
            scaling[processes] = run_
            result.add(
                f"bot, PostgreSQL, {processes} process(es)", run_["updates_per_second"], "upd/s"
            )
            result.add(f"  CPU per update ({processes})", run_["cpu_ms_per_update"] or 0.0, "ms")
        result.details["postgresql"] = scaling

        slow_people = harness.scale(300, 100)
        bare_slow = await measure(harness, fresh, module=BARE, people=slow_people, latency=0.08)
        ours_slow = await measure(harness, fresh, module=BOT, people=slow_people, latency=0.08)
        result.add("80 ms latency: bare PTB bot", bare_slow["updates_per_second"], "upd/s")
        result.add("80 ms latency: bot", ours_slow["updates_per_second"], "upd/s")
        round_trip = 1 / 0.08
        result.add(
            "80 ms: bot ÷ one update per round trip",
            ours_slow["updates_per_second"] / round_trip,
            "×",
            target="> 1",
            met=ours_slow["updates_per_second"] > round_trip,
        )
        result.details["latency"] = {"bare": bare_slow, "bot": ours_slow}

        backlog = await measure(harness, fresh, module=BOT, people=500, checkouts=50)
        latencies = backlog["checkout_latencies"]
        p99 = _p99(latencies)
        result.add("pre_checkout p99 behind 1,000 updates", p99, "s", target="≤ 2", met=p99 <= 2.0)
        result.add("pre_checkout max", max(latencies, default=0.0), "s")
        result.details["checkout"] = backlog

        crash_people = harness.scale(500, 200)
        crash = await measure(
            harness,
            fresh,
            module=BOT,
            people=crash_people,
            kill_after=crash_people * REPLIES_PER_PERSON // 3,
        )
        result.add(
            "kill -9: updates lost",
            crash["lost_updates"],
            target="0",
            met=crash["lost_updates"] == 0,
        )
        result.add(
            "kill -9: typed answers handled twice",
            crash["typed_answers_twice"],
            target="0",
            met=crash["typed_answers_twice"] == 0,
        )
        result.add("kill -9: typed answers without their reply", crash["typed_answers_unanswered"])
        result.details["crash"] = crash
        errors = sum(
            r["errors"] for r in [*bare, *ours, *scaling.values(), bare_slow, ours_slow, backlog]
        )
        result.add("errors in the logs", errors, target="0", met=errors == 0)
    finally:
        await fresh.close()
    return result
