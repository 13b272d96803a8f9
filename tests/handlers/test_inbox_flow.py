"""Stored updates through the real Application: retried on unexpected errors, never repeated
once a handling that is not safe to repeat saved its changes."""

from __future__ import annotations

import json
import time
from typing import Any

from telegram import Update
from telegram.ext import MessageHandler, filters

from bot.app import BotApplication
from bot.db.inbox import InboxLane
from bot.inbox.store import Claimed, arrival_of
from bot.telegram.context import BotContext, services_of
from bot.telegram.inbound import chat_key_of, handler_for, repeatable
from tests.fakes.inprocess import RecordingTransport

ALEX = 1


def text_update(update_id: int, text: str, user: int = ALEX) -> dict[str, Any]:
    """Return a private text message as Telegram sends it."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": user, "type": "private", "first_name": "Alex"},
        "from": {"id": user, "is_bot": False, "first_name": "Alex", "language_code": "en"},
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": update_id, "message": message}


async def stored(application: BotApplication, raw: dict[str, Any]) -> Claimed:
    """Store an update in the inbox and claim it, as the dispatcher would."""
    inbox = services_of(application).inbox
    update = Update.de_json(raw, application.bot)
    await inbox.add([arrival_of(raw, chat_key=chat_key_of(update))])
    [claimed] = await inbox.claim(InboxLane.NORMAL, 1)
    return claimed


def texts_to(transport: RecordingTransport, chat: int) -> list[str]:
    return [str(call.params["text"]) for call in transport.sent_to(chat)]


async def test_an_update_that_breaks_is_retried_quietly_and_apologised_for_at_last(
    application: BotApplication, transport: RecordingTransport
) -> None:
    async def broken(update: Update, context: BotContext) -> None:
        raise RuntimeError("the database went away")

    # First in group 0, where every handler of the bot is (the next group would run anyway).
    application.handlers[0].insert(0, MessageHandler(filters.Regex("^boom$"), broken))
    handle = handler_for(application)
    claimed = await stored(application, text_update(1, "boom"))
    assert await handle(claimed, False) == "RuntimeError"
    assert texts_to(transport, ALEX) == []  # it will be tried again: no apology yet
    assert await handle(claimed, True) == "RuntimeError"
    [apology] = texts_to(transport, ALEX)
    assert "something went wrong" in apology


async def test_a_typed_answer_whose_changes_were_saved_is_not_handled_again(
    application: BotApplication, transport: RecordingTransport
) -> None:
    handle = handler_for(application)
    start = await stored(application, text_update(1, "/start"))
    assert await handle(start, False) is None
    await services_of(application).inbox.finish(start)
    assert "What should we call you?" in texts_to(transport, ALEX)[-1]
    # The typed name is saved; then the process dies before the inbox hears it was handled.
    name = await stored(application, text_update(2, "Robin"))
    assert await handle(name, False) is None
    asked = texts_to(transport, ALEX)
    assert "Where in the world" in asked[-1]
    inbox = services_of(application).inbox
    await inbox.release(everyone=True)
    [again] = await inbox.claim(InboxLane.NORMAL, 1)
    assert again.saved_changes and again.attempts == 2
    assert await handle(again, False) is None
    # Not read a second time (as a city called Robin): nothing more was said.
    assert texts_to(transport, ALEX) == asked


async def test_a_repeatable_update_runs_again_after_a_crash(
    application: BotApplication, transport: RecordingTransport
) -> None:
    handle = handler_for(application)
    start = await stored(application, text_update(1, "/start"))
    assert await handle(start, False) is None
    inbox = services_of(application).inbox
    await inbox.release(everyone=True)
    [again] = await inbox.claim(InboxLane.NORMAL, 1)
    assert again.saved_changes
    assert await handle(again, False) is None
    welcomes = [t for t in texts_to(transport, ALEX) if "What should we call you?" in t]
    assert len(welcomes) == 2


def test_which_updates_are_safe_to_repeat() -> None:
    def update(raw: dict[str, Any]) -> Update:
        return Update.de_json(raw, None)

    assert repeatable(update(text_update(1, "/start inv_abc")))
    assert repeatable(update(text_update(1, "/help@remainly_bot")))
    assert not repeatable(update(text_update(1, "/appreciate Thanks for the soup")))
    assert not repeatable(update(text_update(1, "Lisbon")))
    paid = text_update(1, "")
    del paid["message"]["text"]
    paid["message"]["successful_payment"] = {
        "currency": "XTR",
        "total_amount": 250,
        "invoice_payload": "p",
        "telegram_payment_charge_id": "c",
        "provider_payment_charge_id": "",
    }
    assert repeatable(update(paid))
    press = {
        "update_id": 3,
        "callback_query": {
            "id": "q",
            "from": {"id": ALEX, "is_bot": False, "first_name": "Alex"},
            "chat_instance": "1",
            "data": json.dumps("x"),
        },
    }
    assert not repeatable(update(press))
