"""Handler tests run the real Application with an offline, recording Bot API transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import BotApplication, build_application
from bot.core.clock import FixedClock
from bot.settings import Settings, load_settings
from tests.fakes.inprocess import Person, RecordingTransport

TOKEN = "123456:TEST-token"


@pytest.fixture
def transport() -> RecordingTransport:
    """Return the offline Bot API the application talks to."""
    return RecordingTransport()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Return settings pointing at a fresh, migrated database."""
    return load_settings(telegram_bot_token=TOKEN, database_url=database_url)


@pytest.fixture
async def application(
    settings: Settings, transport: RecordingTransport, clock: FixedClock
) -> AsyncIterator[BotApplication]:
    """Build and initialise the real application, offline."""
    app = build_application(settings, request=transport, clock=clock)
    await app.initialize()
    yield app
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


@pytest.fixture
def person(
    application: BotApplication, transport: RecordingTransport
) -> Callable[[int, str], Person]:
    """Return a maker of people who chat with the bot."""

    def make(user_id: int, first_name: str) -> Person:
        return Person(application, transport, user_id, first_name)

    return make
