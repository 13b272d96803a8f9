"""Settling Stars payments on real databases: erasure, double renewals, refunds, reconciliation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, select

from bot.billing import payments as billing
from bot.billing.settlement import LEDGER_PAGE, Settlement
from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.core.errors import StaleAction
from bot.db.billing import Payment, Subscription
from bot.db.engine import Sessions
from bot.db.models import User
from bot.outbox.messages import StarTransaction
from bot.outbox.outbox import Outbox
from bot.people import data_rights
from tests.support.factories import ALEX, CONTENT, POLICY, RHYTHM, SAM
from tests.support.senders import FakeCarrier

KEY = billing.signing_key("s" * 32, "1:token")
PRICE = 250
PERIOD = 2_592_000


@pytest.fixture
def carrier() -> FakeCarrier:
    return FakeCarrier()


@pytest.fixture
def settlement(sessions: Sessions, clock: FixedClock, carrier: FakeCarrier) -> Settlement:
    texts = Texts(CONTENT)
    outbox = Outbox(sessions=sessions, texts=texts, clock=clock, carrier=carrier)
    return Settlement(
        sessions=sessions,
        texts=texts,
        clock=clock,
        desk=outbox,
        key=KEY,
        default_zone="UTC",
        policy=POLICY,
    )


async def _payload(sessions: Sessions, clock: FixedClock, user_id: int) -> str:
    async with sessions.begin() as session:
        offer = await billing.offer(
            session,
            user_id,
            now=clock.now(),
            price=PRICE,
            key=KEY,
            default_zone="UTC",
            policy=POLICY,
        )
    return offer.payload


def _charge(
    payload: str, charge_id: str, *, expires: datetime, recurring: bool = False
) -> billing.Charge:
    return billing.Charge(
        currency="XTR",
        amount=PRICE,
        payload=payload,
        charge_id=charge_id,
        provider_charge_id="",
        expires_at=expires,
        recurring=True,
        first_recurring=not recurring,
    )


async def _payment(sessions: Sessions, charge_id: str) -> Payment:
    async with sessions() as session:
        return (await session.exec(select(Payment).where(Payment.charge_id == charge_id))).one()


async def _count(sessions: Sessions, table: type[SQLModel]) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def _erase(sessions: Sessions, clock: FixedClock, user_id: int) -> None:
    async with sessions.begin() as session:
        await data_rights.ask_to_erase(session, user_id, now=clock.now())
    async with sessions.begin() as session:
        await data_rights.erase(session, user_id, now=clock.now(), rhythm=RHYTHM)


def _paid(
    charge_id: str, user_id: int, payload: str | None, date: datetime, *, incoming: bool = True
) -> StarTransaction:
    return StarTransaction(charge_id, user_id, PRICE, date, incoming, payload, PERIOD)


async def test_erasure_stops_renewal_first_and_a_later_charge_is_recorded_and_paid_back(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, ALEX)
    first_end = clock.now() + timedelta(days=30)
    await settlement.record(ALEX, _charge(payload, "ch-1", expires=first_end))

    # Telegram out of reach: not stopped, so not yet erasable, and nothing recorded.
    carrier.unanswered.add("cancel")
    assert await settlement.stop_renewals_of(ALEX) is False
    # Telegram knowing no renewal to stop: nothing to wait for, though nothing is recorded.
    carrier.unanswered.clear()
    carrier.refuse.add("cancel")
    assert await settlement.stop_renewals_of(ALEX) is True
    async with sessions() as session:
        assert (await session.exec(select(Subscription))).one().renewal_canceled_at is None
    carrier.refuse.clear()
    assert await settlement.stop_renewals_of(ALEX) is True
    assert carrier.cancelled == [(ALEX, "ch-1")]
    async with sessions() as session:
        assert (await session.exec(select(Subscription))).one().renewal_canceled_at == clock.now()
    assert await settlement.stop_renewals_of(SAM) is True  # nothing to stop for Sam
    await _erase(sessions, clock, ALEX)

    # A renewal already on its way arrives anyway: kept only to be paid back, then paid back.
    clock.set(first_end - timedelta(minutes=1))
    renewal = _charge(payload, "ch-2", expires=first_end + timedelta(days=30), recurring=True)
    carrier.refuse.add("refund")
    settled = await settlement.record(ALEX, renewal)
    assert settled.recorded.outcome == billing.Outcome.AFTER_ERASURE and settled.refunded is None
    payment = await _payment(sessions, "ch-2")
    assert (payment.payer_id, payment.couple_id, payment.refund_to) == (None, None, ALEX)
    assert payment.refunded_at is None
    # What an operator's `billing refund` plans: pay back that Telegram id, stop the first charge.
    async with sessions() as session:
        plan = await billing.plan_refund(session, "ch-2")
    assert plan == billing.RefundPlan("ch-2", ALEX, PRICE, "ch-1")
    carrier.refuse.clear()
    done = await settlement.refund("ch-2")
    assert done is not None and done.payer is None and done.amount == PRICE
    assert carrier.refunds == [(ALEX, "ch-2")]
    payment = await _payment(sessions, "ch-2")
    assert payment.refunded_at == clock.now() and payment.refund_to is None
    # The first charge was honoured before erasure: nobody is named to pay it back to.
    with pytest.raises(billing.RefundRefused, match="deleted their data"):
        await settlement.refund("ch-1")


async def test_a_first_payment_from_an_invoice_handed_out_before_erasure_goes_back(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, SAM)
    await _erase(sessions, clock, SAM)
    settled = await settlement.record(
        SAM, _charge(payload, "ch-9", expires=clock.now() + timedelta(days=30))
    )
    assert settled.recorded.outcome == billing.Outcome.AFTER_ERASURE
    assert settled.refunded is not None and carrier.refunds == [(SAM, "ch-9")]
    assert carrier.cancelled == [(SAM, "ch-9")]
    payment = await _payment(sessions, "ch-9")
    assert payment.payer_id is None and payment.refund_to is None and payment.refunded_at
    async with sessions() as session:
        subscription = (await session.exec(select(Subscription))).one()
    assert subscription.payer_id is None and subscription.ended_at == clock.now()
    # The same charge again (a replayed update) changes nothing and pays back nothing more.
    again = await settlement.record(
        SAM, _charge(payload, "ch-9", expires=clock.now() + timedelta(days=30))
    )
    assert again.recorded.outcome == billing.Outcome.REPLAYED and len(carrier.refunds) == 1


async def _second_cover(
    sessions: Sessions, clock: FixedClock, paid_until: datetime, *, renewing: bool
) -> None:
    """Give Sam a subscription of their own (as after pairing with someone who already paid)."""
    async with sessions.begin() as session:
        session.add(
            Subscription(
                payer_id=SAM,
                payload_hash="f" * 64,
                charge_id="sam-1",
                couple_id=None,
                amount=PRICE,
                paid_until=paid_until,
                renewal_canceled_at=None if renewing else clock.now(),
                created_at=clock.now(),
                updated_at=clock.now(),
            )
        )


async def test_a_renewal_while_the_partner_covers_the_couple_is_paid_back_and_stopped(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, ALEX)
    first_end = clock.now() + timedelta(days=30)
    await settlement.record(ALEX, _charge(payload, "ch-1", expires=first_end))
    await _second_cover(sessions, clock, first_end + timedelta(days=10), renewing=True)

    clock.set(first_end - timedelta(minutes=1))
    renewal = _charge(payload, "ch-2", expires=first_end + timedelta(days=30), recurring=True)
    settled = await settlement.record(ALEX, renewal)
    recorded = settled.recorded
    assert recorded.outcome == billing.Outcome.DOUBLE_RENEWAL
    assert recorded.paid_until == first_end + timedelta(days=10)
    assert recorded.partner is not None and recorded.partner.user_id == SAM
    assert settled.refunded is not None
    assert carrier.refunds == [(ALEX, "ch-2")] and carrier.cancelled == [(ALEX, "ch-1")]
    payment = await _payment(sessions, "ch-2")
    assert payment.duplicate and payment.refunded_at == clock.now()
    async with sessions() as session:
        alexs = (
            await session.exec(select(Subscription).where(Subscription.payer_id == ALEX))
        ).one()
    # Alex's own month stands; the renewal added nothing and renewal is off.
    assert alexs.paid_until == first_end and alexs.renewal_canceled_at == clock.now()


async def test_a_renewal_continues_when_the_partners_cover_is_about_to_run_out(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, ALEX)
    first_end = clock.now() + timedelta(days=30)
    await settlement.record(ALEX, _charge(payload, "ch-1", expires=first_end))
    await _second_cover(sessions, clock, first_end + timedelta(days=2), renewing=False)
    clock.set(first_end - timedelta(minutes=1))
    renewal = _charge(payload, "ch-2", expires=first_end + timedelta(days=30), recurring=True)
    settled = await settlement.record(ALEX, renewal)
    assert settled.recorded.outcome == billing.Outcome.RENEWED
    assert carrier.refunds == [] and carrier.cancelled == []


async def test_reconciliation_records_missed_charges_pays_back_strays_and_is_idempotent(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, ALEX)
    now = clock.now()
    # Refunds of long-gone charges fill the first page, so the missed charge is on the second.
    carrier.ledger = [
        _paid(f"old-{n}", 9, None, now - timedelta(days=90), incoming=False)
        for n in range(LEDGER_PAGE + 5)
    ]
    carrier.ledger.append(_paid("ch-1", ALEX, payload, now))
    carrier.ledger.append(_paid("stray", SAM, "not-ours", now))
    report = await settlement.reconcile()
    assert (report.recorded, report.refunded, report.failed) == (1, 1, False)
    assert report.read == LEDGER_PAGE + 7
    payment = await _payment(sessions, "ch-1")
    assert payment.payer_id == ALEX and payment.period_end == now + timedelta(seconds=PERIOD)
    assert carrier.refunds == [(SAM, "stray")]
    assert len(carrier.texts_to(ALEX)) == 1
    assert "You and Sam are subscribed until" in carrier.texts_to(ALEX)[0]
    assert len(carrier.texts_to(SAM)) == 2
    assert "Alex has subscribed to Remainly for you both" in carrier.texts_to(SAM)[0]
    assert "couldn't match this payment to a subscription" in carrier.texts_to(SAM)[1]

    # Running it again changes nothing and says nothing.
    before = (len(carrier.sent), len(carrier.refunds), await _count(sessions, Payment))
    again = await settlement.reconcile()
    assert (again.recorded, again.refunded) == (0, 0)
    after = (len(carrier.sent), len(carrier.refunds), await _count(sessions, Payment))
    assert after == before

    # A renewal whose update never came is recorded as a renewal.
    clock.advance(timedelta(days=30))
    carrier.ledger.append(_paid("ch-2", ALEX, payload, clock.now()))
    assert (await settlement.reconcile()).recorded == 1
    renewal = await _payment(sessions, "ch-2")
    assert renewal.recurring and not renewal.duplicate
    assert "renewed" in carrier.texts_to(ALEX)[-1]


async def test_reconciliation_retries_refunds_that_failed_and_survives_an_unreadable_ledger(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, ALEX)
    sam_payload = await _payload(sessions, clock, SAM)
    expires = clock.now() + timedelta(days=30)
    await settlement.record(ALEX, _charge(payload, "ch-1", expires=expires))
    carrier.refuse.add("refund")
    twice = await settlement.record(SAM, _charge(sam_payload, "ch-2", expires=expires))
    assert twice.recorded.outcome == billing.Outcome.DUPLICATE and twice.refunded is None
    carrier.refuse = {"ledger"}
    failed = await settlement.reconcile()
    assert failed.failed and (failed.recorded, failed.refunded) == (0, 0)
    assert (await _payment(sessions, "ch-2")).refunded_at is None
    carrier.refuse.clear()
    report = await settlement.reconcile()
    assert report.refunded == 1 and carrier.refunds == [(SAM, "ch-2")]
    assert (await _payment(sessions, "ch-2")).refunded_at == clock.now()
    assert "We've refunded 250 ⭐" in carrier.texts_to(SAM)[-1]
    assert (await settlement.reconcile()).refunded == 0


async def test_stopping_renewal_asks_telegram_first(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, ALEX)
    expires = clock.now() + timedelta(days=30)
    await settlement.record(ALEX, _charge(payload, "ch-1", expires=expires))
    async with sessions() as session:
        subscription_id = (await session.exec(select(Subscription.id))).one()
    assert subscription_id is not None
    with pytest.raises(StaleAction):
        await settlement.stop_renewal(SAM, subscription_id)
    carrier.refuse.add("cancel")
    assert await settlement.stop_renewal(ALEX, subscription_id) is None
    carrier.refuse.clear()
    assert await settlement.stop_renewal(ALEX, subscription_id) == expires
    assert carrier.cancelled == [(ALEX, "ch-1")]


async def test_what_reconciliation_tells_is_neutral_for_someone_in_discreet_mode(
    sessions: Sessions, clock: FixedClock, couple: int, settlement: Settlement, carrier: FakeCarrier
) -> None:
    payload = await _payload(sessions, clock, ALEX)
    async with sessions.begin() as session:
        sam = await session.get(User, SAM)
        assert sam is not None
        sam.discreet_since = clock.now()
        session.add(sam)
    carrier.ledger.append(_paid("ch-1", ALEX, payload, clock.now()))
    assert (await settlement.reconcile()).recorded == 1
    assert "You and Sam are subscribed until" in carrier.texts_to(ALEX)[0]
    [neutral] = carrier.texts_to(SAM)
    assert "Alex" not in neutral and "subscribed" not in neutral
