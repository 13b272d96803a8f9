"""The one place errors are answered: domain errors kindly, the unexpected logged without
what people wrote."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, TelegramError

from bot.core.errors import DomainError
from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import Undelivered, refuse_button, reply
from bot.telegram.inbound import current_attempt

log = logging.getLogger(__name__)


async def explain(update: Update, context: BotContext, problem: DomainError) -> None:
    """Answer an expected situation: an alert on the button pressed, else a message.

    Handlers that answer a press before they might meet a problem (menus, for instance)
    catch it themselves and reply: a press can be answered only once.
    """
    if update.callback_query is not None:
        await refuse_button(update, context, problem.key, **problem.values)
    elif update.effective_chat is not None:
        await reply(update, context, problem.key, **problem.values)
    else:
        log.info("update %s: %s, with nobody to tell", update.update_id, problem.key)


async def on_error(update: object, context: BotContext) -> None:
    """Explain a domain error; log anything else by type and update id only, and apologise."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, DomainError) and isinstance(update, Update):
        try:
            await explain(update, context, error)
        except (Undelivered, TelegramError) as failed:
            log.warning(
                "update %s: could not explain %s: %s", update_id, error.key, type(failed).__name__
            )
        return
    if isinstance(error, Undelivered):
        # The outbox waited and retried already; there is no way left to tell the person.
        log.warning(
            "update %s: a reply could not be delivered (%s)", update_id, error.outcome.value
        )
        return
    if isinstance(error, Forbidden):
        log.info("update %s: the person has blocked the bot", update_id)
        return
    if isinstance(error, NetworkError):
        log.warning(
            "update %s: network trouble talking to Telegram: %s", update_id, type(error).__name__
        )
        return
    # The exception text of a Telegram error may quote a message, so only its type is logged.
    reason = type(error).__name__
    attempt = current_attempt.get()
    if attempt is not None:
        # The inbox tries the update again later (the database may be back by then), and parks
        # it after its last attempt; only then is the person told something went wrong.
        attempt.failure = reason
        if not attempt.final:
            log.warning(
                "update %s failed with %s; the inbox will try it again",
                update_id,
                reason,
                exc_info=None if isinstance(error, TelegramError) else error,
            )
            return
    log.error(
        "update %s failed with %s",
        update_id,
        reason,
        exc_info=None if isinstance(error, TelegramError) else error,
    )
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await reply(update, context, "errors.unexpected")
        except (Undelivered, TelegramError):
            log.warning("update %s: could not send the apology either", update_id)
