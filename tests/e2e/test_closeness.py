"""The expectations map and the sharing prompt, one full cycle each, against the real bot
process, with Alex in Lisbon and Sam in Tokyo."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.fakes.botapi import FakeMessage, FakeUser
from tests.support.process import RunningBot, pair
from tests.support.waiting import wait_for_text as wait_briefly

pytestmark = pytest.mark.e2e

# A busy machine can slow a round trip: every wait here allows half a minute.
PATIENCE = 30.0
ALEX_SCORES = (5, 3, 4, 2, 5, 4, 1, 3, 5, 2, 4, 3)
SAM_SCORES = (1, 3, 4, 2, 5, 4, 5, 3, 2, 2, 4, 3)


async def wait_for_text(user: FakeUser, needle: str, timeout: float = PATIENCE) -> FakeMessage:  # noqa: ASYNC109
    return await wait_briefly(user, needle, timeout)


async def answer_map(user: FakeUser, scores: tuple[int, ...]) -> None:
    for number, score in enumerate(scores, start=1):
        await wait_for_text(user, f"{number} of 12")
        await user.press_button(str(score))


async def test_one_map_and_one_sharing_round_across_time_zones(running_bot: RunningBot) -> None:
    api = running_bot.api
    alex, sam = api.user(801, "Alex"), api.user(802, "Sam")
    await pair(alex, sam, "Tokyo")

    # The map is offered the evening after pairing at 19:00 local: Tokyo first (10:00 UTC).
    running_bot.set_clock(datetime(2026, 3, 3, 10, 0, 30, tzinfo=UTC))
    await wait_for_text(sam, "The expectations map is 12 short statements", timeout=30)
    await sam.press_button("Start the map")
    await answer_map(sam, SAM_SCORES)
    await wait_for_text(sam, "until Alex has finished too")
    await wait_for_text(alex, "Sam started an expectations map")
    told = await wait_for_text(alex, "Sam has finished the expectations map")
    assert "5" not in (told.text or ""), "nothing of Sam's answers before Alex finishes"
    await alex.press_button("Start the map")
    await answer_map(alex, ALEX_SCORES)
    for me, partner, mine, theirs in ((alex, "Sam", 5, 1), (sam, "Alex", 1, 5)):
        shown = await wait_for_text(me, "Worth a conversation")
        assert f"You: {mine} · {partner}: {theirs}" in (shown.text or "")
        assert "Where you're close" in (shown.text or "")

    # Both say yes to the sharing prompt; it comes Wednesday at 20:00, each their own time.
    for user in (alex, sam):
        await user.send_text("/share")
        await wait_for_text(user, "Something you'd usually keep to yourself")
        await user.press_button("Yes, I'd like that")
    await wait_for_text(sam, "You've both said yes")
    await wait_for_text(alex, "You've both said yes to the weekly sharing prompt")
    running_bot.set_clock(datetime(2026, 3, 4, 11, 0, 30, tzinfo=UTC))
    sams = await wait_for_text(sam, "This week's sharing prompt", timeout=30)
    await sam.press_button("I'm not ready")
    await wait_for_text(sam, "Nothing is said to your partner")
    running_bot.set_clock(datetime(2026, 3, 4, 20, 0, 30, tzinfo=UTC))
    alexs = await wait_for_text(alex, "This week's sharing prompt", timeout=30)
    assert (alexs.text or "").split("\n\n")[1] == (sams.text or "").split("\n\n")[1]
    await alex.press_button("Write my answer")
    await wait_for_text(alex, "type your answer")
    await alex.send_text("I worry about the move more than I show")
    await wait_for_text(alex, "stays private until Sam")
    await sam.press_button("Write my answer")
    await wait_for_text(sam, "type your answer")
    await sam.send_text("I miss my brother")
    for me, words in ((alex, "I miss my brother"), (sam, "I worry about the move")):
        shown = await wait_for_text(me, "You've both shared")
        assert words in (shown.text or "")
    log = running_bot.log()
    for private in ("I miss my brother", "the move"):
        assert private not in log, "answers never reach the logs"
