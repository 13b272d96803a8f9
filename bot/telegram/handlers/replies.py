"""How handlers answer: render a template by key, attach buttons, send in HTML."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode

from bot.core.callbacks import CallbackData
from bot.safety import signals as safety
from bot.telegram.context import BotContext

log = logging.getLogger(__name__)

ALERT_MAX_LENGTH = 200


@dataclass(frozen=True)
class Button:
    """A button described by its label key and either callback data or a URL."""

    label: str
    data: CallbackData | None = None
    url: str | None = None
    values: dict[str, Any] | None = None


Rows = Sequence[Sequence[Button]]


def locale_of(update: Update) -> str | None:
    """Return the language Telegram reports for the person behind an update."""
    user = update.effective_user
    return user.language_code if user and user.language_code else None


def text(context: BotContext, key: str, *, locale: str | None = None, **values: Any) -> str:
    """Render a message template."""
    return context.services.texts.render(key, locale=locale, **values)


def keyboard(context: BotContext, rows: Rows, *, locale: str | None = None) -> InlineKeyboardMarkup:
    """Build an inline keyboard whose labels come from `content/`."""
    built: list[list[InlineKeyboardButton]] = []
    for row in rows:
        line: list[InlineKeyboardButton] = []
        for button in row:
            label = text(context, f"buttons.{button.label}", locale=locale, **(button.values or {}))
            if button.url is not None:
                line.append(InlineKeyboardButton(label, url=button.url))
            elif button.data is not None:
                line.append(InlineKeyboardButton(label, callback_data=button.data.encode()))
            else:
                raise ValueError(f"button {button.label!r} has neither callback data nor a URL")
        built.append(line)
    return InlineKeyboardMarkup(built)


async def send(
    context: BotContext,
    chat_id: int,
    key: str,
    *,
    rows: Rows | None = None,
    locale: str | None = None,
    **values: Any,
) -> Message:
    """Send a rendered template to a chat."""
    message = await context.bot.send_message(
        chat_id,
        text(context, key, locale=locale, **values),
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(context, rows, locale=locale) if rows else None,
        link_preview_options=None,
    )
    await remember_sent(context, message)
    return message


async def remember_sent(context: BotContext, message: Message) -> None:
    """Note a message sent to a person's private chat, so /hide can delete it later."""
    if message.chat_id <= 0:
        return  # a group (the staff chat): nothing to hide there
    try:
        async with context.services.sessions.begin() as session:
            await safety.record_sent(
                session, message.chat_id, message.message_id, now=context.services.clock.now()
            )
    except SQLAlchemyError as error:
        # The message is out already; failing the update over this would help nobody.
        log.warning("could not note a sent message for discreet mode: %s", type(error).__name__)


async def reply(
    update: Update, context: BotContext, key: str, *, rows: Rows | None = None, **values: Any
) -> Message:
    """Answer the chat an update came from."""
    chat = update.effective_chat
    assert chat is not None
    return await send(context, chat.id, key, rows=rows, locale=locale_of(update), **values)


async def settle_button(
    update: Update, context: BotContext, notice: str | None = None, *, keep: bool = False
) -> None:
    """Answer a button press and remove the buttons it came with, so it can't be pressed twice.

    Menus (`keep=True`) keep their buttons: pressing one entry must not take the others away.
    """
    query = update.callback_query
    assert query is not None
    await query.answer(notice)
    if keep:
        return
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        await query.message.edit_reply_markup(reply_markup=None)


async def refuse_button(update: Update, context: BotContext, key: str, **values: Any) -> None:
    """Answer a button press that changes nothing, with a short explanation."""
    query = update.callback_query
    assert query is not None
    # Alerts are plain text of at most 200 characters, so undo the HTML escaping.
    notice = html.unescape(text(context, key, locale=locale_of(update), **values))
    await query.answer(notice[:ALERT_MAX_LENGTH], show_alert=True)
