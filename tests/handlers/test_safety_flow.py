"""The safety check, /safety, /hide and neutral notifications through the real Application."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.models import Couple, User
from bot.telegram.context import services_of
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import MakePerson, invite, onboard, onboarded_couple

QUESTION = "Tonight's question"


async def _couple_where_sam_signals(person: MakePerson) -> tuple[Person, Person]:
    """Alex invites Sam; Sam answers the onboarding safety check with a signal."""
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await invite(alex, sam)
    await sam.press("Use “")
    await sam.send("London")
    await sam.press("London, GB")
    await sam.press("08:00")
    await sam.send("21:15")
    assert "Do you ever feel afraid of your partner" in sam.last()
    await sam.press("Yes, sometimes")
    assert "what happens next" in sam.last()
    await sam.press("Yes, go ahead")
    return alex, sam


async def _couple_of(application: BotApplication, user_id: int) -> Couple:
    async with services_of(application).sessions() as session:
        user = await session.get(User, user_id)
        assert user is not None and user.couple_id is not None
        couple = await session.get(Couple, user.couple_id)
    assert couple is not None
    return couple


async def test_a_safety_signal_pauses_the_couple_without_telling_the_partner(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await _couple_where_sam_signals(person)
    alex_seen = len(alex.inbox())
    support, done = sam.new_messages()[-2:]
    assert "Thank you for telling us" in support and "paused" in support
    assert "999" in support and "Samaritans" in support  # London: the UK lines
    assert "you're all set" in done
    assert (await _couple_of(application, 1)).exercises_paused_at is not None

    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    assert not any(QUESTION in text for text in alex.inbox() + sam.inbox())
    # Alex sees only a neutral pause, and nothing of why.
    await alex.send("/start")
    assert "paused for now" in alex.last()
    since = alex.inbox()[alex_seen:]
    assert len(since) == 2  # the welcome back and the neutral pause
    assert not any(word in text.lower() for text in since for word in ("safe", "afraid", "sam"))

    await sam.send("/safety")
    assert "You've told us you don't always feel safe" in sam.last()
    await sam.press("I feel safe now")
    assert "back on" in sam.last()
    assert (await _couple_of(application, 1)).exercises_paused_at is None
    clock.set(datetime(2026, 3, 3, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    assert QUESTION in alex.last() and QUESTION in sam.last()


async def test_safety_always_works_and_stale_presses_change_nothing(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    stranger = person(7, "Kim")
    await stranger.send("/safety")
    assert "isn't an emergency service" in stranger.last() and "112" in stranger.last()
    await stranger.press_data("sf:signal")
    assert "send /start" in stranger.alerts()[-1]

    kim = person(8, "Kim")
    await onboard(kim)
    await kim.press_data("sfc:yes")  # the onboarding question is long gone
    await kim.press_data("sf:safe")  # nothing to take back
    assert kim.alerts() == ["That button is no longer active. Nothing was changed."] * 2
    await kim.send("/safety")
    assert "tell us privately" in kim.last()
    await kim.press("I don't always feel safe")
    assert "Thank you for telling us" in kim.last() and "If you pair" in kim.last()
    await kim.send("/help")
    await kim.press("Safety and support")
    assert "You've told us" in kim.last()


async def test_hide_deletes_recent_messages_and_makes_nudges_neutral(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await onboarded_couple(person)
    sent_to_sam = len(transport.sent_to(2))
    await sam.send("/hide")
    [deleted] = transport.calls_to("deleteMessages")
    assert int(deleted.params["chat_id"]) == 2
    # Every message the bot sent Sam (all recent), plus the /hide itself.
    assert len(deleted.params["message_ids"]) == sent_to_sam + 1
    assert "recent messages here are cleared" in sam.last()

    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    assert sam.last() == "You have a new message."
    assert QUESTION in alex.last()
    show = re.search(r"dm:show:\d+", str(transport.sent_to(2)[-1].params["reply_markup"]))
    assert show is not None
    await sam.press("Show")
    [shown] = [c for c in transport.calls_to("editMessageText") if int(c.params["chat_id"]) == 2]
    assert QUESTION in shown.params["text"] and "ans:go:" in str(shown.params["reply_markup"])
    await alex.press_data(show.group(0))  # someone else's, or
    await sam.press_data(show.group(0))  # the same one twice
    assert (
        alex.alerts()[-1]
        == sam.alerts()[-1]
        == (
            "That message is no longer available: it was shown already, or its words have gone "
            "with the person who wrote them."
        )
    )

    await sam.send("/hide")
    second = transport.calls_to("deleteMessages")[-1]
    # Only what was sent since the first /hide: the neutral nudge, the reply, and more.
    assert len(second.params["message_ids"]) < len(deleted.params["message_ids"])
    await sam.press("Show full notifications again")
    assert "full wording again" in sam.last()
    async with services_of(application).sessions() as session:
        stored = await session.get(User, 2)
    assert stored is not None and stored.discreet_since is None
