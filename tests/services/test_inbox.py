"""The inbox: stored once, each chat in order and one at a time, retried, parked, a fast lane."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.core.clock import FixedClock
from bot.db.engine import Sessions, create_engine, create_sessions
from bot.db.inbox import InboxLane, InboxStatus, InboxUpdate
from bot.inbox.dispatch import DispatchConfig, Dispatcher, Handle
from bot.inbox.store import DEDUP_WINDOW, Arrival, Claimed, InboxStore, Policy, arrival_of

POLICY = Policy(max_attempts=3, first_backoff=timedelta(seconds=2))


def message(update_id: int, chat: int, text: str = "hello") -> Arrival:
    """Return a private message from `chat` as it arrives."""
    raw = {
        "update_id": update_id,
        "message": {"message_id": update_id, "chat": {"id": chat}, "text": text},
    }
    return arrival_of(raw, chat_key=chat)


def checkout(update_id: int, user: int) -> Arrival:
    """Return a pre-checkout query as it arrives."""
    raw = {"update_id": update_id, "pre_checkout_query": {"id": f"q{update_id}", "from": {}}}
    return arrival_of(raw, chat_key=user)


async def rows(sessions: Sessions) -> list[InboxUpdate]:
    async with sessions() as session:
        return list((await session.exec(select(InboxUpdate).order_by(col(InboxUpdate.id)))).all())


async def test_an_update_stored_twice_is_kept_once(sessions: Sessions, clock: FixedClock) -> None:
    store = InboxStore(sessions, clock, POLICY)
    assert await store.add([message(10, 1), message(11, 2)]) == 2
    assert await store.add([message(11, 2), message(12, 1)]) == 1
    claimed = await store.claim(InboxLane.NORMAL, 10)
    assert [c.update_id for c in claimed] == [10, 11]
    await store.finish(claimed[0])
    # Handled and delivered again (a webhook answer lost on the way): still ignored.
    assert await store.add([message(10, 1)]) == 0


async def test_a_chat_waits_for_its_previous_update(sessions: Sessions, clock: FixedClock) -> None:
    store = InboxStore(sessions, clock, POLICY)
    await store.add([message(1, 100), message(2, 100), message(3, 200), message(4, 100)])
    first = await store.claim(InboxLane.NORMAL, 10)
    assert [c.update_id for c in first] == [1, 3]
    assert await store.claim(InboxLane.NORMAL, 10) == []  # 2 and 4 wait for 1
    await store.finish(first[0])
    assert [c.update_id for c in await store.claim(InboxLane.NORMAL, 10)] == [2]


async def test_a_handled_update_keeps_no_words(sessions: Sessions, clock: FixedClock) -> None:
    store = InboxStore(sessions, clock, POLICY)
    await store.add([message(1, 100, "a secret answer")])
    [claimed] = await store.claim(InboxLane.NORMAL, 1)
    assert json.loads(claimed.payload)["message"]["text"] == "a secret answer"
    await store.finish(claimed)
    [row] = await rows(sessions)
    assert (row.status, row.payload) == (InboxStatus.DONE, None)
    clock.advance(DEDUP_WINDOW + timedelta(seconds=1))
    assert await store.prune() == 1
    assert await rows(sessions) == []


async def test_a_failing_update_is_retried_with_backoff_then_parked(
    sessions: Sessions, clock: FixedClock
) -> None:
    store = InboxStore(sessions, clock, POLICY)
    await store.add([message(1, 100), message(2, 100), message(3, 200)])
    [first, other] = await store.claim(InboxLane.NORMAL, 10)
    await store.finish(other)
    assert await store.fail(first, "OperationalError") is False
    # Waiting for its retry, it holds its chat's later update back: order is kept.
    assert await store.claim(InboxLane.NORMAL, 10) == []
    clock.advance(timedelta(seconds=2))
    [again] = await store.claim(InboxLane.NORMAL, 10)
    assert (again.update_id, again.attempts) == (1, 2)
    assert await store.fail(again, "OperationalError") is False
    clock.advance(timedelta(seconds=3))
    assert await store.claim(InboxLane.NORMAL, 10) == []  # 4 s backoff after the second try
    clock.advance(timedelta(seconds=1))
    [last] = await store.claim(InboxLane.NORMAL, 10)
    assert store.final(last)
    assert await store.fail(last, "OperationalError") is True
    # Parked, it no longer holds the person back.
    assert [c.update_id for c in await store.claim(InboxLane.NORMAL, 10)] == [2]
    [parked] = await store.parked()
    assert (parked.update_id, parked.attempts, parked.reason) == (1, 3, "OperationalError")
    assert await store.retry(parked.id) is True
    assert await store.parked() == []
    [retried] = await store.claim(InboxLane.NORMAL, 10)
    assert (retried.update_id, retried.attempts) == (1, 1)
    await store.fail(retried, "Boom")
    assert await store.retry(retried.id) is False  # not parked: nothing to retry
    assert await store.drop(retried.id) is False


async def test_parked_updates_can_be_dropped_and_are_forgotten_in_time(
    sessions: Sessions, clock: FixedClock
) -> None:
    store = InboxStore(sessions, clock, Policy(max_attempts=1, keep_parked=timedelta(days=7)))
    await store.add([message(1, 100), message(2, 100)])
    [one] = await store.claim(InboxLane.NORMAL, 10)
    await store.fail(one, "Boom")
    [two] = await store.claim(InboxLane.NORMAL, 10)
    await store.fail(two, "Boom")
    [first, second] = await store.parked()
    assert await store.drop(first.id) is True
    assert [row.update_id for row in await rows(sessions)] == [2]
    clock.advance(timedelta(days=7, seconds=1))
    assert await store.prune() == 1
    assert await rows(sessions) == []
    assert second.update_id == 2


async def test_checkout_queries_take_the_fast_lane_unordered(
    sessions: Sessions, clock: FixedClock
) -> None:
    store = InboxStore(sessions, clock, POLICY)
    await store.add([message(1, 100), checkout(2, 100), message(3, 100)])
    [fast] = await store.claim(InboxLane.FAST, 10)
    assert fast.update_id == 2 and fast.chat_key is None
    assert [c.update_id for c in await store.claim(InboxLane.NORMAL, 10)] == [1]


async def test_a_restart_on_one_process_takes_back_what_a_killed_run_held(
    sessions: Sessions, clock: FixedClock
) -> None:
    killed = InboxStore(sessions, clock, POLICY)
    await killed.add([message(1, 100)])
    assert len(await killed.claim(InboxLane.NORMAL, 10)) == 1
    restarted = InboxStore(sessions, clock, POLICY)
    assert await restarted.claim(InboxLane.NORMAL, 10) == []  # the lease still holds
    assert await restarted.release(everyone=True) == 1
    assert [c.update_id for c in await restarted.claim(InboxLane.NORMAL, 10)] == [1]


class Recorder:
    """A handler that records, per chat, what it handled and how many ran at once."""

    def __init__(self, expected: int, gate: asyncio.Event | None = None, busy: int = 0) -> None:
        self.expected = expected
        self.gate = gate
        self.busy = busy
        self.all_handled = asyncio.Event()
        self.all_busy = asyncio.Event()
        self.handled: dict[int | None, list[int]] = defaultdict(list)
        self.in_flight: dict[int | None, int] = defaultdict(int)
        self.overlaps = 0
        self.most_at_once = 0
        self.running = 0

    async def __call__(self, claimed: Claimed, final: bool) -> str | None:
        self.in_flight[claimed.chat_key] += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        if self.running == self.busy:
            self.all_busy.set()
        if claimed.chat_key is not None and self.in_flight[claimed.chat_key] > 1:
            self.overlaps += 1
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            self.handled[claimed.chat_key].append(claimed.update_id)
            if sum(map(len, self.handled.values())) == self.expected:
                self.all_handled.set()
        finally:
            self.in_flight[claimed.chat_key] -= 1
            self.running -= 1
        return None


async def settled(dispatcher: Dispatcher, event: asyncio.Event) -> None:
    """Wait for the handler's last update, then for the dispatcher to settle every one."""
    async with asyncio.timeout(30):
        await event.wait()
    await dispatcher.stop()
    assert await dispatcher.store.pending() == 0


