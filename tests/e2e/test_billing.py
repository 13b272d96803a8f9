"""Trial, reminders, gating, paying in Stars, renewal, cancellation and refund, end to end."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.botapi import FakeBotApi
from tests.support.process import RunningBot, bot_environment, pair
from tests.support.waiting import until, wait_for_text

pytestmark = pytest.mark.e2e
PRICE = 250


def _database(bot: RunningBot) -> Path:
    return bot.clock_file.parent / "bot.db"


def _scalar(bot: RunningBot, sql: str, *args: object) -> object:
    with sqlite3.connect(f"file:{_database(bot)}?mode=ro", uri=True) as connection:
        row = connection.execute(sql, args).fetchone()
    return row[0] if row else None


async def _answer(api: FakeBotApi, query_id: str) -> dict[str, object]:
    await api.wait_until(lambda: api.pre_checkout_answer(query_id) is not None)
    answer = api.pre_checkout_answer(query_id)
    assert answer is not None
    return dict(answer)


async def _refund(bot: RunningBot, charge_id: str) -> tuple[int, str]:
    return await _billing(bot, "refund", charge_id)


async def _billing(bot: RunningBot, *args: str) -> tuple[int, str]:
    env = bot_environment(bot.api, _database(bot), bot.clock_file)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "billing",
        *args,
        cwd=bot.clock_file.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return await process.wait(), output.decode()


async def test_trial_reminders_gating_subscribe_renew_cancel_and_refund(
    running_bot: RunningBot,
) -> None:
    bot, api = running_bot, running_bot.api
    alex, sam = api.user(801, "Alex"), api.user(802, "Sam")
    # Monday 2 March 2026, 09:00 UTC: the trial starts.
    await pair(alex, sam, "London", choose="London, GB")

    # Trial start: Alex hears at once; Sam was still setting up, so hears once done.
    await wait_for_text(alex, "free week together has begun")
    bot.set_clock(datetime(2026, 3, 2, 9, 20, tzinfo=UTC))
    started = await wait_for_text(sam, "free week together has begun")
    assert "Monday 09 March" in (started.text or "")

    # Two days before the end, at local daytime: the reminder, with a way to subscribe.
    bot.set_clock(datetime(2026, 3, 7, 10, 0, tzinfo=UTC))
    ending = await wait_for_text(alex, "Two more days")
    assert [b.text for b in ending.buttons] == [f"Subscribe · {PRICE} ⭐"]
    await wait_for_text(sam, "Two more days")

    # The end: both are told, nothing is charged, and nudges stop without nagging.
    bot.set_clock(datetime(2026, 3, 9, 9, 30, tzinfo=UTC))
    ended = await wait_for_text(sam, "free week has ended")
    assert "Nothing has been charged" in (ended.text or "")
    await wait_for_text(alex, "free week has ended")
    told = {u.id: len(u.messages) for u in (alex, sam)}
    bot.set_clock(datetime(2026, 3, 9, 21, 0, 30, tzinfo=UTC))
    evening = "SELECT local_date FROM nudge_schedules WHERE user_id = ? AND kind = 'evening'"
    await until(lambda: all(_scalar(bot, evening, u.id) == "2026-03-10" for u in (alex, sam)))
    await asyncio.sleep(1.0)  # a few more ticks: nothing else may arrive
    assert {u.id: len(u.messages) for u in (alex, sam)} == told

    # Subscribing: a Stars invoice link for 30 days; forgeries and wrong sums are declined.
    await alex.send_text("/subscribe")
    offer = await wait_for_text(alex, "Remainly for you and Sam")
    link = next(b.url for b in offer.buttons if b.url)
    invoice = api.invoice_links[link]
    assert invoice["currency"] == "XTR" and invoice["subscription_period"] == 2592000
    payload = str(invoice["payload"])
    forged = payload[:-2] + ("AA" if not payload.endswith("AA") else "BB")
    for attempt in (
        alex.pre_checkout(forged, "XTR", PRICE),
        alex.pre_checkout(payload, "XTR", PRICE - 1),
        alex.pre_checkout(payload, "EUR", PRICE),
        sam.pre_checkout(payload, "XTR", PRICE),
    ):
        declined = await _answer(api, await attempt)
        assert declined["ok"] is False and declined["error_message"]
    approved = await _answer(api, await alex.pre_checkout(payload, "XTR", PRICE))
    assert approved["ok"] is True
    first_end = datetime(2026, 4, 8, 21, 0, tzinfo=UTC)
    first = await alex.successful_payment(
        payload,
        "XTR",
        PRICE,
        subscription_expiration_date=int(first_end.timestamp()),
        is_recurring=True,
        is_first_recurring=True,
    )
    await wait_for_text(alex, "You and Sam are subscribed until Wednesday 08 April")
    await wait_for_text(sam, "Alex has subscribed to Remainly for you both")
    # A replayed update and a forged one change nothing.
    await alex.successful_payment(
        payload, "XTR", PRICE, telegram_payment_charge_id=first, is_recurring=True
    )
    await alex.successful_payment(forged, "XTR", PRICE, is_recurring=True)
    await wait_for_text(alex, "couldn't match this payment")
    assert _scalar(bot, "SELECT count(*) FROM payments") == 1
    assert _scalar(bot, "SELECT count(*) FROM subscriptions") == 1

    # Covered again: the next evening's question reaches both.
    bot.set_clock(datetime(2026, 3, 10, 21, 0, 30, tzinfo=UTC))
    await wait_for_text(alex, "Tonight's question")
    await wait_for_text(sam, "Tonight's question")

    # Telegram renews the subscription: paid-until moves on by 30 days.
    bot.set_clock(first_end - timedelta(minutes=1))
    second_end = first_end + timedelta(days=30)
    renewal = await alex.successful_payment(
        payload,
        "XTR",
        PRICE,
        subscription_expiration_date=int(second_end.timestamp()),
        is_recurring=True,
        is_first_recurring=False,
    )
    await wait_for_text(alex, "renewed — you're covered until Friday 08 May")

    # Alex stops the renewal from /subscription (Telegram is told, with the first charge).
    await alex.send_text("/subscription")
    await wait_for_text(alex, "You pay 250 ⭐ a month, and it renews by itself")
    await alex.press_button("Stop renewal")
    await wait_for_text(alex, "Stop your subscription renewing?")
    await alex.press_button("Yes, stop renewal")
    await wait_for_text(alex, "won't renew")
    assert api.subscription_canceled(first) is True

    # An operator refunds the renewal: the month it paid for is taken back.
    code, output = await _refund(bot, renewal)
    assert code == 0, output
    assert api.is_refunded(renewal) and not api.is_refunded(first)
    await wait_for_text(alex, "We've refunded 250 ⭐")
    code, output = await _refund(bot, renewal)
    assert code == 1 and "already refunded" in output

    # The paid month runs out (no grace once renewal is off): the next nudge is held back and
    # each partner hears why, once. Their morning is 08:00 BST, 07:00 UTC.
    bot.set_clock(datetime(2026, 4, 9, 7, 0, 30, tzinfo=UTC))
    await wait_for_text(sam, "subscription has come to an end")
    await wait_for_text(alex, "subscription has come to an end")
    bot.set_clock(datetime(2026, 4, 9, 10, 0, tzinfo=UTC))
    await sam.send_text("/subscription")
    status = await wait_for_text(sam, "Your Remainly subscription")
    assert "there's no subscription right now" in (status.text or "")
    bot.set_clock(datetime(2026, 4, 10, 21, 0, 30, tzinfo=UTC))
    await until(lambda: _scalar(bot, evening, sam.id) == "2026-04-11")
    lapses = "SELECT count(*) FROM billing_notices WHERE user_id = ? AND kind = 'lapsed'"
    assert _scalar(bot, lapses, sam.id) == 1
    assert payload not in bot.log(), "payloads stay out of the logs"


async def test_a_missed_charge_is_reconciled_erasure_stops_renewal_and_a_late_charge_goes_back(
    running_bot: RunningBot,
) -> None:
    bot, api = running_bot, running_bot.api
    alex, sam = api.user(811, "Alex"), api.user(812, "Sam")
    await pair(alex, sam, "London", choose="London, GB")
    await alex.send_text("/subscribe")
    offer = await wait_for_text(alex, "Remainly for you and Sam")
    payload = str(api.invoice_links[next(b.url for b in offer.buttons if b.url)]["payload"])
    approved = await _answer(api, await alex.pre_checkout(payload, "XTR", PRICE))
    assert approved["ok"] is True

    # Telegram takes the Stars, but the successful_payment update never reaches the bot.
    first = alex.missed_payment(payload, PRICE)
    code, output = await _billing(bot, "reconcile")
    assert code == 0 and "recorded 1 missed charge(s)" in output, output
    await wait_for_text(alex, "You and Sam are subscribed until")
    await wait_for_text(sam, "Alex has subscribed to Remainly for you both")
    paid = "SELECT count(*) FROM payments WHERE charge_id = ? AND payer_id = ?"
    assert _scalar(bot, paid, first, alex.id) == 1
    code, output = await _billing(bot, "reconcile")
    assert code == 0 and "recorded 0 missed charge(s), refunded 0" in output, output
    assert _scalar(bot, "SELECT count(*) FROM payments") == 1
    assert not api.is_refunded(first)

    # Alex erases their data: the subscription stops renewing on Telegram first.
    await alex.send_text("/deleteme")
    await wait_for_text(alex, "stops renewing first")
    await alex.press_button("Yes, erase everything")
    await wait_for_text(alex, "everything about you is erased")
    assert api.subscription_canceled(first) is True
    assert _scalar(bot, "SELECT count(*) FROM users WHERE id = ?", alex.id) == 0

    # A renewal already under way still arrives; paying it back fails for now.
    api.fail_next("refundStarPayment", 400, "Bad Request: REFUND_FAILED")
    late = await alex.successful_payment(
        payload, "XTR", PRICE, is_recurring=True, is_first_recurring=False
    )
    await wait_for_text(alex, "reached us after you deleted your data", timeout=30)
    owed = "SELECT refund_to FROM payments WHERE charge_id = ? AND payer_id IS NULL"
    assert _scalar(bot, owed, late) == alex.id
    assert not api.is_refunded(late)
    code, output = await _refund(bot, late)
    assert code == 0 and f"Refunded {PRICE} Stars" in output, output
    assert api.is_refunded(late)
    assert _scalar(bot, "SELECT refund_to FROM payments WHERE charge_id = ?", late) is None
    assert _scalar(bot, "SELECT refunded_at FROM payments WHERE charge_id = ?", late)
    # Nothing names Alex any more: not the payments, not the subscription.
    assert _scalar(bot, "SELECT count(*) FROM payments WHERE payer_id = ?", alex.id) == 0
    assert _scalar(bot, "SELECT count(*) FROM subscriptions WHERE payer_id = ?", alex.id) == 0
