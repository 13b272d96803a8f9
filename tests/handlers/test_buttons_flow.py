"""Button presses are routed by parsing their data: unknown data changes nothing."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from telegram import Update
from telegram.ext import CallbackQueryHandler, TypeHandler

from bot.app import BotApplication
from bot.core.callbacks import MAX_BYTES
from bot.core.clock import FixedClock
from bot.db.safety import HeldMessage
from bot.reading.buttons import MoreLikeThis
from bot.safety.buttons import IntakeSkip, ShowHeld
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import services_of
from bot.telegram.handlers.edits import GROUP as EDITS_GROUP
from bot.telegram.handlers.language import RESOLVE_GROUP
from tests.fakes.inprocess import Call, Person, RecordingTransport
from tests.support.app import invite_payload, onboard, onboarded_couple
from tests.support.buttons import KINDS
from tests.support.snapshots import snapshot

MakePerson = Callable[[int, str], Person]
EXPIRED = "That button is no longer active. Nothing was changed."
# Presses no kind of button takes; each must get the expired alert and change nothing.
UNKNOWN = [
    "",  # once taken by the first pattern handler: it made a new invite, voiding the shared one
    "garbage",
    "ci:skip",  # the counsellor intake's skip, before it had its own prefix
    "pair:invite:1",
    "ans:go:0",
    f"inv:acc:{2**31}",  # beyond a 32-bit id: PostgreSQL would have refused the query
    "ci:s:1:0:9",
    "x" * (MAX_BYTES + 1),
    "dm:show:" + "9" * (MAX_BYTES - len("dm:show:") + 1),
    "tz:Europe/Berlin\u00e9",
]


def button_handlers(application: BotApplication) -> list[ButtonHandler[Any]]:
    return [
        h for group in application.handlers.values() for h in group if isinstance(h, ButtonHandler)
    ]


def press_update(application: BotApplication, user_id: int, data: str) -> Update:
    query = {
        "id": f"{user_id}-probe",
        "from": {"id": user_id, "is_bot": False, "first_name": "Probe"},
        "chat_instance": str(user_id),
        "data": data,
        "message": {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private"},
            "text": "",
        },
    }
    return Update.de_json({"update_id": 1, "callback_query": query}, application.bot)


def callback_data_sent(transport: RecordingTransport) -> set[str]:
    """Return the callback data of every button the bot sent or edited in."""
    found: set[str] = set()
    for call in transport.calls:
        markup = call.params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []) if isinstance(markup, dict) else []:
            found.update(b["callback_data"] for b in row if "callback_data" in b)
    return found


def calls_after(transport: RecordingTransport, count: int) -> list[Call]:
    return transport.calls[count:]


async def test_every_kind_has_one_handler_and_the_catch_all_comes_last(
    application: BotApplication,
) -> None:
    # RESOLVE_GROUP only finds each update's language; edits come next, in a group of their own
    # (an edit is never new input); every other answer is in group 0.
    assert list(application.handlers) == [RESOLVE_GROUP, EDITS_GROUP, 0]
    [resolver] = application.handlers[RESOLVE_GROUP]
    assert isinstance(resolver, TypeHandler)
    handlers = application.handlers[0]
    kinds = Counter(h.kind for h in handlers if isinstance(h, ButtonHandler))
    assert set(kinds) == set(KINDS) and set(kinds.values()) == {1}
    [(place, catch_all)] = [
        (i, h) for i, h in enumerate(handlers) if isinstance(h, CallbackQueryHandler)
    ]
    assert catch_all.pattern is None
    assert place > max(i for i, h in enumerate(handlers) if isinstance(h, ButtonHandler))


async def test_a_press_without_data_leaves_the_shared_invite_valid(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    shared = invite_payload(alex)
    await alex.press_data("")
    assert alex.alerts()[-1] == EXPIRED
    await onboard(sam)
    await sam.send(f"/start {shared}")
    assert "<b>Alex</b> has invited you" in sam.last()
    await sam.press("Accept")
    assert "You and <b>Alex</b> are now a couple" in sam.last()


@pytest.mark.parametrize("data", UNKNOWN, ids=range(len(UNKNOWN)))
async def test_unknown_data_gets_the_expired_alert_and_changes_nothing(
    person: MakePerson, application: BotApplication, transport: RecordingTransport, data: str
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    await onboard(sam)
    before, calls = await snapshot(application), len(transport.calls)
    await alex.press_data(data)
    assert alex.alerts()[-1] == EXPIRED
    assert [c.method for c in calls_after(transport, calls)] == ["answerCallbackQuery"]
    assert calls_after(transport, calls)[0].params.get("show_alert") is True
    assert await snapshot(application) == before


async def test_intake_skip_reaches_the_intake_whatever_the_registration_order(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    handlers = application.handlers[0]
    places = [i for i, h in enumerate(handlers) if isinstance(h, ButtonHandler)]
    for place, handler in zip(places, [handlers[i] for i in reversed(places)], strict=True):
        handlers[place] = handler
    _, sam = await onboarded_couple(person)
    await sam.send("/checkin")  # a check-in open too, so its buttons are live
    await sam.send("/counsellor")
    for label in ("Trust", "Mostly me", "In the next few days", "Messages here", "Evenings"):
        await sam.press(label)
    assert "Anything you'd like the counsellor to know" in sam.last()
    await sam.press("Skip")
    assert "Here's your request" in sam.last()

    # Each button the bot sent is taken by exactly one handler, so the order cannot matter.
    sent = callback_data_sent(transport)
    assert IntakeSkip().encode() in sent and any(d.startswith("ci:") for d in sent)
    for data in sent:
        update = press_update(application, 2, data)
        takers = [h.kind for h in button_handlers(application) if h.check_update(update)]
        assert len(takers) == 1, (data, takers)
    skip = press_update(application, 2, IntakeSkip().encode())
    assert [h.kind for h in button_handlers(application) if h.check_update(skip)] == [IntakeSkip]

    before = await snapshot(application)
    await sam.press_data("ci:skip")
    assert sam.alerts()[-1] == EXPIRED
    assert await snapshot(application) == before


async def test_a_held_message_shows_its_stored_buttons_and_links(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    video = services_of(application).library.videos()[0]
    link = f"https://videos.remainly.example/{video.path}"
    # As the nudge engine stored them for someone in discreet mode.
    stored = [[["▶ Watch", link], ["More like this", f"vid:like:{video.id}"]]]
    async with services_of(application).sessions.begin() as session:
        held = HeldMessage(
            user_id=1, text="A video for you", buttons=stored, created_at=clock.now()
        )
        session.add(held)
        await session.flush()
        assert held.id is not None
        held_id = held.id
    await alex.press_data(ShowHeld(held_id).encode())
    [shown] = transport.calls_to("editMessageText")
    [row] = shown.params["reply_markup"]["inline_keyboard"]
    assert row[0] == {"text": "▶ Watch", "url": link}
    assert row[1] == {"text": "More like this", "callback_data": MoreLikeThis(video.id).encode()}
    await alex.press_data(row[1]["callback_data"])
    assert "More like" in alex.last()
