"""Tables for the trial and the subscription: subscriptions, charges, checkout holds, notices."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from bot.db.models import NEVER_REUSED_IDS, _when


class Subscription(SQLModel, table=True):
    """A monthly Stars subscription; it belongs to the person who pays and covers their couple."""

    __tablename__ = "subscriptions"
    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    # Payment records outlive a person's data deletion, anonymised.
    payer_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    # Renewals carry the first payment's invoice payload, so its SHA-256 ties them to this row.
    payload_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # Telegram names a subscription by the charge id of its first payment.
    charge_id: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    couple_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("couples.id", ondelete="SET NULL"), nullable=True),
    )
    amount: int = Field(sa_column=Column(Integer, nullable=False))
    paid_until: datetime = _when()
    renewal_canceled_at: datetime | None = _when(nullable=True)
    # Set when the subscription stopped early: refunded, or a duplicate paid back at once.
    ended_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Payment(SQLModel, table=True):
    """One charge in Telegram Stars, recorded exactly once by Telegram's charge id."""

    __tablename__ = "payments"

    id: int | None = Field(default=None, primary_key=True)
    charge_id: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    provider_charge_id: str | None = Field(
        default=None, sa_column=Column(String(128), nullable=True)
    )
    subscription_id: int = Field(
        sa_column=Column(Integer, ForeignKey("subscriptions.id"), nullable=False, index=True)
    )
    payer_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    couple_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("couples.id", ondelete="SET NULL"), nullable=True),
    )
    currency: str = Field(sa_column=Column(String(8), nullable=False))
    amount: int = Field(sa_column=Column(Integer, nullable=False))
    period_end: datetime = _when()
    recurring: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # A second subscription for a couple that was already covered: paid back at once.
    duplicate: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    paid_at: datetime = _when()
    refunded_at: datetime | None = _when(nullable=True)
    # The Telegram id to pay back a charge that arrived after its payer erased their data.
    # No foreign key (there is no person left to point at); cleared once the charge is refunded.
    refund_to: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class CheckoutHold(SQLModel, table=True):
    """A partner who is paying right now, so the other can't pay for the same couple meanwhile."""

    __tablename__ = "checkout_holds"

    couple_id: int = Field(
        sa_column=Column(Integer, ForeignKey("couples.id", ondelete="CASCADE"), primary_key=True)
    )
    payer_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    nonce: str = Field(sa_column=Column(String(24), nullable=False))
    expires_at: datetime = _when()


class NoticeKind(enum.StrEnum):
    """The messages about the trial and the subscription a person can get, each once."""

    TRIAL_STARTED = "trial_started"
    TRIAL_ENDING = "trial_ending"
    TRIAL_ENDED = "trial_ended"
    # A paid period ran out: said once, in place of the first nudge that could not go out.
    LAPSED = "lapsed"


class NoticeStatus(enum.StrEnum):
    """A notice is pending until it is sent or no longer applies."""

    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"


class BillingNotice(SQLModel, table=True):
    """A message about the trial or the subscription: its schedule and its ledger in one row."""

    __tablename__ = "billing_notices"
    __table_args__ = (
        # The once-key: one notice per person, pair, kind and moment it is about, ever.
        UniqueConstraint("user_id", "couple_id", "kind", "about", name="uq_billing_notices_once"),
        Index("ix_billing_notices_status_next_run_at", "status", "next_run_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    # The pair's first couple: the one whose trial it is (re-pairing never starts another).
    couple_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    # The trial's end, or the moment a paid period ran out.
    about: datetime = _when()
    next_run_at: datetime = _when()
    status: str = Field(default=NoticeStatus.PENDING, sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    claim_token: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    claimed_until: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class PairTrial(SQLModel, table=True):
    """A pair of people whose trial began, named only by a keyed hash of their two ids.

    No foreign key on purpose: it outlives erasing either person, so erasing oneself and
    pairing again with the same partner never starts a second trial.
    """

    __tablename__ = "pair_trials"

    pair_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    started_at: datetime = _when()
