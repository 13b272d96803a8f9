"""The expectations map and the sharing prompt through the real Application."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.safety import signals as safety
from bot.settings import Settings
from bot.telegram.context import services_of
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import (
    MakePerson,
    handler_settings,
    invite,
    onboard,
    onboard_invited,
    running_application,
)

ALEX, SAM = 1, 2
# Twelve answers each: Alex and Sam agree on everything except the three they answer apart.
ALEX_SCORES = [5, 3, 4, 2, 5, 4, 1, 3, 5, 2, 4, 3]
SAM_SCORES = [1, 3, 4, 2, 5, 4, 5, 3, 2, 2, 4, 3]
# Wednesday 4 March 2026, 20:00 in Tokyo (11:00 UTC) and in Lisbon (20:00 UTC).
TOKYO_PROMPT = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
LISBON_PROMPT = datetime(2026, 3, 4, 20, 0, tzinfo=UTC)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Leave billing out: these flows are about the exercises (gating has its own test)."""
    return handler_settings(database_url, gated_features="nudges,articles,paid_videos")


async def pair_up(person: MakePerson) -> tuple[Person, Person]:
    alex, sam = person(ALEX, "Alex"), person(SAM, "Sam")
    await onboard(alex)
    await invite(alex, sam)
    await onboard_invited(sam, city="Tokyo")
    return alex, sam


async def answer_map(person: Person, scores: list[int]) -> None:
    for index, score in enumerate(scores):
        assert f"{index + 1} of 12" in person.last()
        await person.press(str(score))


async def test_answers_stay_private_until_both_finish_then_both_see_the_map(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person)
    await alex.send("/expectations")
    intro, first = alex.new_messages()[-2:]
    assert "12 short statements" in intro and "1 of 12" in first
    assert "Alex started an expectations map" in sam.last()

    await alex.press("4")
    assert "2 of 12" in alex.last()
    await alex.press("Back")
    assert "1 of 12" in alex.last() and "Your answer so far: <b>4</b>" in alex.last()
    await answer_map(alex, ALEX_SCORES)
    assert "All done" in alex.last() and "until Sam has finished" in alex.last()
    assert "Alex has finished the expectations map" in sam.last()
    before = len(alex.inbox())

    await sam.press("Start the map")
    await answer_map(sam, SAM_SCORES[:-1])
    assert len(alex.inbox()) == before, "Alex hears nothing while Sam answers"
    await sam.press(str(SAM_SCORES[-1]))

    for me, partner, mine, theirs in ((alex, "Sam", 5, 1), (sam, "Alex", 1, 5)):
        shown = me.last()
        assert "Where you're close" in shown and "affection" in shown
        assert "Worth a conversation" in shown
        assert shown.count("Something to ask each other") == 3
        assert f"You: <b>{mine}</b> · {partner}: <b>{theirs}</b>" in shown
        assert "What moved" not in shown

    # Later, /expectations shows the map again and offers to take it again; what moved shows.
    await alex.send("/expectations")
    assert "Worth a conversation" in alex.last()
    await alex.press("Take it again")
    assert "1 of 12" in alex.last()
    await answer_map(alex, ALEX_SCORES)
    await sam.press("Start the map")
    await answer_map(sam, [5, *SAM_SCORES[1:]])
    moved = alex.last()
    assert "What moved since last time" in moved
    assert "Closer on: I&#39;d like most of our evenings to be spent together." in moved
    assert moved.count("Something to ask each other") == 2


async def test_a_finished_map_and_forged_presses_change_nothing(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person)
    await alex.send("/expectations")
    await answer_map(alex, ALEX_SCORES)
    await alex.send("/expectations")
    assert "You've finished your map" in alex.last()
    await alex.press_data("ex:s:999:0:3")
    assert alex.alerts()[-1] == "That button is no longer active. Nothing was changed."
    await alex.press_data("ex:s:1:0:9")
    assert alex.alerts()[-1] == "That button is no longer active. Nothing was changed."
    await sam.press("Start the map")
    await answer_map(sam, SAM_SCORES)
    await alex.press_data("ex:s:1:0:3")
    assert "finished and shown to you both" in alex.alerts()[-1]


