"""Memory: peak RSS of the engine process with few vs many couples, the same number due.

Each run is `bench.engine_proc` (the bot built as `python -m bot` builds it, one tick, limits
off) on a fresh copy of a seeded database; the rest of the couples are due later that day, so
the only difference between the runs is how many couples exist.
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Harness
from bench.population import NOW, Population
from bench.procs import FakeApi, child_env, run_json
from bench.results import ScenarioResult, median

TARGET = 1.2


async def _peak(harness: Harness, fake: FakeApi, population: Population) -> dict[str, Any]:
    databases = harness.databases()
    url = await databases.fresh(population)
    env = child_env(TELEGRAM_API_BASE_URL=fake.api_root, DATABASE_URL=url, LOG_LEVEL="WARNING")
    try:
        return await run_json(
            "bench.engine_proc",
            ["--now", NOW.isoformat(), "--unpaced"],
            env=env,
            workdir=harness.workdir,
            within=300 + population.due_users / 10,
        )
    finally:
        await databases.drop(url)


async def run(harness: Harness) -> ScenarioResult:
    """Compare the engine's peak RSS for a small and a large population."""
    started = time.monotonic()
    due = harness.scale(2_000, 300)
    small = Population(couples=harness.scale(1_000, 1_000), due_users=due)
    large = Population(couples=harness.scale(100_000, 10_000), due_users=due)
    rounds = harness.scale(3, 1)
    runs: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
    async with FakeApi(harness.workdir) as fake:
        for number in range(rounds):
            order = ("small", "large") if number % 2 == 0 else ("large", "small")
            for which in order:
                population = small if which == "small" else large
                runs[which].append(await _peak(harness, fake, population))
    for which, measured in runs.items():
        for one in measured:
            if one["sent"] != due:
                raise RuntimeError(f"{which} run sent {one['sent']} of {due}: {one}")
    small_mib = median([r["peak_rss_kib"] for r in runs["small"]]) / 1024
    large_mib = median([r["peak_rss_kib"] for r in runs["large"]]) / 1024
    ratio = large_mib / small_mib if small_mib else 0.0
    result = ScenarioResult("memory")
    result.add(f"peak RSS, {small.couples:,} couples", small_mib, "MiB")
    result.add(f"peak RSS, {large.couples:,} couples", large_mib, "MiB")
    result.add("ratio", ratio, "x", target=f"<= {TARGET}", met=ratio <= TARGET)
    for which, population in (("small", small), ("large", large)):
        growth = median([r["peak_rss_kib"] - r["rss_kib_before_tick"] for r in runs[which]])
        result.add(f"growth during the tick, {population.couples:,} couples", growth / 1024, "MiB")
    result.notes.append(
        f"{due:,} due in every run, median of {rounds}; database {harness.database}; growth = "
        "peak RSS after the tick minus RSS just before it (imports and set-up come first)"
    )
    result.details = {"small": small.couples, "large": large.couples, "due": due, "runs": runs}
    result.seconds = time.monotonic() - started
    return result
