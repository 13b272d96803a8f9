"""What goes out to Telegram, and how a send ended: plain values, no Telegram types."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outgoing:
    """A message ready for Telegram: rendered HTML text and rows of (label, callback data)."""

    chat_id: int
    text: str
    buttons: tuple[tuple[tuple[str, str], ...], ...] = ()


class Outcome(enum.Enum):
    """How a send ended, as far as scheduling cares."""

    SENT = "sent"
    BLOCKED = "blocked"  # the person blocked the bot: stop until they come back
    RETRY = "retry"  # Telegram or the network failed for now: try again later
    REJECTED = "rejected"  # Telegram refused this message for good


@dataclass(frozen=True)
class SendResult:
    """The outcome of one send, with Telegram's message id when it was accepted."""

    outcome: Outcome
    message_id: int | None = None


class Sender(Protocol):
    """Deliver one message; pacing and retries within Telegram's limits are its job."""

    async def send(self, message: Outgoing) -> SendResult: ...
