"""How handlers answer: render a template by key, attach buttons, send in HTML."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Message, Update

from bot.core.callbacks import CallbackData
from bot.outbox.messages import Attachment, Buttons, Edit, Outcome, Outgoing, Priority
from bot.safety.signals import Recipient
from bot.telegram.callbacks import note_answered, was_answered
from bot.telegram.context import BotContext

log = logging.getLogger(__name__)

ALERT_MAX_LENGTH = 200
# What a person typed is quoted back at most this long: a message has 4096 characters in all.
ECHO_MAX_LENGTH = 40


@dataclass(frozen=True)
class Button:
    """A button described by its label key and either callback data or a URL."""

    label: str
    data: CallbackData | None = None
    url: str | None = None
    values: dict[str, Any] | None = None


Rows = Sequence[Sequence[Button]]


def echoed(typed: str) -> str:
    """Return what a person typed, on one line and shortened, for quoting it back to them."""
    line = " ".join(typed.split())
    return line if len(line) <= ECHO_MAX_LENGTH else line[: ECHO_MAX_LENGTH - 1] + "…"


def locale_of(context: BotContext) -> str:
    """Return the language to answer the person behind this update in."""
    return context.locale


def text(context: BotContext, key: str, *, locale: str | None = None, **values: Any) -> str:
    """Render a message template."""
    return context.services.texts.render(key, locale=locale, **values)


def keyboard(context: BotContext, rows: Rows, *, locale: str | None = None) -> Buttons:
    """Build rows of (label, target) whose labels come from `content/`."""
    built: list[tuple[tuple[str, str], ...]] = []
    for row in rows:
        line: list[tuple[str, str]] = []
        for button in row:
            label = text(context, f"buttons.{button.label}", locale=locale, **(button.values or {}))
            if button.url is not None:
                line.append((label, button.url))
            elif button.data is not None:
                line.append((label, button.data.encode()))
            else:
                raise ValueError(f"button {button.label!r} has neither callback data nor a URL")
        built.append(tuple(line))
    return tuple(built)


class Undelivered(Exception):
    """Telegram did not take a message even after the outbox's retries."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.value)
        self.outcome = outcome


async def deliver(
    context: BotContext,
    message: Outgoing,
    *,
    notify: Recipient | None = None,
    about: int | None = None,
    copy_from: tuple[int, int] | None = None,
) -> int:
    """Send a built message through the outbox; return its id, or raise `Undelivered`."""
    result = await context.services.outbox.send(
        message, notify=notify, about=about, copy_from=copy_from
    )
    if result.outcome is not Outcome.SENT or result.message_id is None:
        raise Undelivered(result.outcome)
    return result.message_id


async def send(
    context: BotContext,
    chat_id: int,
    key: str,
    *,
    rows: Rows | None = None,
    locale: str | None = None,
    notify: Recipient | None = None,
    reply_to: int | None = None,
    attachment: Attachment | None = None,
    about: int | None = None,
    copy_from: tuple[int, int] | None = None,
    **values: Any,
) -> int:
    """Send a rendered template to a chat through the outbox; return the message's id.

    `notify` marks a notification for that person (discreet mode may hold its words back);
    anything a handler sends answers someone's action, so it goes ahead of scheduled rounds.
    """
    message = Outgoing(
        chat_id,
        text(context, key, locale=locale, **values),
        keyboard(context, rows, locale=locale) if rows else (),
        attachment=attachment,
        reply_to=reply_to,
        priority=Priority.REPLY,
    )
    return await deliver(context, message, notify=notify, about=about, copy_from=copy_from)


async def reply(
    update: Update,
    context: BotContext,
    key: str,
    *,
    rows: Rows | None = None,
    attachment: Attachment | None = None,
    **values: Any,
) -> int:
    """Answer the chat an update came from."""
    chat = update.effective_chat
    assert chat is not None
    return await send(
        context,
        chat.id,
        key,
        rows=rows,
        locale=locale_of(context),
        attachment=attachment,
        **values,
    )


async def edit_buttons(context: BotContext, message: object, buttons: Buttons = ()) -> None:
    """Replace the buttons under one of the bot's messages (none: take them away)."""
    if isinstance(message, Message):
        await context.services.outbox.edit(
            Edit(message.chat_id, message.message_id, text=None, buttons=buttons)
        )


async def settle_button(
    update: Update, context: BotContext, notice: str | None = None, *, keep: bool = False
) -> None:
    """Answer a button press and remove the buttons it came with, so it can't be pressed twice.

    Menus (`keep=True`) keep their buttons: pressing one entry must not take the others away.
    """
    query = update.callback_query
    assert query is not None
    await query.answer(notice)
    note_answered(context, query.id)
    if keep:
        return
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        await edit_buttons(context, query.message)


async def refuse_button(update: Update, context: BotContext, key: str, **values: Any) -> None:
    """Answer a button press that changes nothing, with a short explanation."""
    query = update.callback_query
    assert query is not None
    if was_answered(context, query.id):
        # A press is answered once: a problem met after that is told as a message.
        await reply(update, context, key, **values)
        return
    # Alerts are plain text of at most 200 characters, so undo the HTML escaping.
    notice = html.unescape(text(context, key, locale=locale_of(context), **values))
    await query.answer(notice[:ALERT_MAX_LENGTH], show_alert=True)
    note_answered(context, query.id)
