"""Answering, pausing and choosing days through the real Application."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.models import CoupleQuestion
from bot.db.safety import HeldMessage
from bot.nudges.buttons import AnswerQuestion
from bot.safety.buttons import ShowHeld
from bot.telegram.context import services_of
from tests.support.app import MakePerson, invited_couple, onboard, stored_user


async def test_answer_share_and_reveal_through_buttons(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await invited_couple(person)
    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    assert "Tonight's question" in alex.last() and "Tonight's question" in sam.last()

    await alex.press("Answer")
    await alex.send("x" * 1001)
    assert "could you trim it" in alex.last()
    await alex.send("A picnic <by the lake>")
    assert "&lt;by the lake&gt;" in alex.last()
    await alex.press("Share when")
    assert "Saved" in alex.last()
    assert "Alex has answered" in sam.last() and "picnic" not in sam.last()
    await sam.press("Skip")
    assert "Skipped" in sam.inbox()[-2]
    assert "You've both answered" in alex.last() and "skipped this one" in alex.last()
    assert "A picnic &lt;by the lake&gt;" in sam.last()
    # The old buttons can't answer again.
    await alex.press("Answer")
    assert alex.alerts()[-1].startswith("You've already answered")


async def test_another_couples_question_cannot_be_answered(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    await invited_couple(person)
    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    async with services_of(application).sessions() as session:
        question = (await session.exec(select(CoupleQuestion))).one()
    kim = person(3, "Kim")
    await onboard(kim)
    await kim.press_data(f"ans:go:{question.id}")
    await kim.press_data(f"ans:share:{question.id}")
    assert kim.alerts() == ["That button is no longer active. Nothing was changed."] * 2


async def test_pause_resume_skip_and_days(person: MakePerson, application: BotApplication) -> None:
    alex, _ = await invited_couple(person)
    await alex.send("/pause")
    await alex.press("3 days")
    assert "Paused until" in alex.last() and "your time" in alex.last()
    assert (await stored_user(application, 1)).paused_until is not None
    await alex.send("/pause 9999")
    assert "from 1 to 365 days" in alex.last()
    await alex.send("/resume")
    assert "Welcome back" in alex.last()
    assert (await stored_user(application, 1)).paused_until is None
    await alex.send("/skip")
    assert "No more nudges today" in alex.last()
    await alex.send("/days")
    await alex.press("Sun")
    assert (await stored_user(application, 1)).nudge_days == 0b0111111
    await alex.press("Done")
    assert "Saved" in alex.last()


async def test_blocking_and_unblocking_the_bot(
    person: MakePerson, application: BotApplication
) -> None:
    alex, _ = await invited_couple(person)
    for old, new in (("member", "kicked"), ("kicked", "member")):
        await alex.change_membership(old, new)
        blocked = (await stored_user(application, 1)).unreachable_since is not None
        assert blocked is (new == "kicked")


async def test_discreet_mode_keeps_answer_notifications_neutral(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await invited_couple(person)
    await sam.send("/hide")
    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    await alex.press("Answer")
    await alex.send("Dancing in the kitchen")
    await alex.press("Share when")
    assert sam.last() == "You have a new message."
    assert all("Alex has answered" not in text for text in sam.inbox())
    await sam.press("Show")
    shown = sam.transport.calls_to("editMessageText")[-1].params["text"]
    assert "Alex has answered" in shown


@pytest.mark.parametrize("leaving", ["unpair", "erase"])
async def test_a_held_reveal_loses_the_partners_words_when_he_leaves(
    person: MakePerson, application: BotApplication, clock: FixedClock, leaving: str
) -> None:
    alex, sam = await invited_couple(person)
    await sam.send("/hide")
    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    async with services_of(application).sessions() as session:
        question = (await session.exec(select(CoupleQuestion))).one()
    assert question.id is not None
    await sam.press_data(AnswerQuestion("go", question.id).encode())  # his question is held
    await sam.send("Sunday pancakes")
    await sam.press("Share when")
    await alex.press("Answer")
    await alex.send("The night train to Porto")
    await alex.press("Share when")
    assert sam.last() == "You have a new message."
    async with services_of(application).sessions() as session:
        mine = (await session.exec(select(HeldMessage).where(HeldMessage.user_id == 2))).all()
    [reveal] = [row for row in mine if "You've both answered" in row.text]
    assert "The night train to Porto" in reveal.text and reveal.about_user_id == 1

    if leaving == "unpair":
        await alex.send("/unpair")
        await alex.press("Yes, unpair")
    else:
        await alex.send("/deleteme")
        await alex.press("Yes, erase everything")
    async with services_of(application).sessions() as session:
        held = (await session.exec(select(HeldMessage))).all()
    assert all("Porto" not in row.text for row in held), "the words went with him"
    assert reveal.id is not None
    await sam.press_data(ShowHeld(reveal.id).encode())
    assert sam.alerts()[-1].startswith("That message is no longer available")
    assert all("Porto" not in text for text in sam.inbox())
