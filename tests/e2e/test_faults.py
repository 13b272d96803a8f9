"""The bot against a Bot API that fails on purpose: 429s, 5xx storms, resets, stalls and slow
answers. Nothing a person should see is lost or shown twice, and the bot recovers by itself."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.fakes.botapi import FakeUser
from tests.support.process import RunningBot, pair
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e

# Everything the bot sends or changes, its answers to button presses, and the long poll.
FAULTY = (
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "answerCallbackQuery",
    "getUpdates",
)
SLOW = 60.0


def shown_twice(user: FakeUser) -> list[str]:
    """Return the texts the bot sent this person more than once."""
    texts = Counter(m.text for m in user.messages if m.from_bot and m.text)
    return [text for text, count in texts.items() if count > 1]


async def test_pairing_a_nudge_round_and_replies_survive_a_faulty_bot_api(
    running_bot: RunningBot, capsys: pytest.CaptureFixture[str]
) -> None:
    api = running_bot.api
    api.chaos(FAULTY, rate=0.4, seed=2026, stall_seconds=5.5, budget=40)
    alex, sam = api.user(801, "Alex"), api.user(802, "Sam")
    await pair(alex, sam, "London", choose="London, GB")

    running_bot.set_clock(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    await wait_for_text(alex, "Tonight's question", timeout=SLOW)
    await wait_for_text(sam, "Tonight's question", timeout=SLOW)
    await alex.press_button("Answer")
    await wait_for_text(alex, "type your answer", timeout=SLOW)
    await alex.send_text("Dancing in the kitchen")
    await wait_for_text(alex, "Here's your answer", timeout=SLOW)
    # The press that shares the answer meets a failing answerCallbackQuery: the work goes on.
    api.fail_next("answerCallbackQuery", 502, "Bad Gateway")
    api.reset_next("answerCallbackQuery")
    await alex.press_button("Share when")
    await wait_for_text(sam, "Alex has answered", timeout=SLOW)
    await sam.press_button("Answer")
    await wait_for_text(sam, "type your answer", timeout=SLOW)
    await sam.send_text("The first snow")
    await wait_for_text(sam, "Here's your answer", timeout=SLOW)
    await sam.press_button("Share when")
    alex_reveal = await wait_for_text(alex, "You've both answered", timeout=SLOW)
    sam_reveal = await wait_for_text(sam, "You've both answered", timeout=SLOW)
    api.calm()

    assert "The first snow" in (alex_reveal.text or "")
    assert "Dancing in the kitchen" in (sam_reveal.text or "")
    assert shown_twice(alex) == [] and shown_twice(sam) == []
    assert running_bot.process.returncode is None, "the bot kept running"
    log = running_bot.log()
    assert "Traceback" not in log
    injected = dict(api.stats.faults)
    total = sum(injected.values())
    delivered = sum(1 for user in (alex, sam) for m in user.messages if m.from_bot)
    with capsys.disabled():
        print(
            f"\nfault suite: {total} faults injected and survived {injected}; "
            f"{delivered} messages delivered, none lost, none shown twice; "
            f"by method {dict(api.stats.faulted_methods)}"
        )
    assert total >= 15, injected
    assert {"429", "5xx", "reset", "stall", "slow"} <= set(injected), injected
    hit = set(api.stats.faulted_methods)
    assert {"sendmessage", "answercallbackquery", "getupdates"} <= hit, api.stats.faulted_methods
    assert "gave up answering a button press" not in log
