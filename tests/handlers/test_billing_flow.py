"""The trial and the subscription through the real Application, with an offline Bot API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import SQLModel, select

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.billing import Payment, Subscription
from bot.telegram.context import services_of
from bot.telegram.handlers import billing as billing_handlers
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import MakePerson, onboard, onboarded_couple

PRICE = 250


async def _couple(person: MakePerson) -> tuple[Person, Person]:
    alex, sam = await onboarded_couple(person)
    assert "now a couple" in sam.last()
    return alex, sam


def _invoice(transport: RecordingTransport) -> dict[str, object]:
    calls = transport.calls_to("createInvoiceLink")
    assert calls, "no invoice link was made"
    return calls[-1].params


async def _subscribe(person: Person, transport: RecordingTransport) -> str:
    """Ask for the invoice and return its signed payload."""
    await person.send("/subscribe")
    assert "Remainly for you and" in person.last()
    return str(_invoice(transport)["payload"])


async def _count(application: BotApplication, table: type[SQLModel]) -> int:
    async with services_of(application).sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


def _expiry(clock: FixedClock, days: int = 30) -> int:
    return int((clock.now() + timedelta(days=days)).timestamp())


async def test_subscribe_pay_and_both_partners_are_covered(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    await alex.send("/subscription")
    assert "free week: 7 days left" in alex.last()
    payload = await _subscribe(alex, transport)
    invoice = _invoice(transport)
    assert invoice["currency"] == "XTR" and invoice["provider_token"] == ""
    assert invoice["subscription_period"] == 2592000
    raw = invoice["prices"]
    prices: list[dict[str, object]] = json.loads(raw) if isinstance(raw, str) else raw  # type: ignore[assignment]
    assert [price["amount"] for price in prices] == [PRICE]
    assert alex.button_url("Pay 250 ⭐").startswith("https://t.me/$invoice")
    assert len(payload.encode()) <= 128 and "Alex" not in payload

    query = await alex.pre_checkout(payload, "XTR", PRICE)
    assert alex.pre_checkout_answer(query)["ok"] is True
    await alex.paid(payload, "XTR", PRICE, "ch-1", expires=_expiry(clock))
    assert "You and Sam are subscribed until" in alex.last()
    assert "Alex has subscribed to Remainly for you both" in sam.last()
    await sam.send("/subscription")
    assert "Alex pays 250 ⭐ a month" in sam.last() and "renews by itself" in sam.last()

    # The same update again (a replay) changes nothing and says nothing.
    before = (len(alex.inbox()), len(sam.inbox()), await _count(application, Payment))
    await alex.paid(payload, "XTR", PRICE, "ch-1", expires=_expiry(clock))
    assert (len(alex.inbox()), len(sam.inbox()), await _count(application, Payment)) == before

    # The partner can't pay again: neither a new link nor the checkout goes through.
    await sam.send("/subscribe")
    assert "Alex already subscribed for you both" in sam.last()
    assert len(transport.calls_to("createInvoiceLink")) == 1


async def test_forged_wrong_and_foreign_payments_are_declined_and_change_nothing(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    payload = await _subscribe(alex, transport)
    forged = payload.replace(".1.", ".9.", 1) if ".1." in payload else payload + "0"
    attempts = {
        "forged": await alex.pre_checkout(forged, "XTR", PRICE),
        "amount": await alex.pre_checkout(payload, "XTR", 1),
        "currency": await alex.pre_checkout(payload, "USD", PRICE),
        "someone else": await sam.pre_checkout(payload, "XTR", PRICE),
    }
    answers = {what: alex.pre_checkout_answer(qid) for what, qid in attempts.items()}
    assert {what: answer["ok"] for what, answer in answers.items()} == dict.fromkeys(
        attempts, False
    )
    assert "isn't one we recognise" in str(answers["forged"]["error_message"])
    assert "doesn't match" in str(answers["amount"]["error_message"])
    assert "doesn't match" in str(answers["currency"]["error_message"])
    assert "made for someone else" in str(answers["someone else"]["error_message"])
    await alex.paid(forged, "XTR", PRICE, "ch-f")
    await alex.paid(payload, "XTR", 1, "ch-a")
    await alex.paid(payload, "USD", PRICE, "ch-c")
    await sam.paid(payload, "XTR", PRICE, "ch-s")
    assert "couldn't match this payment" in alex.last()
    assert await _count(application, Payment) == 0
    assert await _count(application, Subscription) == 0
    await sam.send("/subscription")
    assert "free week" in sam.last()


async def test_only_one_partner_pays_and_a_second_payment_is_paid_back(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    alex_payload = await _subscribe(alex, transport)
    sam_payload = await _subscribe(sam, transport)
    assert alex.pre_checkout_answer(await alex.pre_checkout(alex_payload, "XTR", PRICE))["ok"]
    sam_try = sam.pre_checkout_answer(await sam.pre_checkout(sam_payload, "XTR", PRICE))
    assert sam_try["ok"] is False and "Alex is paying" in str(sam_try["error_message"])
    await alex.paid(alex_payload, "XTR", PRICE, "ch-1", expires=_expiry(clock))
    sam_try = sam.pre_checkout_answer(await sam.pre_checkout(sam_payload, "XTR", PRICE))
    assert sam_try["ok"] is False and "already subscribed" in str(sam_try["error_message"])
    # Had Telegram let Sam's payment through anyway, it goes straight back.
    await sam.paid(sam_payload, "XTR", PRICE, "ch-2", expires=_expiry(clock))
    refunds = transport.calls_to("refundStarPayment")
    assert [(c.params["user_id"], c.params["telegram_payment_charge_id"]) for c in refunds] == [
        (2, "ch-2")
    ]
    stops = transport.calls_to("editUserStarSubscription")
    assert [(c.params["telegram_payment_charge_id"], c.params["is_canceled"]) for c in stops] == [
        ("ch-2", True)
    ]
    assert "sent your 250 ⭐ straight back" in sam.last()
    async with services_of(application).sessions() as session:
        payment = (await session.exec(select(Payment).where(Payment.charge_id == "ch-2"))).one()
    assert payment.duplicate and payment.refunded_at is not None


async def test_the_payer_stops_renewal_and_nobody_else_can(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    payload = await _subscribe(alex, transport)
    await alex.pre_checkout(payload, "XTR", PRICE)
    await alex.paid(payload, "XTR", PRICE, "ch-1", expires=_expiry(clock))
    async with services_of(application).sessions() as session:
        subscription = (await session.exec(select(Subscription))).one()
    await sam.press_data(f"bill:stopyes:{subscription.id}")
    await sam.send("/subscription")
    assert "Stop renewal" not in json.dumps(transport.sent_to(sam.id)[-1].params)
    assert transport.calls_to("editUserStarSubscription") == []

    await alex.send("/subscription")
    await alex.press("Stop renewal")
    assert "Stop your subscription renewing?" in alex.last()
    await alex.press("Keep it")
    assert "keeps renewing" in alex.last()
    await alex.send("/subscription")
    await alex.press("Stop renewal")
    await alex.press("Yes, stop renewal")
    stops = transport.calls_to("editUserStarSubscription")
    assert [(c.params["user_id"], c.params["telegram_payment_charge_id"]) for c in stops] == [
        (1, "ch-1")
    ]
    assert stops[0].params["is_canceled"] is True
    assert "won't renew" in alex.last()
    await alex.press_data(f"bill:stopyes:{subscription.id}")
    assert alex.alerts()[-1] == "That button is no longer active. Nothing was changed."
    assert sam.alerts() == ["That button is no longer active. Nothing was changed."]
    await sam.send("/subscription")
    assert "won't renew" in sam.last()


async def test_telegram_refusing_to_stop_renewal_records_nothing(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, _ = await _couple(person)
    payload = await _subscribe(alex, transport)
    await alex.pre_checkout(payload, "XTR", PRICE)
    await alex.paid(payload, "XTR", PRICE, "ch-1", expires=_expiry(clock))
    transport.failures["editUserStarSubscription"] = (400, "Bad Request: SUBSCRIPTION_INVALID")
    await alex.send("/subscription")
    await alex.press("Stop renewal")
    await alex.press("Yes, stop renewal")
    assert "still set to renew" in alex.last()
    async with services_of(application).sessions() as session:
        assert (await session.exec(select(Subscription))).one().renewal_canceled_at is None


async def test_trial_notices_gating_and_the_subscribe_button(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    notices = services_of(application).notices
    await notices.tick()
    assert "free week together has begun" in alex.last()
    assert "free week together has begun" in sam.last()
    clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=UTC))
    await notices.tick()
    assert "Two more days" in alex.last()
    await alex.press("Subscribe")
    assert "Remainly for you and Sam" in alex.last() and "2 days left" in alex.last()
    clock.set(datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    nudges = services_of(application).nudges
    await nudges.tick()  # the morning nudge, an hour after the trial ended: held back
    await notices.tick()
    assert "free week has ended" in sam.last() and "Nothing has been charged" in sam.last()
    # The evening question is held back too; the trial-ended notice already said why.
    clock.set(datetime(2026, 3, 9, 21, 30, tzinfo=UTC))
    sent_before = len(sam.inbox())
    report = await nudges.tick()
    await notices.tick()
    assert report.claimed == 2 and report.sent == 0
    assert len(sam.inbox()) == sent_before
    await sam.send("/subscription")
    assert "nudges are resting" in sam.last()
    await sam.press("Subscribe")
    assert "Remainly for you and Alex" in sam.last()


async def test_an_operator_refund_pays_back_and_ends_the_cover(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    payload = await _subscribe(alex, transport)
    await alex.pre_checkout(payload, "XTR", PRICE)
    await alex.paid(payload, "XTR", PRICE, "ch-1", expires=_expiry(clock))
    clock.advance(timedelta(days=8))
    done = await billing_handlers.refund(application, "ch-1")
    assert done is not None and done.amount == PRICE and done.covered_until is None
    assert [c.params["telegram_payment_charge_id"] for c in transport.calls_to("refundStarPayment")]
    await sam.send("/subscription")
    assert "there's no subscription right now" in sam.last()


async def test_strangers_and_people_on_their_own_get_a_kind_pointer(
    person: MakePerson, transport: RecordingTransport
) -> None:
    stranger = person(7, "Robin")
    await stranger.send("/subscription")
    assert "/start" in stranger.last()
    await onboard(stranger)
    await stranger.send("/subscribe")
    assert "starts once you're paired" in stranger.last()
    await stranger.send("/subscription")
    assert "You're not paired right now" in stranger.last()
    assert transport.calls_to("createInvoiceLink") == []


async def test_a_renewal_while_the_partner_already_covers_both_is_paid_back_and_stopped(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    payload = await _subscribe(alex, transport)
    await alex.pre_checkout(payload, "XTR", PRICE)
    await alex.paid(payload, "XTR", PRICE, "ch-1", expires=_expiry(clock))
    # Sam pays for a subscription of their own too (as after pairing with someone who paid).
    async with services_of(application).sessions.begin() as session:
        session.add(
            Subscription(
                payer_id=2,
                payload_hash="f" * 64,
                charge_id="sam-1",
                amount=PRICE,
                paid_until=clock.now() + timedelta(days=45),
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )
    clock.advance(timedelta(days=30) - timedelta(minutes=1))
    await alex.paid(payload, "XTR", PRICE, "ch-2", expires=_expiry(clock), recurring=True)
    assert "Sam's subscription already covers you both" in alex.last()
    assert "sent your 250 ⭐ straight back" in alex.last()
    assert "Alex's subscription renewed while yours already covers you both" in sam.last()
    assert transport.stars.charges["ch-2"].refunded_at is not None
    assert transport.stars.canceled["ch-1"] is True
    async with services_of(application).sessions() as session:
        payment = (await session.exec(select(Payment).where(Payment.charge_id == "ch-2"))).one()
    assert payment.duplicate and payment.refunded_at == clock.now()
    await alex.send("/subscription")
    assert "Sam pays 250 ⭐ a month" in alex.last()


async def test_reconciling_records_a_charge_whose_update_never_came_once(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    alex, sam = await _couple(person)
    payload = await _subscribe(alex, transport)
    await alex.pre_checkout(payload, "XTR", PRICE)
    alex.charge(payload, PRICE, "ch-lost")  # Telegram took the Stars; the update was lost
    settlement = services_of(application).settlement
    report = await settlement.reconcile()
    assert (report.read, report.recorded, report.refunded) == (1, 1, 0)
    assert [c.params.get("offset", 0) for c in transport.calls_to("getStarTransactions")] == [0]
    assert "You and Sam are subscribed until" in alex.last()
    assert "Alex has subscribed to Remainly for you both" in sam.last()
    before = (len(alex.inbox()), len(sam.inbox()), await _count(application, Payment))
    again = await settlement.reconcile()
    assert (again.recorded, again.refunded) == (0, 0)
    assert (len(alex.inbox()), len(sam.inbox()), await _count(application, Payment)) == before
    # Its update arriving late changes nothing either: the payer is never asked twice.
    await alex.paid(payload, "XTR", PRICE, "ch-lost", expires=_expiry(clock))
    assert (len(alex.inbox()), len(sam.inbox()), await _count(application, Payment)) == before
    assert transport.calls_to("refundStarPayment") == []
