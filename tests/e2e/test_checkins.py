"""Two partners check in together against the real bot process, week after week, end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO

import pytest
from PIL import Image

from tests.support.process import RunningBot, check_in, pair, wait_for_photo
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def ungated(monkeypatch: pytest.MonkeyPatch) -> None:
    """The weeks here run past the free week: the bot process starts with check-ins ungated."""
    monkeypatch.setenv("GATED_FEATURES", "nudges,articles,paid_videos")


async def test_two_partners_check_in_weekly_and_get_their_chart(running_bot: RunningBot) -> None:
    api = running_bot.api
    alex, sam = api.user(701, "Alex"), api.user(702, "Sam")
    await pair(alex, sam, "London", "07:30", choose="London, GB")

    weeks = (
        (datetime(2026, 3, 8, 19, 0, 30, tzinfo=UTC), (4, 5, 4), (3, 5, 2)),
        (datetime(2026, 3, 15, 19, 0, 30, tzinfo=UTC), (5, 5, 4), (4, 4, 4)),
    )
    summaries: list[tuple[str, str]] = []
    for week, (sunday_evening, alex_scores, sam_scores) in enumerate(weeks):
        # Sunday 19:00 is the default check-in time; Lisbon and London are both on UTC now.
        running_bot.set_clock(sunday_evening)
        await wait_for_text(alex, "Time for your weekly check-in with Sam", timeout=30)
        await wait_for_text(sam, "Time for your weekly check-in with Alex", timeout=30)
        await check_in(alex, alex_scores, (f"Week {week}: the long walk", "More picnics"))
        await wait_for_text(alex, "Your answers stay private until Sam")
        told = await wait_for_text(sam, "Alex has sent their check-in answers")
        assert "walk" not in (told.text or "")
        await check_in(sam, sam_scores, (f"Week {week}: pancakes", "More music"))
        alex_summary = await wait_for_text(alex, "Your check-in together")
        sam_summary = await wait_for_text(sam, "Your check-in together")
        assert f"Week {week}: pancakes" in (alex_summary.text or "")
        assert f"Week {week}: the long walk" in (sam_summary.text or "")
        summaries.append((alex_summary.text or "", sam_summary.text or ""))
    # Week one: "appreciated" was 4 against 2, so the summary offers a gentle conversation.
    assert "a little differently (4 and 2)" in summaries[0][0]
    assert "a little differently" not in summaries[1][0]
    assert "first check-in together" in summaries[0][1] and "2 weeks in a row" in summaries[1][1]

    await alex.send_text("/appreciate Thank you for the pancakes")
    await wait_for_text(alex, "Sam gets it Monday at 07:30, their time")
    running_bot.set_clock(datetime(2026, 3, 16, 7, 30, 30, tzinfo=UTC))
    note = await wait_for_text(sam, "A note from Alex", timeout=30)
    assert "Thank you for the pancakes" in (note.text or "")

    await sam.send_text("/history")
    listing = await wait_for_text(sam, "Your check-ins together")
    assert "Week of 15 March" in (listing.text or "") and "Week of 8 March" in (listing.text or "")
    photo = await wait_for_photo(sam)
    assert photo.file is not None and photo.file.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(BytesIO(photo.file.data)).size == (960, 1280)
    assert "you and Alex" in (photo.caption or "")
    log = running_bot.log()
    for private in ("the long walk", "pancakes", "More music"):
        assert private not in log, "answers never reach the logs"
