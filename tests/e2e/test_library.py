"""Tailored excerpts and videos reach two simulated partners through the real bot process."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.process import RunningBot, pair
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e


async def test_excerpts_and_the_weekly_video_follow_the_couples_focus(
    running_bot: RunningBot,
) -> None:
    api = running_bot.api
    alex, sam = api.user(701, "Alex"), api.user(702, "Sam")
    await pair(alex, sam, "Lisbon")
    for user in (alex, sam):
        await user.send_text("/focus")
        await wait_for_text(user, "Pick up to 3 areas")
        await user.press_button("Appreciation")
        await user.press_button("Done")
        await wait_for_text(user, "focus areas are saved")

    running_bot.set_clock(datetime(2026, 3, 3, 12, 30, 20, tzinfo=UTC))  # Tuesday
    excerpt = await wait_for_text(alex, "part 1 of")
    assert "you both chose appreciation" in (excerpt.text or "")
    await wait_for_text(sam, "part 1 of")
    await alex.press_button("Next part")
    await wait_for_text(alex, "part 2 of")

    running_bot.set_clock(datetime(2026, 3, 8, 18, 0, 20, tzinfo=UTC))  # Sunday
    video = await wait_for_text(alex, "🎬")
    urls = [b.url for b in video.buttons if b.url]
    assert urls and urls[0].startswith("https://videos.remainly.example/")
    assert "chose appreciation" in (video.text or "")
