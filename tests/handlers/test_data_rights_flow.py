"""/mydata and /deleteme through the real Application."""

from __future__ import annotations

import json

from bot.app import BotApplication
from bot.db.models import User
from bot.telegram.context import services_of
from tests.fakes.inprocess import RecordingTransport
from tests.support.app import MakePerson, onboarded_couple

STALE = "That button is no longer active. Nothing was changed."


async def test_mydata_sends_a_json_file_of_the_person_only(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    _, sam = await onboarded_couple(person)
    await sam.send("/mydata")
    [call] = transport.calls_to("sendDocument")
    assert int(call.params["chat_id"]) == 2
    assert "everything Remainly's bot keeps about you" in call.params["caption"]
    [(filename, content)] = call.params["_files"].values()
    assert filename == "remainly-my-data-2026-03-02.json"
    exported = json.loads(content)
    assert exported["person"]["id"] == 2 and exported["person"]["telegram_name"] == "Sam"
    [couple] = exported["tables"]["couples"]
    assert couple["partner_b_id"] == 2 and couple["partner_a_id"] is None
    assert "Alex" not in content.decode()


async def test_deleteme_asks_first_then_unpairs_and_erases(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await onboarded_couple(person)
    await sam.press_data("del:yes")  # forged: nobody asked
    assert sam.alerts()[-1] == STALE
    await sam.send("/deleteme")
    assert "Erase everything about you?" in sam.last() and "<b>Alex</b>" in sam.last()
    await sam.send("yes")
    assert "tap one of the buttons" in sam.last()
    await sam.press("Keep my data")
    assert "nothing was erased" in sam.last()

    await sam.send("/deleteme")
    await sam.press("Yes, erase everything")
    assert "everything about you is erased" in sam.last()
    assert "Your partner has ended your pairing" in alex.last()
    async with services_of(application).sessions() as session:
        assert await session.get(User, 2) is None
        alex_row = await session.get(User, 1)
    assert alex_row is not None and alex_row.couple_id is None
    await sam.send("/mydata")
    assert "We don't know each other yet" in sam.last()
