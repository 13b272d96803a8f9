"""Send outbound nudges through Telegram, paced under its limits, with retries that make sense."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.outbox.messages import Outcome, Outgoing, SendResult
from bot.outbox.pacing import Pacer

log = logging.getLogger(__name__)

TRANSIENT_RETRIES = 3
_UNREACHABLE_HINTS = ("chat not found", "user is deactivated", "bot was blocked")


def _button(label: str, target: str) -> InlineKeyboardButton:
    # An https target is a link (a video); anything else is callback data.
    if target.startswith("https://"):
        return InlineKeyboardButton(label, url=target)
    return InlineKeyboardButton(label, callback_data=target)


class TelegramSender:
    """A `Sender` that talks to the Bot API through python-telegram-bot."""

    def __init__(self, bot: Any, pacer: Pacer, *, backoff: float = 0.5) -> None:
        self.bot = bot
        self.pacer = pacer
        self.backoff = backoff

    async def send(self, message: Outgoing) -> SendResult:
        """Send one message; map Telegram's answers to what the scheduler should do."""
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup(
                [[_button(label, target) for label, target in row] for row in message.buttons]
            )
        transient = 0
        while True:
            await self.pacer.wait_turn(message.chat_id)
            try:
                sent = await self.bot.send_message(
                    message.chat_id, message.text, parse_mode=ParseMode.HTML, reply_markup=markup
                )
            except RetryAfter as error:
                seconds = error.retry_after
                wait = (
                    seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds)
                )
                self.pacer.pause(wait)
                continue
            except Forbidden:
                return SendResult(Outcome.BLOCKED)
            except BadRequest as error:
                if any(hint in error.message.lower() for hint in _UNREACHABLE_HINTS):
                    return SendResult(Outcome.BLOCKED)
                log.warning("Telegram refused a nudge: %s", type(error).__name__)
                return SendResult(Outcome.REJECTED)
            except (TimedOut, NetworkError) as error:
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    log.warning("giving up on a nudge for now: %s", type(error).__name__)
                    return SendResult(Outcome.RETRY)
                await asyncio.sleep(self.backoff * 2 ** (transient - 1))
                continue
            return SendResult(Outcome.SENT, sent.message_id)
