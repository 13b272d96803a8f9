"""The evening question as partners expect it: early answers, second thoughts, new couples and
a careful safety check."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.models import Couple
from bot.telegram.context import services_of
from tests.fakes.inprocess import Person
from tests.support.app import MakePerson, invite, invited_couple, onboard, stored_user


def question_of(message: str) -> str:
    """Return the question in a "Tonight's question" message."""
    return message.split("\n\n")[1]


async def test_an_early_answer_shows_the_partner_the_question_with_the_button(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await invited_couple(person)
    await sam.send("/settings")
    await sam.press("Evening")
    await sam.send("22:50")  # Sam's question comes 90 minutes after Alex's
    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    assert "Tonight's question" in alex.last() and "Tonight's question" not in sam.last()
    question = question_of(alex.last())
    await alex.press("Answer")
    await alex.send("The smell of rain")
    await alex.press("Share when")
    notice = sam.last()
    assert "Alex has answered" in notice and f"<i>{question}</i>" in notice
    assert "rain" not in notice
    await sam.press("Answer")
    await sam.send("Bread in the oven")
    await sam.press("Share when")
    assert "You've both answered" in sam.last() and "The smell of rain" in sam.last()


async def test_more_text_while_an_answer_waits_asks_which_to_keep(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await invited_couple(person)
    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    await alex.press("Answer")
    await alex.send("A picnic by the lake")
    await alex.send("hello")  # meant for someone else, or a second thought
    asked = alex.last()
    assert "You already have an answer waiting" in asked
    assert "A picnic by the lake" in asked and "hello" in asked
    await alex.press("Keep the first one")
    assert "Here's your answer" in alex.last() and "A picnic by the lake" in alex.last()
    await alex.send("A picnic by the sea")
    await alex.press("Use the new one")
    assert "A picnic by the sea" in alex.last()
    await alex.press("Share when")
    await sam.press("Answer")
    await sam.send("Dancing")
    await sam.press("Share when")
    reveal = sam.last()
    assert "A picnic by the sea" in reveal and "lake" not in reveal and "hello" not in reveal
    # The choice is made: its buttons can't be pressed again.
    await alex.press_data(choice_data(alex, "Use the new one"))
    assert alex.alerts()[-1] == "That button is no longer active. Nothing was changed."


def choice_data(someone: Person, label: str) -> str:
    """Return the callback data of the newest button with this label sent to someone."""
    for call in reversed(someone.transport.sent_to(someone.id)):
        for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"] == label:
                    return str(button["callback_data"])
    raise AssertionError(f"no {label!r} button was sent")


async def test_an_invitee_hears_about_nudge_times_only_once_they_have_some(
    person: MakePerson,
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await invite(alex, sam)
    paired = sam.inbox()[-2]
    assert "now a couple" in paired and "next morning time" not in paired
    assert "A few quick questions first" in paired
    assert "now a couple" in alex.last() and "next morning time" in alex.last()  # Alex has times
    kim, lee = person(3, "Kim"), person(4, "Lee")
    await onboard(kim)
    await onboard(lee)
    await invite(kim, lee)
    assert "next morning time" in lee.inbox()[-1] and "next morning time" in kim.last()


async def test_yes_to_the_safety_question_is_confirmed_and_can_be_taken_back(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await invite(alex, sam)
    await sam.press("Use “")
    await sam.send("Lisbon")
    await sam.press("08:00")
    await sam.send("21:15")
    alex_seen = len(alex.inbox())
    await sam.press("Yes, sometimes")
    confirm = sam.last()
    assert "what happens next" in confirm and "never why" in confirm
    assert await _paused(application) is False  # nothing happens before the confirmation
    await sam.press("I tapped by mistake")
    assert "nothing was changed" in sam.inbox()[-2]
    assert "Do you ever feel afraid" in sam.last()
    assert await _paused(application) is False
    await sam.press("Yes, sometimes")
    await sam.press("Yes, go ahead")
    assert await _paused(application) is True
    assert "you're all set" in sam.last()
    assert (await stored_user(application, 2)).onboarded_at is not None
    # Alex was told nothing of any of it.
    assert not any(re.search("safe|afraid|paus", text) for text in alex.inbox()[alex_seen:])


async def _paused(application: BotApplication) -> bool:
    user = await stored_user(application, 2)
    async with services_of(application).sessions() as session:
        couple = await session.get(Couple, user.couple_id)
    assert couple is not None
    return couple.exercises_paused_at is not None


async def test_the_same_answer_typed_twice_is_simply_shown_again(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, _ = await invited_couple(person)
    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    await alex.press("Answer")
    await alex.send("A picnic by the lake")
    await alex.send("  A picnic by the lake ")
    assert "Here's your answer" in alex.last() and "already have an answer" not in alex.last()
