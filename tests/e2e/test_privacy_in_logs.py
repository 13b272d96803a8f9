"""A database failure while someone answers leaves their words out of the log, end to end."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.process import RunningBot, pair
from tests.support.waiting import until, wait_for_text

pytestmark = pytest.mark.e2e

ANSWER = "Our secret picnic under the old willow"


async def test_a_locked_database_during_an_answer_keeps_the_answer_out_of_the_log(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    api = running_bot.api
    alex, sam = api.user(701, "Alex"), api.user(702, "Sam")
    await pair(alex, sam, "London", choose="London, GB")
    running_bot.set_clock(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    await wait_for_text(alex, "Tonight's question")
    await alex.press_button("Answer")
    await wait_for_text(alex, "type your answer")

    # Another process takes the write lock and keeps it past the bot's busy time-out.
    blocker = sqlite3.connect(tmp_path / "bot.db", timeout=30, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        await alex.send_text(ANSWER)
        await until(lambda: "the database is unavailable" in running_bot.log(), timeout=90)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    # The lock is gone: the inbox tries the stored update again, so the words go through
    # without being typed twice, and the log says the database is back once.
    await wait_for_text(alex, "Here's your answer", timeout=60)
    await until(lambda: "the database is reachable again" in running_bot.log(), timeout=60)
    log = running_bot.log()
    assert ANSWER not in log, "what people write never reaches the log"
    assert "willow" not in log
    assert "Traceback" not in log
    assert log.count("the database is unavailable") == 1, log
