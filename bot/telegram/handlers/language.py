"""Each person's language, found before any handler answers an update."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.content.locales import language_name
from bot.db.models import User
from bot.people.buttons import LanguageChoice
from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import Button

# Runs before every other group, so every answer to this update is in the right language.
RESOLVE_GROUP = -100


async def resolve_locale(update: object, context: BotContext) -> None:
    """Find the language this update is answered in: staff chat, the person's, or a guess."""
    if not isinstance(update, Update):
        return
    services = context.services
    settings = services.settings
    chat = update.effective_chat
    if chat is not None and chat.id == settings.counsellor_chat_id:
        context.resolved_locale = settings.staff_locale
        return
    user = update.effective_user
    if user is None:
        return
    async with services.sessions.begin() as session:
        stored = await session.get(User, user.id)
        chosen = stored.locale if stored is not None else None
    # Someone new gets the language Telegram reports, if there is a folder for it.
    context.resolved_locale = services.texts.pick(chosen or user.language_code)


def language_rows(context: BotContext, current: str) -> list[list[Button]]:
    """One button per locale with a folder under content/locales, two to a row."""
    buttons = [
        Button(
            "language",
            LanguageChoice(code),
            values={"name": language_name(code), "chosen": code == current},
        )
        for code in context.services.texts.locales()
    ]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def register_resolver(application: Application) -> None:  # type: ignore[type-arg]
    """Find each update's language before anything answers it."""
    application.add_handler(TypeHandler(Update, resolve_locale), group=RESOLVE_GROUP)
