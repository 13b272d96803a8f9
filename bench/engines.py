"""The queue alone: procrastinate against the inbox, on the same PostgreSQL, with no-op work.

`PYTHONPATH=<procrastinate installed here> python -m bench.engines [--jobs 2000] [--chats 200]`
stores `jobs` jobs spread over `chats` chats (procrastinate: one `lock` per chat, so a chat's
jobs run one at a time in order; the inbox: its per-chat claim), then runs them with 16 at a
time until none is left, and prints jobs/s for storing and for running. procrastinate is not a
dependency of the bot: install it (`pip install procrastinate`) to run this comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from bench.population import pg_admin, pg_url
from bot.core.clock import SystemClock
from bot.db.engine import create_engine, create_sessions
from bot.db.inbox import InboxLane
from bot.db.migrate import upgrade
from bot.inbox.dispatch import DispatchConfig, Dispatcher
from bot.inbox.store import Claimed, InboxStore, arrival_of

CONCURRENCY = 16


async def inbox(url: str, jobs: int, chats: int) -> dict[str, float]:
    """Store and run `jobs` no-op updates through the inbox."""
    engine = create_engine(url)
    store = InboxStore(create_sessions(engine), SystemClock())
    arrivals = [
        arrival_of({"update_id": n, "message": {"chat": {"id": n % chats}}}, chat_key=n % chats)
        for n in range(1, jobs + 1)
    ]
    started = time.monotonic()
    for first in range(0, jobs, 100):  # as long polling stores them: a batch of 100 at a time
        await store.add(arrivals[first : first + 100])
    stored = time.monotonic() - started
    done = asyncio.Event()
    handled = 0

    async def handle(claimed: Claimed, final: bool) -> str | None:
        nonlocal handled
        handled += 1
        if handled == jobs:
            done.set()
        return None

    dispatcher = Dispatcher(store, handle, DispatchConfig(concurrency=CONCURRENCY))
    started = time.monotonic()
    await dispatcher.start()
    await done.wait()
    await dispatcher.stop()
    ran = time.monotonic() - started
    assert await store.pending() == 0 and not await store.claim(InboxLane.NORMAL, 1)
    await engine.dispose()
    return {"store_per_s": jobs / stored, "run_per_s": jobs / ran}


async def procrastinate_run(url: str, jobs: int, chats: int) -> dict[str, float]:
    """Defer and run `jobs` no-op jobs with one procrastinate lock per chat."""
    import procrastinate  # type: ignore[import-not-found]  # not a dependency of the bot

    conninfo = url.replace("postgresql+asyncpg://", "postgresql://")
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    handled = 0
    done = asyncio.Event()

    @app.task(name="handle_update", queue="updates")  # type: ignore[untyped-decorator]
    async def handle_update(update_id: int) -> None:
        nonlocal handled
        handled += 1
        if handled == jobs:
            done.set()

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        by_chat: dict[int, list[dict[str, int]]] = {}
        for n in range(1, jobs + 1):
            by_chat.setdefault(n % chats, []).append({"update_id": n})
        started = time.monotonic()
        for chat, batch in by_chat.items():
            await handle_update.configure(lock=f"chat-{chat}").batch_defer_async(*batch)
        stored = time.monotonic() - started
        started = time.monotonic()
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=["updates"],
                concurrency=CONCURRENCY,
                install_signal_handlers=False,
                # Jobs held back by a lock are found by polling: as often as is sensible.
                fetch_job_polling_interval=0.05,
            )
        )
        await done.wait()
        ran = time.monotonic() - started
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    assert handled == jobs, handled
    return {"store_per_s": jobs / stored, "run_per_s": jobs / ran}


async def main_async(jobs: int, chats: int) -> dict[str, object]:
    """Measure both on fresh databases and return the figures."""
    figures: dict[str, object] = {"jobs": jobs, "chats": chats, "at": datetime.now(UTC).isoformat()}
    for name, runner in (("inbox", inbox), ("procrastinate", procrastinate_run)):
        database = f"engines_{uuid.uuid4().hex[:10]}"
        await pg_admin(f'CREATE DATABASE "{database}"')
        try:
            url = pg_url(database)
            if name == "inbox":
                await asyncio.to_thread(upgrade, url)
            figures[name] = await runner(url, jobs, chats)
        finally:
            await pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, measure, print one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.engines")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(main_async(args.jobs, args.chats))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
