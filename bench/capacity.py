"""Engine capacity: the fan-out with limits off, against a bare python-telegram-bot loop.

For each HTTP transport the bot can use (TELEGRAM_HTTP_TRANSPORT), the engine and the
baseline run as separate processes, one after the other, alternating which goes first,
against one fake Bot API process (no limits); each figure is the median of the rounds. The
engine sends with its Pacer disabled (`Pacer(per_second=0)`); the baseline sends the very same
messages with the same concurrency through the same transport.
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Harness
from bench.population import NOW, Population
from bench.procs import FakeApi, child_env, run_json
from bench.results import ScenarioResult, median
from bot.settings import Settings

# The engine against the bare loop on each transport; with httpx, python-telegram-bot's own,
# nothing measured before may get worse, hence the higher target.
TARGETS = {"httpx": 0.9, "aiohttp": 0.8}
TRANSPORTS = tuple(TARGETS)
PTB_DEFAULT = "httpx"  # python-telegram-bot's own transport (HTTPXRequest)


async def _one(
    harness: Harness, fake: FakeApi, population: Population, which: str, transport: str
) -> dict[str, Any]:
    databases = harness.databases()
    settings = {
        "TELEGRAM_API_BASE_URL": fake.api_root,
        "TELEGRAM_HTTP_TRANSPORT": transport,
        "LOG_LEVEL": "WARNING",
    }
    url = await databases.fresh(population) if which == "engine" else ""
    if url:
        settings["DATABASE_URL"] = url
    env = child_env(**settings)
    await fake.reset()
    before = await fake.stats()
    within = 300 + population.due_users / 10
    try:
        if which == "engine":
            args = ["--now", NOW.isoformat(), "--unpaced"]
            result = await run_json(
                "bench.engine_proc", args, env=env, workdir=harness.workdir, within=within
            )
        else:
            args = ["--couples", str(population.couples), "--due", str(population.due_users)]
            result = await run_json(
                "bench.baseline_proc", args, env=env, workdir=harness.workdir, within=within
            )
    finally:
        if url:
            await databases.drop(url)
    if result["sent"] != population.due_users:
        raise RuntimeError(f"the {which} sent {result['sent']} of {population.due_users}")
    after = await fake.stats()
    result["fake_sent"] = after["sent"]
    result["fake_duplicates"] = after["duplicates"]
    result["fake_cpu_seconds"] = after["cpu_seconds"] - before["cpu_seconds"]
    result["rate"] = result["sent"] / result["wall_seconds"] if result["wall_seconds"] else 0.0
    result["cpu_ms_per_message"] = 1000 * result["cpu_seconds"] / max(1, result["sent"])
    return result


async def measure(
    harness: Harness, population: Population, rounds: int, transport: str
) -> dict[str, list[dict[str, Any]]]:
    """Run engine and baseline `rounds` times each, alternating, against one fake."""
    runs: dict[str, list[dict[str, Any]]] = {"engine": [], "baseline": []}
    async with FakeApi(harness.workdir) as fake:
        for number in range(rounds):
            order = ("engine", "baseline") if number % 2 == 0 else ("baseline", "engine")
            for which in order:
                runs[which].append(await _one(harness, fake, population, which, transport))
    return runs


def _report(result: ScenarioResult, transport: str, runs: dict[str, list[dict[str, Any]]]) -> None:
    engine_rate = median([r["rate"] for r in runs["engine"]])
    base_rate = median([r["rate"] for r in runs["baseline"]])
    engine_cpu = median([r["cpu_ms_per_message"] for r in runs["engine"]])
    base_cpu = median([r["cpu_ms_per_message"] for r in runs["baseline"]])
    ratio = engine_rate / base_rate if base_rate else 0.0
    efficiency = base_cpu / engine_cpu if engine_cpu else 0.0
    wanted = TARGETS[transport]
    target = f">= {wanted}"
    result.add(f"{transport}: engine send rate", engine_rate, "msg/s")
    result.add(f"{transport}: baseline send rate", base_rate, "msg/s")
    result.add(f"{transport}: rate vs baseline", ratio, "x", target=target, met=ratio >= wanted)
    result.add(f"{transport}: engine CPU", engine_cpu, "ms/msg")
    result.add(f"{transport}: baseline CPU", base_cpu, "ms/msg")
    result.add(
        f"{transport}: CPU efficiency vs baseline",
        efficiency,
        "x",
        target=target,
        met=efficiency >= wanted,
    )
    statements = median([r["sql_statements"] / max(1, r["sent"]) for r in runs["engine"]])
    result.add(f"{transport}: engine SQL statements", statements, "per msg")
    duplicates = sum(r["fake_duplicates"] for r in runs["engine"])
    result.add(f"{transport}: duplicates (engine runs)", duplicates, target="0", met=not duplicates)


def _report_default(result: ScenarioResult, details: dict[str, Any]) -> None:
    """Compare the bot as shipped with a bare loop as python-telegram-bot ships."""
    # The two defaults differ: the bot's transport (a setting) against PTB's own, httpx. This
    # is what choosing the bot over a plain PTB program gains; the rows above compare like with
    # like, transport by transport.
    ours = Settings.model_fields["telegram_http_transport"].default
    engine_rate = median([r["rate"] for r in details[ours]["engine"]])
    base_rate = median([r["rate"] for r in details[PTB_DEFAULT]["baseline"]])
    ratio = engine_rate / base_rate if base_rate else 0.0
    wanted = TARGETS[PTB_DEFAULT]
    result.add(
        f"defaults: engine ({ours}) vs bare PTB loop ({PTB_DEFAULT})",
        ratio,
        "x",
        target=f">= {wanted}",
        met=ratio >= wanted,
    )


async def run(harness: Harness) -> ScenarioResult:
    """Measure the engine's own speed and CPU cost per message against the baseline."""
    started = time.monotonic()
    due = harness.scale(20_000, 400)
    population = Population(couples=due // 2, due_users=due)
    rounds = 3
    result = ScenarioResult("capacity")
    details: dict[str, Any] = {"messages": due, "database": harness.database}
    for transport in TRANSPORTS:
        runs = await measure(harness, population, rounds, transport)
        _report(result, transport, runs)
        details[transport] = runs
    _report_default(result, details)
    result.notes.append(
        f"{due:,} messages per run, median of {rounds} alternating runs each, engine on "
        f"{harness.database}; CPU efficiency = baseline CPU per message / engine's"
    )
    result.details = details
    result.seconds = time.monotonic() - started
    return result
