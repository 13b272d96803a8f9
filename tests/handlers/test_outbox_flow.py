"""Replies go through the outbox: Telegram's 429s are waited out and 5xx answers retried."""

from __future__ import annotations

from sqlmodel import select

from bot.app import BotApplication
from bot.db.models import Invite, InviteStatus, User
from bot.telegram.context import services_of
from tests.fakes.inprocess import RecordingTransport
from tests.support.app import MakePerson, onboard


async def _active_invites(application: BotApplication) -> int:
    async with services_of(application).sessions() as session:
        rows = await session.exec(select(Invite).where(Invite.status == InviteStatus.ACTIVE))
        return len(rows.all())


async def test_a_429_on_the_invite_reply_is_waited_out_and_the_link_arrives(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    transport.faults["sendMessage"] = [(429, "Too Many Requests: retry after 1", 1)]

    await alex.send("/invite")

    assert len(transport.faulted) == 1  # Telegram refused once ...
    assert "private invite link" in alex.last()  # ... and the link still arrived
    assert "went wrong" not in " ".join(alex.inbox())
    assert await _active_invites(application) == 1


async def test_replies_survive_a_short_storm_of_bad_gateways(
    person: MakePerson, transport: RecordingTransport
) -> None:
    alex = person(1, "Alex")
    transport.faults["sendMessage"] = [(502, "Bad Gateway", None)] * 2

    await alex.send("/help")

    assert len(transport.faulted) == 2
    assert alex.inbox(), "the reply arrived after the retries"


async def test_a_person_who_blocked_the_bot_is_parked(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    transport.faults["sendMessage"] = [(403, "Forbidden: bot was blocked by the user", None)]

    await alex.send("/help")

    async with services_of(application).sessions() as session:
        stored = await session.get(User, 1)
    assert stored is not None and stored.unreachable_since is not None
