"""The outbox's carrier: what it asks of the Bot API and how it reads Telegram's answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, ReplyParameters
from telegram._utils.types import ODVInput
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Defaults, ExtBot
from telegram.request import BaseRequest, RequestData

from bot.outbox.messages import Attachment, Edit, Outcome, Outgoing, SendResult
from bot.outbox.pacing import Pacer
from bot.telegram.sender import TelegramSender, form_encoded, markup_of
from bot.telegram.transport import NotSent
from tests.fakes.inprocess import RecordingTransport


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


async def test_a_message_without_an_answer_in_time_is_never_sent_again() -> None:
    # It may be on the person's screen already: a second copy is worse than none.
    bot = FakeBot([TimedOut()])
    result = await _sender(bot).send(Outgoing(1, "Tonight's question"))
    assert result.outcome is Outcome.IN_DOUBT and result.maybe_shown
    assert len(bot.calls) == 1


async def test_a_time_out_before_connecting_and_a_slow_edit_are_tried_again() -> None:
    unsent = FakeBot([NotSent("no connection")])
    assert (await _sender(unsent).send(Outgoing(1, "hello"))).outcome is Outcome.SENT
    assert len(unsent.calls) == 2
    # An edit made twice shows the same thing once.
    slow_edit = FakeBot([TimedOut()])
    assert (await _sender(slow_edit).edit(Edit(1, 5, text="new"))).outcome is Outcome.SENT
    assert len(slow_edit.calls) == 2


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


# Text messages go to sendMessage through the bot's own transport, without Bot.send_message.

_MESSAGE = {"message_id": 41, "date": 0, "chat": {"id": 1, "type": "private"}}
_ACCEPTED = (200, json.dumps({"ok": True, "result": _MESSAGE}).encode())


def _refusal(status: int, description: str, retry_after: int | None = None) -> tuple[int, bytes]:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, json.dumps(body).encode()


class ScriptedRequest(BaseRequest):
    """A transport that keeps what it was asked and answers as scripted, then accepts."""

    def __init__(self, answers: list[tuple[int, bytes]] | None = None) -> None:
        self.answers = answers or []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.forms: list[str] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        assert request_data is not None
        self.requests.append((url.rsplit("/", 1)[-1], request_data.json_parameters))
        self.forms.append(request_data.url_encoded_parameters())
        return self.answers.pop(0) if self.answers else _ACCEPTED


def _bot(request: ScriptedRequest) -> Bot:
    return Bot("123:ABC", request=request, get_updates_request=ScriptedRequest())


@pytest.mark.parametrize(
    "message",
    [
        Outgoing(7, "<b>Hi</b> &amp; welcome"),
        Outgoing(7, "Tonight", ((("Answer", "ans:go:3"), ("Skip", "ans:skip:3")),)),
        Outgoing(-100, "Watch", ((("Play", "https://videos.example/v/1"),), (("More", "m:1"),))),
        Outgoing(7, "Got it", reply_to=12),
    ],
)
async def test_a_text_goes_out_as_send_message_would_send_it(message: Outgoing) -> None:
    direct, through_ptb = ScriptedRequest(), ScriptedRequest()
    sender = TelegramSender(_bot(direct), Pacer(per_second=0, per_chat_interval=0))
    assert sender.text_route is not None
    result = await sender.send(message)
    await _bot(through_ptb).send_message(
        message.chat_id,
        message.text,
        parse_mode=ParseMode.HTML,
        reply_markup=markup_of(message.buttons),
        reply_parameters=ReplyParameters(message.reply_to, allow_sending_without_reply=True)
        if message.reply_to
        else None,
    )
    assert direct.requests == through_ptb.requests
    assert direct.forms == through_ptb.forms  # the very bytes the aiohttp transport posts
    assert direct.requests[0][0] == "sendMessage"
    assert result == SendResult(Outcome.SENT, 41)


@given(
    st.dictionaries(
        st.text(max_size=12), st.text(max_size=60) | st.sampled_from(["a b", "ü+%&=", "🙂 ~._-"])
    )
)
def test_the_form_is_encoded_as_urlencode_encodes_it(fields: dict[str, str]) -> None:
    assert form_encoded(fields) == urlencode(fields)


@pytest.mark.parametrize(
    ("answers", "outcome", "tries"),
    [
        ([_refusal(429, "Too Many Requests: retry after 0", retry_after=0)], Outcome.SENT, 2),
        ([_refusal(403, "Forbidden: bot was blocked by the user")], Outcome.BLOCKED, 1),
        ([_refusal(400, "Bad Request: chat not found")], Outcome.BLOCKED, 1),
        ([_refusal(400, "Bad Request: message is too long")], Outcome.REJECTED, 1),
        ([_refusal(502, "Bad Gateway")] * 2, Outcome.SENT, 3),
        ([_refusal(502, "Bad Gateway")] * 10, Outcome.RETRY, 4),
    ],
)
async def test_the_direct_route_reads_telegrams_answers_the_same_way(
    answers: list[tuple[int, bytes]], outcome: Outcome, tries: int
) -> None:
    request = ScriptedRequest(list(answers))
    sender = TelegramSender(_bot(request), Pacer(per_second=0, per_chat_interval=0), backoff=0)
    assert (await sender.send(Outgoing(1, "hello"))).outcome is outcome
    assert len(request.requests) == tries


async def test_a_bot_that_adds_to_requests_sends_through_its_own_method() -> None:
    plain = ExtBot("123:ABC", request=ScriptedRequest(), get_updates_request=ScriptedRequest())
    with_defaults = ExtBot(
        "123:ABC",
        defaults=Defaults(protect_content=True),
        request=ScriptedRequest(),
        get_updates_request=ScriptedRequest(),
    )
    pacer = Pacer(per_second=0, per_chat_interval=0)
    assert TelegramSender(plain, pacer).text_route is not None
    assert TelegramSender(with_defaults, pacer).text_route is None


async def _stars_sender(transport: RecordingTransport) -> TelegramSender:
    bot = Bot("123:ABC", request=transport, get_updates_request=RecordingTransport())
    await bot.initialize()
    return TelegramSender(bot, Pacer(per_second=0, per_chat_interval=0), backoff=0)


async def test_the_stars_ledger_is_read_page_by_page_as_plain_entries() -> None:
    transport = RecordingTransport()
    stars = transport.stars
    stars.pay(7, "inv-1", 250, date=1_780_000_000, charge_id="ch-1", subscription=True)
    stars.pay(8, "one-off", 40, date=1_780_000_100, charge_id="ch-2")
    stars.refund(8, "ch-2", date=1_780_000_200)
    sender = await _stars_sender(transport)
    first = await sender.star_transactions(offset=0, limit=2)
    rest = await sender.star_transactions(offset=2, limit=2)
    assert first is not None and rest is not None
    assert [(e.id, e.user_id, e.amount, e.incoming) for e in [*first, *rest]] == [
        ("ch-1", 7, 250, True),
        ("ch-2", 8, 40, True),
        ("ch-2", 8, 40, False),
    ]
    assert first[0].invoice_payload == "inv-1" and first[0].subscription_period == 2_592_000
    assert first[1].subscription_period is None
    assert first[0].date.timestamp() == 1_780_000_000
    transport.failures["getStarTransactions"] = (400, "Bad Request: LIMIT_INVALID")
    assert await sender.star_transactions(offset=0, limit=2) is None


async def test_refunds_and_renewal_stops_report_what_telegram_said() -> None:
    transport = RecordingTransport()
    transport.stars.pay(7, "inv-1", 250, date=1_780_000_000, charge_id="ch-1", subscription=True)
    transport.stars.pay(7, "inv-1", 250, date=1_782_592_000, charge_id="ch-2", renewal=True)
    sender = await _stars_sender(transport)
    assert await sender.cancel_star_subscription(7, "ch-1") is Outcome.SENT
    assert transport.stars.canceled["ch-1"] is True
    # Telegram names a subscription by its first charge only.
    assert await sender.cancel_star_subscription(7, "ch-2") is Outcome.REJECTED
    assert await sender.refund_stars(7, "ch-2") is Outcome.SENT
    # Paid back already: nothing left to do, which is not a failure.
    assert await sender.refund_stars(7, "ch-2") is Outcome.SENT
    assert await sender.refund_stars(8, "ch-1") is Outcome.REJECTED
    assert [c.method for c in transport.calls_to("refundStarPayment")] == ["refundStarPayment"] * 3
