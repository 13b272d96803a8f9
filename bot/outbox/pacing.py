"""Pace sends under Telegram's limits: an overall rate shared by the workers, and per chat."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time

from bot.outbox.messages import Priority

# How far back the Pacer still takes missed slots (seconds): a burst after a late wake-up is at
# most this long's worth of sends.
CATCH_UP = 0.02


class Pacer:
    """Keep under an overall rate and about one message per second per chat.

    Sends are spread evenly, one every 1/rate seconds, rather than burst: Telegram counts per
    second, and a burst at the start of a round is what trips it. Waiting senders queue in
    order and each slot is worked out when its turn comes, so a new share of the rate (another
    worker joined or left) holds from the very next send. A reply to someone's own action takes
    the next free slot ahead of every waiting bulk send, so nobody waits behind a fan-out.
    """

    def __init__(self, *, per_second: float, per_chat_interval: float = 1.0) -> None:
        self._per_second = per_second
        self._workers = 1
        self._per_chat_interval = per_chat_interval
        self._next_for_chat: dict[int, float] = {}
        self._paused_until = 0.0
        self._turns = _Turns()
        self._last_slot = -math.inf

    @property
    def rate(self) -> float:
        """Return this process's share of the overall rate in msg/s (0: not limited)."""
        return self._per_second / self._workers if self._per_second > 0 else 0.0

    def share(self, workers: int) -> None:
        """Take a 1/`workers` share of the overall rate: that many processes send for the bot."""
        self._workers = max(1, workers)

    def pause(self, seconds: float) -> None:
        """Hold every send for a while (Telegram asked us to, with retry_after)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def wait_turn(self, chat_id: int, priority: Priority = Priority.BULK) -> None:
        """Wait until a message to this chat may go out."""
        delay = self._paused_until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if self._per_chat_interval > 0:
            await self._chat_slot(chat_id, priority)
        if self._per_second > 0:
            await self._overall_slot(priority)

    async def _chat_slot(self, chat_id: int, priority: Priority) -> None:
        now = time.monotonic()
        ready = self._next_for_chat.get(chat_id, 0.0)
        if len(self._next_for_chat) > 10_000:
            self._forget_idle_chats()
        if priority is Priority.REPLY:
            # An answer to someone's own action goes at once: a person who taps a button expects
            # a reply, and Telegram lets a chat have a short burst. It went out now, so the next
            # scheduled send keeps its spacing from now; it must not queue behind a slot for
            # every reply too, or a lively conversation holds that chat's notifications back
            # for as many seconds as it had answers.
            self._next_for_chat[chat_id] = max(ready, now + self._per_chat_interval)
            return
        self._next_for_chat[chat_id] = max(now, ready) + self._per_chat_interval
        if ready > now:
            await asyncio.sleep(ready - now)

    async def _overall_slot(self, priority: Priority) -> None:
        await self._turns.acquire(priority)
        try:
            while True:
                interval = 1 / self.rate
                due = self._last_slot + interval
                now = time.monotonic()
                if due <= now:
                    # Slots missed in the last moment (a busy event loop wakes senders late) are
                    # still taken, back to back, so high rates hold; after an idle spell the
                    # next send simply goes now. At 30 msg/s that moment is one interval.
                    self._last_slot = due if now - due < max(interval, CATCH_UP) else now
                    return
                await asyncio.sleep(due - now)
        finally:
            self._turns.release()

    def _forget_idle_chats(self) -> None:
        now = time.monotonic()
        self._next_for_chat = {c: t for c, t in self._next_for_chat.items() if t > now}


class _Turns:
    """A lock whose waiters are served by priority, then in arrival order."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    async def acquire(self, priority: Priority) -> None:
        if not self._held:
            self._held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (int(priority), next(self._arrivals), turn))
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release()  # handed the turn just as it was cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, turn = heapq.heappop(self._waiting)
            if not turn.done():
                turn.set_result(None)  # the lock passes straight to the next in line
                return
        self._held = False
