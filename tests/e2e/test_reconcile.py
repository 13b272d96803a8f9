"""The running bot checks Telegram's Stars ledger by itself and records a charge it missed."""

from __future__ import annotations

import sqlite3

import pytest

from tests.support.process import RunningBot, pair
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e
PRICE = 250


@pytest.fixture
def bot_env() -> dict[str, str]:
    """Check the ledger every second, so the test needs no command to find the charge."""
    return {"STARS_RECONCILE_SECONDS": "1"}


async def test_a_charge_whose_update_was_lost_is_found_and_recorded_once(
    running_bot: RunningBot,
) -> None:
    bot, api = running_bot, running_bot.api
    alex, sam = api.user(821, "Alex"), api.user(822, "Sam")
    await pair(alex, sam, "London", choose="London, GB")
    await alex.send_text("/subscribe")
    offer = await wait_for_text(alex, "Remainly for you and Sam")
    payload = str(api.invoice_links[next(b.url for b in offer.buttons if b.url)]["payload"])

    charge = alex.missed_payment(payload, PRICE)
    await wait_for_text(alex, "You and Sam are subscribed until", timeout=30)
    await wait_for_text(sam, "Alex has subscribed to Remainly for you both", timeout=30)
    reads = len(api.calls_to("getStarTransactions"))
    await api.wait_until(lambda: len(api.calls_to("getStarTransactions")) >= reads + 2, 15)
    database = bot.clock_file.parent / "bot.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        rows = connection.execute("SELECT charge_id, payer_id FROM payments").fetchall()
    assert rows == [(charge, alex.id)]
    assert sum("subscribed until" in (m.text or "") for m in alex.messages) == 1
    assert api.calls_to("refundStarPayment") == []
