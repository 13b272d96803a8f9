"""/help, /privacy, the command menu, and what happens to anything not understood."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.core.callbacks import CallbackData
from bot.safety.buttons import CounsellorStart, SafetyOpen
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers.replies import Button, refuse_button, reply, settle_button
from bot.telegram.sender import TelegramSender

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
    "together",
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


def menu_languages(locales: list[str], default_locale: str) -> dict[str | None, str]:
    """Map Telegram's `language_code` (None: everyone else) to the locale its menu is in."""
    menus: dict[str | None, str] = {None: default_locale}
    for locale in locales:
        # Telegram takes two-letter ISO 639-1 codes only.
        code = locale.replace("_", "-").split("-")[0].lower()
        if locale != default_locale and len(code) == 2:
            menus.setdefault(code, locale)
    return menus


async def publish_commands(application: Application) -> None:  # type: ignore[type-arg]
    """Register the command menu, once per language; a failure is logged, not fatal."""
    services = services_of(application)
    texts, carrier = services.texts, services.outbox.carrier
    if not isinstance(carrier, TelegramSender):
        return
    for code, locale in menu_languages(texts.locales(), texts.default_locale).items():
        commands = [(name, texts.render(f"commands.{name}", locale=locale)) for name in COMMANDS]
        if not await carrier.publish_commands(commands, language_code=code):
            log.warning("could not register the command menu for %s", code or "everyone")


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add the help handlers."""
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("help", help_command, filters=private))
    application.add_handler(CommandHandler("privacy", privacy, filters=private))
    application.add_handler(ButtonHandler(OpenHelp, help_command, anyone=True))


def register_fallbacks(application: Application) -> None:  # type: ignore[type-arg]
    """Add the handlers that catch whatever no other handler took."""
    private = filters.ChatType.PRIVATE
    # Every button handler takes only the data its kind parses; whatever is left ends here
    # and changes nothing.
    application.add_handler(CallbackQueryHandler(unknown_button))
    application.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))
