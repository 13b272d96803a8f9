"""Edited messages are never new input: no step starts or finishes with one.

Telegram sends an edit as an update of its own. Every handler after this one would take it for
a fresh message (sealing an appreciation, relaying a counsellor's reply twice), so edits stop
here. Where a person may expect an edit to count, they hear gently that it doesn't.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationHandlerStop, MessageHandler, filters

from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import reply, send

# Before every other handler: edits must never reach them.
GROUP = -1


async def on_edit(update: Update, context: BotContext) -> None:
    """Leave an edit as it was; tell its author when they might expect it to count."""
    message, user = update.edited_message, update.effective_user
    try:
        if message is None or user is None or (message.text is None and message.caption is None):
            return
        if message.chat.type == ChatType.PRIVATE:
            # Whatever the person edited (an answer, a request's words), what they sent stands.
            await reply(update, context, "edits.private")
            return
        settings = context.services.settings
        if (
            message.chat_id == settings.counsellor_chat_id
            and user.id in settings.counsellor_staff
            and message.reply_to_message is not None
        ):
            await send(
                context,
                message.chat_id,
                "edits.staff_reply",
                reply_to=message.message_id,
                locale=user.language_code,
            )
    finally:
        # Even when the note can't be sent: a handler that raises lets the update go on to
        # the next group, and an edit must reach none of them.
        raise ApplicationHandlerStop


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Catch every edited message before any other handler sees it."""
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, on_edit), group=GROUP)
