"""/help, /privacy, the command menu, and what happens to anything not understood."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.core.callbacks import CallbackData
from bot.safety.buttons import CounsellorStart, SafetyOpen
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers.replies import Button, refuse_button, reply, settle_button

log = logging.getLogger(__name__)

# The order shown in Telegram's menu and in /help.
COMMANDS = (
    "start",
    "invite",
    "settings",
    "pause",
    "resume",
    "skip",
    "days",
    "checkin",
    "history",
    "appreciate",
    "topics",
    "expectations",
    "share",
    "articles",
    "videos",
    "focus",
    "subscribe",
    "subscription",
    "unpair",
    "counsellor",
    "requests",
    "safety",
    "hide",
    "privacy",
    "mydata",
    "deleteme",
    "help",
    "cancel",
)


@dataclass(frozen=True)
class OpenHelp(CallbackData, prefix="help:open"):
    """Show /help."""


async def help_command(update: Update, context: BotContext, _: OpenHelp | None = None) -> None:
    """Handle /help and the Help button."""
    if update.callback_query is not None:
        await settle_button(update, context, keep=True)
    rows = [[Button("counsellor", CounsellorStart())], [Button("safety", SafetyOpen())]]
    await reply(update, context, "help.overview", rows=rows, commands=COMMANDS)


async def privacy(update: Update, context: BotContext) -> None:
    """Handle /privacy."""
    await reply(update, context, "help.privacy")


async def unknown_button(update: Update, context: BotContext) -> None:
    """Refuse any press no kind of button parses: empty, stale, malformed, forged, too long."""
    await refuse_button(update, context, "errors.stale_button")


async def unknown_command(update: Update, context: BotContext) -> None:
    """Point a mistyped command at /help."""
    await reply(update, context, "help.unknown_command")


async def publish_commands(application: Application) -> None:  # type: ignore[type-arg]
    """Register the command menu with Telegram; a failure is logged, not fatal."""
    texts = services_of(application).texts
    commands = [BotCommand(name, texts.render(f"commands.{name}")) for name in COMMANDS]
    try:
        await application.bot.set_my_commands(commands)
    except TelegramError as error:
        log.warning("could not register the command menu: %s", error)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the help handlers."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("help", help_command, filters=private))
    application.add_handler(CommandHandler("privacy", privacy, filters=private))
    application.add_handler(ButtonHandler(OpenHelp, help_command))


def register_fallbacks(application: Application) -> None:  # type: ignore[type-arg]
    """Add the handlers that catch whatever no other handler took."""
    private = filters.ChatType.PRIVATE
    # Every button handler takes only the data its kind parses; whatever is left ends here
    # and changes nothing.
    application.add_handler(CallbackQueryHandler(unknown_button))
    application.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))