async def test_chats_run_concurrently_each_in_order(sessions: Sessions, clock: FixedClock) -> None:
    store = InboxStore(sessions, clock, POLICY)
    chats = [100, 200, 300, 400]
    await store.add([message(n, chats[n % 4]) for n in range(1, 81)])
    gate = asyncio.Event()
    recorder = Recorder(80, gate, busy=4)
    dispatcher = Dispatcher(store, recorder, DispatchConfig(concurrency=8, poll_interval=0.05))
    await dispatcher.start()
    try:
        async with asyncio.timeout(30):
            await recorder.all_busy.wait()
        # Four chats, four at once: one per chat, however many slots are free.
        assert recorder.running == 4
        gate.set()
        await settled(dispatcher, recorder.all_handled)
    finally:
        await dispatcher.stop()
    assert recorder.overlaps == 0
    for index, chat in enumerate(chats):
        assert recorder.handled[chat] == [n for n in range(1, 81) if n % 4 == index]


async def test_a_checkout_is_handled_while_every_normal_slot_is_busy(
    sessions: Sessions, clock: FixedClock
) -> None:
    store = InboxStore(sessions, clock, POLICY)
    await store.add([message(n, 1000 + n) for n in range(1, 21)])
    gate = asyncio.Event()
    answered = asyncio.Event()
    handled: list[int] = []
    everything = asyncio.Event()

    async def handle(claimed: Claimed, final: bool) -> str | None:
        if claimed.chat_key is None:
            answered.set()
        else:
            await gate.wait()
        handled.append(claimed.update_id)
        if len(handled) == 21:
            everything.set()
        return None

    dispatcher = Dispatcher(store, handle, DispatchConfig(concurrency=4, poll_interval=0.05))
    await dispatcher.start()
    try:
        await store.add([checkout(99, 7)])
        dispatcher.wake()
        async with asyncio.timeout(10):
            await answered.wait()
        assert handled == [99]  # the four busy slots are still held
        gate.set()
        await settled(dispatcher, everything)
    finally:
        await dispatcher.stop()


