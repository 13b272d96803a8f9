"""Crash: kill -9 the bot in the middle of a round, restart it, let it finish.

The real bot process (`python -m bot run`) sends fast (PAID_BROADCAST, fake without limits).
Halfway through it gets SIGKILL. Its claimed rows stay leased, so before the restart the bot's
clock (CLOCK_FILE) jumps past the lease (NUDGE_LEASE_SECONDS), as time would pass on a real
restart; the new process then takes over what the dead one left. What every chat received is
counted on the fake's side.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
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


async def run(harness: Harness) -> ScenarioResult:
    """Kill the bot halfway through a round, restart it, and count duplicates and losses."""
    started = time.monotonic()
    due = harness.scale(10_000, 600)
    population = Population(couples=due // 2, due_users=due)
    databases = harness.databases()
    url = await databases.fresh(population)
    clock_file = harness.workdir / "crash-clock"
    write_clock(clock_file, NOW.isoformat())
    restarted_at = NOW + LEASE + timedelta(minutes=1)
    result = ScenarioResult("crash")
    details: dict[str, Any] = {"database": harness.database, "lease_seconds": LEASE.seconds}
    try:
        async with FakeApi(harness.workdir) as fake:
            env = child_env(
                TELEGRAM_API_BASE_URL=fake.api_root,
                DATABASE_URL=url,
                CLOCK_FILE=str(clock_file),
                POLLING_TIMEOUT_SECONDS="5",
                NUDGE_TICK_SECONDS="2",
                PAID_BROADCAST="true",
                LOG_LEVEL="INFO",
            )
            first = await BotProcess.start(harness.workdir, env, "crash-bot-1")

            # Just short of halfway: mid-batch, not on a batch boundary.
            kill_at = due * 47 // 100

            async def kill_halfway(stats: dict[str, Any]) -> bool:
                if stats["sent"] < kill_at:
                    return False
                first.kill()
                return True

            try:
                await fake.wait_for_sent(due, within=300 + due / 10, on_progress=kill_halfway)
            finally:
                first.kill()
                await first.process.wait()
            await asyncio.sleep(1.0)  # answers already on the wire land in the fake's counts
            at_kill = await fake.stats()
            details["at_kill"] = {"sent": at_kill["sent"], "ledger": await ledger(url)}
            write_clock(clock_file, restarted_at.isoformat())
            restart = time.monotonic()
            second = await BotProcess.start(harness.workdir, env, "crash-bot-2")
            try:
                # Until every due chat has something and then nothing moves for a few seconds.
                await fake.wait_for_sent(due, within=300 + due / 10)
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
    in_doubt = details["at_kill"]["ledger"].get("deliveries_pending_attempted", 0)
    result.add("people due", due)
    result.add("sent before the kill", details["at_kill"]["sent"], "msg")
    result.add("in doubt at the kill (attempted, not recorded)", in_doubt, "msg")
    result.add("duplicates", seen.duplicates, target="0", met=seen.duplicates == 0)
    result.add("nudges lost", seen.lost, target="0", met=seen.lost == 0)
    result.add("errors the bot logged", len(errors), target="0", met=not errors)
    result.add("restart to last send", details["restart_seconds"], "s")
    result.notes.append(
        f"database {harness.database}; clock moved {LEASE + timedelta(minutes=1)} past the "
        f"round before the restart (lease {LEASE}); ledger after: {details['after']}"
    )
    details.update(stats=stats, tally=asdict(seen), errors=errors[:20])
    result.details = details
    result.seconds = time.monotonic() - started
    return result
