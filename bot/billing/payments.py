"""Paying in Telegram Stars: signed invoices, checkout checks, charges recorded once, refunds."""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements
from bot.billing.entitlements import Access, Cover, Policy
from bot.core.errors import DomainError, StaleAction
from bot.db.billing import CheckoutHold, Payment, Subscription
from bot.db.engine import dialect_insert
from bot.db.models import Couple, User
from bot.people.profiles import name_of, partner_of, require, zone_of

CURRENCY = "XTR"
# Telegram Stars subscriptions renew every 30 days; it is the only period Telegram allows.
PERIOD = timedelta(days=30)
PERIOD_SECONDS = int(PERIOD.total_seconds())
# How long a /subscribe link can start a subscription; renewals are not bound by it.
INVOICE_TTL = timedelta(hours=24)
# While one partner is in Telegram's payment sheet, the other can't start paying too.
HOLD = timedelta(minutes=5)
PAYLOAD_MAX_BYTES = 128
_VERSION = "r1"
_NONCE_BYTES = 9  # 12 URL-safe characters, 72 random bits
_NONCE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{12}$")
_NUMBER = re.compile(r"^[0-9]{1,19}$")


def signing_key(secret: str | None, bot_token: str) -> bytes:
    """Return the key that signs invoice payloads.

    PAYMENT_SIGNING_SECRET should be set in production; without it the key is derived from
    the bot token, so payloads stay unforgeable but change whenever the token is rotated.
    """
    if secret:
        return hashlib.sha256(b"remainly-payments\x00" + secret.encode()).digest()
    return hmac.new(b"remainly-payments-from-token", bot_token.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class InvoiceTerms:
    """What an invoice payload promises: who pays, for which couple, how much, until when."""

    couple_id: int
    payer_id: int
    amount: int
    expires_at: datetime
    nonce: str


def _signature(key: bytes, body: str) -> str:
    digest = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(terms: InvoiceTerms, key: bytes) -> str:
    """Turn invoice terms into a signed payload for `create_invoice_link`."""
    expires = int(terms.expires_at.timestamp())
    body = f"{_VERSION}.{terms.couple_id}.{terms.payer_id}.{terms.amount}.{expires}.{terms.nonce}"
    payload = f"{body}.{_signature(key, body)}"
    if len(payload.encode()) > PAYLOAD_MAX_BYTES:
        raise ValueError("an invoice payload must fit Telegram's 128 bytes")
    return payload


def read_payload(payload: str, key: bytes) -> InvoiceTerms | None:
    """Return the terms of a payload this bot signed, or None for anything else."""
    if len(payload.encode()) > PAYLOAD_MAX_BYTES:
        return None
    body, _, signature = payload.rpartition(".")
    if not hmac.compare_digest(signature.encode(), _signature(key, body).encode()):
        return None
    parts = body.split(".")
    if len(parts) != 6 or parts[0] != _VERSION:
        return None
    numbers, nonce = parts[1:5], parts[5]
    if not all(_NUMBER.match(part) for part in numbers) or not _NONCE_SHAPE.match(nonce):
        return None
    couple_id, payer_id, amount, expires = (int(part) for part in numbers)
    return InvoiceTerms(couple_id, payer_id, amount, datetime.fromtimestamp(expires, UTC), nonce)


def _live(covers: list[Cover], now: datetime, policy: Policy) -> list[Cover]:
    return [cover for cover in covers if cover.ends_at(policy.grace) > now]


async def _covered(
    session: AsyncSession, user: User, now: datetime, policy: Policy
) -> Cover | None:
    """Return a subscription already covering this person's couple (or them), if any."""
    if user.couple_id is not None:
        covers = await entitlements.covers_of(session, user.couple_id)
    else:
        covers = await entitlements.personal_covers(session, user.id)
    live = _live(covers, now, policy)
    return max(live, key=lambda c: c.ends_at(policy.grace)) if live else None


async def _covered_error(
    session: AsyncSession, user: User, cover: Cover, zone: ZoneInfo
) -> DomainError:
    payer = await session.get(User, cover.payer_id)
    return DomainError(
        "billing.already_covered",
        you=cover.payer_id == user.id,
        payer=name_of(payer) if payer is not None else "",
        until=cover.paid_until.astimezone(zone),
        renewing=cover.renewing,
    )


@dataclass(frozen=True)
class Offer:
    """A subscription this person may start for their couple."""

    payload: str
    amount: int
    partner: str
    trial_days_left: int


async def offer(
    session: AsyncSession,
    user_id: int,
    *,
    now: datetime,
    price: int,
    key: bytes,
    default_zone: str,
    policy: Policy,
) -> Offer:
    """Prepare a signed invoice for this person's couple, unless it is already covered."""
    user = await require(session, user_id)
    partner = await partner_of(session, user)
    if user.couple_id is None or partner is None:
        raise DomainError("billing.subscribe_unpaired")
    cover = await _covered(session, user, now, policy)
    if cover is not None:
        raise await _covered_error(session, user, cover, zone_of(user, default=default_zone))
    access = await entitlements.access_of(session, user.couple_id, now, policy=policy)
    left = entitlements.trial_days_left(access, now) if access is not None else 0
    terms = InvoiceTerms(
        couple_id=user.couple_id,
        payer_id=user.id,
        amount=price,
        expires_at=now + INVOICE_TTL,
        nonce=secrets.token_urlsafe(_NONCE_BYTES),
    )
    return Offer(sign(terms, key), price, name_of(partner), left)


async def _upsert_hold(session: AsyncSession, hold: CheckoutHold) -> None:
    insert = dialect_insert(session)
    values = {
        "couple_id": hold.couple_id,
        "payer_id": hold.payer_id,
        "nonce": hold.nonce,
        "expires_at": hold.expires_at,
    }
    await session.exec(
        insert(CheckoutHold)
        .values(**values)
        .on_conflict_do_update(index_elements=["couple_id"], set_=values)
    )


def payload_hash(payload: str) -> str:
    """Return the SHA-256 of an invoice payload, which is how a subscription remembers it."""
    return hashlib.sha256(payload.encode()).hexdigest()


async def _started_by(session: AsyncSession, payload: str) -> Subscription | None:
    # Renewals carry the first payment's payload byte for byte. Matching the stored hash
    # rather than the signature keeps renewals working after the signing key changes.
    result = await session.exec(
        select(Subscription).where(Subscription.payload_hash == payload_hash(payload))
    )
    return result.first()


async def check_checkout(
    session: AsyncSession,
    user_id: int,
    payload: str,
    currency: str,
    amount: int,
    *,
    now: datetime,
    key: bytes,
    default_zone: str,
    policy: Policy,
) -> None:
    """Approve a pre-checkout query, or raise the reason it must be declined.

    Only a few indexed reads and one write: Telegram waits at most 10 seconds for the answer.
    """
    existing = await _started_by(session, payload)
    if existing is not None:
        # The same invoice again: Telegram renewing this very subscription.
        if existing.payer_id != user_id:
            raise DomainError("billing.checkout_not_yours")
        if currency != CURRENCY or amount != existing.amount:
            raise DomainError("billing.checkout_mismatch")
        return
    terms = read_payload(payload, key)
    if terms is None:
        raise DomainError("billing.checkout_unknown")
    if terms.payer_id != user_id:
        raise DomainError("billing.checkout_not_yours")
    if currency != CURRENCY or amount != terms.amount:
        raise DomainError("billing.checkout_mismatch")
    if terms.expires_at <= now:
        raise DomainError("billing.checkout_expired")
    user = await require(session, user_id)
    couple = await session.get(Couple, terms.couple_id)
    if user.couple_id != terms.couple_id or couple is None or couple.ended_at is not None:
        raise DomainError("billing.checkout_not_paired")
    cover = await _covered(session, user, now, policy)
    if cover is not None:
        raise await _covered_error(session, user, cover, zone_of(user, default=default_zone))
    hold = await session.get(CheckoutHold, terms.couple_id)
    if hold is not None and hold.payer_id != user_id and hold.expires_at > now:
        partner = await session.get(User, hold.payer_id)
        raise DomainError("billing.partner_paying", partner=name_of(partner) if partner else "")
    await _upsert_hold(
        session,
        CheckoutHold(
            couple_id=terms.couple_id, payer_id=user_id, nonce=terms.nonce, expires_at=now + HOLD
        ),
    )


@dataclass(frozen=True)
class Charge:
    """The facts of a successful payment, as Telegram reported them."""

    currency: str
    amount: int
    payload: str
    charge_id: str
    provider_charge_id: str | None
    expires_at: datetime | None
    recurring: bool
    first_recurring: bool


@dataclass(frozen=True)
class Person:
    """Someone to tell about a payment."""

    user_id: int
    chat_id: int
    locale: str
    name: str
    zone: ZoneInfo
    # In discreet mode a notification about a payment is neutral until they tap Show.
    discreet: bool = False


class Outcome(enum.StrEnum):
    """What recording a payment did."""

    ACTIVATED = "activated"
    RENEWED = "renewed"
    DUPLICATE = "duplicate"
    # A renewal while the partner's own subscription already covers the couple.
    DOUBLE_RENEWAL = "double_renewal"
    # A charge from someone who erased their data: kept only to pay it back.
    AFTER_ERASURE = "after_erasure"
    REPLAYED = "replayed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Recorded:
    """The result of a successful-payment update."""

    outcome: str
    payer: Person | None = None
    partner: Person | None = None
    paid_until: datetime | None = None
    # For a charge that can't be honoured: the charge to pay back (its renewal stops too).
    refund_charge_id: str | None = None
    reason: str = ""
    amount: int = 0

    @property
    def owed_back(self) -> bool:
        """Tell whether this charge was recorded only to be paid back."""
        return self.refund_charge_id is not None


def _person(user: User, default_zone: str) -> Person:
    return Person(
        user.id,
        user.chat_id,
        user.locale,
        name_of(user),
        zone_of(user, default=default_zone),
        user.discreet_since is not None,
    )


async def record_payment(
    session: AsyncSession,
    user_id: int,
    charge: Charge,
    *,
    now: datetime,
    key: bytes,
    default_zone: str,
    policy: Policy,
) -> Recorded:
    """Record a successful payment once, and extend (or start) the payer's subscription."""
    subscription = await _started_by(session, charge.payload)
    terms = read_payload(charge.payload, key) if subscription is None else None
    if subscription is not None:
        payer_id, amount = subscription.payer_id, subscription.amount
    elif terms is not None:
        payer_id, amount = terms.payer_id, terms.amount
    else:
        return Recorded(Outcome.REJECTED, reason="unrecognised payload")
    # Only Telegram renews a subscription, and only for the person who started it, so a
    # renewal of an erased payer's subscription is theirs though nothing names them any more.
    if payer_id is not None and payer_id != user_id:
        return Recorded(Outcome.REJECTED, reason="paid by someone else")
    if charge.currency != CURRENCY or charge.amount != amount:
        return Recorded(Outcome.REJECTED, reason="wrong currency or amount")
    seen = (
        await session.exec(select(Payment).where(Payment.charge_id == charge.charge_id))
    ).first()
    if seen is not None:
        return Recorded(Outcome.REPLAYED)
    user = await session.get(User, user_id)
    period_end = charge.expires_at or now + PERIOD
    if payer_id is None or user is None:
        return await _after_erasure(session, user_id, charge, subscription, period_end, now)
    payer, partner_user = _person(user, default_zone), await partner_of(session, user)
    partner = _person(partner_user, default_zone) if partner_user is not None else None
    if subscription is not None:
        other = await _covered_by_other(session, user, subscription, period_end, now)
        if other is not None:
            # Both partners would pay for the same month: this renewal goes back, and stops.
            subscription.renewal_canceled_at = subscription.renewal_canceled_at or now
            subscription.updated_at = now
            session.add(subscription)
            _add_payment(session, charge, subscription, user, period_end, now, duplicate=True)
            return Recorded(
                Outcome.DOUBLE_RENEWAL,
                payer,
                partner,
                other.paid_until,
                refund_charge_id=charge.charge_id,
                amount=charge.amount,
            )
        subscription.paid_until = max(subscription.paid_until, period_end)
        subscription.ended_at, subscription.updated_at = None, now
        session.add(subscription)
        _add_payment(session, charge, subscription, user, period_end, now)
        return Recorded(Outcome.RENEWED, payer, partner, subscription.paid_until)
    assert terms is not None
    already = await _covered(session, user, now, policy)
    subscription = Subscription(
        payer_id=user_id,
        payload_hash=payload_hash(charge.payload),
        charge_id=charge.charge_id,
        couple_id=user.couple_id,
        amount=charge.amount,
        paid_until=period_end,
        created_at=now,
        updated_at=now,
    )
    if already is not None:
        # Two partners paid at once despite the checkout hold: nobody pays twice.
        subscription.ended_at = subscription.renewal_canceled_at = now
    session.add(subscription)
    await session.flush()
    _add_payment(
        session, charge, subscription, user, period_end, now, duplicate=already is not None
    )
    await session.exec(
        delete(CheckoutHold).where(
            col(CheckoutHold.couple_id) == terms.couple_id, col(CheckoutHold.nonce) == terms.nonce
        )
    )
    if already is not None:
        return Recorded(
            Outcome.DUPLICATE,
            payer,
            partner,
            already.paid_until,
            refund_charge_id=charge.charge_id,
            amount=charge.amount,
        )
    return Recorded(Outcome.ACTIVATED, payer, partner, period_end)


async def _covered_by_other(
    session: AsyncSession,
    user: User,
    subscription: Subscription,
    period_end: datetime,
    now: datetime,
) -> Cover | None:
    """Return the partner's subscription that already pays for this renewal's month, if any.

    Only one that keeps renewing, or that is paid through the whole new period, counts: one
    about to run out leaves this renewal as what keeps the couple covered.
    """
    if user.couple_id is None:
        return None
    others = [
        cover
        for cover in await entitlements.covers_of(session, user.couple_id)
        if cover.subscription_id != subscription.id
        and cover.payer_id != user.id
        and cover.ended_at is None
        and cover.paid_until > now
        and (cover.renewing or cover.paid_until >= period_end)
    ]
    return max(others, key=lambda cover: cover.paid_until) if others else None


async def _after_erasure(
    session: AsyncSession,
    user_id: int,
    charge: Charge,
    subscription: Subscription | None,
    period_end: datetime,
    now: datetime,
) -> Recorded:
    """Record a charge from a payer who erased their data, to be paid back and stopped.

    Nothing ties it to a person or a couple: only the Telegram id to pay back, until the
    refund is made.
    """
    if subscription is None:
        # Paid from an invoice handed out before they erased themselves.
        subscription = Subscription(
            payer_id=None,
            payload_hash=payload_hash(charge.payload),
            charge_id=charge.charge_id,
            couple_id=None,
            amount=charge.amount,
            paid_until=period_end,
            created_at=now,
            updated_at=now,
        )
    subscription.ended_at = subscription.ended_at or now
    subscription.updated_at = now
    session.add(subscription)
    await session.flush()
    assert subscription.id is not None
    session.add(
        Payment(
            charge_id=charge.charge_id,
            provider_charge_id=charge.provider_charge_id or None,
            subscription_id=subscription.id,
            payer_id=None,
            couple_id=None,
            currency=charge.currency,
            amount=charge.amount,
            period_end=period_end,
            recurring=charge.recurring and not charge.first_recurring,
            duplicate=True,
            paid_at=now,
            refund_to=user_id,
        )
    )
    return Recorded(Outcome.AFTER_ERASURE, refund_charge_id=charge.charge_id, amount=charge.amount)


def _add_payment(
    session: AsyncSession,
    charge: Charge,
    subscription: Subscription,
    user: User,
    period_end: datetime,
    now: datetime,
    *,
    duplicate: bool = False,
) -> None:
    assert subscription.id is not None
    session.add(
        Payment(
            charge_id=charge.charge_id,
            provider_charge_id=charge.provider_charge_id or None,
            subscription_id=subscription.id,
            payer_id=user.id,
            couple_id=user.couple_id,
            currency=charge.currency,
            amount=charge.amount,
            period_end=period_end,
            recurring=charge.recurring and not charge.first_recurring,
            duplicate=duplicate,
            paid_at=now,
        )
    )


@dataclass(frozen=True)
class Overview:
    """What /subscription shows one person."""

    paired: bool
    partner: str
    state: str | None
    trial_ends_at: datetime | None
    trial_days_left: int
    paid_until: datetime | None
    payer: str
    you_pay: bool
    renewing: bool
    both_pay: bool
    # The viewer's own running subscription, which they may stop renewing.
    own_subscription_id: int | None
    own_paid_until: datetime | None
    own_renewing: bool
    price: int


async def overview(
    session: AsyncSession,
    user_id: int,
    *,
    now: datetime,
    price: int,
    default_zone: str,
    policy: Policy,
) -> Overview:
    """Describe where this person's couple stands, and their own subscription."""
    user = await require(session, user_id)
    zone = zone_of(user, default=default_zone)
    partner = await partner_of(session, user)
    own = _live(await entitlements.personal_covers(session, user_id), now, policy)
    mine = max(own, key=lambda c: c.ends_at(policy.grace)) if own else None
    access: Access | None = None
    if user.couple_id is not None and partner is not None:
        access = await entitlements.access_of(session, user.couple_id, now, policy=policy)
    cover = access.cover if access is not None else None
    payer = await session.get(User, cover.payer_id) if cover is not None else None
    both = False
    if access is not None and partner is not None:
        covering = _live(await entitlements.covers_of(session, user.couple_id or 0), now, policy)
        both = len({c.payer_id for c in covering}) > 1
    return Overview(
        paired=access is not None,
        partner=name_of(partner) if partner is not None else "",
        state=str(access.state) if access is not None else None,
        trial_ends_at=access.trial_ends_at.astimezone(zone) if access is not None else None,
        trial_days_left=entitlements.trial_days_left(access, now) if access is not None else 0,
        paid_until=cover.paid_until.astimezone(zone) if cover is not None else None,
        payer=name_of(payer) if payer is not None else "",
        you_pay=cover is not None and cover.payer_id == user_id,
        renewing=cover.renewing if cover is not None else False,
        both_pay=both,
        own_subscription_id=mine.subscription_id if mine is not None else None,
        own_paid_until=mine.paid_until.astimezone(zone) if mine is not None else None,
        own_renewing=mine.renewing if mine is not None else False,
        price=price,
    )


async def _own_running(
    session: AsyncSession, user_id: int, subscription_id: int, now: datetime
) -> Subscription:
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None or subscription.payer_id != user_id:
        raise StaleAction()
    if subscription.ended_at is not None or subscription.renewal_canceled_at is not None:
        raise StaleAction()
    if subscription.paid_until <= now:
        raise StaleAction()
    return subscription


@dataclass(frozen=True)
class StopTarget:
    """A subscription its payer may stop renewing: Telegram's id for it, and its last paid day."""

    charge_id: str
    paid_until: datetime


async def renewal_to_stop(
    session: AsyncSession, user_id: int, subscription_id: int, *, now: datetime, default_zone: str
) -> StopTarget:
    """Check that this person may stop this subscription renewing."""
    subscription = await _own_running(session, user_id, subscription_id, now)
    user = await require(session, user_id)
    return StopTarget(
        subscription.charge_id,
        subscription.paid_until.astimezone(zone_of(user, default=default_zone)),
    )


async def stop_renewal(
    session: AsyncSession, user_id: int, subscription_id: int, *, now: datetime, default_zone: str
) -> datetime:
    """Record that Telegram will not renew this subscription; return its last paid day."""
    subscription = await _own_running(session, user_id, subscription_id, now)
    subscription.renewal_canceled_at = subscription.updated_at = now
    session.add(subscription)
    user = await require(session, user_id)
    return subscription.paid_until.astimezone(zone_of(user, default=default_zone))


async def renewing_of(session: AsyncSession, user_id: int) -> list[tuple[int, str]]:
    """Return (id, Telegram's id) of each subscription this person pays that still renews."""
    result = await session.exec(
        select(Subscription.id, Subscription.charge_id).where(
            Subscription.payer_id == user_id,
            col(Subscription.renewal_canceled_at).is_(None),
            col(Subscription.ended_at).is_(None),
        )
    )
    return [
        (subscription_id, charge_id)
        for subscription_id, charge_id in result.all()
        if subscription_id
    ]


async def mark_renewals_stopped(
    session: AsyncSession, subscription_ids: list[int], *, now: datetime
) -> None:
    """Record that Telegram stopped these subscriptions renewing."""
    for subscription_id in subscription_ids:
        subscription = await session.get(Subscription, subscription_id)
        if subscription is not None and subscription.renewal_canceled_at is None:
            subscription.renewal_canceled_at = subscription.updated_at = now
            session.add(subscription)


@dataclass(frozen=True)
class RefundPlan:
    """What refunding one charge takes: pay it back to its payer, then stop its renewal."""

    charge_id: str
    payer_id: int
    amount: int
    # Telegram knows a subscription by its first charge; stopping that stops every renewal.
    subscription_charge_id: str


class RefundRefused(Exception):
    """An operator asked to refund a charge that can't be refunded; the message says why."""


async def plan_refund(session: AsyncSession, charge_id: str) -> RefundPlan:
    """Decide what refunding a charge takes, or raise why it can't be refunded."""
    payment = (await session.exec(select(Payment).where(Payment.charge_id == charge_id))).first()
    if payment is None:
        raise RefundRefused(f"no charge {charge_id!r} is recorded")
    if payment.refunded_at is not None:
        raise RefundRefused(f"charge {charge_id!r} was already refunded")
    payer_id = payment.payer_id if payment.payer_id is not None else payment.refund_to
    if payer_id is None:
        raise RefundRefused(
            f"the payer of charge {charge_id!r} deleted their data after it was honoured;"
            " no Telegram id is kept to pay it back to"
        )
    subscription = await session.get(Subscription, payment.subscription_id)
    assert subscription is not None
    return RefundPlan(charge_id, payer_id, payment.amount, subscription.charge_id)


@dataclass(frozen=True)
class Refunded:
    """A charge that was paid back: whom to tell, and whether the couple is still covered."""

    payer: Person | None
    amount: int
    covered_until: datetime | None


async def record_refund(
    session: AsyncSession, plan: RefundPlan, *, now: datetime, default_zone: str
) -> Refunded:
    """Record a refund Telegram made: that charge's period is taken back, and renewal stops.

    Only called once Telegram paid the charge back; whether it also stopped the renewal or
    not, renewal stops here (a refunded subscription may already be over on its side).
    Recording the same refund again changes nothing.
    """
    charge_id = plan.charge_id
    payment = (await session.exec(select(Payment).where(Payment.charge_id == charge_id))).first()
    if payment is None:
        raise RefundRefused(f"no charge {charge_id!r} is recorded")
    payment.refunded_at = payment.refunded_at or now
    # Paid back: nothing more is owed to that Telegram id, so it is not kept.
    payment.refund_to = None
    session.add(payment)
    await session.flush()
    subscription = await session.get(Subscription, payment.subscription_id)
    assert subscription is not None
    result = await session.exec(
        select(Payment.period_end, Payment.refunded_at, Payment.duplicate).where(
            Payment.subscription_id == payment.subscription_id
        )
    )
    kept = entitlements.paid_through(
        (end, refunded is not None or duplicate) for end, refunded, duplicate in result.all()
    )
    subscription.renewal_canceled_at = subscription.renewal_canceled_at or now
    if kept is None or kept <= now:
        subscription.ended_at = subscription.ended_at or now
    else:
        subscription.paid_until = kept
    subscription.updated_at = now
    session.add(subscription)
    user = await session.get(User, payment.payer_id) if payment.payer_id is not None else None
    payer = _person(user, default_zone) if user is not None else None
    covered = None
    if subscription.ended_at is None and payer is not None:
        covered = subscription.paid_until.astimezone(payer.zone)
    return Refunded(payer, payment.amount, covered)
