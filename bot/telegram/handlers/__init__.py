"""Thin Telegram glue, one module per capability; the order of registration matters."""

from __future__ import annotations

from telegram.ext import Application, MessageHandler, filters

from bot.telegram.handlers import (
    billing,
    checkins,
    conversation,
    counsellor,
    data_rights,
    edits,
    errors,
    expectations,
    help,
    language,
    library,
    nudges,
    pairing,
    profile,
    safety,
    together,
    vulnerability,
)


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Add every handler in the order they must be tried."""
    # Before anything answers: the language this update is answered in.
    language.register_resolver(application)
    # Edits first, in a group of their own: an edit is never new input for any step.
    edits.register(application)
    # Commands and buttons first: a command always wins over a pending typed answer.
    pairing.register(application)
    profile.register(application)
    nudges.register(application)
    library.register(application)
    billing.register(application)
    safety.register(application)
    counsellor.register(application)
    data_rights.register(application)
    checkins.register(application)
    together.register(application)
    expectations.register(application)
    vulnerability.register(application)
    help.register(application)
    # Then typed answers to whatever step a person is in (state lives in the database).
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, conversation.on_text
        )
    )
    # Last: anything nobody else took gets a kind pointer to /help.
    help.register_fallbacks(application)
    application.add_error_handler(errors.on_error)
