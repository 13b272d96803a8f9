"""Updates in: store what Telegram sends in the inbox, then hand it to the handlers.

Long polling asks Telegram for the next batch only once the last one is committed to the
inbox, and webhook requests (bot/telegram/webhook.py) are answered only after the commit, so a
crash or restart loses nothing. The inbox's dispatcher (bot/inbox/dispatch.py) then feeds each
stored update to the Application's `process_update`; the error handler tells it, through
`Attempt`, whether handling failed unexpectedly, so the update is tried again or parked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Bot, Update
from telegram.error import Conflict, NetworkError, TelegramError

from bot.inbox import effects
from bot.inbox.dispatch import DispatchConfig, Dispatcher, Handle
from bot.inbox.leader import PollingLock
from bot.inbox.store import Arrival, Claimed, InboxStore, arrival_of
from bot.settings import Settings
from bot.telegram.context import services_of

log = logging.getLogger(__name__)

LOCK_RETRY_SECONDS = 5.0
BATCH = 100  # the most getUpdates returns at once


@dataclass
class Attempt:
    """One try at handling a stored update; the error handler notes an unexpected failure."""

    final: bool
    failure: str | None = None


# Set around `process_update`: handlers run in the same task, so the error handler sees it.
current_attempt: ContextVar[Attempt | None] = ContextVar("current_attempt", default=None)


def chat_key_of(update: Update) -> int | None:
    """Return the chat whose updates are handled in order (the person's, without a chat)."""
    chat = update.effective_chat
    if chat is not None:
        return chat.id
    user = update.effective_user
    return user.id if user is not None else None


def arrival_from_json(raw: dict[str, Any], bot: Bot) -> Arrival:
    """Describe an update Telegram sent as JSON (a webhook body) for the inbox."""
    update = Update.de_json(raw, bot)
    return arrival_of(raw, chat_key=chat_key_of(update))


def arrival_from_update(update: Update) -> Arrival:
    """Describe an update fetched with getUpdates for the inbox."""
    return arrival_of(update.to_dict(), chat_key=chat_key_of(update))


# Commands that only show something or start over: running one twice does no harm.
REPEATABLE_COMMANDS = frozenset({"start", "help", "settings", "privacy", "subscription"})


def repeatable(update: Update) -> bool:
    """Tell whether handling this update twice does no harm.

    A payment is recorded once by its charge id and a checkout answer is taken once by
    Telegram, so both are safe to repeat; so is a change of membership (blocked, unblocked),
    and the commands above. Typed answers, button presses and the other commands are not: a
    typed answer handled twice would be read as the answer to the next step.
    """
    if update.pre_checkout_query is not None or update.my_chat_member is not None:
        return True
    message = update.message
    if message is None:
        return False
    if message.successful_payment is not None:
        return True
    text = message.text or ""
    if not text.startswith("/"):
        return False
    command = text[1:].split(maxsplit=1)[0].split("@", 1)[0] if len(text) > 1 else ""
    return command.lower() in REPEATABLE_COMMANDS


def handler_for(application: Any) -> Handle:
    """Return how the dispatcher hands one stored update to the Application."""

    async def handle(claimed: Claimed, final: bool) -> str | None:
        update = Update.de_json(json.loads(claimed.payload), application.bot)
        if claimed.saved_changes and not repeatable(update):
            # An earlier try saved its changes, then died or broke: doing it again would
            # repeat them (its remaining replies are what is lost, never a second effect).
            log.warning(
                "update %s: an earlier try saved its changes before stopping; not repeated",
                claimed.update_id,
            )
            return None
        attempt = Attempt(final=final)
        token = current_attempt.set(attempt)
        row = effects.handling.set(claimed.id)
        try:
            await application.process_update(update)
        finally:
            effects.handling.reset(row)
            current_attempt.reset(token)
        return attempt.failure

    return handle


def dispatcher_for(application: Any, settings: Settings) -> Dispatcher:
    """Build the dispatcher that feeds this Application from its inbox."""
    return Dispatcher(
        services_of(application).inbox,
        handler_for(application),
        DispatchConfig(
            concurrency=settings.inbox_concurrency, poll_interval=settings.inbox_poll_seconds
        ),
    )


class Poller:
    """Long polling that asks for the next batch only after this one is in the inbox."""

    def __init__(
        self,
        bot: Bot,
        store: InboxStore,
        lock: PollingLock,
        *,
        timeout: int,
        on_stored: Callable[[], None],
        on_backlog: Callable[[bool], None] = lambda _: None,
    ) -> None:
        self.bot = bot
        self.store = store
        self.lock = lock
        self.timeout = timeout
        self.on_stored = on_stored
        self.on_backlog = on_backlog
        self.offset: int | None = None

    async def run(self) -> None:
        """Poll until cancelled; wait for the lock while another process polls."""
        told = False
        while True:
            try:
                polling = await self.lock.acquire()
            except (SQLAlchemyError, OSError) as error:
                log.warning("inbox: cannot reach the database to poll (%s)", type(error).__name__)
                polling = False
            if polling:
                break
            if not told:
                log.info(
                    "another process polls Telegram for this bot; this one handles the updates "
                    "it stores"
                )
                told = True
            await asyncio.sleep(LOCK_RETRY_SECONDS)
        if told:
            log.info("this process polls Telegram now")
        with contextlib.suppress(TelegramError):
            # Telegram refuses getUpdates while a webhook is set (PTB's own polling does this too).
            await self.bot.delete_webhook(drop_pending_updates=False)
        try:
            await self._poll()
        finally:
            self.on_backlog(False)
            await self.lock.release()

    async def _poll(self) -> None:
        conflicts = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self.offset,
                    limit=BATCH,
                    timeout=self.timeout,
                    allowed_updates=Update.ALL_TYPES,
                )
                conflicts = 0
            except Conflict:
                self.on_backlog(False)
                conflicts += 1
                if conflicts == 1:
                    log.warning(
                        "Telegram says another getUpdates runs for this bot (a process on "
                        "another database, or a webhook); waiting"
                    )
                await asyncio.sleep(min(2.0 * conflicts, 30.0))
                continue
            except NetworkError as error:
                self.on_backlog(False)
                log.warning("polling: network trouble (%s); retrying", type(error).__name__)
                await asyncio.sleep(1.0)
                continue
            except TelegramError as error:
                self.on_backlog(False)
                log.warning("polling: Telegram refused getUpdates (%s)", type(error).__name__)
                await asyncio.sleep(5.0)
                continue
            # A full batch means more wait at Telegram: store them all before handling more.
            self.on_backlog(len(updates) >= BATCH)
            if not updates:
                if not self.timeout:
                    await asyncio.sleep(1.0)  # short polling: ask once a second, not in a loop
                continue
            await self._store([arrival_from_update(update) for update in updates])
            # Only now may Telegram forget them: the next getUpdates confirms this offset.
            self.offset = max(update.update_id for update in updates) + 1
            self.on_stored()

    async def _store(self, arrivals: list[Arrival]) -> None:
        failures = 0
        while True:
            try:
                await self.store.add(arrivals)
                return
            except (SQLAlchemyError, OSError) as error:
                failures += 1
                log.warning(
                    "inbox: cannot store %d updates (%s); Telegram keeps them meanwhile",
                    len(arrivals),
                    type(error).__name__,
                )
                await asyncio.sleep(min(0.5 * 2**failures, 10.0))

    async def confirm(self) -> None:
        """Tell Telegram the last stored batch arrived, so a restart doesn't fetch it again."""
        if self.offset is None:
            return
        with contextlib.suppress(TelegramError):
            await self.bot.get_updates(offset=self.offset, timeout=0, limit=1)


