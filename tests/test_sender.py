"""The outbox's carrier: what it asks of the Bot API and how it reads Telegram's answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from bot.outbox.messages import Attachment, Edit, Outcome, Outgoing
from bot.outbox.pacing import Pacer
from bot.telegram.sender import TelegramSender


@dataclass
class _Sent:
    message_id: int


@dataclass
class FakeBot:
    """Stands in for telegram.Bot: raises the scripted errors first, then succeeds."""

    errors: list[Exception] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def _answer(self, name: str, **params: Any) -> Any:
        self.calls.append((name, params))
        if self.errors:
            raise self.errors.pop(0)
        return _Sent(len(self.calls))

    async def send_message(self, chat_id: int, text: str, **params: Any) -> Any:
        return self._answer("send_message", chat_id=chat_id, text=text, **params)

    async def send_photo(self, chat_id: int, **params: Any) -> Any:
        return self._answer("send_photo", chat_id=chat_id, **params)

    async def send_document(self, chat_id: int, **params: Any) -> Any:
        return self._answer("send_document", chat_id=chat_id, **params)

    async def edit_message_text(self, text: str, **params: Any) -> Any:
        return self._answer("edit_message_text", text=text, **params)

    async def edit_message_reply_markup(self, **params: Any) -> Any:
        return self._answer("edit_message_reply_markup", **params)

    async def delete_messages(self, chat_id: int, message_ids: list[int]) -> Any:
        return self._answer("delete_messages", chat_id=chat_id, message_ids=message_ids)


def _sender(bot: FakeBot) -> TelegramSender:
    return TelegramSender(bot, Pacer(per_second=0, per_chat_interval=0), backoff=0)  # type: ignore[arg-type]


async def test_a_429_is_waited_out_and_the_message_sent() -> None:
    bot = FakeBot([RetryAfter(0)])
    result = await _sender(bot).send(Outgoing(1, "hello"))
    assert result.outcome is Outcome.SENT and len(bot.calls) == 2


async def test_network_trouble_is_retried_then_left_for_later() -> None:
    bot = FakeBot([NetworkError("502")] * 2)
    assert (await _sender(bot).send(Outgoing(1, "hello"))).outcome is Outcome.SENT
    storm = FakeBot([NetworkError("502")] * 10)
    assert (await _sender(storm).send(Outgoing(1, "hello"))).outcome is Outcome.RETRY
    assert len(storm.calls) == 4  # the first try and three retries


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), Outcome.BLOCKED),
        (BadRequest("Bad Request: chat not found"), Outcome.BLOCKED),
        (BadRequest("Bad Request: message is too long"), Outcome.REJECTED),
    ],
)
async def test_refusals_are_told_apart(error: Exception, outcome: Outcome) -> None:
    bot = FakeBot([error])
    assert (await _sender(bot).send(Outgoing(1, "hello"))).outcome is outcome
    assert len(bot.calls) == 1


async def test_files_go_as_photo_or_document_with_the_text_as_caption() -> None:
    bot = FakeBot()
    await _sender(bot).send(Outgoing(1, "chart", attachment=Attachment(b"png")))
    await _sender(bot).send(Outgoing(1, "export", attachment=Attachment(b"{}", "data.json")))
    (photo, photo_params), (document, document_params) = bot.calls
    assert photo == "send_photo" and photo_params["caption"] == "chart"
    assert document == "send_document" and document_params["filename"] == "data.json"


async def test_an_edit_that_changes_nothing_is_settled() -> None:
    bot = FakeBot([BadRequest("Bad Request: message is not modified")])
    result = await _sender(bot).edit(Edit(1, 5, buttons=()))
    assert result.outcome is Outcome.SENT
    assert bot.calls[0][0] == "edit_message_reply_markup"


async def test_deletions_go_a_hundred_at_a_time() -> None:
    bot = FakeBot()
    await _sender(bot).delete(1, list(range(250)))
    assert [len(params["message_ids"]) for _, params in bot.calls] == [100, 100, 50]
