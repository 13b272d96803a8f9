"""The one place errors are answered: domain errors kindly, the unexpected logged without
what people wrote."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

from bot.core.errors import DomainError
from bot.core.failures import is_unavailable, summarise
from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import Undelivered, refuse_button, reply
from bot.telegram.inbound import current_attempt

log = logging.getLogger(__name__)

# What a person hears when the database could not take what they sent.
TRY_AGAIN = "errors.try_again"


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
    """Answer whatever went wrong; never fail, and never log what people wrote."""
    update_id = update.update_id if isinstance(update, Update) else None
    try:
        await _answer(update, context, update_id)
    except Exception as failed:
        # The handler of last resort: anything raised here would only reach PTB's own log.
        log.error("update %s: answering an error failed too: %s", update_id, summarise(failed))


async def _answer(update: object, context: BotContext, update_id: int | None) -> None:
    error = context.error
    if error is None:
        return
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
    if isinstance(error, BadRequest):
        # A subclass of NetworkError in python-telegram-bot, but Telegram answered: it refused
        # the request (too long, a button answered twice), which waiting will not change.
        log.warning("update %s: Telegram refused a request: %s", update_id, type(error).__name__)
        return
    if isinstance(error, NetworkError):
        log.warning(
            "update %s: network trouble talking to Telegram: %s", update_id, type(error).__name__
        )
        return
    unavailable = is_unavailable(error)
    if unavailable:
        # One line for the whole outage (ticks and updates meet it alike).
        context.services.outage.failed(error)
    attempt = current_attempt.get()
    if attempt is not None:
        # The parked row names the error's type for operators; exception texts may quote what
        # people wrote, so the log has only types and places (summarise) and the row only a type.
        attempt.failure = type(error).__name__
        if not attempt.final:
            # The inbox tries the update again later (the database may be back by then), and
            # parks it after its last attempt; only then is the person told something went wrong.
            if not unavailable:
                log.warning(
                    "update %s failed with %s; the inbox will try it again",
                    update_id,
                    summarise(error),
                )
            return
    if unavailable:
        await _apologise(update, context, update_id, TRY_AGAIN)
        return
    log.error("update %s failed with %s", update_id, summarise(error))
    await _apologise(update, context, update_id, "errors.unexpected")


async def _apologise(update: object, context: BotContext, update_id: int | None, key: str) -> None:
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    try:
        if update.callback_query is not None:
            await refuse_button(update, context, key)
        else:
            await reply(update, context, key)
    except (Undelivered, TelegramError):
        log.warning("update %s: could not send the apology either", update_id)
