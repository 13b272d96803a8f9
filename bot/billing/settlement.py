"""Settling Stars payments with Telegram: refunds, stopped renewals and reconciliation.

The decisions (what to pay back, what to stop, what a charge is) are made here and in
payments; the outbox's carrier only makes the Bot API calls.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.billing import payments
from bot.billing.entitlements import Policy
from bot.content.texts import Texts
from bot.core.clock import Clock
from bot.db.billing import Payment, Subscription
from bot.db.engine import Sessions
from bot.outbox.messages import Outcome, Outgoing, SendResult, StarTransaction
from bot.safety.signals import Recipient

log = logging.getLogger(__name__)

# getStarTransactions gives at most 100 entries a call.
LEDGER_PAGE = 100
# A bound on one reconciliation, so a runaway ledger can't keep it going for ever.
LEDGER_MAX_PAGES = 1_000


class StarsDesk(Protocol):
    """What settling payments needs of the outbox."""

    async def send(self, message: Outgoing, *, notify: Recipient | None = None) -> SendResult: ...

    async def refund_stars(self, user_id: int, charge_id: str) -> bool: ...

    async def cancel_stars_subscription(self, user_id: int, charge_id: str) -> Outcome: ...

    async def star_transactions(
        self, *, offset: int, limit: int
    ) -> Sequence[StarTransaction] | None: ...


@dataclass(frozen=True)
class Say:
    """One message about a payment: to whom, in which language, which template and values."""

    chat_id: int
    locale: str | None
    key: str
    values: dict[str, Any]
    # Set for a notification (not a reply to what the person just did): discreet-aware.
    notify: Recipient | None = None


def _recipient(person: payments.Person) -> Recipient:
    return Recipient(person.user_id, person.chat_id, person.locale, person.discreet)


@dataclass(frozen=True)
class Settled:
    """A payment recorded (or not), and whether a charge owed back was paid back."""

    recorded: payments.Recorded
    refunded: payments.Refunded | None = None


def messages_for(
    settled: Settled, *, chat_id: int, locale: str | None, replying: bool = True
) -> list[Say]:
    """Decide what the payer (in `chat_id`) and their partner are told about a payment.

    `replying` is False when the payer did nothing just now (a charge found later): then
    what they are told is a notification too.
    """
    told = _messages_for(settled, chat_id=chat_id, locale=locale)
    payer = settled.recorded.payer
    if replying or payer is None:
        return told
    return [
        Say(say.chat_id, say.locale, say.key, say.values, say.notify or _recipient(payer))
        if say.chat_id == chat_id
        else say
        for say in told
    ]


def _messages_for(settled: Settled, *, chat_id: int, locale: str | None) -> list[Say]:
    recorded, refunded = settled.recorded, settled.refunded
    payer, partner = recorded.payer, recorded.partner
    outcome = recorded.outcome
    if outcome == payments.Outcome.REJECTED:
        key = "billing.unmatched_refunded" if refunded else "billing.payment_unmatched"
        return [Say(chat_id, locale, key, {"amount": recorded.amount})]
    if outcome == payments.Outcome.AFTER_ERASURE:
        key = "billing.after_erasure_refunded" if refunded else "billing.after_erasure_pending"
        return [Say(chat_id, locale, key, {"amount": recorded.amount})]
    if outcome == payments.Outcome.REPLAYED or payer is None or recorded.paid_until is None:
        return []
    until = recorded.paid_until.astimezone(payer.zone)
    if outcome == payments.Outcome.DUPLICATE:
        if refunded is None:
            return [Say(chat_id, payer.locale, "billing.duplicate_pending", {})]
        return [
            Say(chat_id, payer.locale, "billing.duplicate_refunded", {"amount": refunded.amount})
        ]
    if outcome == payments.Outcome.DOUBLE_RENEWAL:
        told = [
            Say(
                chat_id,
                payer.locale,
                "billing.renewal_doubled",
                {
                    "partner": partner.name if partner else "",
                    "until": until,
                    "amount": recorded.amount,
                    "refunded": refunded is not None,
                },
            )
        ]
        if partner is not None:
            told.append(
                Say(
                    partner.chat_id,
                    partner.locale,
                    "billing.renewal_doubled_partner",
                    {"payer": payer.name, "until": recorded.paid_until.astimezone(partner.zone)},
                    _recipient(partner),
                )
            )
        return told
    if outcome == payments.Outcome.RENEWED:
        return [Say(chat_id, payer.locale, "billing.renewed", {"until": until})]
    if partner is None:
        return [Say(chat_id, payer.locale, "billing.activated_solo", {"until": until})]
    return [
        Say(chat_id, payer.locale, "billing.activated", {"partner": partner.name, "until": until}),
        Say(
            partner.chat_id,
            partner.locale,
            "billing.activated_partner",
            {"payer": payer.name, "until": recorded.paid_until.astimezone(partner.zone)},
            _recipient(partner),
        ),
    ]


@dataclass(frozen=True)
class Reconciled:
    """What one reconciliation with Telegram's ledger found and did."""

    read: int = 0
    recorded: int = 0
    refunded: int = 0
    failed: bool = False


