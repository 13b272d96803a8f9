"""Small edges people ran into: odd names, long input, odd links, crossing invites, blocked
and unknown people."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest
from telegram import Update
from telegram.ext import Application, CallbackQueryHandler

from bot.app import BotApplication
from bot.core.errors import StaleAction
from bot.people.buttons import UnpairKeep
from bot.people.timezones import warm_timezone_index
from bot.telegram.callbacks import ButtonHandler
from bot.telegram.context import BotContext
from bot.telegram.handlers.replies import settle_button
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import invite_payload, onboard, onboarded_couple, stored_user
from tests.support.snapshots import REPLIES, snapshot

MakePerson = Callable[[int, str], Person]
UNKNOWN = "We don't know each other yet — send /start to begin."


async def test_a_blocked_inviter_is_parked_and_the_invitee_carries_on(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    transport.blocked_chats.add(1)  # Alex blocks the bot after sharing the link
    await sam.send(f"/start {invite_payload(alex)}")
    await sam.press("Accept")
    assert "You and <b>Alex</b> are now a couple" in sam.inbox()[-2]
    assert "What should we call you?" in sam.last()
    alex_row, sam_row = await stored_user(application, 1), await stored_user(application, 2)
    assert alex_row.couple_id == sam_row.couple_id is not None
    assert alex_row.unreachable_since is not None and sam_row.unreachable_since is None


async def test_the_second_of_two_crossing_accepts_says_they_are_paired(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await onboard(sam)
    await alex.send("/invite")
    await sam.send("/invite")
    from_alex, from_sam = invite_payload(alex), invite_payload(sam)
    await sam.send(f"/start {from_alex}")
    await alex.send(f"/start {from_sam}")
    await sam.press("Accept")
    await alex.press("Accept")
    assert alex.alerts()[-1] == "Good news: you and Sam are already paired 💛"
    assert (await stored_user(application, 1)).couple_id == (
        await stored_user(application, 2)
    ).couple_id


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("\u200b\u200b\u2060", "invisible characters"),
        ("\u3164", "invisible characters"),
        ("Sam\u202eevil", "change the direction"),
        ("\u2067Sam\u2069", "change the direction"),
        ("Sa\x07m", "doesn't look like a name"),
    ],
)
async def test_invisible_and_direction_changing_names_are_refused_kindly(
    person: MakePerson, application: BotApplication, typed: str, reason: str
) -> None:
    sam = person(2, "Sam")
    await sam.send("/start")
    before = await snapshot(application, skip=REPLIES)
    await sam.send(typed)
    assert reason in sam.last()
    assert await snapshot(application, skip=REPLIES) == before
    await sam.send("Sam 👩\u200d❤\ufe0f\u200d👨")  # a joiner inside an emoji is fine
    assert (await stored_user(application, 2)).display_name == "Sam 👩\u200d❤\ufe0f\u200d👨"


async def test_a_long_telegram_name_is_offered_shortened_to_whole_words(
    person: MakePerson, application: BotApplication
) -> None:
    long = person(3, "Maximiliana Alexandrina Ottoline Featherstonehaugh")
    await long.send("/start")
    await long.press("Use “Maximiliana Alexandrina Ottoline”")
    assert (await stored_user(application, 3)).display_name == "Maximiliana Alexandrina Ottoline"


async def test_a_name_that_cannot_be_shortened_is_not_offered(
    person: MakePerson, transport: RecordingTransport
) -> None:
    word = person(4, "W" * 40)
    await word.send("/start")
    assert "Just type the name" in word.last()
    assert not transport.sent_to(4)[-1].params.get("reply_markup")
    await word.send("Wendy")
    assert "Where in the world" in word.last()


async def test_a_huge_time_zone_entry_is_answered_with_a_short_quote(
    person: MakePerson, application: BotApplication
) -> None:
    sam = person(2, "Sam")
    await sam.send("/start")
    await sam.press("Use “")
    before = await snapshot(application, skip=REPLIES)
    await sam.send("Atlantis " * 450)  # about 4,000 characters
    answer = sam.last()
    assert "We couldn't find “Atlantis Atlantis" in answer and "…”" in answer
    assert len(answer) < 400
    assert await snapshot(application, skip=REPLIES) == before


@pytest.mark.parametrize("payload", ["x" * 64, "hello", "inv_", "ref_friend-2024"])
async def test_any_unknown_start_payload_says_the_link_doesnt_work_then_welcomes(
    person: MakePerson, payload: str
) -> None:
    sam = person(2, "Sam")
    await sam.send(f"/start {payload}")
    problem, welcome, ask_name = sam.inbox()
    assert "doesn't work" in problem
    assert "welcome to <b>Remainly</b>" in welcome and "What should we call you?" in ask_name


@pytest.mark.parametrize(
    "data", ["tz:Europe/Lisbon", "tm:morning:0800", "name:tg", "vid:topics", "set:open"]
)
@pytest.mark.parametrize("who", ["unknown", "erased"])
async def test_buttons_pressed_by_people_the_bot_doesnt_know_get_one_gentle_answer(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    caplog: pytest.LogCaptureFixture,
    data: str,
    who: str,
) -> None:
    if who == "erased":
        _, presser = await onboarded_couple(person)
        await presser.send("/deleteme")
        await presser.press("Yes, erase everything")
    else:
        presser = person(9, "Nobody")
    before, calls = await snapshot(application, skip=REPLIES), len(transport.calls)
    with caplog.at_level(logging.INFO):
        await presser.press_data(data)
    answers = transport.calls[calls:]
    assert [call.method for call in answers] == ["answerCallbackQuery"]
    assert answers[0].params["text"] == UNKNOWN and answers[0].params["show_alert"] is True
    assert await snapshot(application, skip=REPLIES) == before
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_a_problem_met_after_the_press_was_answered_comes_as_a_message(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    async def settles_then_fails(update: Update, context: BotContext) -> None:
        await settle_button(update, context)
        raise StaleAction()

    application.handlers[0].insert(0, CallbackQueryHandler(settles_then_fails, pattern="^probe$"))
    alex = person(1, "Alex")
    await onboard(alex)
    calls = len(transport.calls)
    await alex.press_data("probe")
    made = [
        (c.method, c.params.get("text"))
        for c in transport.calls[calls:]
        if c.method in ("answerCallbackQuery", "sendMessage")
    ]
    assert made == [
        ("answerCallbackQuery", None),
        ("sendMessage", "That button is no longer active. Nothing was changed."),
    ]


async def test_a_refused_request_is_not_called_network_trouble(
    person: MakePerson, transport: RecordingTransport, caplog: pytest.LogCaptureFixture
) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    await alex.send("/settings")
    transport.failures["answerCallbackQuery"] = (400, "Bad Request: query is too old")
    with caplog.at_level(logging.INFO):
        await alex.press("Name")
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert said and not any("network" in line for line in said)
    assert any("refused" in line for line in said)


async def test_the_city_index_is_built_at_start_in_a_thread(
    application: BotApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    monkeypatch.setattr(
        "bot.app.warm_timezone_index", lambda: built.append(threading.current_thread().name)
    )
    assert isinstance(application, Application) and application.post_init is not None
    await application.post_init(application)
    for thread in threading.enumerate():
        if thread.name == "timezone-index":
            thread.join(timeout=10)
    assert built == ["timezone-index"]
    warm_timezone_index()  # and building it is what the real one does


async def test_telegram_names_lose_direction_controls_and_invisible_ones_become_friend(
    person: MakePerson, application: BotApplication
) -> None:
    reversed_name, invisible = person(7, "\u202eAnn\u202c"), person(8, "\u200b\u2060")
    await reversed_name.send("/start")
    await invisible.send("/start")
    assert (await stored_user(application, 7)).telegram_name == "Ann"
    assert "Hi Ann," in reversed_name.inbox()[0]
    assert (await stored_user(application, 8)).telegram_name == "friend"


async def test_a_press_that_fails_unexpectedly_stops_spinning_and_gets_an_apology(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    async def fails(update: Update, context: BotContext, _: UnpairKeep) -> None:
        raise RuntimeError("a bug")

    application.handlers[0].insert(0, ButtonHandler(UnpairKeep, fails))
    alex = person(1, "Alex")
    await onboard(alex)
    calls = len(transport.calls)
    await alex.press_data(UnpairKeep().encode())
    made = [(c.method, c.params.get("text")) for c in transport.calls[calls:]]
    assert made[0] == ("answerCallbackQuery", None)
    assert made[1][0] == "sendMessage" and "something went wrong" in str(made[1][1])
    assert len(made) == 2
