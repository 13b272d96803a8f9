"""The outbox's side that talks to the Bot API: paced, 429s waited out, failures retried."""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardMarkup,
    LabeledPrice,
    ReplyParameters,
    TransactionPartnerUser,
)
from telegram import (
    StarTransaction as TelegramStarTransaction,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot
from telegram.request import RequestData

from bot.outbox.messages import (
    Buttons,
    Edit,
    Invoice,
    Outcome,
    Outgoing,
    Priority,
    SendResult,
    StarTransaction,
    is_link,
)
from bot.outbox.pacing import Pacer
from bot.telegram.callbacks import inline_button
from bot.telegram.transport import NotSent

log = logging.getLogger(__name__)

TRANSIENT_RETRIES = 3
# deleteMessages takes at most 100 ids at a time.
DELETE_BATCH = 100
_UNREACHABLE_HINTS = ("chat not found", "user is deactivated", "bot was blocked")
# An edit that changes nothing, or of a message that is gone, has nothing left to do.
_EDIT_SETTLED_HINTS = ("message is not modified",)
# A charge paid back already has nothing left to do: asking again must not look like a failure.
_REFUND_SETTLED_HINTS = ("charge_already_refunded",)
# The ledger's own chat key: reading it counts against the bot's overall limit like any call.
_LEDGER_CHAT = 0


def markup_of(buttons: Buttons) -> InlineKeyboardMarkup | None:
    """Build Telegram's inline keyboard from rows of (label, target)."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[inline_button(label, target) for label, target in row] for row in buttons]
    )


def keyboard_of(buttons: Buttons) -> dict[str, Any]:
    """Return the inline keyboard as `InlineKeyboardMarkup.to_dict()` gives it (keys in order)."""
    return {
        "inline_keyboard": [
            [
                {"text": label, "url": target}
                if is_link(target)
                else {"callback_data": target, "text": label}
                for label, target in row
            ]
            for row in buttons
        ]
    }


class _PlusQuoted(dict[int, str]):
    """Each character as `urllib.parse.quote_plus` writes it, worked out once per character."""

    def __missing__(self, code: int) -> str:
        character = chr(code)
        if character == " ":
            quoted = "+"
        elif character.isascii() and (character.isalnum() or character in "_.-~"):
            quoted = character
        else:  # UTF-8 bytes, each as %XX (a lone surrogate raises, as quote_plus does)
            quoted = "".join(f"%{byte:02X}" for byte in character.encode())
        self[code] = quoted
        return quoted


_PLUS_QUOTED = _PlusQuoted()


def form_encoded(fields: dict[str, str]) -> str:
    """Return `urllib.parse.urlencode(fields)` for string fields, character by character in C."""
    # urlencode quotes byte by byte in Python, which on a nudge's text cost as much as the
    # rest of composing it; str.translate does the same mapping from a table.
    return "&".join(
        f"{name.translate(_PLUS_QUOTED)}={value.translate(_PLUS_QUOTED)}"
        for name, value in fields.items()
    )


# RequestData is marked final for type checkers; what transports read of it (parameters,
# json_parameters, multipart_data, contains_files, url_encoded_parameters) is kept as it is,
# and tests/test_sender.py checks the requests match `send_message`'s field for field.
class _TextForm(RequestData):  # type: ignore[misc]
    """sendMessage's parameters, JSON-encoded already, as `RequestData` gives them."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__()
        self._fields = fields

    @property
    def parameters(self) -> dict[str, Any]:
        """Return the parameters (strings already, as the route passes them)."""
        return dict(self._fields)

    @property
    def json_parameters(self) -> dict[str, str]:
        """Return the parameters as the transport posts them."""
        return dict(self._fields)

    def url_encoded_parameters(self, encode_kwargs: dict[str, Any] | None = None) -> str:
        """Return the form body, as `RequestData.url_encoded_parameters` does."""
        if encode_kwargs:
            return super().url_encoded_parameters(encode_kwargs)
        return form_encoded(self._fields)


class TextRoute:
    """sendMessage posted through the bot's own transport, without building PTB objects.

    A text message is most of what the bot sends, in rounds of thousands. `Bot.send_message`
    builds a keyboard of PTB objects, serialises it again and parses Telegram's answer into a
    `Message` with its entities, of which only the id is read; at paid-broadcast rates that is
    more CPU than the HTTP exchange itself. This sends the very parameters `send_message` sends,
    through the bot's `BaseRequest.post`, which turns Telegram's answers into the same errors.
    Only for a bot that adds nothing to a request: no `Defaults`, no arbitrary callback data and
    no rate limiter (otherwise `send_message` is used).
    """

    def __init__(self, bot: Bot) -> None:
        self.bot = bot
        self.url = f"{bot.base_url}/sendMessage"

    @classmethod
    def of(cls, bot: Bot) -> TextRoute | None:
        """Return the route for this bot, or None when its own method must be used."""
        if not isinstance(bot, Bot):
            return None  # a test double
        if isinstance(bot, ExtBot) and (
            bot.defaults is not None
            or bot.callback_data_cache is not None
            or bot.rate_limiter is not None
        ):
            return None
        return cls(bot)

    def request_data(self, message: Outgoing) -> RequestData:
        """Return the parameters `Bot.send_message` would send for this message."""
        # Values go in JSON-encoded already, as strings, which RequestData passes on as they
        # are (it would encode anything else once per look).
        fields = {
            "chat_id": str(message.chat_id),
            "text": message.text,
            "parse_mode": ParseMode.HTML.value,
        }
        if message.buttons:
            fields["reply_markup"] = json.dumps(keyboard_of(message.buttons))
        if message.reply_to:
            reply = {"allow_sending_without_reply": True, "message_id": message.reply_to}
            fields["reply_parameters"] = json.dumps(reply)
        return _TextForm(fields)

    async def send(self, message: Outgoing) -> int:
        """Send a text message; return Telegram's message id or raise PTB's errors."""
        result = await self.bot.request.post(self.url, request_data=self.request_data(message))
        assert isinstance(result, dict)
        return int(result["message_id"])


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
        self.text_route = TextRoute.of(bot)

    async def send(self, message: Outgoing) -> SendResult:
        """Send one message; map Telegram's answers to what the caller should do."""
        call: Callable[[], Awaitable[Any]]
        if message.attachment is None and self.text_route is not None:
            route = self.text_route

            def call() -> Awaitable[Any]:
                return route.send(message)

            result, message_id = await self._attempt(
                message.chat_id, message.priority, "message", call
            )
            return SendResult(result, message_id) if result is Outcome.SENT else SendResult(result)
        markup = markup_of(message.buttons)
        reply = (
            ReplyParameters(message.reply_to, allow_sending_without_reply=True)
            if message.reply_to
            else None
        )
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

    async def copy(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        *,
        buttons: Buttons = (),
        priority: Priority = Priority.REPLY,
    ) -> SendResult:
        """Copy a message from another chat into this one (its words are never kept here)."""
        markup = markup_of(buttons)

        def call() -> Awaitable[Any]:
            return self.bot.copy_message(chat_id, from_chat_id, message_id, reply_markup=markup)

        result, copied = await self._attempt(chat_id, priority, "copy", call)
        return (
            SendResult(result, copied.message_id) if result is Outcome.SENT else SendResult(result)
        )

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

    async def refund_stars(self, user_id: int, charge_id: str) -> Outcome:
        """Pay a Stars charge back to the person who paid it."""

        def call() -> Awaitable[Any]:
            return self.bot.refund_star_payment(user_id, charge_id)

        result, _ = await self._attempt(
            user_id, Priority.REPLY, "refund", call, settled=_REFUND_SETTLED_HINTS
        )
        return result

    async def cancel_star_subscription(self, user_id: int, charge_id: str) -> Outcome:
        """Stop a Stars subscription renewing; Telegram names it by its first charge's id."""

        def call() -> Awaitable[Any]:
            return self.bot.edit_user_star_subscription(user_id, charge_id, is_canceled=True)

        result, _ = await self._attempt(user_id, Priority.REPLY, "subscription change", call)
        return result

    async def star_transactions(
        self, *, offset: int, limit: int
    ) -> Sequence[StarTransaction] | None:
        """Read one page of the bot's Stars ledger; None if Telegram did not answer."""

        def call() -> Awaitable[Any]:
            return self.bot.get_star_transactions(offset=offset, limit=limit)

        result, page = await self._attempt(_LEDGER_CHAT, Priority.BULK, "ledger read", call)
        if result is not Outcome.SENT:
            return None
        return [entry for raw in page.transactions if (entry := _person_entry(raw)) is not None]

    async def publish_commands(
        self, commands: Sequence[tuple[str, str]], *, language_code: str | None = None
    ) -> bool:
        """Set the command menu shown to people whose Telegram uses `language_code` (None:
        everyone without a menu of their own)."""

        def call() -> Awaitable[Any]:
            return self.bot.set_my_commands(
                [BotCommand(name, description) for name, description in commands],
                language_code=language_code,
            )

        # Not a chat message, but it counts against the bot's overall limit all the same; each
        # language gets a pacing slot of its own (no real chat has a positive id this size
        # negated), so the menus of several languages need not wait a second for each other.
        slot = -(1 << 40) - zlib.crc32((language_code or "").encode())
        result, _ = await self._attempt(slot, Priority.BULK, "command menu", call)
        return result is Outcome.SENT

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
            except TimedOut as error:
                if what == "message" and not isinstance(error, NotSent):
                    # Telegram may have shown it already: sending again could show it twice.
                    log.warning("no answer in time for a message; not sending it again")
                    return Outcome.IN_DOUBT, None
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    log.warning("giving up on a %s for now: %s", what, type(error).__name__)
                    return Outcome.RETRY, None
                await asyncio.sleep(self.backoff * 2 ** (transient - 1))
                continue
            except NetworkError as error:
                transient += 1
                if transient > TRANSIENT_RETRIES:
                    log.warning("giving up on a %s for now: %s", what, type(error).__name__)
                    return Outcome.RETRY, None
                await asyncio.sleep(self.backoff * 2 ** (transient - 1))
                continue


def _person_entry(raw: TelegramStarTransaction) -> StarTransaction | None:
    """Return a person's invoice payment (source) or the bot's refund to them (receiver)."""
    for partner, incoming in ((raw.source, True), (raw.receiver, False)):
        if not isinstance(partner, TransactionPartnerUser):
            continue
        # Paid media, gifts and the like are not subscriptions; older servers omit the type.
        if partner.transaction_type not in (None, "invoice_payment"):
            return None
        period: Any = partner.subscription_period
        if isinstance(period, timedelta):
            period = int(period.total_seconds())
        return StarTransaction(
            id=raw.id,
            user_id=partner.user.id,
            amount=raw.amount,
            date=raw.date,
            incoming=incoming,
            invoice_payload=partner.invoice_payload,
            subscription_period=period,
        )
    return None
