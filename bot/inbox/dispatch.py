"""Hand stored updates to the bot: different chats at once, one chat in order, a fast lane.

Two lanes claim from the inbox independently: the normal lane with `concurrency` updates in
flight, and the fast lane (checkout queries) with its own few slots, so a backlog in one never
delays the other. An update whose handling raises is tried again with backoff and parked after
its last attempt; one that was handled is marked done, which lets its chat's next one go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from bot.db.inbox import InboxLane
from bot.inbox.store import Claimed, InboxStore

log = logging.getLogger(__name__)

# Handle one update; return None when it was handled, else why not (an exception's type).
Handle = Callable[[Claimed, bool], Awaitable[str | None]]

FAST_CONCURRENCY = 4
PRUNE_EVERY = 60.0


@dataclass(frozen=True)
class DispatchConfig:
    """How many updates run at once and how often to look for work other processes stored."""

    concurrency: int = 16
    poll_interval: float = 0.5
    drain_timeout: float = 20.0


class Dispatcher:
    """Claim updates from the inbox and run them through `handle`, until stopped."""

    def __init__(self, store: InboxStore, handle: Handle, config: DispatchConfig) -> None:
        self.store = store
        self.handle = handle
        self.config = config
        self._wake = {InboxLane.NORMAL: asyncio.Event(), InboxLane.FAST: asyncio.Event()}
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._lanes: list[asyncio.Task[None]] = []
        # Cleared while Telegram still holds a backlog for us: the normal lane takes no new
        # work until it is all stored, so a checkout query deep in it is stored (and answered)
        # in a second rather than after everything before it was handled.
        self._normal_may_claim = asyncio.Event()
        self._normal_may_claim.set()

    def hold_normal(self) -> None:
        """Take no new normal updates for now (the poller is draining a backlog)."""
        self._normal_may_claim.clear()

    def resume_normal(self) -> None:
        """Take normal updates again."""
        self._normal_may_claim.set()
        self._wake[InboxLane.NORMAL].set()

    def wake(self) -> None:
        """Look for work now (new updates were stored, or a chat's update was settled)."""
        for event in self._wake.values():
            event.set()

    async def start(self) -> None:
        """Start both lanes and the pruning of handled rows."""
        self._stopping.clear()
        self._lanes = [
            asyncio.create_task(self._lane(InboxLane.FAST, FAST_CONCURRENCY), name="inbox-fast"),
            asyncio.create_task(
                self._lane(InboxLane.NORMAL, self.config.concurrency), name="inbox-normal"
            ),
            asyncio.create_task(self._prune(), name="inbox-prune"),
        ]

    async def stop(self) -> None:
        """Claim nothing more, let what runs finish (up to the drain time), give back the rest."""
        self._stopping.set()
        self.wake()
        for task in self._lanes:
            task.cancel()
        for task in self._lanes:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._lanes = []
        if self._running:
            _done, late = await asyncio.wait(self._running, timeout=self.config.drain_timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        with contextlib.suppress(SQLAlchemyError, OSError):
            await self.store.release()

    async def drain(self) -> None:
        """Wait until no update is being handled (for tests and one-off runs)."""
        while self._running:
            await asyncio.wait(set(self._running))

    async def _lane(self, lane: InboxLane, slots: int) -> None:
        wake = self._wake[lane]
        running: set[asyncio.Task[None]] = set()
        failures = 0
        while not self._stopping.is_set():
            if lane is InboxLane.NORMAL and not self._normal_may_claim.is_set():
                await self._normal_may_claim.wait()
            wake.clear()
            claimed: list[Claimed] = []
            free = slots - len(running)
            if free > 0:
                try:
                    claimed = await self.store.claim(lane, free)
                    failures = 0
                except (SQLAlchemyError, OSError) as error:
                    failures += 1
                    log.warning("inbox: cannot claim updates (%s)", type(error).__name__)
                    await asyncio.sleep(min(0.5 * 2**failures, 10.0))
                    continue
            for row in claimed:
                task = asyncio.create_task(self._run(row, lane))
                running.add(task)
                self._running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(self._running.discard)
            if claimed and len(claimed) == free:
                continue  # more may be waiting: look again at once
            waiting = asyncio.create_task(wake.wait())
            try:
                await asyncio.wait(
                    {waiting, *running},
                    timeout=self.config.poll_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiting.cancel()

    async def _run(self, claimed: Claimed, lane: InboxLane) -> None:
        try:
            reason = await self.handle(claimed, self.store.final(claimed))
        except Exception as error:  # the handling itself broke: retry like any failure
            reason = type(error).__name__
        try:
            if reason is None:
                await self.store.finish(claimed)
            elif await self.store.fail(claimed, reason):
                log.error(
                    "inbox: update %s parked after %s attempts (%s)",
                    claimed.update_id,
                    claimed.attempts,
                    reason,
                )
            else:
                log.warning(
                    "inbox: update %s failed (%s); trying again later", claimed.update_id, reason
                )
        except (SQLAlchemyError, OSError) as error:
            # The lease runs out and the update is tried again: nothing is lost.
            log.warning(
                "inbox: cannot settle update %s (%s)", claimed.update_id, type(error).__name__
            )
        self._wake[lane].set()  # the chat's next update may go now

    async def _prune(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY)
            try:
                await self.store.prune()
            except (SQLAlchemyError, OSError) as error:
                log.warning("inbox: cannot prune handled updates (%s)", type(error).__name__)
