"""A bare python-telegram-bot bot answering the same updates: the inbound benchmark's baseline.

`/start` gets two replies and a typed message one, as the real bot's first two steps do, on
the same aiohttp transport; PTB's own long polling with its defaults (one update at a time).
"""

from __future__ import annotations

import os
import sys

from telegram import Update
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes, MessageHandler, filters

from bot.telegram.transport import AiohttpRequest

WELCOME = "Hi, welcome to the bench bot."
ASK_NAME = "What should we call you?"
ASK_PLACE = "Where in the world are you?"


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer /start with a welcome and the first question."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(WELCOME)
    await update.effective_message.reply_text(ASK_NAME)


async def typed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a typed message with the next question."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(ASK_PLACE)


def main() -> int:
    """Poll the Bot API named by TELEGRAM_API_BASE_URL until SIGTERM."""
    base = os.environ["TELEGRAM_API_BASE_URL"].rstrip("/")
    application = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{base}/bot")
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, typed))
    application.run_polling(allowed_updates=Update.ALL_TYPES, timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
