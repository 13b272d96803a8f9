"""The inbox end to end: kill -9 mid-backlog loses nothing and repeats nothing unsafe; each
chat in order; edits are not new input."""

from __future__ import annotations

import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.process import RunningBot, bot_environment, start_bot
from tests.support.waiting import until, wait_for_text

pytestmark = pytest.mark.e2e

PEOPLE = 30
ASK_NAME = "What should we call you?"
ASK_PLACE = "Where in the world are you?"


def database_rows(database: Path, query: str) -> dict[object, object]:
    """Return a two-column query's rows as a mapping from the first column to the second."""
    with closing(sqlite3.connect(str(database))) as connection:
        return {row[0]: row[1] for row in connection.execute(query)}


def all_handled(database: Path, expected: int) -> bool:
    rows = database_rows(database, "SELECT status, COUNT(*) FROM inbox_updates GROUP BY status")
    return rows == {"done": expected}


async def test_kill_9_mid_backlog_loses_no_update_and_repeats_no_typed_answer(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    api = running_bot.api
    # Replies take a while, so the backlog is still being worked through at the kill.
    api.delay_next("sendMessage", 0.05, times=100_000)
    people = [api.user(700 + n, f"Person{n}") for n in range(PEOPLE)]
    for person in people:
        await person.start()
        await person.send_text(f"Robin{person.id}")  # straight after: the name, typed
    await api.wait_until(lambda: len(api.calls_to("sendMessage")) >= 10, timeout=60)
    running_bot.process.send_signal(signal.SIGKILL)
    await running_bot.process.wait()
    replied_before = len(api.calls_to("sendMessage"))
    assert replied_before < 2 * PEOPLE, "the backlog was done before the kill"

    database = tmp_path / "bot.db"
    env = bot_environment(api, database, running_bot.clock_file)
    running_bot.process = await start_bot(("run",), tmp_path, env, running_bot.log_file)
    await until(lambda: all_handled(database, 2 * PEOPLE), timeout=90)

    # Every typed name arrived after its /start and was taken exactly once.
    names = database_rows(database, "SELECT id, display_name FROM users")
    assert names == {p.id: f"Robin{p.id}" for p in people}
    for person in people:
        texts = [m.text or "" for m in person.messages]
        # /start first, then the name: order per chat.
        assert texts and "welcome to Remainly" in texts[0], texts
        asked = [i for i, t in enumerate(texts) if ASK_PLACE in t]
        assert all(i > texts.index(next(t for t in texts if ASK_NAME in t)) for i in asked)
        assert not any("couldn't find" in t or "not sure what to do" in t for t in texts), texts
        assert sum(ASK_PLACE in t for t in texts) <= 1, texts
    # The one update that can go without its reply is one in flight at the kill whose
    # changes were saved; never more than were handled at once.
    unanswered = [p for p in people if not any(ASK_PLACE in (m.text or "") for m in p.messages)]
    assert len(unanswered) <= 16
    assert "Traceback" not in running_bot.log()


async def test_edits_are_not_new_input(running_bot: RunningBot) -> None:
    alex = running_bot.api.user(801, "Alex")
    sent = await alex.start()
    await wait_for_text(alex, ASK_NAME)
    await alex.edit_text(sent, "Robin")
    await wait_for_text(alex, "editing a message doesn't change what you already sent")
    await alex.send_text("Robin")
    await wait_for_text(alex, ASK_PLACE)
    assert sum(ASK_PLACE in (m.text or "") for m in alex.messages) == 1


async def test_one_chat_is_answered_in_the_order_it_wrote(running_bot: RunningBot) -> None:
    api = running_bot.api
    alex = api.user(802, "Alex")
    # Four messages at once: each is the answer to the step the one before it opened.
    await alex.start()
    await alex.send_text("Robin")
    await alex.send_text("Lisbon")
    await alex.send_text("07:30")
    await wait_for_text(alex, "And your evening question?", timeout=30)
    texts = [m.text or "" for m in alex.messages]
    order = [ASK_NAME, ASK_PLACE, "like your morning nudge?", "And your evening question?"]
    positions = [next(i for i, t in enumerate(texts) if step in t) for step in order]
    assert positions == sorted(positions), texts
