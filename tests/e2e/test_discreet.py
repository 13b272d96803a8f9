"""Discreet mode covers every path out: /hide deletes an excerpt, a chart and a courier note,
and later notifications of every kind are neutral, end to end against the real bot process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.process import RunningBot, check_in, pair, wait_for_photo
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Nothing gated: the test runs past the free week."""
    return {"GATED_FEATURES": ""}


async def test_hide_deletes_every_kind_of_message_and_later_ones_are_neutral(
    running_bot: RunningBot,
) -> None:
    api = running_bot.api
    alex, sam = api.user(701, "Alex"), api.user(702, "Sam")
    await pair(alex, sam, "London", "07:30", choose="London, GB")
    running_bot.set_clock(datetime(2026, 3, 8, 19, 0, 30, tzinfo=UTC))  # Sunday: check-in day
    await wait_for_text(sam, "Time for your weekly check-in with Alex", timeout=30)
    since = len(sam.messages)  # Telegram lets a bot delete its messages of the last 48 hours
    await wait_for_text(alex, "Time for your weekly check-in with Sam", timeout=30)
    await check_in(alex, (4, 5, 4), ("The long walk", "More picnics"))
    await check_in(sam, (3, 5, 2), ("Pancakes", "More music"))
    await wait_for_text(sam, "Your check-in together")

    await alex.send_text("/appreciate Thank you for the pancakes")
    await wait_for_text(alex, "Sam gets it Monday at 07:30")
    running_bot.set_clock(datetime(2026, 3, 9, 7, 30, 30, tzinfo=UTC))
    await wait_for_text(sam, "A note from Alex", timeout=30)
    await sam.send_text("/articles")
    listing = await wait_for_text(sam, "Articles for you two")
    await sam.press(listing, next(d for d in listing.callback_data if d.startswith("art:open:")))
    await wait_for_text(sam, "part 1 of")
    await sam.send_text("/history")
    await wait_for_photo(sam)
    shown = [m for m in sam.messages[since:] if not m.deleted]
    kinds = {m.method for m in shown}
    assert {"sendMessage", "sendPhoto"} <= kinds

    await sam.send_text("/hide")
    await wait_for_text(sam, "recent messages here are cleared")
    assert all(m.deleted for m in shown), [m.content[:40] for m in shown if not m.deleted]
    after_hide = len(sam.messages)

    await alex.send_text("/appreciate Thanks for the music")
    await wait_for_text(alex, "Sam gets it Tuesday at 07:30")
    running_bot.set_clock(datetime(2026, 3, 10, 7, 30, 30, tzinfo=UTC))
    # The morning nudge and the note both arrive as the same neutral line, words behind Show.
    for _ in range(2):
        await wait_for_text(sam, "You have a new message", timeout=30)
    neutral = [m for m in sam.messages[after_hide:] if "You have a new message" in (m.text or "")]
    assert len(neutral) == 2
    assert not any("music" in (m.text or "") or "Alex" in (m.text or "") for m in neutral)
    for message in neutral:
        await sam.press(message, message.callback_data[0])
    await api.wait_until(lambda: any("Thanks for the music" in (m.text or "") for m in neutral))
