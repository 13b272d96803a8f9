"""Edited messages are never new input: nothing starts or finishes with one, and people hear so."""

from __future__ import annotations

import time
from typing import Any

import pytest
from telegram import Update

from bot.app import BotApplication
from bot.settings import Settings
from tests.fakes.inprocess import BOT_ID, RecordingTransport
from tests.support.app import MakePerson, handler_settings, onboarded_couple

STAFF_CHAT = -100888
ROBIN, VISITOR = 900, 901
NOT_COUNTED = "editing a message doesn't change what you already sent"


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings with a staff chat and one counsellor (Robin)."""
    return handler_settings(
        database_url, counsellor_chat_id=STAFF_CHAT, counsellor_staff_ids=str(ROBIN)
    )


async def test_an_edit_while_a_step_waits_neither_finishes_it_nor_is_lost_on_the_person(
    person: MakePerson,
) -> None:
    alex, _sam = await onboarded_couple(person)
    await alex.send("/appreciate")
    assert "What would you like to thank Sam for?" in alex.last()
    await alex.edit("Thanks for the soup")
    assert NOT_COUNTED in alex.last()
    assert not any("Sam gets it" in text for text in alex.new_messages())
    # The step still waits for a real message, which seals the note as usual.
    await alex.send("Thanks for the soup")
    assert "Sam gets it" in alex.last()


async def test_an_edited_command_starts_nothing(person: MakePerson) -> None:
    alex = person(1, "Alex")
    await alex.edit("/start")
    assert alex.inbox() == [alex.last()]
    assert NOT_COUNTED in alex.last()


async def staff_edit(application: BotApplication, author: int, text: str) -> None:
    """Edit a reply in the staff chat that answers one of the bot's request cards."""
    group = {"id": STAFF_CHAT, "type": "supergroup", "title": "Counsellors"}
    card: dict[str, Any] = {
        "message_id": 7,
        "date": int(time.time()),
        "chat": group,
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Remainly"},
        "text": "card",
    }
    edited = {
        "message_id": 8,
        "date": int(time.time()) - 60,
        "edit_date": int(time.time()),
        "chat": group,
        "from": {"id": author, "is_bot": False, "first_name": "Robin"},
        "text": text,
        "reply_to_message": card,
    }
    update = Update.de_json(
        {"update_id": 77_000 + author, "edited_message": edited}, application.bot
    )
    await application.process_update(update)


async def test_a_counsellors_corrected_reply_is_not_relayed_again(
    application: BotApplication, transport: RecordingTransport
) -> None:
    await staff_edit(application, VISITOR, "a correction")
    assert transport.sent_to(STAFF_CHAT) == []  # not staff: nothing to say
    await staff_edit(application, ROBIN, "a correction")
    [note] = transport.sent_to(STAFF_CHAT)
    assert "Edits don't reach the person" in note.params["text"]
    sent_elsewhere = [
        c for c in transport.calls_to("sendMessage") if str(c.params["chat_id"]) != str(STAFF_CHAT)
    ]
    assert sent_elsewhere == []
