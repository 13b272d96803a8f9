"""Counsellor requests, the safety signal, discreet mode and data rights, end to end: the real
bot process, simulated partners and a simulated staff chat on a fake Bot API."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.fakes.botapi import FakeBotApi, FakeMessage, FakeUser
from tests.support.process import RunningBot, pair
from tests.support.waiting import until, wait_for_text

pytestmark = pytest.mark.e2e

STAFF_CHAT = -1001234
ROBIN, PAT = 9001, 9002
ALEX, SAM = 7_000_501, 7_000_502
STALE_OR_STAFF = ("Only Remainly's counsellors can act on requests.", "no longer active")


@pytest.fixture
def bot_env() -> dict[str, str]:
    """A staff chat with one counsellor (Robin), posted to again after an hour unclaimed."""
    return {
        "COUNSELLOR_CHAT_ID": str(STAFF_CHAT),
        "COUNSELLOR_STAFF_IDS": str(ROBIN),
        "COUNSELLOR_REANNOUNCE_MINUTES": "60",
    }


async def answered(api: FakeBotApi, query_id: str) -> str:
    """Wait for the bot to answer a button press; return the alert text it showed."""
    await api.wait_until(lambda: api.callback_answer(query_id) is not None)
    answer = api.callback_answer(query_id)
    assert answer is not None
    return str(answer.get("text") or "")


async def _couple(api: FakeBotApi, *, sam_signals: bool = False) -> tuple[FakeUser, FakeUser]:
    """Alex onboards and invites Sam, who accepts and onboards (answering the safety check)."""
    alex, sam = api.user(ALEX, "Alex"), api.user(SAM, "Sam", username="sam_m")
    safety_answer = "Yes, sometimes" if sam_signals else "Skip for now"
    await pair(alex, sam, "London", choose="London, GB", safety_answer=safety_answer)
    return alex, sam


async def intake(sam: FakeUser, *, named: bool, message: str | None) -> None:
    await sam.send_text("/counsellor")
    await wait_for_text(sam, "What would you like to talk about?")
    await sam.press_button("Trust")
    await wait_for_text(sam, "mostly about you")
    await sam.press_button("Mostly me")
    await wait_for_text(sam, "How soon")
    await sam.press_button("In the next few days")
    await wait_for_text(sam, "How would you like to be contacted?")
    await sam.press_button("Messages here")
    await wait_for_text(sam, "When is a good time")
    await sam.press_button("Evenings")
    await wait_for_text(sam, "Anything you'd like the counsellor to know")
    if message is None:
        await sam.press_button("Skip")
    else:
        await sam.send_text(message)
    review = await wait_for_text(sam, "Here's your request")
    assert "not an emergency service" in (review.text or "")
    assert "999" in (review.text or "")  # Sam lives in London: the UK's lines
    await sam.press_button("Yes, share my name and send" if named else "Send without my name")


async def test_a_request_goes_from_intake_to_claim_reply_and_resolve(
    running_bot: RunningBot,
) -> None:
    api = running_bot.api
    staff = api.group(STAFF_CHAT, "Remainly counsellors")
    robin, pat = api.user(ROBIN, "Robin"), api.user(PAT, "Pat")
    alex, sam = await _couple(api)

    await intake(sam, named=True, message="It has been a hard month")
    await wait_for_text(sam, "is with us")
    card = await wait_for_text(staff, "Request #1")
    assert "Sam (@sam_m)" in (card.text or "") and "hard month" in (card.text or "")

    # Pat is in the staff chat but not staff: pressing, or forging, changes nothing.
    refusals = [
        await answered(api, await pat.press(card, card.callback_data[0])),
        await answered(api, await pat.press(card, card.callback_data[1])),
        await answered(api, await pat.press(card, "cr:claim:77:0", force=True)),
    ]
    assert all(any(s in text for s in STALE_OR_STAFF) for text in refusals), refusals
    assert "Waiting for a counsellor" in (card.text or "")

    await robin.press_button("Claim", chat_id=STAFF_CHAT)
    await wait_for_text(sam, "has picked up your request")
    await api.wait_until(lambda: "Claimed by Robin" in (card.text or ""))

    await staff.send_text(robin, "Hi Sam, does Thursday evening suit you?", reply_to_message=card)
    relayed = await wait_for_text(sam, "From Remainly's counsellor team")
    assert "Thursday evening" in (relayed.text or "")
    await wait_for_text(staff, "Sent to the person behind request #1")

    await sam.press_button("Reply to the counsellor")
    await wait_for_text(sam, "Type your reply")
    await sam.send_text("Thursday works, thank you")
    await wait_for_text(sam, "Sent to the counsellor team")
    from_sam = await wait_for_text(staff, "Reply on request #1")
    assert "Thursday works" in (from_sam.text or "")
    assert from_sam.reply_to is not None and from_sam.reply_to.message_id == card.message_id

    await robin.press_button("Resolve", chat_id=STAFF_CHAT)
    await wait_for_text(sam, "is now closed")
    await api.wait_until(lambda: "Resolved by Robin" in (card.text or ""))

    # A second request nobody claims is posted again after an hour.
    await intake(sam, named=False, message=None)
    await wait_for_text(staff, "Request #2")
    running_bot.set_clock(datetime(2026, 3, 2, 10, 0, 30, tzinfo=UTC))
    await wait_for_text(staff, "Request #2 is still waiting")

    await sam.send_text("/requests")
    listing = await wait_for_text(sam, "Your counsellor requests")
    assert "#1 · Trust" in (listing.text or "") and "closed" in (listing.text or "")
    for message in alex.messages:
        assert not re.search(r"#\d|Sam has asked", message.text or ""), message.text
    log = running_bot.log()
    assert "hard month" not in log and "Thursday" not in log, "no words of people in the logs"


def _evening_dates(database: Path) -> list[str]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT local_date FROM nudge_schedules WHERE kind = 'evening' ORDER BY user_id"
        ).fetchall()
    return [str(row[0]) for row in rows]


async def test_a_safety_signal_pauses_couple_exercises_without_telling_the_partner(
    running_bot: RunningBot, tmp_path: Path
) -> None:
    api = running_bot.api
    alex, sam = await _couple(api, sam_signals=True)

    def supports() -> list[FakeMessage]:
        return [m for m in sam.messages if "Thank you for telling us" in (m.text or "")]

    # The support message follows the confirmed answer; pairing may finish just before it.
    await until(lambda: bool(supports()))
    [support] = supports()
    assert "999" in (support.text or "")
    assert any("Talk to a counsellor" in button.text for button in support.buttons)
    alex_seen = len(alex.messages)

    running_bot.set_clock(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    # The evening came and went for both (the schedule moved on), and nobody got a question.
    await until(lambda: _evening_dates(tmp_path / "bot.db") == ["2026-03-03", "2026-03-03"])
    for user in (alex, sam):
        assert not [m for m in user.messages if "Tonight's question" in (m.text or "")]

    await alex.send_text("/start")
    await wait_for_text(alex, "paused for now")
    for message in alex.messages[alex_seen:]:
        if "Your free week together has begun" in (message.text or ""):
            continue  # sent at pairing, before Sam's answer, and may land after it: no hint
        assert not re.search(r"safe|afraid|Sam", message.text or ""), message.text

    await sam.send_text("/safety")
    await wait_for_text(sam, "You've told us you don't always feel safe")
    await sam.press_button("I feel safe now")
    await wait_for_text(sam, "back on")
    running_bot.set_clock(datetime(2026, 3, 3, 21, 0, 30, tzinfo=UTC))
    await wait_for_text(alex, "Tonight's question")
    await wait_for_text(sam, "Tonight's question")


async def test_hide_export_and_erasure(running_bot: RunningBot, tmp_path: Path) -> None:
    api = running_bot.api
    alex, sam = await _couple(api)
    before_hide = [m for m in sam.messages if not m.deleted]
    assert before_hide

    await sam.send_text("/hide")
    await wait_for_text(sam, "recent messages here are cleared")
    assert all(m.deleted for m in before_hide)
    running_bot.set_clock(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    neutral = await wait_for_text(sam, "You have a new message")
    await sam.press(neutral, neutral.callback_data[0])
    await api.wait_until(lambda: "Tonight's question" in (neutral.text or ""))

    await sam.send_text("/mydata")
    document = await sam.next_message()
    while document.document is None:
        document = await sam.next_message()
    assert document.document is not None and document.file is not None
    exported = json.loads(document.file.data)
    assert exported["person"]["id"] == SAM
    assert (
        "Alex" not in document.file.data.decode() and str(ALEX) not in document.file.data.decode()
    )

    await sam.send_text("/deleteme")
    await wait_for_text(sam, "Erase everything about you?")
    await sam.press_button("Yes, erase everything")
    await wait_for_text(sam, "everything about you is erased")
    await wait_for_text(alex, "Your partner has ended your pairing")

    def settled() -> bool:
        # The erasure's own update is marked handled (and forgets its chat) after its replies.
        with sqlite3.connect(tmp_path / "bot.db") as connection:
            query = "SELECT count(*) FROM inbox_updates WHERE status = 'pending'"
            return int(connection.execute(query).fetchone()[0]) == 0

    await until(settled)
    with sqlite3.connect(tmp_path / "bot.db") as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                found = connection.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}" = ?', (SAM,)
                ).fetchone()[0]
                assert found == 0, f"{table}.{column} still names Sam"
