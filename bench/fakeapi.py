"""Run the fake Bot API in a process of its own, so its CPU never counts against the bot.

`python -m bench.fakeapi --token T [--global-rate 30 --per-chat-rate 1] [--latency 0.08]`
prints one JSON line, `{"port": ..., "control_port": ...}`, then serves until SIGTERM (or
`--max-seconds`). The control port answers `GET /stats` (add `?per_chat=1` for every chat's
count of accepted sends), `POST /reset` and `POST /inject` (people writing to the bot: a
backlog of updates, see `inject`). `--latency` holds every answer but getUpdates that long,
like a Bot API far away. On SIGTERM the final stats go to `--stats-file` when given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.botapi import FakeBotApi


class TimedFakeBotApi(FakeBotApi):
    """The fake, noting when each pre-checkout query was put in and answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checkouts_in: dict[str, float] = {}
        self.checkout_latencies: list[float] = []

    async def _answer_pre_checkout_query(self, params: dict[str, Any], files: Any) -> Any:
        result = await super()._answer_pre_checkout_query(params, files)
        asked = self.checkouts_in.pop(str(params.get("pre_checkout_query_id")), None)
        if asked is not None:
            self.checkout_latencies.append(time.monotonic() - asked)
        return result


async def inject(api: TimedFakeBotApi, plan: dict[str, Any]) -> dict[str, Any]:
    """Put a backlog in: each of `users` people sends `texts`; `checkouts` queries among them.

    People are numbered from `first_user`; the checkout queries are spread evenly through the
    backlog, so most of them arrive behind many updates.
    """
    first, users = int(plan.get("first_user", 1000)), int(plan["users"])
    texts = [str(text) for text in plan.get("texts", ["/start"])]
    checkouts = int(plan.get("checkouts", 0))
    every = max(1, users // checkouts) if checkouts else 0
    for n in range(users):
        user = api.user(first + n, f"P{first + n}")
        for text in texts:
            await user.send_text(text)
        if every and n % every == every - 1 and len(api.checkouts_in) < checkouts:
            query = await user.pre_checkout("not-a-real-payload", "XTR", 250)
            api.checkouts_in[query] = time.monotonic()
    return {"updates": users * len(texts), "checkouts": len(api.checkouts_in)}


def snapshot(api: FakeBotApi, *, per_chat: bool) -> dict[str, Any]:
    """Describe what the fake accepted and refused so far, as JSON-ready values."""
    stats = api.stats
    counts = stats.sent_per_chat.values()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    data: dict[str, Any] = {
        "requests": stats.requests,
        "sent": stats.sent,
        "rejected_429": stats.rejected_429,
        "chats": len(stats.sent_per_chat),
        "duplicates": sum(count - 1 for count in counts if count > 1),
        "chats_with_duplicates": sum(1 for count in counts if count > 1),
        "first_sent_at": stats.first_sent_at,
        "last_sent_at": stats.last_sent_at,
        "mean_send_rate": stats.mean_send_rate,
        "peak_sends_per_second": stats.peak_sends_per_second,
        "peak_chat_sends_per_second": stats.peak_chat_sends_per_second,
        "by_method": dict(stats.by_method),
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_rss_kib": usage.ru_maxrss,
        "monotonic": time.monotonic(),
        "pending_updates": api.pending_updates,
    }
    if isinstance(api, TimedFakeBotApi):
        data["checkout_latencies"] = list(api.checkout_latencies)
    if per_chat:
        data["per_chat"] = {str(chat): count for chat, count in stats.sent_per_chat.items()}
        data["texts"] = {
            str(chat): [message.text or "" for message in api.messages_to(int(chat))]
            for chat in stats.sent_per_chat
            if isinstance(chat, int) or str(chat).lstrip("-").isdigit()
        }
    return data


def _write(path: Path, stats: dict[str, Any]) -> None:
    path.write_text(json.dumps(stats))


async def serve(args: argparse.Namespace) -> None:
    """Start the fake and its control endpoint; stop on SIGTERM/SIGINT or after max seconds."""
    api = TimedFakeBotApi(
        args.token,
        global_rate=args.global_rate,
        per_chat_rate=args.per_chat_rate,
        record_calls=False,
    )

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(snapshot(api, per_chat=request.query.get("per_chat") == "1"))

    async def reset(_: web.Request) -> web.Response:
        api.reset_stats()
        return web.json_response({"ok": True})

    async def put_in(request: web.Request) -> web.Response:
        return web.json_response(await inject(api, await request.json()))

    if args.latency > 0:
        for name in list(api._handlers):
            if name != "getupdates":
                api.delay_next(name, args.latency, times=10**12)

    control = web.Application()
    control.router.add_get("/stats", stats)
    control.router.add_post("/reset", reset)
    control.router.add_post("/inject", put_in)
    runner = web.AppRunner(control, access_log=None, handle_signals=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await api.start()
    try:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        control_port = int(runner.addresses[0][1])
        print(json.dumps({"port": api.port, "control_port": control_port}), flush=True)
        try:
            await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)
        except TimeoutError:
            print("fake Bot API: --max-seconds reached, stopping", file=sys.stderr)
        if args.stats_file is not None:
            _write(Path(args.stats_file), snapshot(api, per_chat=True))
    finally:
        await runner.cleanup()
        await api.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.fakeapi")
    parser.add_argument("--token", required=True)
    parser.add_argument("--global-rate", type=float, default=None)
    parser.add_argument("--per-chat-rate", type=float, default=None)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--stats-file", default=None)
    parser.add_argument("--max-seconds", type=float, default=3 * 3600)
    asyncio.run(serve(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
