"""Handler tests run the real Application with an offline, recording Bot API transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.settings import Settings
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import handler_settings, running_application


@pytest.fixture
def transport() -> RecordingTransport:
    """Return the offline Bot API the application talks to."""
    return RecordingTransport()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Return settings pointing at a fresh, migrated database."""
    return handler_settings(database_url)


@pytest.fixture
async def application(
    settings: Settings, transport: RecordingTransport, clock: FixedClock
) -> AsyncIterator[BotApplication]:
    """Build and initialise the real application, offline."""
    async with running_application(settings, transport, clock) as app:
        yield app


@pytest.fixture
def person(
    application: BotApplication, transport: RecordingTransport
) -> Callable[[int, str], Person]:
    """Return a maker of people who chat with the bot."""

    def make(user_id: int, first_name: str) -> Person:
        return Person(application, transport, user_id, first_name)

    return make