async def test_an_update_that_raises_is_tried_again(sessions: Sessions, clock: FixedClock) -> None:
    store = InboxStore(sessions, clock, Policy(max_attempts=3, first_backoff=timedelta(0)))
    await store.add([message(1, 100), message(2, 100)])
    seen: list[tuple[int, bool]] = []
    second = asyncio.Event()

    async def handle(claimed: Claimed, final: bool) -> str | None:
        seen.append((claimed.update_id, final))
        if claimed.update_id == 1 and len(seen) < 3:
            raise RuntimeError("the database went away")
        if claimed.update_id == 2:
            second.set()
        return None

    dispatcher = Dispatcher(store, handle, DispatchConfig(concurrency=4, poll_interval=0.05))
    await dispatcher.start()
    try:
        await settled(dispatcher, second)
    finally:
        await dispatcher.stop()
    assert seen == [(1, False), (1, False), (1, True), (2, False)]


@pytest.mark.postgres
async def test_two_processes_never_handle_one_chat_at_once(
    postgres_url: str, clock: FixedClock
) -> None:
    engines = [create_engine(postgres_url) for _ in range(2)]
    stores = [InboxStore(create_sessions(engine), clock, POLICY) for engine in engines]
    recorder = Recorder(150)
    by_process = [0, 0]

    def counted(process: int) -> Handle:
        async def handle(claimed: Claimed, final: bool) -> str | None:
            by_process[process] += 1
            return await recorder(claimed, final)

        return handle

    dispatchers = [
        Dispatcher(store, counted(n), DispatchConfig(concurrency=8, poll_interval=0.01))
        for n, store in enumerate(stores)
    ]
    chats = [1, 2, 3]
    try:
        # Both are looking for work before any arrives, as running processes are.
        for dispatcher in dispatchers:
            await dispatcher.start()
        await stores[0].add([message(n, chats[n % 3]) for n in range(1, 151)])
        await settled(dispatchers[0], recorder.all_handled)
        await dispatchers[1].stop()
        assert await stores[1].pending() == 0
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
        for engine in engines:
            await engine.dispose()
    assert recorder.overlaps == 0
    assert min(by_process) > 0, by_process  # both processes took part
    for index, chat in enumerate(chats):
        assert recorder.handled[chat] == [n for n in range(1, 151) if n % 3 == index]


async def test_a_claim_takes_no_more_than_it_asks_for(
    sessions: Sessions, clock: FixedClock
) -> None:
    store = InboxStore(sessions, clock, POLICY)
    await store.add([message(n, 100 + n) for n in range(1, 31)])
    first = await store.claim(InboxLane.NORMAL, 3)
    await store.finish(first[0])
    second = await store.claim(InboxLane.NORMAL, 2)
    assert [c.update_id for c in first + second] == [1, 2, 3, 4, 5]
    assert len([row for row in await rows(sessions) if row.claim_token is not None]) == 4
