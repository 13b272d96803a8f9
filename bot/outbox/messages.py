"""What goes out to Telegram, and how a send ended: plain values, no Telegram types."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Rows of (label, target): an https target is a link button, anything else callback data.
Buttons = tuple[tuple[tuple[str, str], ...], ...]


def is_link(target: str) -> bool:
    """Tell whether a button's target opens an address rather than carrying callback data."""
    return target.startswith("https://")


def buttons_of(rows: Sequence[Sequence[tuple[str, str]]]) -> Buttons:
    """Freeze rows of (label, target) pairs into the form messages carry."""
    return tuple(tuple((label, target) for label, target in row) for row in rows if row)


class Priority(enum.IntEnum):
    """Who is waiting: a person who just acted goes ahead of a scheduled round."""

    REPLY = 0
    BULK = 1


@dataclass(frozen=True)
class Attachment:
    """A file that goes with a message: a picture, or a document with its file name."""

    content: bytes
    filename: str | None = None  # set for a document; a picture has none


@dataclass(frozen=True)
class Outgoing:
    """A message ready for Telegram: rendered HTML text and rows of (label, target) buttons."""

    chat_id: int
    text: str
    buttons: Buttons = ()
    # With an attachment, the text is its caption.
    attachment: Attachment | None = None
    reply_to: int | None = None
    priority: Priority = Priority.BULK


@dataclass(frozen=True)
class Edit:
    """A change to a message the bot sent: new text (None keeps it) and new buttons."""

    chat_id: int
    message_id: int
    text: str | None = None
    buttons: Buttons = ()
    priority: Priority = Priority.REPLY


@dataclass(frozen=True)
class Invoice:
    """A Telegram Stars invoice, as plain text fields and an amount in Stars."""

    title: str
    description: str
    payload: str
    price_label: str
    amount: int
    currency: str
    subscription_period: int | None = None


@dataclass(frozen=True)
class StarTransaction:
    """One entry of the bot's Telegram Stars ledger that a person paid or was paid back."""

    # Telegram's id: a payment's telegram_payment_charge_id, which a refund of it shares.
    id: str
    user_id: int
    amount: int
    date: datetime
    # True for a payment the person made; False for Stars the bot paid back to them.
    incoming: bool
    invoice_payload: str | None = None
    subscription_period: int | None = None


class Outcome(enum.Enum):
    """How a send ended, as far as scheduling cares."""

    SENT = "sent"
    BLOCKED = "blocked"  # the person blocked the bot: stop until they come back
    RETRY = "retry"  # Telegram or the network failed for now: try again later
    REJECTED = "rejected"  # Telegram refused this message for good
    # No answer in time after the request went out: it may have arrived, and Telegram can't
    # be asked, so it is never sent again (a person must not see it twice).
    IN_DOUBT = "in_doubt"


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send, with Telegram's message id when it was accepted."""

    outcome: Outcome
    message_id: int | None = None

    @property
    def sent(self) -> bool:
        """Return whether Telegram accepted the message."""
        return self.outcome is Outcome.SENT

    @property
    def maybe_shown(self) -> bool:
        """Return whether the person may have the message: sent, or in doubt (never resent)."""
        return self.outcome in (Outcome.SENT, Outcome.IN_DOUBT)


class Sender(Protocol):
    """Deliver one message; pacing and retries within Telegram's limits are its job."""

    async def send(self, message: Outgoing) -> SendResult: ...


class Carrier(Sender, Protocol):
    """Everything the bot asks of Telegram: messages (send, copy, edit, delete), invoice links
    and Stars payments."""

    async def edit(self, edit: Edit) -> SendResult: ...

    async def delete(self, chat_id: int, message_ids: Sequence[int]) -> SendResult: ...

    async def invoice_link(self, invoice: Invoice, *, chat_id: int) -> str | None: ...

    async def refund_stars(self, user_id: int, charge_id: str) -> Outcome: ...

    async def cancel_star_subscription(self, user_id: int, charge_id: str) -> Outcome: ...

    async def star_transactions(
        self, *, offset: int, limit: int
    ) -> Sequence[StarTransaction] | None: ...

    async def copy(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        *,
        buttons: Buttons = (),
        priority: Priority = Priority.REPLY,
    ) -> SendResult: ...
