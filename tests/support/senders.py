"""A Sender stand-in for the engines: records what would reach Telegram, answers as scripted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.outbox.messages import (
    Buttons,
    Edit,
    Invoice,
    Outcome,
    Outgoing,
    Priority,
    SendResult,
    StarTransaction,
)


@dataclass
class FakeSender:
    """Records what would reach Telegram; answers with scripted outcomes."""

    sent: list[Outgoing] = field(default_factory=list)
    script: dict[int, list[Outcome]] = field(default_factory=dict)
    calls: int = 0

    async def send(self, message: Outgoing) -> SendResult:
        self.calls += 1
        outcomes = self.script.get(message.chat_id)
        outcome = outcomes.pop(0) if outcomes else Outcome.SENT
        if outcome is Outcome.SENT:
            self.sent.append(message)
            return SendResult(Outcome.SENT, len(self.sent))
        return SendResult(outcome)

    def texts_to(self, chat_id: int) -> list[str]:
        return [m.text for m in self.sent if m.chat_id == chat_id]

    def nudges_to(self, chat_id: int) -> list[str]:
        """Return only the daily nudges (morning and evening), not reading or videos."""
        return [t for t in self.texts_to(chat_id) if t.startswith(("☀️", "🌙"))]


@dataclass
class FakeCarrier(FakeSender):
    """A whole carrier: messages as FakeSender, plus edits, deletions and the Stars calls."""

    edits: list[Edit] = field(default_factory=list)
    deleted: list[tuple[int, list[int]]] = field(default_factory=list)
    # Telegram's Stars ledger, oldest first, and what the bot asked of it.
    ledger: list[StarTransaction] = field(default_factory=list)
    refunds: list[tuple[int, str]] = field(default_factory=list)
    cancelled: list[tuple[int, str]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # calls Telegram refuses
    unanswered: set[str] = field(default_factory=set)  # calls Telegram can't be asked for now
    copies: list[tuple[int, int, int]] = field(default_factory=list)

    async def edit(self, edit: Edit) -> SendResult:
        self.edits.append(edit)
        return SendResult(Outcome.SENT, edit.message_id)

    async def delete(self, chat_id: int, message_ids: Sequence[int]) -> SendResult:
        self.deleted.append((chat_id, list(message_ids)))
        return SendResult(Outcome.SENT)

    async def invoice_link(self, invoice: Invoice, *, chat_id: int) -> str | None:
        return "https://t.me/$invoice"

    async def copy(
        self,
        chat_id: int,
        from_chat_id: int,
        message_id: int,
        *,
        buttons: Buttons = (),
        priority: Priority = Priority.REPLY,
    ) -> SendResult:
        self.copies.append((chat_id, from_chat_id, message_id))
        return SendResult(Outcome.SENT, 9000 + len(self.copies))

    async def refund_stars(self, user_id: int, charge_id: str) -> Outcome:
        if "refund" in self.refuse:
            return Outcome.REJECTED
        paid = [t for t in self.ledger if t.incoming and t.id == charge_id]
        if paid and paid[0].user_id != user_id:
            return Outcome.REJECTED
        if any(not t.incoming and t.id == charge_id for t in self.ledger):
            return Outcome.SENT  # already paid back: settled
        self.refunds.append((user_id, charge_id))
        if paid:
            entry = paid[0]
            self.ledger.append(
                StarTransaction(
                    entry.id, user_id, entry.amount, entry.date, False, entry.invoice_payload
                )
            )
        return Outcome.SENT

    async def cancel_star_subscription(self, user_id: int, charge_id: str) -> Outcome:
        if "cancel" in self.unanswered:
            return Outcome.RETRY
        if "cancel" in self.refuse:
            return Outcome.REJECTED
        self.cancelled.append((user_id, charge_id))
        return Outcome.SENT

    async def star_transactions(
        self, *, offset: int, limit: int
    ) -> Sequence[StarTransaction] | None:
        if "ledger" in self.refuse:
            return None
        return self.ledger[offset : offset + limit]
