"""/mydata and /deleteme through the real Application."""

from __future__ import annotations

import json

from sqlmodel import select

from bot.app import BotApplication
from bot.db.billing import Payment
from bot.db.models import User
from bot.telegram.context import services_of
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import MakePerson, onboarded_couple

STALE = "That button is no longer active. Nothing was changed."


async def test_mydata_sends_a_json_file_of_the_person_only(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    _, sam = await onboarded_couple(person)
    await sam.send("/mydata")
    [call] = transport.calls_to("sendDocument")
    assert int(call.params["chat_id"]) == 2
    assert "everything Remainly's bot keeps about you" in call.params["caption"]
    [(filename, content)] = call.params["_files"].values()
    assert filename == "remainly-my-data-2026-03-02.json"
    exported = json.loads(content)
    assert exported["person"]["id"] == 2 and exported["person"]["telegram_name"] == "Sam"
    [couple] = exported["tables"]["couples"]
    assert couple["partner_b_id"] == 2 and couple["partner_a_id"] is None
    assert "Alex" not in content.decode()


async def test_deleteme_asks_first_then_unpairs_and_erases(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await onboarded_couple(person)
    await sam.press_data("del:yes")  # forged: nobody asked
    assert sam.alerts()[-1] == STALE
    await sam.send("/deleteme")
    assert "Erase everything about you?" in sam.last() and "<b>Alex</b>" in sam.last()
    await sam.send("yes")
    assert "tap one of the buttons" in sam.last()
    await sam.press("Keep my data")
    assert "nothing was erased" in sam.last()

    await sam.send("/deleteme")
    await sam.press("Yes, erase everything")
    assert "everything about you is erased" in sam.last()
    assert "Your partner has ended your pairing" in alex.last()
    async with services_of(application).sessions() as session:
        assert await session.get(User, 2) is None
        alex_row = await session.get(User, 1)
    assert alex_row is not None and alex_row.couple_id is None
    await sam.send("/mydata")
    assert "We don't know each other yet" in sam.last()


async def _paying_alex(person: MakePerson, transport: RecordingTransport) -> tuple[Person, str]:
    alex, _ = await onboarded_couple(person)
    await alex.send("/subscribe")
    payload = str(transport.calls_to("createInvoiceLink")[-1].params["payload"])
    await alex.pre_checkout(payload, "XTR", 250)
    await alex.paid(payload, "XTR", 250, "ch-1")
    assert "subscribed until" in alex.last()
    return alex, payload


async def test_deleteme_stops_the_payers_renewal_first_and_a_late_charge_goes_back(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex, payload = await _paying_alex(person, transport)
    await alex.send("/deleteme")
    assert "stops renewing first" in alex.last()
    await alex.press("Yes, erase everything")
    assert "everything about you is erased" in alex.last()
    names = [call.method for call in transport.calls]
    stop = names.index("editUserStarSubscription")
    assert stop < len(names) - 1 - names[::-1].index("sendMessage")
    assert transport.stars.canceled["ch-1"] is True
    async with services_of(application).sessions() as session:
        assert await session.get(User, 1) is None

    # A renewal Telegram had already started arrives after erasure: recorded, paid back, told.
    await alex.paid(payload, "XTR", 250, "ch-2", recurring=True)
    assert "reached us after you deleted your data" in alex.last()
    assert "sent your 250 ⭐ back" in alex.last()
    assert transport.stars.charges["ch-2"].refunded_at is not None
    async with services_of(application).sessions() as session:
        payment = (await session.exec(select(Payment).where(Payment.charge_id == "ch-2"))).one()
    assert (payment.payer_id, payment.couple_id, payment.refund_to) == (None, None, None)
    assert payment.refunded_at is not None


async def test_deleteme_erases_nothing_while_telegram_would_not_stop_the_renewal(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex, _ = await _paying_alex(person, transport)
    await alex.send("/deleteme")
    # Telegram out of reach through every retry: the renewal may still be on.
    transport.faults["editUserStarSubscription"] = [(502, "Bad Gateway", None)] * 4
    await alex.press("Yes, erase everything")
    assert "nothing has been erased yet" in alex.last()
    assert len(transport.faulted) == 4 and transport.stars.canceled["ch-1"] is None
    async with services_of(application).sessions() as session:
        assert await session.get(User, 1) is not None
    await alex.send("/deleteme")
    await alex.press("Yes, erase everything")
    assert "everything about you is erased" in alex.last()
    assert transport.stars.canceled["ch-1"] is True


async def test_deleteme_goes_ahead_when_telegram_has_no_renewal_left_to_stop(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex, _ = await _paying_alex(person, transport)
    await alex.send("/deleteme")
    transport.failures["editUserStarSubscription"] = (400, "Bad Request: SUBSCRIPTION_INVALID")
    await alex.press("Yes, erase everything")
    assert "everything about you is erased" in alex.last()
    async with services_of(application).sessions() as session:
        assert await session.get(User, 1) is None
