"""Crash: kill -9 the bot in the middle of a round, restart it, let it finish.

The real bot process (`python -m bot run`) sends a round twice over, each time to a fresh copy
of the population: once at Telegram's default pace (30 msg/s, fake with its limits on), as a
deployment runs, and once as fast as it can (PAID_BROADCAST, fake without limits), which keeps
the most sends in flight. Once 47 % were accepted it gets SIGKILL. Its claimed rows stay
leased, so before the restart the bot's clock (CLOCK_FILE) jumps past the lease
(NUDGE_LEASE_SECONDS), as time would pass on a real restart; the new process then takes over
what the dead one left. What every chat received is counted on the fake's side.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from bench.fanout import write_clock
from bench.harness import Harness
from bench.population import NOW, Population, ledger
from bench.procs import BotProcess, FakeApi, child_env, logged_errors
from bench.results import ScenarioResult
from bench.tally import tally
from bot.settings import Settings

LEASE = timedelta(seconds=float(Settings.model_fields["nudge_lease_seconds"].default))


@dataclass(frozen=True)
class Pace:
    """How fast a crash round sends, and what the fake enforces."""

    name: str
    settings: dict[str, str]
    limit: float | None  # the fake's overall limit (msg/s), None for none
    per_second: float  # expected send rate, for time-outs


PACES = (
    Pace("default pace", {"SEND_RATE_PER_SECOND": "30"}, limit=30.0, per_second=30.0),
    Pace("paid broadcast", {"PAID_BROADCAST": "true"}, limit=None, per_second=150.0),
)


async def _round(harness: Harness, pace: Pace, due: int) -> dict[str, Any]:
    population = Population(couples=due // 2, due_users=due)
    databases = harness.databases()
    url = await databases.fresh(population)
    slug = pace.name.replace(" ", "-")
    clock_file = harness.workdir / f"crash-clock-{slug}"
    write_clock(clock_file, NOW.isoformat())
    restarted_at = NOW + LEASE + timedelta(minutes=1)
    details: dict[str, Any] = {}
    within = 300 + 2 * due / pace.per_second
    per_chat = 1.0 if pace.limit else None
    try:
        async with FakeApi(harness.workdir, global_rate=pace.limit, per_chat_rate=per_chat) as fake:
            env = child_env(
                TELEGRAM_API_BASE_URL=fake.api_root,
                DATABASE_URL=url,
                CLOCK_FILE=str(clock_file),
                POLLING_TIMEOUT_SECONDS="5",
                NUDGE_TICK_SECONDS="2",
                LOG_LEVEL="INFO",
                **pace.settings,
            )
            first = await BotProcess.start(harness.workdir, env, f"crash-{slug}-1")

            # Just short of halfway: mid-batch, not on a batch boundary.
            kill_at = due * 47 // 100

            async def kill_halfway(stats: dict[str, Any]) -> bool:
                if stats["sent"] < kill_at:
                    return False
                first.kill()
                return True

            try:
                await fake.wait_for_sent(due, within=within, on_progress=kill_halfway)
            finally:
                first.kill()
                await first.process.wait()
            await asyncio.sleep(1.0)  # answers already on the wire land in the fake's counts
            at_kill = await fake.stats()
            details["at_kill"] = {"sent": at_kill["sent"], "ledger": await ledger(url)}
            write_clock(clock_file, restarted_at.isoformat())
            restart = time.monotonic()
            second = await BotProcess.start(harness.workdir, env, f"crash-{slug}-2")
            try:
                # Until every due chat has something and then nothing moves for a few seconds.
                await fake.wait_for_sent(due, within=within)
                await fake.wait_for_sent(10 * due, within=60, stall=5)
            finally:
                await second.stop()
            errors = logged_errors(first.log_file) + logged_errors(second.log_file)
            stats = await fake.stats(per_chat=True)
            # CLOCK_MONOTONIC is one clock for every process on the machine.
            details["restart_seconds"] = (stats["last_sent_at"] or restart) - restart
        details["after"] = await ledger(url, at=restarted_at)
    finally:
        await databases.drop(url)
    stats.pop("per_chat", None)
    seen = tally(stats.pop("texts", {}), population.due_user_ids())
    details.update(stats=stats, tally=asdict(seen), errors=errors[:20], error_count=len(errors))
    return details


async def run(harness: Harness) -> ScenarioResult:
    """Kill the bot mid-round at each pace, restart it, and count duplicates and losses."""
    started = time.monotonic()
    due = harness.scale(10_000, 600)
    result = ScenarioResult("crash")
    details: dict[str, Any] = {"database": harness.database, "lease_seconds": LEASE.seconds}
    result.add("people due (each pace)", due)
    for pace in PACES:
        measured = await _round(harness, pace, due)
        details[pace.name] = measured
        seen, name = measured["tally"], pace.name
        in_doubt = measured["at_kill"]["ledger"].get("deliveries_pending_attempted", 0)
        result.add(f"{name}: sent before the kill", measured["at_kill"]["sent"], "msg")
        # Composed (attempt counted) but no result recorded: waiting for the pacer or in flight.
        result.add(f"{name}: composed, not recorded at the kill", in_doubt, "msg")
        duplicates, lost = seen["duplicates"], seen["lost"]
        result.add(f"{name}: duplicates", duplicates, target="0", met=duplicates == 0)
        result.add(f"{name}: nudges lost", lost, target="0", met=lost == 0)
        errors = measured["error_count"]
        result.add(f"{name}: errors the bot logged", errors, target="0", met=not errors)
        if pace.limit:
            rejected = measured["stats"]["rejected_429"]
            result.add(f"{name}: 429s received", rejected, target="0", met=not rejected)
        result.add(f"{name}: restart to last send", measured["restart_seconds"], "s")
    result.notes.append(
        f"database {harness.database}; clock moved {LEASE + timedelta(minutes=1)} past the "
        f"round before each restart (lease {LEASE}); SIGKILL once 47 % were accepted"
    )
    result.details = details
    result.seconds = time.monotonic() - started
    return result
