"""Two simulated partners use the real bot process over real HTTP, end to end."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.support.process import RunningBot, onboard, pair
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e


async def test_two_partners_onboard_pair_change_settings_and_unpair(
    running_bot: RunningBot,
) -> None:
    api = running_bot.api
    alex, sam = api.user(501, "Alex"), api.user(502, "Sam")

    await alex.start()
    await wait_for_text(alex, "welcome to Remainly")
    await onboard(alex, "Lisbon", "8:00", "21:30")
    await alex.press_button("Invite your partner")
    invite = await wait_for_text(alex, "private invite link")
    match = re.search(r"https://t\.me/remainly_test_bot\?start=(inv_[\w-]+)", invite.text or "")
    assert match, invite.text

    await sam.start(match.group(1))
    await wait_for_text(sam, "Alex has invited you")
    await sam.press_button("Accept")
    await wait_for_text(sam, "You and Alex are now a couple")
    await wait_for_text(alex, "You and Sam are now a couple")
    await onboard(sam, "Tokyo", "7am", "9pm")

    await alex.send_text("/settings")
    await wait_for_text(alex, "Your settings")
    await alex.press_button("Morning time")
    await wait_for_text(alex, "Tap or type a new time")
    await alex.send_text("7:15")
    await wait_for_text(alex, "morning nudge moves to 07:15")

    await sam.send_text("/unpair")
    await wait_for_text(sam, "Do you want to unpair from Alex?")
    await sam.press_button("Yes, unpair")
    await wait_for_text(sam, "You're unpaired")
    await wait_for_text(alex, "Your partner has ended your pairing")
    assert [c.params["commands"] for c in api.calls_to("setMyCommands")], "menu registered"


async def test_the_evening_question_round_trip_with_a_moving_clock(running_bot: RunningBot) -> None:
    api = running_bot.api
    alex, sam = api.user(601, "Alex"), api.user(602, "Sam")
    await pair(alex, sam, "London", choose="London, GB")

    running_bot.set_clock(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    alex_question = await wait_for_text(alex, "Tonight's question")
    sam_question = await wait_for_text(sam, "Tonight's question")
    asked = (alex_question.text or "").split("\n\n")[1]
    assert asked in (sam_question.text or "")

    await alex.press_button("Answer")
    await wait_for_text(alex, "type your answer")
    await alex.send_text("Walking by the river")
    await wait_for_text(alex, "Here's your answer")
    await alex.press_button("Share when")
    await wait_for_text(alex, "Saved")
    nudge = await wait_for_text(sam, "Alex has answered")
    assert "Walking by the river" not in (nudge.text or "")

    await sam.press_button("Answer")
    await wait_for_text(sam, "type your answer")
    await sam.send_text("The first snow")
    await wait_for_text(sam, "Here's your answer")
    await sam.press_button("Keep it private")
    alex_reveal = await wait_for_text(alex, "You've both answered")
    sam_reveal = await wait_for_text(sam, "You've both answered")
    assert "kept this answer private" in (alex_reveal.text or "")
    assert "The first snow" not in (alex_reveal.text or "")
    assert "Walking by the river" in (sam_reveal.text or "")
    assert "Walking by the river" not in running_bot.log(), "answers never reach the logs"
