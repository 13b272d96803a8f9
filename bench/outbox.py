"""The outbox at paid-broadcast speed: its send path against a bare aiohttp loop.

`bench.outbox_proc outbox` (the bot as `python -m bot` builds it with
TELEGRAM_HTTP_TRANSPORT=aiohttp; a round sent through the outbox's `Runner` and the bot's
`TelegramSender`, every result group recorded and committed) and `bench.outbox_proc bare` (raw
`aiohttp.ClientSession.post` to sendMessage, same messages, same concurrency) run as separate
processes, alternating which goes first, against one fake Bot API process without limits; each
figure is the median of the rounds. The outbox runs unpaced (`Pacer(per_second=0)`) for its
own speed, then once more paced as PAID_BROADCAST paces it (1,000 msg/s), where what counts is
the rate the fake received.
"""

from __future__ import annotations

import time
from typing import Any

from bench.harness import Harness
from bench.population import Population
from bench.procs import FakeApi, child_env, run_json
from bench.results import ScenarioResult, median

TARGET_RATE = 1000.0  # msg/s: Telegram's paid-broadcast ceiling
TARGET_RATIO = 0.7
TARGET_SHARE = 0.95
TRANSPORT = "aiohttp"


async def _one(
    harness: Harness, fake: FakeApi, messages: int, which: str, *, paced: bool = False
) -> dict[str, Any]:
    settings = {
        "TELEGRAM_API_BASE_URL": fake.api_root,
        "TELEGRAM_HTTP_TRANSPORT": TRANSPORT,
        "LOG_LEVEL": "WARNING",
    }
    url = ""
    if which == "outbox":
        # A migrated database for the Runner's commits (the scratch table is made on the way).
        databases = harness.databases()
        url = await databases.fresh(Population(couples=1, due_users=1))
        settings["DATABASE_URL"] = url
        if paced:
            settings["PAID_BROADCAST"] = "true"
    args = [which, "--messages", str(messages)]
    if which == "outbox" and not paced:
        args.append("--unpaced")
    await fake.reset()
    try:
        result = await run_json(
            "bench.outbox_proc",
            args,
            env=child_env(**settings),
            workdir=harness.workdir,
            within=300 + messages / 50,
        )
    finally:
        if url:
            await harness.databases().drop(url)
    if result["sent"] != messages:
        raise RuntimeError(f"the {which} run sent {result['sent']} of {messages}: {result}")
    stats = await fake.stats()
    result["fake"] = {
        key: stats[key] for key in ("sent", "duplicates", "mean_send_rate", "peak_sends_per_second")
    }
    result["rate"] = result["sent"] / result["wall_seconds"] if result["wall_seconds"] else 0.0
    result["cpu_ms_per_message"] = 1000 * result["cpu_seconds"] / max(1, result["sent"])
    return result


async def run(harness: Harness) -> ScenarioResult:
    """Measure the outbox's send rate and CPU per message against a bare aiohttp loop."""
    started = time.monotonic()
    messages = harness.scale(20_000, 5_000)
    rounds = 3
    runs: dict[str, list[dict[str, Any]]] = {"outbox": [], "bare": [], "paced": []}
    async with FakeApi(harness.workdir) as fake:
        for number in range(rounds):
            order = ("outbox", "bare") if number % 2 == 0 else ("bare", "outbox")
            for which in order:
                runs[which].append(await _one(harness, fake, messages, which))
        runs["paced"].append(await _one(harness, fake, messages, "outbox", paced=True))
    result = ScenarioResult("outbox")
    outbox_rate = median([r["rate"] for r in runs["outbox"]])
    bare_rate = median([r["rate"] for r in runs["bare"]])
    outbox_cpu = median([r["cpu_ms_per_message"] for r in runs["outbox"]])
    bare_cpu = median([r["cpu_ms_per_message"] for r in runs["bare"]])
    ratio = outbox_rate / bare_rate if bare_rate else 0.0
    efficiency = bare_cpu / outbox_cpu if outbox_cpu else 0.0
    result.add("messages per run", messages)
    result.add(
        "outbox send rate (unpaced)",
        outbox_rate,
        "msg/s",
        target=f">= {TARGET_RATE:,.0f}",
        met=outbox_rate >= TARGET_RATE,
    )
    result.add("bare aiohttp loop send rate", bare_rate, "msg/s")
    target = f">= {TARGET_RATIO}"
    result.add("rate vs bare aiohttp", ratio, "x", target=target, met=ratio >= TARGET_RATIO)
    result.add("outbox CPU", outbox_cpu, "ms/msg")
    result.add("bare aiohttp CPU", bare_cpu, "ms/msg")
    result.add("CPU efficiency vs bare aiohttp", efficiency, "x")
    paced = runs["paced"][0]
    share = 100 * paced["fake"]["mean_send_rate"] / TARGET_RATE
    result.add("paid broadcast: rate the fake saw", paced["fake"]["mean_send_rate"], "msg/s")
    result.add(
        "paid broadcast: share of 1,000 msg/s",
        share,
        "%",
        target=f">= {TARGET_SHARE:.0%}",
        met=share >= 100 * TARGET_SHARE,
    )
    peak = paced["fake"]["peak_sends_per_second"]
    result.add("paid broadcast: most sends in any 1 s", peak, "msg")
    duplicates = sum(r["fake"]["duplicates"] for group in runs.values() for r in group)
    result.add("duplicates (all runs)", duplicates, target="0", met=not duplicates)
    result.notes.append(
        f"{messages:,} messages per run (half with two buttons), transport {TRANSPORT}, median "
        f"of {rounds} alternating runs each, results recorded on {harness.database}; "
        "CPU efficiency = bare CPU per message / the outbox's"
    )
    result.details = {"messages": messages, "database": harness.database, **runs}
    result.seconds = time.monotonic() - started
    return result
