"""The outbox's side that talks to the Bot API: paced, 429s waited out, failures retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import (
    Bot,
    InlineKeyboardMarkup,
    LabeledPrice,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.outbox.messages import Buttons, Edit, Invoice, Outcome, Outgoing, Priority, SendResult
from bot.outbox.pacing import Pacer
from bot.telegram.callbacks import inline_button

log = logging.getLogger(__name__)

TRANSIENT_RETRIES = 3
# deleteMessages takes at most 100 ids at a time.
DELETE_BATCH = 100
_UNREACHABLE_HINTS = ("chat not found", "user is deactivated", "bot was blocked")
# An edit that changes nothing, or of a message that is gone, has nothing left to do.
_EDIT_SETTLED_HINTS = ("message is not modified",)


def markup_of(buttons: Buttons) -> InlineKeyboardMarkup | None:
    """Build Telegram's inline keyboard from rows of (label, target)."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[inline_button(label, target) for label, target in row] for row in buttons]
    )


def _seconds(retry_after: Any) -> float:
    return float(
        retry_after.total_seconds() if hasattr(retry_after, "total_seconds") else retry_after
    )


class TelegramSender:
    """The outbox's `Carrier`: every message, edit, deletion and invoice link the bot makes."""

    def __init__(self, bot: Bot, pacer: Pacer, *, backoff: float = 0.5) -> None:
        self.bot = bot
        self.pacer = pacer
        self.backoff = backoff

    async def send(self, message: Outgoing) -> SendResult:
        """Send one message; map Telegram's answers to what the caller should do."""
        markup = markup_of(message.buttons)
        reply = (
            ReplyParameters(message.reply_to, allow_sending_without_reply=True)
            if message.reply_to
            else None
        )
        call: Callable[[], Awaitable[Any]]
        if message.attachment is None:

            def call() -> Awaitable[Any]:
                return self.bot.send_message(
                    message.chat_id,
                    message.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    reply_parameters=reply,
                )

        elif message.attachment.filename is None:
            picture = message.attachment.content

            def call() -> Awaitable[Any]:
                return self.bot.send_photo(
                    message.chat_id,
                    photo=picture,
                    caption=message.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    reply_parameters=reply,
                )

        else:
            document = message.attachment

            def call() -> Awaitable[Any]:
                return self.bot.send_document(
                    message.chat_id,
                    document=document.content,
                    filename=document.filename,
                    caption=message.text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup,
                    reply_parameters=reply,
                )

        result, sent = await self._attempt(message.chat_id, message.priority, "message", call)
        return SendResult(result, sent.message_id) if result is Outcome.SENT else SendResult(result)

    async def edit(self, edit: Edit) -> SendResult:
        """Change a message's text and buttons (no text: only the buttons)."""
        markup = markup_of(edit.buttons)

        def call() -> Awaitable[Any]:
            if edit.text is None:
                return self.bot.edit_message_reply_markup(
                    chat_id=edit.chat_id, message_id=edit.message_id, reply_markup=markup
                )
            return self.bot.edit_message_text(
                edit.text,
                chat_id=edit.chat_id,
                message_id=edit.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )

        result, _ = await self._attempt(
            edit.chat_id, edit.priority, "edit", call, settled=_EDIT_SETTLED_HINTS
        )
        return SendResult(result, edit.message_id if result is Outcome.SENT else None)

    async def delete(self, chat_id: int, message_ids: Sequence[int]) -> SendResult:
        """Delete messages in one chat, a hundred at a time; missing ones are skipped."""
        outcome = Outcome.SENT
        ids = list(message_ids)
        for start in range(0, len(ids), DELETE_BATCH):
            batch = ids[start : start + DELETE_BATCH]

            def call(batch: list[int] = batch) -> Awaitable[Any]:
                return self.bot.delete_messages(chat_id, batch)

            result, _ = await self._attempt(chat_id, Priority.REPLY, "deletion", call)
            if result is not Outcome.SENT:
                outcome = result
        return SendResult(outcome)

    async def invoice_link(self, invoice: Invoice, *, chat_id: int) -> str | None:
        """Create a Stars invoice link for someone in this chat; None if Telegram would not."""

        def call() -> Awaitable[Any]:
            return self.bot.create_invoice_link(
                title=invoice.title,
                description=invoice.description,
                payload=invoice.payload,
                currency=invoice.currency,
                prices=[LabeledPrice(invoice.price_label, invoice.amount)],
                # Telegram Stars need no payment provider.
                provider_token="",
                subscription_period=invoice.subscription_period,
            )

        # An invoice link is no message, but it counts against the same limits.
        result, link = await self._attempt(chat_id, Priority.REPLY, "invoice link", call)
        return str(link) if result is Outcome.SENT else None

    async def _attempt(
        self,
        chat_id: int,
        priority: Priority,
        what: str,
        call: Callable[[], Awaitable[Any]],
        *,
        settled: tuple[str, ...] = (),
    ) -> tuple[Outcome, Any]:
        transient = 0
        while True:
            await self.pacer.wait_turn(chat_id, priority)
            try:
                return Outcome.SENT, await call()
            except RetryAfter as error:
                self.pacer.pause(_seconds(error.retry_after))
                continue
            except Forbidden:
                return Outcome.BLOCKED, None
            except BadRequest as error:
                reason = error.message.lower()
                if any(hint in reason for hint in _UNREACHABLE_HINTS):
                    return Outcome.BLOCKED, None
                if any(hint in reason for hint in settled):
                    return Outcome.SENT, None
                log.warning("Telegram refused a %s: %s", what, type(error).__name__)
                return Outcome.REJECTED, None
            except (TimedOut, NetworkError) as error:
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    log.warning("giving up on a %s for now: %s", what, type(error).__name__)
                    return Outcome.RETRY, None
                await asyncio.sleep(self.backoff * 2 ** (transient - 1))
                continue