class Settlement:
    """Record, pay back and stop Stars payments; the one place that asks Telegram to."""

    def __init__(
        self,
        *,
        sessions: Sessions,
        texts: Texts,
        clock: Clock,
        desk: StarsDesk,
        key: bytes,
        default_zone: str,
        policy: Policy,
    ) -> None:
        self.sessions = sessions
        self.texts = texts
        self.clock = clock
        self.desk = desk
        self.key = key
        self.default_zone = default_zone
        self.policy = policy

    async def record(self, user_id: int, charge: payments.Charge) -> Settled:
        """Record a successful payment once; pay back at once a charge that can't be honoured."""
        try:
            async with self.sessions.begin() as session:
                recorded = await payments.record_payment(
                    session,
                    user_id,
                    charge,
                    now=self.clock.now(),
                    key=self.key,
                    default_zone=self.default_zone,
                    policy=self.policy,
                )
        except IntegrityError:
            # Another worker (or the reconciliation) recorded this very charge a moment ago.
            return Settled(payments.Recorded(payments.Outcome.REPLAYED))
        if recorded.outcome == payments.Outcome.REJECTED:
            # Never recorded, so never covering anyone: it goes straight back to its payer.
            refunded = await self._refund_unrecorded(user_id, charge)
            return Settled(
                payments.Recorded(
                    payments.Outcome.REJECTED, reason=recorded.reason, amount=charge.amount
                ),
                refunded,
            )
        if recorded.refund_charge_id is None:
            return Settled(recorded)
        refunded = await self.refund(recorded.refund_charge_id)
        if refunded is None:
            log.error(
                "charge %s (%s) is owed back; refunding it failed for now",
                recorded.refund_charge_id,
                recorded.outcome,
            )
        return Settled(recorded, refunded)

    async def _refund_unrecorded(
        self, user_id: int, charge: payments.Charge
    ) -> payments.Refunded | None:
        if not await self.desk.refund_stars(user_id, charge.charge_id):
            log.error("charge %s matches nothing and could not be refunded", charge.charge_id)
            return None
        # A one-off payment has no renewal to stop; a subscription's first charge names it.
        await self.desk.cancel_stars_subscription(user_id, charge.charge_id)
        return payments.Refunded(None, charge.amount, None)

    async def refund(self, charge_id: str) -> payments.Refunded | None:
        """Pay a recorded charge back and stop its subscription; None if Telegram would not.

        Raises `RefundRefused` for a charge that can't be refunded.
        """
        async with self.sessions.begin() as session:
            plan = await payments.plan_refund(session, charge_id)
        if not await self.desk.refund_stars(plan.payer_id, plan.charge_id):
            log.error("refunding charge %s failed", charge_id)
            return None
        stopped = await self.desk.cancel_stars_subscription(
            plan.payer_id, plan.subscription_charge_id
        )
        if stopped is not Outcome.SENT:
            # A refunded subscription may already be over on Telegram's side; the refund stands.
            log.info("charge %s: renewal not stopped", charge_id)
        async with self.sessions.begin() as session:
            return await payments.record_refund(
                session, plan, now=self.clock.now(), default_zone=self.default_zone
            )

    async def stop_renewal(self, user_id: int, subscription_id: int) -> datetime | None:
        """Stop one's own subscription renewing: Telegram first; None if it didn't confirm."""
        async with self.sessions.begin() as session:
            target = await payments.renewal_to_stop(
                session,
                user_id,
                subscription_id,
                now=self.clock.now(),
                default_zone=self.default_zone,
            )
        # Recording a stop Telegram never made would let a charge through unannounced.
        stopped = await self.desk.cancel_stars_subscription(user_id, target.charge_id)
        if stopped is not Outcome.SENT:
            return None
        async with self.sessions.begin() as session:
            return await payments.stop_renewal(
                session,
                user_id,
                subscription_id,
                now=self.clock.now(),
                default_zone=self.default_zone,
            )

    async def stop_renewals_of(self, user_id: int) -> bool:
        """Stop every subscription this person pays for renewing (before they are erased).

        False when Telegram could not be asked for one of them. A subscription Telegram refuses
        to stop is one it no longer renews (it ran out, or was refunded): nothing to wait for,
        and a charge that came anyway would still be paid back.
        """
        async with self.sessions.begin() as session:
            running = await payments.renewing_of(session, user_id)
        stopped, unanswered = [], 0
        for subscription_id, charge_id in running:
            outcome = await self.desk.cancel_stars_subscription(user_id, charge_id)
            if outcome is Outcome.SENT:
                stopped.append(subscription_id)
            elif outcome is Outcome.REJECTED:
                log.info("subscription %s: Telegram has no renewal to stop", subscription_id)
            else:
                unanswered += 1
        if stopped:
            async with self.sessions.begin() as session:
                await payments.mark_renewals_stopped(session, stopped, now=self.clock.now())
        return unanswered == 0

    async def reconcile(self) -> Reconciled:
        """Record, or pay back, every charge in Telegram's ledger that the bot has not seen.

        Running it again changes nothing: charges are recorded once by their id, and a charge
        paid back shows in the ledger as refunded.
        """
        charges: dict[str, StarTransaction] = {}
        refunded: set[str] = set()
        read = 0
        for page_number in range(LEDGER_MAX_PAGES):
            page = await self.desk.star_transactions(
                offset=page_number * LEDGER_PAGE, limit=LEDGER_PAGE
            )
            if page is None:
                log.warning("Stars reconciliation: Telegram's ledger could not be read")
                return Reconciled(read, failed=True)
            read += len(page)
            for entry in page:
                if entry.incoming:
                    charges[entry.id] = entry
                else:
                    refunded.add(entry.id)
            if len(page) < LEDGER_PAGE:
                break
        known = await self._recorded(list(charges))
        recorded = paid_back = 0
        for charge_id, entry in charges.items():
            if charge_id in known or charge_id in refunded or not entry.invoice_payload:
                continue
            settled = await self.record(entry.user_id, await self._charge_of(entry))
            if settled.recorded.outcome == payments.Outcome.REPLAYED:
                continue
            recorded += settled.recorded.outcome != payments.Outcome.REJECTED
            paid_back += settled.refunded is not None
            await self._tell(settled, entry.user_id)
        paid_back += await self._refund_owed()
        if recorded or paid_back:
            log.info("Stars reconciliation: recorded %d, refunded %d", recorded, paid_back)
        return Reconciled(read, recorded, paid_back)

    async def _recorded(self, charge_ids: list[str]) -> set[str]:
        """Return which of these charges are recorded, asking a page's worth at a time."""
        known: set[str] = set()
        async with self.sessions() as session:
            for start in range(0, len(charge_ids), LEDGER_PAGE):
                chunk = charge_ids[start : start + LEDGER_PAGE]
                result = await session.exec(
                    select(Payment.charge_id).where(col(Payment.charge_id).in_(chunk))
                )
                known.update(result.all())
        return known

    async def _charge_of(self, entry: StarTransaction) -> payments.Charge:
        assert entry.invoice_payload is not None
        async with self.sessions() as session:
            renewal = (
                await session.exec(
                    select(Subscription.id).where(
                        Subscription.payload_hash == payments.payload_hash(entry.invoice_payload)
                    )
                )
            ).first() is not None
        period = entry.subscription_period
        return payments.Charge(
            currency=payments.CURRENCY,
            amount=entry.amount,
            payload=entry.invoice_payload,
            charge_id=entry.id,
            provider_charge_id=None,
            expires_at=entry.date + timedelta(seconds=period) if period else None,
            recurring=period is not None,
            first_recurring=period is not None and not renewal,
        )

    async def _refund_owed(self) -> int:
        """Pay back recorded charges that are owed back but whose refund failed earlier."""
        async with self.sessions() as session:
            owed = (
                await session.exec(
                    select(Payment.charge_id).where(
                        col(Payment.refunded_at).is_(None),
                        or_(col(Payment.duplicate).is_(True), col(Payment.refund_to).is_not(None)),
                    )
                )
            ).all()
        done = 0
        for charge_id in owed:
            try:
                refunded = await self.refund(charge_id)
            except payments.RefundRefused as refused:
                log.info("Stars reconciliation: %s", refused)
                continue
            if refunded is not None:
                done += 1
                await self.tell_refunded(refunded)
        return done

    async def tell_refunded(self, refunded: payments.Refunded) -> None:
        """Tell the payer, if anyone is left to tell, that a charge was paid back."""
        payer = refunded.payer
        if payer is None:
            return
        values = {"amount": refunded.amount, "covered_until": refunded.covered_until}
        await self.announce(
            Say(payer.chat_id, payer.locale, "billing.refunded", values, _recipient(payer))
        )

    async def _tell(self, settled: Settled, user_id: int) -> None:
        until = settled.recorded.paid_until
        if settled.refunded is None and until is not None and until <= self.clock.now():
            return  # a month long over, found late: news of it would only confuse
        # In a private chat the chat id is the person's id.
        for say in messages_for(settled, chat_id=user_id, locale=None, replying=False):
            await self.announce(say)

    async def announce(self, say: Say) -> None:
        """Send one message about a payment through the outbox."""
        message = self.texts.render(say.key, locale=say.locale, **say.values)
        result = await self.desk.send(Outgoing(say.chat_id, message), notify=say.notify)
        if not result.sent:
            log.warning("a payment message was not delivered: %s", result.outcome.value)
