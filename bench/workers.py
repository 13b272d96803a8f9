"""Two workers on PostgreSQL: two processes run the same round against one database.

Both are the operators' one-shot command, `python -m bot nudges due --now ...`, started at
the same moment; each claims batches with `FOR UPDATE SKIP LOCKED` until nothing is left.
Two rounds: one fast (PAID_BROADCAST, fake without limits), for duplicates and the split; one
at Telegram's limit (default pacing, fake with its limits on), where the two must share the
bot's 30 msg/s between them (each says it is alive and paces at 30 / live workers).
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict
from typing import Any

from bench.harness import Harness
from bench.population import NOW, Population, ledger
from bench.procs import FakeApi, child_env, run_bot_command
from bench.results import ScenarioResult
from bench.tally import tally

LIMIT = 30.0

REPORT = re.compile(r"claimed (\d+), sent (\d+), already sent (\d+), dropped (\d+)")


async def _round(
    harness: Harness, due: int, *, at_limit: bool
) -> tuple[list[str], dict[str, Any], dict[str, int], Population]:
    population = Population(couples=due // 2, due_users=due)
    databases = harness.databases("postgresql")
    url = await databases.fresh(population)
    try:
        limits = {"global_rate": LIMIT, "per_chat_rate": 1.0} if at_limit else {}
        async with FakeApi(harness.workdir, **limits) as fake:
            pace = {"SEND_RATE_PER_SECOND": str(LIMIT)} if at_limit else {"PAID_BROADCAST": "true"}
            env = child_env(
                TELEGRAM_API_BASE_URL=fake.api_root,
                DATABASE_URL=url,
                LOG_LEVEL="WARNING",
                **pace,
            )
            args = ["nudges", "due", "--now", NOW.isoformat()]
            timeout = 300 + (2 * due / LIMIT if at_limit else due / 10)
            outputs = await asyncio.gather(
                *(
                    run_bot_command(args, env=env, workdir=harness.workdir, within=timeout)
                    for _ in range(2)
                )
            )
            stats = await fake.stats(per_chat=True)
        counts = await ledger(url)
    finally:
        await databases.drop(url)
    return list(outputs), stats, counts, population


def _reports(outputs: list[str]) -> list[list[int]]:
    reports = []
    for output in outputs:
        found = REPORT.search(output)
        if found is None:
            raise RuntimeError(f"a worker printed no report:\n{output[-2000:]}")
        reports.append([int(value) for value in found.groups()])
    return reports


async def run(harness: Harness) -> ScenarioResult:
    """Run a fast round and one at the limit with two workers; count what matters in each."""
    started = time.monotonic()
    result = ScenarioResult("workers")
    details: dict[str, Any] = {}
    due = harness.scale(10_000, 600)
    outputs, stats, counts, population = await _round(harness, due, at_limit=False)
    reports = _reports(outputs)
    stats.pop("per_chat", None)
    seen = tally(stats.pop("texts", {}), population.due_user_ids())
    sent = [report[1] for report in reports]
    share = 100 * min(sent) / max(1, sum(sent))
    result.add("fast: people due", due)
    result.add("fast: duplicates", seen.duplicates, target="0", met=seen.duplicates == 0)
    result.add("fast: not delivered", seen.lost, target="0", met=seen.lost == 0)
    result.add("fast: worker 1 sent", sent[0], "msg")
    result.add("fast: worker 2 sent", sent[1], "msg")
    result.add("fast: smaller worker's share", share, "%")
    result.add("fast: combined send rate", float(stats["mean_send_rate"]), "msg/s")
    errors = [line for out in outputs for line in out.splitlines() if "ERROR" in line]
    result.add("fast: errors the workers logged", len(errors), target="0", met=not errors)
    result.notes.append(
        "fast round, workers' reports (claimed, sent, already sent, dropped): "
        + "; ".join(", ".join(str(v) for v in report) for report in reports)
        + f"; ledger {counts}"
    )
    details["fast"] = {"reports": reports, "stats": stats, "ledger": counts, "tally": asdict(seen)}

    # Several 500-row batches, so both workers get some of the round.
    due = harness.scale(3_000, 1_200)
    outputs, stats, counts, population = await _round(harness, due, at_limit=True)
    reports = _reports(outputs)
    stats.pop("per_chat", None)
    seen = tally(stats.pop("texts", {}), population.due_user_ids())
    rate = float(stats["mean_send_rate"])
    result.add("at the limit: people due", due)
    result.add("at the limit: combined send rate", rate, "msg/s")
    result.add(
        "at the limit: 429s received",
        stats["rejected_429"],
        target="0",
        met=stats["rejected_429"] == 0,
    )
    result.add("at the limit: duplicates", seen.duplicates, target="0", met=seen.duplicates == 0)
    result.add("at the limit: not delivered", seen.lost, target="0", met=seen.lost == 0)
    sent = [report[1] for report in reports]
    result.add("at the limit: worker 1 sent", sent[0], "msg")
    result.add("at the limit: worker 2 sent", sent[1], "msg")
    details["at_limit"] = {"reports": reports, "stats": stats, "ledger": counts}
    result.details = details
    result.seconds = time.monotonic() - started
    return result
