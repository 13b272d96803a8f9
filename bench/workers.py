"""Two workers on PostgreSQL: two processes run the same round against one database.

Both are the operators' one-shot command, `python -m bot nudges due --now ...`, started at
the same moment; each claims batches with `FOR UPDATE SKIP LOCKED` until nothing is left.
Sending is fast (PAID_BROADCAST at 1000 msg/s each) and the fake Bot API has no limits.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict

from bench.harness import Harness
from bench.population import NOW, Population, ledger
from bench.procs import FakeApi, child_env, run_bot_command
from bench.results import ScenarioResult
from bench.tally import tally

REPORT = re.compile(r"claimed (\d+), sent (\d+), already sent (\d+), dropped (\d+)")


async def run(harness: Harness) -> ScenarioResult:
    """Run one round with two workers; count duplicates, losses and each worker's share."""
    started = time.monotonic()
    due = harness.scale(10_000, 600)
    population = Population(couples=due // 2, due_users=due)
    databases = harness.databases("postgresql")
    url = await databases.fresh(population)
    result = ScenarioResult("workers")
    try:
        async with FakeApi(harness.workdir) as fake:
            env = child_env(
                TELEGRAM_API_BASE_URL=fake.api_root,
                DATABASE_URL=url,
                PAID_BROADCAST="true",
                LOG_LEVEL="WARNING",
            )
            args = ["nudges", "due", "--now", NOW.isoformat()]
            timeout = 300 + due / 10
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
    reports = []
    for output in outputs:
        found = REPORT.search(output)
        if found is None:
            raise RuntimeError(f"a worker printed no report:\n{output[-2000:]}")
        reports.append([int(value) for value in found.groups()])
    stats.pop("per_chat", None)
    seen = tally(stats.pop("texts", {}), population.due_user_ids())
    sent = [report[1] for report in reports]
    share = 100 * min(sent) / max(1, sum(sent))
    result.add("people due", due)
    result.add("duplicates", seen.duplicates, target="0", met=seen.duplicates == 0)
    result.add("not delivered", seen.lost, target="0", met=seen.lost == 0)
    result.add("worker 1 sent", sent[0], "msg")
    result.add("worker 2 sent", sent[1], "msg")
    result.add("smaller worker's share", share, "%")
    result.add("combined send rate", float(stats["mean_send_rate"]), "msg/s")
    errors = [line for out in outputs for line in out.splitlines() if "ERROR" in line]
    result.add("errors the workers logged", len(errors), target="0", met=not errors)
    result.notes.append(
        "workers' reports (claimed, sent, already sent, dropped): "
        + "; ".join(", ".join(str(v) for v in report) for report in reports)
        + f"; ledger {counts}"
    )
    result.details = {"reports": reports, "stats": stats, "ledger": counts, "tally": asdict(seen)}
    result.seconds = time.monotonic() - started
    return result
