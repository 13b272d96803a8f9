"""One full cycle of something meaningful together against the real bot process: weekly ideas
at each partner's own time, private marks, a day, reminders, and how it went."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.process import RunningBot, pair
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e


async def test_a_plan_together_from_ideas_to_how_it_went(running_bot: RunningBot) -> None:
    api = running_bot.api
    alex, sam = api.user(801, "Alex"), api.user(802, "Sam")
    # Alex lives in Lisbon (UTC in March), Sam in Tokyo (UTC+9); paired on Monday 2 March.
    await pair(alex, sam, "Tokyo")

    # Thursday's ideas come at 18:30 each partner's time: Tokyo first, as one round.
    running_bot.set_clock(datetime(2026, 3, 5, 9, 30, 30, tzinfo=UTC))
    ideas = await wait_for_text(sam, "This week's ideas for you and Alex", timeout=30)
    await sam.press_button("1")
    await sam.press_button("2")
    await sam.press_button("Done")
    await wait_for_text(sam, "your picks are safely tucked away")

    running_bot.set_clock(datetime(2026, 3, 5, 18, 30, 30, tzinfo=UTC))
    # Alex hears nothing of Sam's picks: only the same round, at his own 18:30.
    same = await wait_for_text(alex, "This week's ideas for you and Sam", timeout=30)
    assert not any("Sam" in (m.text or "") and "chosen" in (m.text or "") for m in alex.messages)
    assert same.text is not None and ideas.text is not None
    assert same.text.split("\n", 2)[2] == ideas.text.split("\n", 2)[2]
    await alex.press_button("2")
    await alex.press_button("Done")
    shared = await wait_for_text(alex, "both enjoy this")
    await wait_for_text(sam, "both enjoy this")
    # Only the second idea was marked by both: the first, Sam's alone, is never shown.
    first_idea, second_idea = (ideas.text.split(f"{n}. ")[1].split("\n")[0] for n in (1, 2))
    assert second_idea in (shared.text or "") and first_idea not in (shared.text or "")

    await alex.press_button("Sat 7")
    await wait_for_text(alex, "it's a plan for Saturday 7 March")
    await wait_for_text(sam, "Alex picked Saturday 7 March")

    # On the day, each is reminded at 10:00 their own time.
    running_bot.set_clock(datetime(2026, 3, 7, 1, 0, 30, tzinfo=UTC))
    await wait_for_text(sam, "Today's the day you and Alex planned", timeout=30)
    running_bot.set_clock(datetime(2026, 3, 7, 10, 0, 30, tzinfo=UTC))
    await wait_for_text(alex, "Today's the day you and Sam planned", timeout=30)

    # The day after, each is asked privately; both see both once both have answered.
    running_bot.set_clock(datetime(2026, 3, 8, 1, 0, 30, tzinfo=UTC))
    await wait_for_text(sam, "How did it go with Alex?", timeout=30)
    await sam.press_button("4")
    await wait_for_text(sam, "Anything you'd like to add")
    await sam.send_text("Sunny and silly")
    await wait_for_text(sam, "once Alex has said how it went")
    running_bot.set_clock(datetime(2026, 3, 8, 10, 0, 30, tzinfo=UTC))
    await wait_for_text(alex, "How did it go with Sam?", timeout=30)
    await alex.press_button("5")
    await wait_for_text(alex, "Anything you'd like to add")
    await alex.press_button("Nothing to add")
    alex_view = await wait_for_text(alex, "How it went")
    sam_view = await wait_for_text(sam, "How it went")
    assert "Sunny and silly" in (alex_view.text or "") and "●●●●○ 4" in (alex_view.text or "")
    assert "●●●●● 5" in (sam_view.text or "")

    await alex.send_text("/history")
    history = await wait_for_text(alex, "Things you've done together")
    assert "you 5/5 · Sam 4/5" in (history.text or "")
    assert "Sunny and silly" not in running_bot.log(), "words never reach the logs"
