"""One runner for every scheduled kind: send concurrently, record results in groups, safely."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.failures import is_unavailable, summarise
from bot.db.engine import Sessions
from bot.outbox.messages import Outcome, Outgoing, Sender, SendResult

log = logging.getLogger(__name__)

Item = TypeVar("Item")


@dataclass(frozen=True)
class RunnerConfig:
    """How far sending may run ahead of recording, and how results are grouped per commit.

    Results are recorded together while they keep arriving within `record_gap` of each other,
    up to `record_group` of them or `record_linger` after the first: at a slow pace every result
    is committed at once, at a fast one a commit serves many. A group also closes once it holds
    half of the `concurrency` slots: a result waiting for its commit keeps its slot, and a group
    waiting for the rest would leave nothing sending until the linger ran out.
    """

    concurrency: int = 64
    record_group: int = 200
    record_gap: timedelta = timedelta(milliseconds=2)
    record_linger: timedelta = timedelta(milliseconds=20)


@dataclass(frozen=True)
class Sent(Generic[Item]):
    """One item of a round with how its send ended."""

    item: Item
    result: SendResult


@dataclass(frozen=True)
class _Pending(Generic[Item]):
    sent: Sent[Item]
    recorded: asyncio.Future[None]


async def each(items: Iterable[Item]) -> AsyncGenerator[Item, None]:
    """Hand over items that are all ready already."""
    for item in items:
        yield item


class Runner(Generic[Item]):
    """Send a round's messages and record each result; a kind supplies what to say and record.

    A send keeps its slot until its result is committed, so however far sending runs ahead of
    the database, a crash leaves at most `concurrency` messages sent but not recorded (those
    are the ones sent again once their lease ends). When recording fails, nothing more is sent.
    """

    def __init__(
        self,
        *,
        sessions: Sessions,
        sender: Sender,
        message_of: Callable[[Item], Outgoing],
        record: Callable[[AsyncSession, Sequence[Sent[Item]]], Awaitable[None]],
        config: RunnerConfig | None = None,
        what: str = "message",
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.message_of = message_of
        self.record = record
        self.config = config or RunnerConfig()
        self.what = what

    async def run(self, items: AsyncGenerator[Item, None]) -> None:
        """Send every item as it becomes ready, and record the results; raise what failed."""
        results: asyncio.Queue[_Pending[Item] | None] = asyncio.Queue()
        gate = asyncio.Semaphore(self.config.concurrency)
        loop = asyncio.get_running_loop()

        async def send(item: Item) -> None:
            try:
                try:
                    result = await self.sender.send(self.message_of(item))
                except Exception as error:
                    log.error("sending a %s failed unexpectedly: %s", self.what, summarise(error))
                    result = SendResult(Outcome.RETRY)
                recorded = loop.create_future()
                results.put_nowait(_Pending(Sent(item, result), recorded))
                await recorded
            finally:
                gate.release()

        broken = asyncio.Event()
        recorder = asyncio.create_task(self._record(results, broken))
        failure: Exception | None = None
        try:
            async with asyncio.TaskGroup() as group, contextlib.aclosing(items) as ready:
                try:
                    async for item in ready:
                        await gate.acquire()
                        if broken.is_set():
                            gate.release()
                            break  # results can't be recorded: send nothing more
                        group.create_task(send(item))
                except Exception as error:
                    # What is already on its way still gets sent and recorded; then report it.
                    failure = error
        finally:
            await results.put(None)
            await recorder
        if failure is not None:
            raise failure

    async def _record(
        self, results: asyncio.Queue[_Pending[Item] | None], broken: asyncio.Event
    ) -> None:
        failure: Exception | None = None
        done = False
        while not done:
            group = await self._gather(results)
            done = None in group
            pending = [entry for entry in group if entry is not None]
            try:
                if pending and failure is None:
                    async with self.sessions.begin() as session:
                        await self.record(session, [entry.sent for entry in pending])
            except Exception as error:
                # Unrecorded rows stay claimed and are retried after their lease. The failure is
                # raised to the tick's error handler, which logs it without what people wrote.
                if not is_unavailable(error):
                    log.warning("recording %s results failed: %s", self.what, summarise(error))
                failure = error
                broken.set()
            finally:
                for entry in pending:
                    if not entry.recorded.done():
                        entry.recorded.set_result(None)  # never leave a sender waiting
        if failure is not None:
            raise failure

    async def _gather(
        self, results: asyncio.Queue[_Pending[Item] | None]
    ) -> list[_Pending[Item] | None]:
        """Wait for a result, then take the ones that follow quickly, for one commit."""
        group = [await results.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.record_linger.total_seconds()
        gap = self.config.record_gap.total_seconds()
        # Every result waiting here holds a slot: with half of them in, the other half sends.
        limit = max(1, min(self.config.record_group, self.config.concurrency // 2))
        while len(group) < limit and group[-1] is not None:
            if not results.empty():
                group.append(results.get_nowait())
                continue
            wait = min(gap, deadline - loop.time())
            if wait <= 0:
                break
            try:
                async with asyncio.timeout(wait):
                    group.append(await results.get())
            except TimeoutError:
                break
        return group