async def test_the_map_needs_a_partner_and_rests_while_a_safety_signal_pauses(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    kim = person(5, "Kim")
    await onboard(kim)
    await kim.send("/expectations")
    assert "invite your partner with /invite first" in kim.last()
    alex, sam = await pair_up(person)
    services = services_of(application)
    async with services.sessions.begin() as session:
        await safety.signal(session, SAM, now=services.clock.now())
    await alex.send("/expectations")
    assert "paused for now" in alex.last()
    await alex.send("/share")
    await alex.press("Yes")
    await sam.send("/share")
    await sam.press("Yes")
    clock.set(TOKYO_PROMPT)
    await services.closeness.tick()
    clock.set(LISBON_PROMPT)
    await services.closeness.tick()
    assert not any("This week's sharing prompt" in text for text in alex.inbox() + sam.inbox())


async def test_sharing_needs_both_yeses_and_not_ready_tells_the_partner_nothing(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await pair_up(person)
    services = services_of(application)
    await alex.send("/share")
    assert "only if you both say yes" in alex.last()
    await alex.press("Yes, I'd like that")
    assert "It starts once you've both said yes" in alex.last()
    assert not any("sharing" in text for text in sam.inbox()), "Sam is never nudged about it"

    clock.set(TOKYO_PROMPT)
    await services.closeness.tick()
    assert "This week's sharing prompt" not in sam.last(), "one yes is not enough"

    clock.set(TOKYO_PROMPT - timedelta(days=1))
    await sam.send("/share")
    await sam.press("Yes, I'd like that")
    assert "You've both said yes" in sam.last()
    assert "You've both said yes to the weekly sharing prompt" in alex.last()

    clock.set(TOKYO_PROMPT)
    await services.closeness.tick()
    assert "This week's sharing prompt" in sam.last()
    assert "This week's sharing prompt" not in alex.last(), "Alex's evening comes later"
    clock.set(LISBON_PROMPT)
    await services.closeness.tick()
    prompt = alex.last()
    assert "This week's sharing prompt" in prompt
    assert prompt.split("\n\n")[1] == sam.inbox()[-1].split("\n\n")[1], "the same prompt"

    await sam.press("I'm not ready")
    assert "Nothing is said to your partner" in sam.last()
    before = len(alex.inbox())
    await alex.press("Write my answer")
    await alex.send("   ")
    assert "looks empty" in alex.last()
    await alex.send("I worry about <work> more than I say")
    assert "stays private until Sam" in alex.last()
    assert len(alex.inbox()) == before + 3
    # Only replies to Alex's own actions: nothing about Sam's "not ready" reached Alex.
    assert [text for text in alex.inbox()[before:] if "Sam" in text] == [alex.last()]

    await sam.press("Write my answer")
    await sam.send("I miss my brother")
    for me, mine, theirs in (
        (alex, "I worry about &lt;work&gt; more than I say", "I miss my brother"),
        (sam, "I miss my brother", "I worry about &lt;work&gt; more than I say"),
    ):
        assert "You've both shared" in me.last()
        assert f"<b>You</b>: {mine}" in me.last() and theirs in me.last()

    # At most weekly: the same week brings nothing more; a no stops it for both, quietly.
    clock.advance(timedelta(hours=2))
    await services.closeness.tick()
    assert "You've both shared" in alex.last()
    await sam.send("/share")
    await sam.press("Stop the sharing prompt")
    assert "no sharing prompts for you two" in sam.last()
    clock.set(LISBON_PROMPT + timedelta(days=7))
    await services.closeness.tick()
    assert "This week's sharing prompt" not in alex.last()


async def test_a_partner_in_discreet_mode_gets_only_a_neutral_notice(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person)
    services = services_of(application)
    async with services.sessions.begin() as session:
        await safety.set_discreet(session, SAM, on=True, now=services.clock.now())
    await alex.send("/expectations")
    assert "Alex" not in sam.last() and "expectations" not in sam.last()
    await sam.press("Show")
    shown = sam.transport.calls_to("editMessageText")[-1].params["text"]
    assert "Alex started an expectations map" in shown


async def test_after_an_unpaid_trial_both_exercises_rest(
    database_url: str, transport: RecordingTransport, clock: FixedClock
) -> None:
    gated = handler_settings(database_url)  # the default paid features include both
    async with running_application(gated, transport, clock) as app:
        alex, sam = await pair_up(lambda user_id, name: Person(app, transport, user_id, name))
        await alex.send("/share")
        await alex.press("Yes, I'd like that")
        await sam.send("/share")
        await sam.press("Yes, I'd like that")
        clock.advance(timedelta(days=8))
        await alex.send("/expectations")
        assert "resting for now" in alex.last()
        clock.set(LISBON_PROMPT + timedelta(days=7))
        await services_of(app).closeness.tick()
        assert not any("This week's sharing prompt" in text for text in alex.inbox())