def stop_on_signals(stop: asyncio.Event) -> None:
    """Set `stop` on SIGINT and SIGTERM (a clean stop; in-flight updates finish)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def started(application: Any) -> Dispatcher:
    """Initialise the Application, its jobs and the inbox's dispatcher."""
    settings = services_of(application).settings
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    services = services_of(application)
    if not services.polling_lock.shared:
        # One process on SQLite: claims left by a killed run are this process's to take now.
        await services.inbox.release(everyone=True)
    dispatcher = dispatcher_for(application, settings)
    await dispatcher.start()
    return dispatcher


async def stopped(application: Any, dispatcher: Dispatcher) -> None:
    """Let in-flight updates finish, then stop the jobs and close everything."""
    await dispatcher.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


async def serve_polling(application: Any, stop: asyncio.Event | None = None) -> None:
    """Run the bot with long polling until SIGINT/SIGTERM (or `stop`)."""
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    services = services_of(application)
    dispatcher = await started(application)
    poller = Poller(
        application.bot,
        services.inbox,
        services.polling_lock,
        timeout=services.settings.polling_timeout_seconds,
        on_stored=dispatcher.wake,
        on_backlog=lambda draining: (
            dispatcher.hold_normal() if draining else dispatcher.resume_normal()
        ),
    )
    polling = asyncio.create_task(poller.run(), name="inbox-poller")
    try:
        await _until(stop, polling)
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        await poller.confirm()
        await stopped(application, dispatcher)


async def _until(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({stopping, task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
