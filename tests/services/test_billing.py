"""The trial and the subscription on real databases: checkout, charges, refunds, notices, gating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements, pair_trials
from bot.billing import payments as billing
from bot.billing.delivery import NoticeConfig, NoticeEngine
from bot.billing.entitlements import Policy, State
from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.core.errors import DomainError
from bot.db.billing import (
    BillingNotice,
    CheckoutHold,
    NoticeKind,
    NoticeStatus,
    PairTrial,
    Payment,
    Subscription,
)
from bot.db.engine import Sessions
from bot.db.models import Couple
from bot.nudges.engine import NudgeEngine
from bot.people import data_rights, pairing
from bot.people import profiles as people
from bot.safety import signals as safety
from tests.support.factories import ALEX, CONTENT, POLICY, RHYTHM, SAM, nudge_engine, onboard, pair
from tests.support.senders import FakeSender
from tests.support.waiting import run_until

KEY = billing.signing_key("s" * 32, "1:token")
PRICE = 250
KIM, JO = 3, 4
T = TypeVar("T")


async def _in(sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions.begin() as session:
        return await work(session)


async def _offer(sessions: Sessions, clock: FixedClock, user_id: int) -> billing.Offer:
    return await _in(
        sessions,
        lambda s: billing.offer(
            s, user_id, now=clock.now(), price=PRICE, key=KEY, default_zone="UTC", policy=POLICY
        ),
    )


async def _checkout(
    sessions: Sessions,
    clock: FixedClock,
    user_id: int,
    payload: str,
    currency: str = "XTR",
    amount: int = PRICE,
) -> str | None:
    """Run a pre-checkout; return the key of the refusal, or None when approved."""
    try:
        await _in(
            sessions,
            lambda s: billing.check_checkout(
                s,
                user_id,
                payload,
                currency,
                amount,
                now=clock.now(),
                key=KEY,
                default_zone="UTC",
                policy=POLICY,
            ),
        )
    except DomainError as problem:
        return problem.key
    return None


def _charge(
    payload: str,
    charge_id: str,
    *,
    expires: datetime | None = None,
    amount: int = PRICE,
    currency: str = "XTR",
    recurring: bool = False,
) -> billing.Charge:
    return billing.Charge(
        currency=currency,
        amount=amount,
        payload=payload,
        charge_id=charge_id,
        provider_charge_id="",
        expires_at=expires,
        recurring=recurring,
        first_recurring=not recurring,
    )


async def _pay(
    sessions: Sessions,
    clock: FixedClock,
    user_id: int,
    charge: billing.Charge,
    key: bytes = KEY,
) -> billing.Recorded:
    return await _in(
        sessions,
        lambda s: billing.record_payment(
            s, user_id, charge, now=clock.now(), key=key, default_zone="UTC", policy=POLICY
        ),
    )


async def _record_refund(
    sessions: Sessions, clock: FixedClock, plan: billing.RefundPlan
) -> billing.Refunded:
    return await _in(
        sessions, lambda s: billing.record_refund(s, plan, now=clock.now(), default_zone="UTC")
    )


async def _access(sessions: Sessions, clock: FixedClock, user_id: int) -> entitlements.Access:
    async with sessions() as session:
        user = await people.require(session, user_id)
        assert user.couple_id is not None
        access = await entitlements.access_of(session, user.couple_id, clock.now(), policy=POLICY)
    assert access is not None
    return access


async def _count(sessions: Sessions, table: type[SQLModel]) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(table))).one())


async def _rows(sessions: Sessions) -> tuple[int, int, int]:
    return (
        await _count(sessions, CheckoutHold),
        await _count(sessions, Subscription),
        await _count(sessions, Payment),
    )


async def _unpair(sessions: Sessions, clock: FixedClock, user_id: int) -> None:
    async with sessions.begin() as session:
        user = await people.require(session, user_id)
        assert user.couple_id is not None
        await pairing.unpair(session, user_id, user.couple_id, now=clock.now(), rhythm=RHYTHM)


async def test_the_trial_belongs_to_the_pair_and_never_restarts(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    paired_at = clock.now()
    clock.advance(timedelta(days=1))
    access = await _access(sessions, clock, ALEX)
    assert access.state is State.TRIAL and access.trial_ends_at == paired_at + timedelta(days=7)
    # Unpair and pair again within 30 days: the same couple row comes back, same trial.
    await _unpair(sessions, clock, SAM)
    clock.advance(timedelta(days=1))
    assert await pair(sessions, clock) == couple
    assert (await _access(sessions, clock, SAM)).trial_ends_at == paired_at + timedelta(days=7)
    # Much later, a new couple row for the same two people: still the first trial, long over.
    await _unpair(sessions, clock, ALEX)
    clock.advance(timedelta(days=40))
    later = await pair(sessions, clock)
    assert later != couple
    access = await _access(sessions, clock, ALEX)
    assert access.state is State.LAPSED and access.trial_couple_id == couple
    assert access.trial_ends_at == paired_at + timedelta(days=7)
    # A different partner is a different pair, with a trial of its own.
    await _unpair(sessions, clock, ALEX)
    await onboard(sessions, clock, KIM, "Kim", "Europe/Paris")
    await pair(sessions, clock, ALEX, KIM)
    access = await _access(sessions, clock, KIM)
    assert access.state is State.TRIAL and access.trial_started_at == clock.now()


async def test_checkout_approves_the_payer_and_refuses_forgeries_without_changing_anything(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    assert offer.partner == "Sam" and offer.trial_days_left == 7
    forged = offer.payload[:-1] + ("A" if offer.payload[-1] != "A" else "B")
    other_key = billing.sign(billing.read_payload(offer.payload, KEY) or _never(), b"k" * 32)
    refusals = {
        "forged": await _checkout(sessions, clock, ALEX, forged),
        "foreign key": await _checkout(sessions, clock, ALEX, other_key),
        "garbage": await _checkout(sessions, clock, ALEX, "r1.1.1.1.1.x.y"),
        "currency": await _checkout(sessions, clock, ALEX, offer.payload, currency="USD"),
        "amount": await _checkout(sessions, clock, ALEX, offer.payload, amount=1),
        "someone else": await _checkout(sessions, clock, SAM, offer.payload),
    }
    assert refusals == {
        "forged": "billing.checkout_unknown",
        "foreign key": "billing.checkout_unknown",
        "garbage": "billing.checkout_unknown",
        "currency": "billing.checkout_mismatch",
        "amount": "billing.checkout_mismatch",
        "someone else": "billing.checkout_not_yours",
    }
    assert await _rows(sessions) == (0, 0, 0)
    clock.advance(billing.INVOICE_TTL + timedelta(seconds=1))
    assert await _checkout(sessions, clock, ALEX, offer.payload) == "billing.checkout_expired"
    fresh = await _offer(sessions, clock, ALEX)
    assert await _checkout(sessions, clock, ALEX, fresh.payload) is None
    assert await _rows(sessions) == (1, 0, 0)
    # The pairing changed after the link was made.
    stale = await _offer(sessions, clock, SAM)
    await _unpair(sessions, clock, ALEX)
    assert await _checkout(sessions, clock, SAM, stale.payload) == "billing.checkout_not_paired"


def _never() -> Any:
    raise AssertionError("a payload this test signed must read back")


async def test_one_subscription_covers_both_and_nobody_pays_twice(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    alex_offer, sam_offer = await _offer(sessions, clock, ALEX), await _offer(sessions, clock, SAM)
    assert await _checkout(sessions, clock, ALEX, alex_offer.payload) is None
    # While Alex is in the payment sheet, Sam can't start paying too.
    assert await _checkout(sessions, clock, SAM, sam_offer.payload) == "billing.partner_paying"
    expires = clock.now() + timedelta(days=30)
    done = await _pay(sessions, clock, ALEX, _charge(alex_offer.payload, "ch-1", expires=expires))
    assert done.outcome == billing.Outcome.ACTIVATED and done.paid_until == expires
    assert done.partner is not None and done.partner.user_id == SAM
    assert await _count(sessions, CheckoutHold) == 0
    for user_id in (ALEX, SAM):
        access = await _access(sessions, clock, user_id)
        assert access.state is State.PAID and access.cover is not None
        assert access.cover.payer_id == ALEX
    with pytest.raises(DomainError) as covered:
        await _offer(sessions, clock, SAM)
    assert (
        covered.value.key == "billing.already_covered" and covered.value.values["payer"] == "Alex"
    )
    assert await _checkout(sessions, clock, SAM, sam_offer.payload) == "billing.already_covered"
    # Had Sam's payment gone through anyway, it is recorded as a duplicate to pay back.
    twice = await _pay(sessions, clock, SAM, _charge(sam_offer.payload, "ch-2", expires=expires))
    assert twice.outcome == billing.Outcome.DUPLICATE and twice.refund_charge_id == "ch-2"
    async with sessions() as session:
        sams = (await session.exec(select(Subscription).where(Subscription.payer_id == SAM))).one()
    assert sams.ended_at == clock.now() and sams.renewal_canceled_at == clock.now()
    assert (await _access(sessions, clock, SAM)).cover.payer_id == ALEX  # type: ignore[union-attr]


async def test_each_charge_is_recorded_once_and_renewals_extend(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    first_end = clock.now() + timedelta(days=30)
    await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1", expires=first_end))
    before = await _rows(sessions)
    again = await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1", expires=first_end))
    assert again.outcome == billing.Outcome.REPLAYED and await _rows(sessions) == before
    rejected = [
        await _pay(sessions, clock, ALEX, _charge(offer.payload + "x", "ch-f")),
        await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-a", amount=1)),
        await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-c", currency="EUR")),
        await _pay(sessions, clock, SAM, _charge(offer.payload, "ch-s")),
    ]
    assert {r.outcome for r in rejected} == {billing.Outcome.REJECTED}
    assert await _rows(sessions) == before
    clock.set(first_end - timedelta(minutes=5))
    second_end = first_end + timedelta(days=30)
    renewal = _charge(offer.payload, "ch-2", expires=second_end, recurring=True)
    renewed = await _pay(sessions, clock, ALEX, renewal)
    assert renewed.outcome == billing.Outcome.RENEWED and renewed.paid_until == second_end
    clock.set(second_end - timedelta(hours=1))
    assert (await _access(sessions, clock, SAM)).state is State.PAID
    # A renewal that comes a little late is covered by the grace; without it, access pauses.
    clock.set(second_end + timedelta(hours=23))
    assert (await _access(sessions, clock, SAM)).state is State.PAID
    clock.set(second_end + timedelta(hours=25))
    access = await _access(sessions, clock, SAM)
    assert access.state is State.LAPSED
    assert access.lapsed_at == second_end + entitlements.DEFAULT_GRACE


async def test_renewals_still_match_after_the_signing_key_changes(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    first_end = clock.now() + timedelta(days=30)
    await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1", expires=first_end))
    rotated = billing.signing_key(None, "2:a-new-token")
    clock.set(first_end - timedelta(minutes=1))
    renewal = _charge(offer.payload, "ch-2", expires=first_end + timedelta(days=30), recurring=True)
    assert (await _pay(sessions, clock, ALEX, renewal, rotated)).outcome == billing.Outcome.RENEWED
    wrong_sum = _charge(offer.payload, "ch-3", amount=PRICE + 1, recurring=True)
    assert (await _pay(sessions, clock, ALEX, wrong_sum, rotated)).outcome == "rejected"
    # A payload that never started a subscription must carry a signature of the current key.
    terms = billing.InvoiceTerms(couple, SAM, PRICE, clock.now() + timedelta(hours=1), "n" * 12)
    old = _charge(billing.sign(terms, KEY), "ch-4")
    assert (await _pay(sessions, clock, SAM, old, rotated)).reason == "unrecognised payload"


async def test_stopping_renewal_keeps_the_paid_period_and_drops_the_grace(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    end = clock.now() + timedelta(days=30)
    await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1", expires=end))
    async with sessions() as session:
        subscription = (await session.exec(select(Subscription))).one()
    assert subscription.id is not None
    with pytest.raises(DomainError):  # only the payer may stop it
        await _in(
            sessions,
            lambda s: billing.renewal_to_stop(
                s, SAM, subscription.id or 0, now=clock.now(), default_zone="UTC"
            ),
        )
    target = await _in(
        sessions,
        lambda s: billing.renewal_to_stop(
            s, ALEX, subscription.id or 0, now=clock.now(), default_zone="UTC"
        ),
    )
    assert target.charge_id == "ch-1" and target.paid_until == end
    await _in(
        sessions,
        lambda s: billing.stop_renewal(
            s, ALEX, subscription.id or 0, now=clock.now(), default_zone="UTC"
        ),
    )
    view = await _in(
        sessions,
        lambda s: billing.overview(
            s, SAM, now=clock.now(), price=PRICE, default_zone="UTC", policy=POLICY
        ),
    )
    assert (view.state, view.payer, view.you_pay, view.renewing) == ("paid", "Alex", False, False)
    clock.set(end - timedelta(seconds=1))
    assert (await _access(sessions, clock, SAM)).state is State.PAID
    clock.set(end)
    assert (await _access(sessions, clock, SAM)).state is State.LAPSED


async def test_the_subscription_stays_with_the_payer_after_unpairing(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    end = clock.now() + timedelta(days=30)
    await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1", expires=end))
    clock.advance(timedelta(days=10))  # past the trial
    await _unpair(sessions, clock, SAM)
    await onboard(sessions, clock, KIM, "Kim", "Europe/Paris")
    await onboard(sessions, clock, JO, "Jo", "Europe/Madrid")
    await pair(sessions, clock, SAM, KIM)
    await pair(sessions, clock, ALEX, JO)
    sam_kim, alex_jo = await _access(sessions, clock, SAM), await _access(sessions, clock, JO)
    assert sam_kim.state is State.TRIAL and sam_kim.cover is None
    assert alex_jo.state is State.PAID and alex_jo.cover is not None
    assert alex_jo.cover.payer_id == ALEX
    view = await _in(
        sessions,
        lambda s: billing.overview(
            s, ALEX, now=clock.now(), price=PRICE, default_zone="UTC", policy=POLICY
        ),
    )
    assert view.you_pay and view.partner == "Jo" and view.own_subscription_id is not None


async def test_a_refund_takes_back_the_period_it_paid_for(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    first_end = clock.now() + timedelta(days=30)
    await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1", expires=first_end))
    clock.set(first_end - timedelta(minutes=1))
    second_end = first_end + timedelta(days=30)
    await _pay(
        sessions,
        clock,
        ALEX,
        _charge(offer.payload, "ch-2", expires=second_end, recurring=True),
    )
    clock.set(first_end + timedelta(days=2))
    plan = await _in(sessions, lambda s: billing.plan_refund(s, "ch-2"))
    # The renewal pays back to Alex; the subscription to stop is known by its first charge.
    assert plan == billing.RefundPlan("ch-2", ALEX, PRICE, "ch-1")
    refunded = await _record_refund(sessions, clock, plan)
    assert refunded.amount == PRICE and refunded.covered_until is None
    assert refunded.payer is not None and refunded.payer.user_id == ALEX
    access = await _access(sessions, clock, SAM)
    assert access.state is State.LAPSED and access.lapsed_at == clock.now()
    with pytest.raises(billing.RefundRefused, match="already refunded"):
        await _in(sessions, lambda s: billing.plan_refund(s, "ch-2"))
    with pytest.raises(billing.RefundRefused, match="no charge"):
        await _in(sessions, lambda s: billing.plan_refund(s, "nope"))
    # Recording the same refund again (a retried command) changes nothing.
    clock.advance(timedelta(hours=1))
    again = await _record_refund(sessions, clock, plan)
    assert again == refunded
    async with sessions() as session:
        payment = (await session.exec(select(Payment).where(Payment.charge_id == "ch-2"))).one()
    assert payment.refunded_at == clock.now() - timedelta(hours=1)


async def test_a_charge_whose_payer_erased_their_data_is_not_refunded(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1"))
    async with sessions.begin() as session:
        await data_rights.ask_to_erase(session, ALEX, now=clock.now())
    async with sessions.begin() as session:
        await data_rights.erase(session, ALEX, now=clock.now(), rhythm=RHYTHM)
    # The payment stays for the accounts, but nobody is left to pay back.
    with pytest.raises(billing.RefundRefused, match="deleted their data"):
        await _in(sessions, lambda s: billing.plan_refund(s, "ch-1"))


async def test_refunding_an_older_charge_keeps_the_current_paid_period(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    offer = await _offer(sessions, clock, ALEX)
    first_end = clock.now() + timedelta(days=30)
    await _pay(sessions, clock, ALEX, _charge(offer.payload, "ch-1", expires=first_end))
    clock.set(first_end - timedelta(minutes=1))
    second_end = first_end + timedelta(days=30)
    await _pay(
        sessions, clock, ALEX, _charge(offer.payload, "ch-2", expires=second_end, recurring=True)
    )
    plan = await _in(sessions, lambda s: billing.plan_refund(s, "ch-1"))
    refunded = await _record_refund(sessions, clock, plan)
    assert refunded.covered_until == second_end
    access = await _access(sessions, clock, SAM)
    assert access.state is State.PAID and access.cover is not None
    assert not access.cover.renewing  # a refund also stops renewal


def _notices(
    sessions: Sessions, clock: FixedClock, sender: FakeSender, policy: Policy = POLICY
) -> NoticeEngine:
    return NoticeEngine(
        sessions=sessions,
        texts=Texts(CONTENT),
        clock=clock,
        sender=sender,
        policy=policy,
        config=NoticeConfig(price=PRICE, default_timezone="Europe/London"),
    )


async def _tick_until(engine: NoticeEngine, clock: FixedClock, until: datetime) -> None:
    """Move the clock from one due notice to the next (a tick runs a little after) to `until`."""
    while clock.now() < until:
        async with engine.sessions() as session:
            upcoming = (
                await session.exec(
                    select(func.min(BillingNotice.next_run_at)).where(
                        BillingNotice.status == NoticeStatus.PENDING
                    )
                )
            ).one()
        due = upcoming.replace(tzinfo=UTC) + timedelta(seconds=20) if upcoming else until
        clock.set(min(until, max(clock.now() + timedelta(seconds=1), due)))
        await engine.tick()


async def test_trial_notices_reach_both_partners_once_in_their_own_daytime(
    sessions: Sessions, clock: FixedClock
) -> None:
    sender = FakeSender()
    clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))  # Lisbon 13:00, Tokyo 22:00
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    await onboard(sessions, clock, SAM, "Sam", "Asia/Tokyo")
    await pair(sessions, clock)
    engine = _notices(sessions, clock, sender)
    await engine.tick()
    assert [t.split("\n")[0] for t in sender.texts_to(ALEX)] == [
        "🌱 <b>Your free week together has begun</b>"
    ]
    assert sender.texts_to(SAM) == []  # 22:00 in Tokyo: it waits for the morning
    await _tick_until(engine, clock, datetime(2026, 3, 2, 23, 50, tzinfo=UTC))
    assert sender.texts_to(SAM) == []
    await _tick_until(engine, clock, datetime(2026, 3, 3, 0, 10, tzinfo=UTC))  # 09:10 Tokyo
    assert len(sender.texts_to(SAM)) == 1 and "begun" in sender.texts_to(SAM)[0]
    # Two days before the end (7 March 13:00 UTC): Alex at once, Sam at 09:00 Tokyo time.
    await _tick_until(engine, clock, datetime(2026, 3, 7, 13, 10, tzinfo=UTC))
    assert "Two more days" in sender.texts_to(ALEX)[-1]
    assert len(sender.texts_to(SAM)) == 1
    await _tick_until(engine, clock, datetime(2026, 3, 8, 0, 10, tzinfo=UTC))
    assert "Two more days" in sender.texts_to(SAM)[-1]
    assert sender.sent[-1].buttons[0][0][1] == "bill:sub"
    await _tick_until(engine, clock, datetime(2026, 3, 10, 0, 10, tzinfo=UTC))
    for user_id in (ALEX, SAM):
        texts = sender.texts_to(user_id)
        assert len(texts) == 3 and "free week has ended" in texts[-1]
        assert "Nothing has been charged" in texts[-1]
    # Ticking on, or a second worker, never repeats one.
    await engine.tick()
    await _notices(sessions, clock, sender).tick()
    assert len(sender.sent) == 6


async def test_a_couple_that_subscribes_hears_nothing_more_about_the_trial(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = _notices(sessions, clock, sender)
    await engine.tick()
    assert len(sender.sent) == 2
    offer = await _offer(sessions, clock, SAM)
    await _pay(
        sessions, clock, SAM, _charge(offer.payload, "ch-1", expires=clock.now() + timedelta(30))
    )
    await _tick_until(engine, clock, clock.now() + timedelta(days=9))
    assert len(sender.sent) == 2
    async with sessions() as session:
        statuses = (await session.exec(select(BillingNotice.status))).all()
    assert sorted(statuses) == [NoticeStatus.DROPPED] * 4 + [NoticeStatus.SENT] * 2


async def test_re_pairing_plans_no_second_trial(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = _notices(sessions, clock, sender)
    await engine.tick()
    planned = await _count(sessions, BillingNotice)
    assert planned == 6 and len(sender.sent) == 2
    await _unpair(sessions, clock, ALEX)
    clock.advance(timedelta(days=40))
    await pair(sessions, clock)
    await engine.tick()
    # Old notices are old news; the pair's trial was used long ago, so nothing new is planned.
    assert await _count(sessions, BillingNotice) == planned and len(sender.sent) == 2
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Couple))).one() == 2


async def test_erasing_oneself_and_pairing_again_never_restarts_the_trial(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    paired_at = clock.now()
    sender = FakeSender()
    engine = _notices(sessions, clock, sender)
    await engine.tick()
    clock.advance(timedelta(days=8))
    await _in(sessions, lambda s: data_rights.ask_to_erase(s, SAM, now=clock.now()))
    await _in(sessions, lambda s: data_rights.erase(s, SAM, now=clock.now(), rhythm=RHYTHM))
    async with sessions() as session:
        remembered = (await session.exec(select(PairTrial))).all()
    # What is kept names nobody: a keyed hash and a date.
    assert [row.started_at for row in remembered] == [paired_at]
    assert remembered[0].pair_hash == pair_trials.pair_hash(POLICY.pair_key, SAM, ALEX)
    assert remembered[0].pair_hash != pair_trials.pair_hash(b"another key", ALEX, SAM)
    await onboard(sessions, clock, SAM, "Sam", "Asia/Tokyo")
    assert await pair(sessions, clock) != couple
    access = await _access(sessions, clock, ALEX)
    assert access.state is State.LAPSED
    assert access.trial_ends_at == paired_at + timedelta(days=7)
    # Nobody is told a new free week has begun.
    before = len(sender.sent)
    await _tick_until(engine, clock, clock.now() + timedelta(days=9))
    assert not any("begun" in text for text in sender.texts_to(SAM)[before:])
    assert not any("Two more days" in message.text for message in sender.sent[before:])


async def test_with_nothing_gated_nobody_hears_about_a_trial(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = _notices(sessions, clock, sender, Policy(gated=frozenset()))
    await engine.tick()
    await _tick_until(engine, clock, clock.now() + timedelta(days=10))
    assert sender.sent == []
    assert await _count(sessions, BillingNotice) == 0


async def test_a_couple_paused_by_a_safety_signal_hears_no_sales(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = _notices(sessions, clock, sender)
    await engine.tick()
    assert len(sender.sent) == 2  # the free week began, before anything was paused
    await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    await _tick_until(engine, clock, clock.now() + timedelta(days=10))
    assert len(sender.sent) == 2
    async with sessions() as session:
        pending = (
            await session.exec(
                select(BillingNotice).where(BillingNotice.status == NoticeStatus.PENDING)
            )
        ).all()
    assert pending == []


def _nudges(sender: FakeSender, user_id: int) -> list[str]:
    """Return the daily nudges (morning, evening, reminder) a person got, nothing else."""
    return [t for t in sender.texts_to(user_id) if t.startswith(("☀️", "🌙", "💭"))]


async def test_gated_nudges_stop_after_the_trial_with_one_warm_word_until_someone_pays(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    # Alex (Lisbon) gets a morning nudge at 08:00 UTC; the trial ends 9 March 09:00 UTC.
    await run_until(nudger, clock, datetime(2026, 3, 9, 8, 30, tzinfo=UTC))
    received = len(_nudges(sender, ALEX))
    assert received > 0
    await run_until(nudger, clock, datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    assert len(_nudges(sender, ALEX)) == received  # nothing gated got through
    async with sessions() as session:
        notices = (
            await session.exec(select(BillingNotice).where(BillingNotice.user_id == ALEX))
        ).all()
    # The trial-ended notice is the one word about it, however many nudges were held back.
    assert [(n.kind, n.about) for n in notices] == [
        (NoticeKind.TRIAL_ENDED, datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    ]
    offer = await _offer(sessions, clock, SAM)
    end = clock.now() + timedelta(days=30)
    await _pay(sessions, clock, SAM, _charge(offer.payload, "ch-1", expires=end))
    await run_until(nudger, clock, datetime(2026, 3, 12, 8, 30, tzinfo=UTC))
    assert "Good morning" in _nudges(sender, ALEX)[-1]
    # The paid month runs out with renewal stopped: one lapse notice, then quiet.
    async with sessions.begin() as session:
        subscription = (await session.exec(select(Subscription))).one()
        subscription.renewal_canceled_at = clock.now()
        session.add(subscription)
    await run_until(nudger, clock, end + timedelta(days=3))
    async with sessions() as session:
        lapses = (
            await session.exec(
                select(BillingNotice).where(
                    BillingNotice.user_id == ALEX, BillingNotice.kind == NoticeKind.LAPSED
                )
            )
        ).all()
    assert [n.about for n in lapses] == [end]


async def test_the_gated_features_setting_is_honoured(
    clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    policy = Policy(gated=frozenset({"checkins"}))
    nudger = nudge_engine(sessions, clock, sender, policy=policy)
    clock.set(datetime(2026, 3, 20, 7, 0, tzinfo=UTC))
    async with sessions() as session:
        now = clock.now()
        assert await entitlements.is_entitled(session, couple, "nudges", now, policy=policy)
        assert not await entitlements.is_entitled(session, couple, "checkins", now, policy=policy)
        assert await entitlements.is_entitled(session, couple, "settings", now, policy=policy)
    await run_until(nudger, clock, datetime(2026, 3, 20, 8, 30, tzinfo=UTC))
    assert "Good morning" in _nudges(sender, ALEX)[-1]


async def test_the_standing_of_many_couples_at_once_matches_each_one_alone(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    """The nudge engine asks for a whole group of couples at once; the answer must not differ."""
    # Alex and Sam: paired, unpaired 40 days, paired again (a later couple row, the old trial).
    await _unpair(sessions, clock, ALEX)
    clock.advance(timedelta(days=40))
    repaired = await pair(sessions, clock)
    # Kim and Jo: a fresh pair in its trial; then Kim pays.
    await onboard(sessions, clock, KIM, "Kim", "Europe/Paris")
    await onboard(sessions, clock, JO, "Jo", "Europe/Paris")
    fresh = await pair(sessions, clock, KIM, JO)
    clock.advance(timedelta(days=10))
    offer = await _offer(sessions, clock, KIM)
    await _pay(sessions, clock, KIM, _charge(offer.payload, "ch-k", expires=clock.now()))
    clock.advance(timedelta(days=1, hours=1))  # Kim's period and its grace are over
    ids = [couple, repaired, fresh, 999_999]
    async with sessions() as session:
        now = clock.now()
        together = await entitlements.access_of_many(session, ids, now, policy=POLICY)
        alone = {i: await entitlements.access_of(session, i, now, policy=POLICY) for i in ids}
    assert together == {i: access for i, access in alone.items() if access is not None}
    assert together[repaired].state is State.LAPSED
    assert together[repaired].trial_couple_id == couple
    lapsed_at = together[fresh].lapsed_at
    assert together[fresh].state is State.LAPSED and lapsed_at is not None
    assert lapsed_at > together[fresh].trial_ends_at  # the paid period ran out, not the trial
    assert 999_999 not in together


async def test_billing_notices_can_be_hidden_and_are_neutral_in_discreet_mode(
    sessions: Sessions, clock: FixedClock
) -> None:
    sender = FakeSender()
    clock.set(datetime(2026, 3, 2, 13, 0, tzinfo=UTC))  # daytime in Lisbon
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    await onboard(sessions, clock, SAM, "Sam", "Europe/Lisbon")
    async with sessions.begin() as session:
        await safety.set_discreet(session, SAM, on=True, now=clock.now())
    await pair(sessions, clock)

    await _notices(sessions, clock, sender).tick()

    (to_alex,) = sender.texts_to(ALEX)
    (to_sam,) = sender.texts_to(SAM)
    assert "begun" in to_alex
    assert to_sam == Texts(CONTENT).render("safety.neutral_notice")
    async with sessions.begin() as session:
        # /hide finds the notice it must delete.
        hideable = await safety.take_recent_messages(session, ALEX, now=clock.now())
    assert len(hideable) == 1
