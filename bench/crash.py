"""Crash: kill -9 the bot in the middle of a round, restart it, let it finish.

The real bot process (`python -m bot run`) sends a round to a fresh copy of a population, once
per scheduled kind: morning nudges (nudge engine) at Telegram's default pace (30 msg/s, fake
with its limits on), as a deployment runs, and as fast as it can (PAID_BROADCAST, fake without
limits), which keeps the most sends in flight; then, as fast as it can, weekly check-in
invitations and the appreciation courier (check-in engine) and trial notices (billing notices).
Once 47 % were accepted it gets SIGKILL. Its claimed rows stay leased, so before the restart
the bot's clock (CLOCK_FILE) jumps past the lease (10 minutes for every kind), as time would
pass on a real restart; the new process then takes over what the dead one left. What every
chat received is counted on the fake's side. A message in flight or waiting for its result to
be committed at the kill is sent again (Telegram cannot be asked whether it arrived): the
outbox's Runner keeps that to its concurrency, so the target for duplicates is at most that
many, and for lost messages none.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from bench.fanout import write_clock
from bench.harness import Harness
from bench.population import CHECKIN, COURIER, MORNING, NOW, TRIAL_NOTICE, Population, ledger
from bench.procs import BotProcess, FakeApi, child_env, logged_errors
from bench.results import ScenarioResult
from bench.tally import tally
from bot.outbox.runner import RunnerConfig
from bot.settings import Settings

LEASE = timedelta(seconds=float(Settings.model_fields["nudge_lease_seconds"].default))
# At most this many messages are sent but unrecorded when one process dies (per kill).
IN_FLIGHT = RunnerConfig().concurrency


@dataclass(frozen=True)
class Pace:
    """How fast a crash round sends, and what the fake enforces."""

    name: str
    settings: dict[str, str]
    limit: float | None  # the fake's overall limit (msg/s), None for none
    per_second: float  # the slowest send rate expected at this pace, for time-outs


DEFAULT_PACE = Pace("default pace", {"SEND_RATE_PER_SECOND": "30"}, limit=30.0, per_second=30.0)
PAID_BROADCAST = Pace("paid broadcast", {"PAID_BROADCAST": "true"}, limit=None, per_second=25.0)


@dataclass(frozen=True)
class Round:
    """One crash round: what is due, how many people (full and quick), at what pace."""

    kind: str  # a population kind
    name: str
    due: tuple[int, int]
    pace: Pace
    in_doubt: str  # the ledger count of messages composed or claimed but not recorded

    @property
    def label(self) -> str:
        """Return how the round's figures are named."""
        return f"{self.name}, {self.pace.name}"


# The check-in engine composes and records row by row and billing sends at most 200 notices a
# tick, so their rounds are smaller than the nudges'.
ROUNDS = (
    Round(MORNING, "nudges", (10_000, 600), DEFAULT_PACE, "deliveries_pending_attempted"),
    Round(MORNING, "nudges", (10_000, 600), PAID_BROADCAST, "deliveries_pending_attempted"),
    Round(CHECKIN, "check-ins", (5_000, 400), PAID_BROADCAST, "deliveries_pending_attempted"),
    Round(COURIER, "appreciations", (5_000, 400), PAID_BROADCAST, "deliveries_pending_attempted"),
    Round(TRIAL_NOTICE, "trial notices", (5_000, 400), PAID_BROADCAST, "notices_pending_claimed"),
)


async def _round(harness: Harness, crash: Round) -> dict[str, Any]:
    due, pace = harness.scale(*crash.due), crash.pace
    population = Population(couples=due // 2, due_users=due, kind=crash.kind)
    databases = harness.databases()
    url = await databases.fresh(population)
    slug = f"{crash.kind}-{pace.name.replace(' ', '-')}"
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
    """Kill the bot mid-round for each kind and pace, restart it, count duplicates and losses."""
    started = time.monotonic()
    result = ScenarioResult("crash")
    details: dict[str, Any] = {"database": harness.database, "lease_seconds": LEASE.seconds}
    for crash in ROUNDS:
        measured = await _round(harness, crash)
        details[crash.label] = measured
        seen, name = measured["tally"], crash.label
        result.add(f"{name}: people due", seen["due"])
        result.add(f"{name}: sent before the kill", measured["at_kill"]["sent"], "msg")
        # Composed or claimed but no result recorded: waiting for the pacer or in flight.
        in_doubt = measured["at_kill"]["ledger"].get(crash.in_doubt, 0)
        result.add(f"{name}: not recorded at the kill", in_doubt, "msg")
        duplicates, lost = seen["duplicates"], seen["lost"]
        result.add(
            f"{name}: duplicates",
            duplicates,
            target=f"<= {IN_FLIGHT}",
            met=duplicates <= IN_FLIGHT,
        )
        result.add(f"{name}: lost", lost, target="0", met=lost == 0)
        errors = measured["error_count"]
        result.add(f"{name}: errors the bot logged", errors, target="0", met=not errors)
        if crash.pace.limit:
            rejected = measured["stats"]["rejected_429"]
            result.add(f"{name}: 429s received", rejected, target="0", met=not rejected)
        result.add(f"{name}: restart to last send", measured["restart_seconds"], "s")
    result.notes.append(
        f"database {harness.database}; clock moved {LEASE + timedelta(minutes=1)} past the "
        f"round before each restart (lease {LEASE}); SIGKILL once 47 % were accepted; "
        f"duplicates may be up to the Runner's concurrency ({IN_FLIGHT}) per kill"
    )
    result.details = details
    result.seconds = time.monotonic() - started
    return result
