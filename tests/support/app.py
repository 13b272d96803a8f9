"""The real Application on the recording transport, and people who onboard and pair through it
(handler tests)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from bot.app import BotApplication, build_application
from bot.core.clock import FixedClock
from bot.db.models import User
from bot.settings import Settings, load_settings
from bot.telegram.context import services_of
from tests.fakes.inprocess import BOT_USERNAME, Person, RecordingTransport

TOKEN = "123456:TEST-token"
MakePerson = Callable[[int, str], Person]


# The offline transport has no limits to keep under; pacing has tests of its own.
UNPACED = {"paid_broadcast": True, "per_chat_interval_seconds": 0}


def handler_settings(database_url: str, **overrides: object) -> Settings:
    """Return settings for the test token on `database_url`, with some settings overridden."""
    return load_settings(
        telegram_bot_token=TOKEN, database_url=database_url, **{**UNPACED, **overrides}
    )


@asynccontextmanager
async def running_application(
    settings: Settings, transport: RecordingTransport, clock: FixedClock
) -> AsyncIterator[BotApplication]:
    """Build and initialise the real application, offline; shut it down afterwards."""
    app = build_application(settings, request=transport, clock=clock)
    await app.initialize()
    yield app
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def stored_user(application: BotApplication, user_id: int) -> User:
    """Return the user's row as the database has it now."""
    async with services_of(application).sessions() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


async def onboard(person: Person, *, city: str = "Lisbon") -> None:
    """Answer every onboarding question the way a person would."""
    await person.send("/start")
    await person.press("Use “")
    await person.send(city)
    await person.press("08:00")
    await person.send("9:15pm")
    await person.press("Skip for now")  # the private safety check


def invite_payload(person: Person) -> str:
    """Return the start payload of the invite link the person was sent last."""
    match = re.search(rf"https://t\.me/{BOT_USERNAME}\?start=(\S+)", person.last())
    assert match, person.last()
    return match.group(1)


async def invite(inviter: Person, invitee: Person) -> None:
    """The inviter asks for an invite link; the invitee opens it and accepts."""
    await inviter.send("/invite")
    await invitee.send(f"/start {invite_payload(inviter)}")
    await invitee.press("Accept")


async def onboard_invited(
    person: Person, *, city: str = "Lisbon", skip_safety_check: bool = True
) -> None:
    """Answer the onboarding a newcomer gets after accepting an invite."""
    await person.press("Use “")
    await person.send(city)
    await person.press("08:00")
    await person.send("21:15")
    if skip_safety_check:
        await person.press("Skip for now")


async def onboarded_couple(person: MakePerson) -> tuple[Person, Person]:
    """Alex (1) and Sam (2) each onboard alone, then Sam accepts Alex's invite."""
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await onboard(sam)
    await invite(alex, sam)
    return alex, sam


async def invited_couple(person: MakePerson) -> tuple[Person, Person]:
    """Alex (1) onboards and invites Sam (2), a newcomer who accepts, then onboards in Lisbon."""
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await invite(alex, sam)
    await onboard_invited(sam)
    return alex, sam
