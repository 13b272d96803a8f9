"""The one place unexpected errors are logged, without what people wrote."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, TelegramError

from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import Undelivered, reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    """Log an unexpected error by type and update id only, then apologise to the person."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
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
    log.error(
        "update %s failed with %s",
        update_id,
        type(error).__name__,
        exc_info=None if isinstance(error, TelegramError) else error,
    )
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await reply(update, context, "errors.unexpected")
        except (Undelivered, TelegramError):
            log.warning("update %s: could not send the apology either", update_id)
