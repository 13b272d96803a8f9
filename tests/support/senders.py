"""A Sender stand-in for the engines: records what would reach Telegram, answers as scripted."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.outbox.messages import Outcome, Outgoing, SendResult


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
