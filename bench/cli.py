"""`python -m bench [--quick] [--database sqlite|postgresql] [SCENARIO ...]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from bench import capacity, crash, fanout, inbound, memory, outbox, workers
from bench.harness import Harness
from bench.results import ScenarioResult, commit, table, write_json

Scenario = Callable[[Harness], Awaitable[ScenarioResult]]
SCENARIOS: dict[str, tuple[Scenario, str]] = {
    "fanout": (fanout.run, "20,000 users due at once, fake at 30 msg/s and 1 msg/s per chat"),
    "capacity": (capacity.run, "limits off: engine vs a bare PTB loop, msg/s and CPU/msg"),
    "outbox": (outbox.run, "limits off: the outbox (aiohttp) vs a bare aiohttp loop; at 1,000/s"),
    "memory": (memory.run, "peak RSS with 1,000 vs 100,000 couples, same number due"),
    "crash": (crash.run, "kill -9 mid-round, restart: nothing twice, nothing lost"),
    "workers": (workers.run, "two workers on one PostgreSQL database: split, no duplicates"),
    "inbound": (inbound.run, "updates in: the bot vs a bare PTB bot; processes, latency, crash"),
}


def parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    root = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the benchmarks and print one table (JSON kept in bench/results/).",
    )
    root.add_argument(
        "scenarios",
        nargs="*",
        metavar="SCENARIO",
        help="any of: " + ", ".join(SCENARIOS) + " (default: all)",
    )
    root.add_argument("--quick", action="store_true", help="a scaled-down run (~3 minutes)")
    root.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="database for the single-process scenarios (workers always use PostgreSQL)",
    )
    root.add_argument("--keep", action="store_true", help="keep the scratch folder (logs)")
    return root


async def run_all(names: Sequence[str], harness: Harness) -> list[ScenarioResult]:
    """Run the chosen scenarios in order; a failing one is reported, the rest still run."""
    results = []
    for name in names:
        scenario, _ = SCENARIOS[name]
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started, load = time.monotonic(), os.getloadavg()[0]
        try:
            result = await scenario(harness)
        except Exception as error:
            logging.getLogger("bench").exception("scenario %s failed", name)
            result = ScenarioResult(name, notes=[f"failed: {type(error).__name__}: {error}"])
            result.add("completed", 0, target="1", met=False)
        result.seconds = time.monotonic() - started
        # Other work on the machine skews absolute figures; the baselines run alongside.
        result.details["load_average"] = {"before": load, "after": os.getloadavg()[0]}
        result.notes.append(
            f"took {result.seconds:.0f}s; 1-minute load average {load:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after ({len(os.sched_getaffinity(0))} CPUs)"
        )
        print(f"  {name} done in {result.seconds:.0f}s", file=sys.stderr, flush=True)
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks and print the table; exit 1 if any scenario could not run."""
    args = parser().parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser().error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    names = args.scenarios or list(SCENARIOS)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started, first_commit = datetime.now(UTC), commit()
    workdir = Path(tempfile.mkdtemp(prefix="remainly-bench-"))
    harness = Harness(quick=args.quick, workdir=workdir, database=args.database)

    async def go() -> list[ScenarioResult]:
        try:
            return await run_all(names, harness)
        finally:
            await harness.close()

    results = asyncio.run(go())
    print(table(results))
    for result in results:
        for note in result.notes:
            print(f"{result.scenario}: {note}")
    commits = (first_commit, commit())
    path = write_json(results, quick=args.quick, started=started, commits=commits)
    print(f"commit {commits[0]}" + (f" .. {commits[1]}" if commits[1] != commits[0] else ""))
    print(f"\nresults: {path}")
    if args.keep:
        print(f"logs: {workdir}")
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    failed = any(figure.name == "completed" for result in results for figure in result.figures)
    return 1 if failed else 0
