"""A Bot API slower than the read time-out: the evening question still arrives once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tests.support.process import RunningBot, pair
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e
QUESTION = "Tonight's question"


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Give up waiting for an answer after one second, so a slow send is in doubt quickly."""
    return {"TELEGRAM_READ_TIMEOUT_SECONDS": "1"}


async def test_a_question_whose_send_times_out_is_not_sent_again(running_bot: RunningBot) -> None:
    api = running_bot.api
    alex, sam = api.user(601, "Alex"), api.user(602, "Sam")
    await pair(alex, sam, "London", choose="London, GB")
    # Telegram takes 2.5 s over each evening question, yet delivers it.
    api.delay_next("sendMessage", 2.5, times=2)
    running_bot.set_clock(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    await wait_for_text(alex, QUESTION)
    await wait_for_text(sam, QUESTION)
    # Absence can only be watched for: ten more ticks would have sent any second copy.
    await asyncio.sleep(3)
    for partner in (alex, sam):
        assert sum(QUESTION in (m.text or "") for m in partner.messages) == 1
    assert "not sending it again" in running_bot.log()
