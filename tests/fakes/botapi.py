"""A fake Telegram Bot API HTTP server on loopback, for end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from types import MappingProxyType, TracebackType
from typing import Any, Final, Self
from urllib.parse import parse_qsl

from aiohttp import BodyPartReader, hdrs, web

from tests.fakes.stars import LedgerError, StarsLedger

__all__ = [
    "Call",
    "FakeBotApi",
    "FakeGroup",
    "FakeMessage",
    "FakeUser",
    "InlineButton",
    "Stats",
    "UploadedFile",
]

JsonDict = dict[str, Any]
ChatKey = int | str

_MAX_UPLOAD: Final = 50 * 1024 * 1024
_KEPT_WITHOUT_RECORDING: Final = 100
_TOKEN_RE: Final = re.compile(r"(\d+):[A-Za-z0-9_-]+")
_COMMAND_RE: Final = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND_RE: Final = re.compile(r"/\S+")

# Form fields arrive as strings; these stay strings, every other one is JSON-decoded when it can be.
_STRING_PARAMS: Final = frozenset(
    {
        "action",
        "address",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "certificate",
        "currency",
        "description",
        "document",
        "emoji",
        "error_message",
        "explanation",
        "file_id",
        "first_name",
        "inline_message_id",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "payload",
        "phone_number",
        "photo",
        "photo_url",
        "pre_checkout_query_id",
        "provider_data",
        "provider_payment_charge_id",
        "provider_token",
        "query",
        "question",
        "secret_token",
        "short_description",
        "start_parameter",
        "sticker",
        "telegram_payment_charge_id",
        "text",
        "thumbnail",
        "title",
        "url",
        "video",
        "voice",
    }
)
_SEND_METHODS: Final = frozenset(
    {
        "copymessage",
        "copymessages",
        "forwardmessage",
        "forwardmessages",
        "sendanimation",
        "sendaudio",
        "sendcontact",
        "senddice",
        "senddocument",
        "sendinvoice",
        "sendlocation",
        "sendmediagroup",
        "sendmessage",
        "sendpaidmedia",
        "sendphoto",
        "sendpoll",
        "sendsticker",
        "sendvenue",
        "sendvideo",
        "sendvideonote",
        "sendvoice",
    }
)
_CHAT_ACTIONS: Final = frozenset(
    {
        "choose_sticker",
        "find_location",
        "record_video",
        "record_video_note",
        "record_voice",
        "typing",
        "upload_document",
        "upload_photo",
        "upload_video",
        "upload_video_note",
        "upload_voice",
    }
)
# Telegram leaves these out unless allowed_updates names them explicitly.
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_BUTTON_ACTIONS: Final = frozenset(
    {
        "callback_data",
        "callback_game",
        "copy_text",
        "login_url",
        "pay",
        "switch_inline_query",
        "switch_inline_query_chosen_chat",
        "switch_inline_query_current_chat",
        "url",
        "web_app",
    }
)
_HTML_TAGS: Final = {
    "a": "text_link",
    "b": "bold",
    "blockquote": "blockquote",
    "code": "code",
    "del": "strikethrough",
    "em": "italic",
    "i": "italic",
    "ins": "underline",
    "pre": "pre",
    "s": "strikethrough",
    "span": "spoiler",
    "strike": "strikethrough",
    "strong": "bold",
    "tg-emoji": "custom_emoji",
    "tg-spoiler": "spoiler",
    "u": "underline",
}
_PHOTO_SIZES: Final = ((90, 51), (320, 180), (1280, 720))

_BLOCKED: Final = "Forbidden: bot was blocked by the user"
_CHAT_NOT_FOUND: Final = "Bad Request: chat not found"
_QUERY_INVALID: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a content and reply markup of the current message"
)
_POLL_CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
_WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)


class _ApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JsonDict:
        """Return the error in Bot API shape."""
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str | None
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API request as the fake saw and answered it."""

    method: str
    params: Mapping[str, Any]
    time: float
    files: Mapping[str, UploadedFile]
    token: str
    status: int
    result: Any
    description: str | None

    @property
    def ok(self) -> bool:
        """Tell whether the fake answered with ok=true."""
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        """Return the chat_id parameter, if any."""
        return self.params.get("chat_id")


@dataclass(frozen=True, slots=True)
class InlineButton:
    """One inline keyboard button of a message."""

    text: str
    callback_data: str | None
    url: str | None
    row: int
    column: int


@dataclass(slots=True)
class Stats:
    """Counters of everything the fake answered, kept even when calls are not recorded."""

    requests: int = 0
    by_method: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    rejected_429: int = 0
    sent_per_chat: Counter[ChatKey] = field(default_factory=Counter)
    rejected_per_chat: Counter[ChatKey] = field(default_factory=Counter)
    first_sent_at: float | None = None
    last_sent_at: float | None = None
    peak_sends_per_second: int = 0
    peak_chat_sends_per_second: int = 0
    # Faults the fake made on purpose (`fail_next`, `reset_next`, `stall_next`, `chaos`), by kind.
    faults: Counter[str] = field(default_factory=Counter)
    faulted_methods: Counter[str] = field(default_factory=Counter)

    @property
    def mean_send_rate(self) -> float:
        """Return accepted sends per second between the first and the last one."""
        if self.first_sent_at is None or self.last_sent_at is None:
            return 0.0
        span = self.last_sent_at - self.first_sent_at
        return (self.sent - 1) / span if span > 0 else 0.0


class _TokenBucket:
    """A token bucket refilled continuously at `rate` tokens per second up to `capacity`."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> float:
        """Refill up to `now`; return the seconds until one token is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass(slots=True)
class _Fault:
    status: int
    description: str
    retry_after: int | None
    remaining: int
    # "status": answer with an error; "reset": drop the connection unanswered; "stall": hold it,
    # then drop it. Neither a reset nor a stall does what was asked (nothing is delivered).
    kind: str = "status"
    seconds: float = 0.0


class _Dropped(Exception):
    """The fake drops this call's connection without doing what was asked."""


@dataclass(slots=True)
class _Chaos:
    """Faults made at random (seeded) on some methods' calls."""

    methods: frozenset[str]
    rate: float
    rng: random.Random
    stall_seconds: float
    budget: int | None


@dataclass(slots=True)
class _Delay:
    seconds: float
    remaining: int


@dataclass(slots=True)
class _Update:
    update_id: int
    kind: str
    body: JsonDict

    def to_dict(self) -> JsonDict:
        return {"update_id": self.update_id, self.kind: self.body}


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    unique_id: str
    file_name: str | None
    mime_type: str | None
    size: int | None
    upload: UploadedFile | None

    def photo_sizes(self) -> list[JsonDict]:
        sizes: list[JsonDict] = [
            {
                "file_id": f"{self.file_id}-{width}",
                "file_unique_id": f"{self.unique_id}-{width}",
                "width": width,
                "height": height,
            }
            for width, height in _PHOTO_SIZES
        ]
        if self.size is not None:
            sizes[-1]["file_size"] = self.size
        return sizes

    def document(self) -> JsonDict:
        document: JsonDict = {"file_id": self.file_id, "file_unique_id": self.unique_id}
        if self.file_name:
            document["file_name"] = self.file_name
        if self.mime_type is not None:
            document["mime_type"] = self.mime_type
        if self.size is not None:
            document["file_size"] = self.size
        return document


@dataclass(slots=True)
class _Query:
    answer: Mapping[str, Any] | None = None


class _Chat:
    """A chat's state: info, messages, block flag."""

    __slots__ = (
        "blocked",
        "id",
        "info",
        "keep",
        "messages",
        "next_id",
        "sent",
        "sent_total",
    )

    def __init__(self, chat_id: int, info: JsonDict, keep: int | None) -> None:
        self.id = chat_id
        self.info = info
        self.keep = keep
        self.messages: dict[int, FakeMessage] = {}
        self.sent: deque[FakeMessage] = deque(maxlen=keep)
        self.sent_total = 0
        self.next_id = 1
        self.blocked = False

    @property
    def username(self) -> str | None:
        username = self.info.get("username")
        return username if isinstance(username, str) else None

    def add(self, message: FakeMessage) -> None:
        self.messages[message.message_id] = message
        if self.keep is not None and len(self.messages) > self.keep:
            del self.messages[next(iter(self.messages))]
        if message.from_bot:
            message.seq = self.sent_total
            self.sent_total += 1
            self.sent.append(message)

    def sent_from(self, seq: int) -> FakeMessage:
        """Return the first retained bot message with sequence number `seq` or later."""
        return self.sent[max(seq - self.sent[0].seq, 0)]


class FakeMessage:
    """A message in a fake chat; edits and deletions update it in place."""

    __slots__ = (
        "_chat",
        "caption",
        "caption_entities",
        "date",
        "deleted",
        "document",
        "edit_date",
        "edits",
        "entities",
        "extra",
        "file",
        "from_bot",
        "message_id",
        "method",
        "params",
        "photo",
        "reply_markup",
        "reply_to",
        "sender",
        "seq",
        "text",
    )

    def __init__(
        self,
        chat: _Chat,
        message_id: int,
        sender: JsonDict,
        *,
        from_bot: bool,
        method: str,
        params: Mapping[str, Any],
    ) -> None:
        self._chat = chat
        self.message_id = message_id
        self.date = int(time.time())
        self.sender = sender
        self.from_bot = from_bot
        self.method = method
        self.params = params
        self.seq = -1
        self.text: str | None = None
        self.entities: list[JsonDict] | None = None
        self.caption: str | None = None
        self.caption_entities: list[JsonDict] | None = None
        self.reply_markup: JsonDict | None = None
        self.photo: list[JsonDict] | None = None
        self.document: JsonDict | None = None
        self.file: UploadedFile | None = None
        self.reply_to: FakeMessage | None = None
        self.extra: JsonDict = {}
        self.deleted = False
        self.edit_date: int | None = None
        self.edits = 0

    def __repr__(self) -> str:
        return (
            f"FakeMessage(chat_id={self.chat_id}, message_id={self.message_id}, "
            f"method={self.method!r}, content={self.content!r}, deleted={self.deleted})"
        )

    @property
    def chat_id(self) -> int:
        """Return the id of the chat the message is in."""
        return self._chat.id

    @property
    def content(self) -> str:
        """Return the text, else the caption, else an empty string."""
        if self.text is not None:
            return self.text
        return self.caption or ""

    @property
    def inline_keyboard(self) -> list[list[InlineButton]]:
        """Return the current inline keyboard as rows of buttons."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [
            [
                InlineButton(
                    text=str(button.get("text", "")),
                    callback_data=button.get("callback_data"),
                    url=button.get("url"),
                    row=row_index,
                    column=column_index,
                )
                for column_index, button in enumerate(row)
            ]
            for row_index, row in enumerate(rows)
        ]

    @property
    def buttons(self) -> list[InlineButton]:
        """Return the current inline buttons, row by row."""
        return [button for row in self.inline_keyboard for button in row]

    @property
    def callback_data(self) -> list[str]:
        """Return the callback_data of every current inline button that has one."""
        return [b.callback_data for b in self.buttons if b.callback_data is not None]

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Return the labels of a reply keyboard sent with the message, if any."""
        rows = (self.reply_markup or {}).get("keyboard")
        if rows is None:
            return None
        return [[b if isinstance(b, str) else str(b.get("text", "")) for b in row] for row in rows]

    def to_dict(self, *, with_reply: bool = True) -> JsonDict:
        """Return the message as a Bot API Message object."""
        data: JsonDict = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self._chat.info,
            "date": self.date,
        }
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            data["reply_to_message"] = self.reply_to.to_dict(with_reply=False)
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.photo is not None:
            data["photo"] = self.photo
        if self.document is not None:
            data["document"] = self.document
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.extra:
            data.update(self.extra)
        markup = self.reply_markup
        # Telegram echoes only inline keyboards; reply keyboards are not part of a Message.
        if markup is not None and "inline_keyboard" in markup:
            data["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return data


class _ChatHandle:
    """Shared behaviour of a simulated chat: reading what the bot sent there."""

    def __init__(self, api: FakeBotApi, chat: _Chat) -> None:
        self._api = api
        self._chat = chat
        self._cursor = 0

    @property
    def chat_id(self) -> int:
        """Return the chat id."""
        return self._chat.id

    @property
    def messages(self) -> list[FakeMessage]:
        """Return the bot's messages in this chat, in order."""
        return self._api.messages_to(self._chat.id)

    def last_message(self) -> FakeMessage:
        """Return the bot's latest message in this chat."""
        return self._api.last_message(self._chat.id)

    async def next_message(self, timeout: float = 10.0) -> FakeMessage:  # noqa: ASYNC109
        """Wait for the bot's next message in this chat since the previous call."""
        chat = self._chat
        cursor = self._cursor
        try:
            await self._api.wait_until(lambda: chat.sent_total > cursor, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"the bot sent no new message to chat {chat.id} within {timeout}s "
                f"(it has sent {chat.sent_total})"
            ) from None
        message = chat.sent_from(cursor)
        self._cursor = message.seq + 1
        return message


class FakeUser(_ChatHandle):
    """A simulated Telegram user with a private chat with the bot."""

    def __init__(
        self,
        api: FakeBotApi,
        chat: _Chat,
        user_id: int,
        first_name: str,
        username: str | None,
        language_code: str,
    ) -> None:
        super().__init__(api, chat)
        self.id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code
        self._dict: JsonDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username is not None:
            self._dict["username"] = username
        self._dict["language_code"] = language_code

    def __repr__(self) -> str:
        return f"FakeUser(id={self.id}, first_name={self.first_name!r})"

    def to_dict(self) -> JsonDict:
        """Return the user as a Bot API User object."""
        return self._dict

    async def send_text(self, text: str) -> FakeMessage:
        """Write `text` to the bot in the private chat."""
        return await self._api._user_message(self._chat, self, text)

    async def edit_text(self, message: FakeMessage, text: str) -> FakeMessage:
        """Edit one of this user's own messages: the bot gets an edited_message update."""
        if message.from_bot or message.chat_id != self._chat.id:
            raise ValueError(f"{message!r} is not {self!r}'s own message")
        message.text = text
        message.entities = _command_entities(text)
        _mark_edited(message)
        await self._api._enqueue("edited_message", message.to_dict())
        return message

    async def start(self, payload: str | None = None) -> FakeMessage:
        """Send /start, with a deep-link payload when given."""
        return await self.send_text("/start" if payload is None else f"/start {payload}")

    async def press(
        self, message: FakeMessage | int, callback_data: str, *, force: bool = False
    ) -> str:
        """Press an inline button of `message`; return the callback query id."""
        return await self._api._press(self, message, callback_data, force=force)

    async def press_button(self, text_substring: str, *, chat_id: int | None = None) -> str:
        """Press the button labelled with `text_substring` on the latest message that has one."""
        target = self.id if chat_id is None else chat_id
        for message in reversed(self._api.messages_to(target)):
            if message.deleted:
                continue
            for button in message.buttons:
                if button.callback_data is not None and text_substring in button.text:
                    return await self.press(message, button.callback_data)
        labels = [b.text for m in self._api.messages_to(target) if not m.deleted for b in m.buttons]
        raise LookupError(
            f"no callback button containing {text_substring!r} in chat {target}; "
            f"buttons seen: {labels}"
        )

    async def block_bot(self) -> None:
        """Block the bot: later sends to this chat fail with 403."""
        self._chat.blocked = True
        await self._api._member_update(self, "member", "kicked")

    async def unblock_bot(self) -> None:
        """Unblock the bot."""
        self._chat.blocked = False
        await self._api._member_update(self, "kicked", "member")

    async def pre_checkout(self, invoice_payload: str, currency: str, total_amount: int) -> str:
        """Start paying an invoice; return the pre-checkout query id."""
        return await self._api._pre_checkout(self, invoice_payload, currency, total_amount)

    async def successful_payment(
        self,
        invoice_payload: str,
        currency: str,
        total_amount: int,
        *,
        telegram_payment_charge_id: str | None = None,
        provider_payment_charge_id: str = "",
        subscription_expiration_date: int | None = None,
        is_recurring: bool | None = None,
        is_first_recurring: bool | None = None,
    ) -> str:
        """Send the bot a successful payment message; return the charge id."""
        charge_id = self._api._pay(
            self,
            invoice_payload,
            total_amount,
            telegram_payment_charge_id,
            bool(is_recurring or is_first_recurring or subscription_expiration_date),
            bool(is_recurring and not is_first_recurring),
        )
        payment: JsonDict = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": invoice_payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": provider_payment_charge_id,
        }
        if subscription_expiration_date is not None:
            payment["subscription_expiration_date"] = subscription_expiration_date
        if is_recurring is not None:
            payment["is_recurring"] = is_recurring
        if is_first_recurring is not None:
            payment["is_first_recurring"] = is_first_recurring
        await self._api._user_message(self._chat, self, None, extra={"successful_payment": payment})
        return charge_id

    def missed_payment(
        self, invoice_payload: str, total_amount: int, *, renewal: bool = False
    ) -> str:
        """Take a Stars payment whose update never reaches the bot; return its charge id."""
        return self._api._pay(self, invoice_payload, total_amount, None, True, renewal)


class FakeGroup(_ChatHandle):
    """A simulated supergroup (a staff chat, say) the bot is a member of."""

    def __init__(self, api: FakeBotApi, chat: _Chat, title: str) -> None:
        super().__init__(api, chat)
        self.id = chat.id
        self.title = title

    def __repr__(self) -> str:
        return f"FakeGroup(id={self.id}, title={self.title!r})"

    async def send_text(
        self, from_user: FakeUser, text: str, reply_to_message: FakeMessage | None = None
    ) -> FakeMessage:
        """Post `text` in the group as `from_user`, optionally replying to a message."""
        return await self._api._user_message(self._chat, from_user, text, reply_to=reply_to_message)


_Handler = Callable[[JsonDict, Mapping[str, UploadedFile]], Awaitable[Any]]


class FakeBotApi:
    """A Bot API server on 127.0.0.1 that answers like Telegram and records every call."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        username: str = "remainly_test_bot",
        first_name: str = "Remainly",
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        group_rate: float | None = None,
        burst: float = 3.0,
        global_burst: float | None = None,
        limited_methods: Iterable[str] | None = None,
        record_calls: bool = True,
        strict_chats: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        match = _TOKEN_RE.fullmatch(token)
        if match is None:
            raise ValueError(f"not a bot token: {token!r}")
        self.token = token
        self.bot_id = int(match.group(1))
        self.username = username
        self.first_name = first_name
        self.record_calls = record_calls
        self.strict_chats = strict_chats
        self.stats = Stats()
        self.webhook: Mapping[str, Any] | None = None
        self.invoice_links: dict[str, Mapping[str, Any]] = {}
        self._clock = clock
        self._me: JsonDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": first_name,
            "username": username,
        }
        self._calls: list[Call] = []
        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._groups: dict[int, FakeGroup] = {}
        self._updates: deque[_Update] = deque()
        self._update_ids = itertools.count(1)
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._waiting_pollers = 0
        self._closing = False
        self._files: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._queries: dict[str, _Query] = {}
        self._pre_checkouts: dict[str, _Query] = {}
        self.stars = StarsLedger()
        self._commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._chaos: _Chaos | None = None
        self._just_faulted: set[str] = set()
        self._delays: dict[str, deque[_Delay]] = {}
        self._changed = asyncio.Condition()
        self._updates_changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        limited = _SEND_METHODS if limited_methods is None else limited_methods
        self._limited = frozenset(m.lower() for m in limited)
        self._per_chat_rate = per_chat_rate
        self._group_rate = group_rate
        self._burst = burst
        self._global_bucket = (
            _TokenBucket(global_rate, global_burst or max(1.0, global_rate), clock())
            if global_rate is not None
            else None
        )
        self._chat_buckets: dict[ChatKey, _TokenBucket] = {}
        self._group_buckets: dict[ChatKey, _TokenBucket] = {}
        self._limiting = any(r is not None for r in (global_rate, per_chat_rate, group_rate))
        self._send_window: deque[float] = deque()
        self._chat_windows: dict[ChatKey, deque[float]] = {}

        handlers: list[tuple[str, _Handler]] = [
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("sendMessage", self._send_message),
            ("copyMessage", self._copy_message),
            ("sendPhoto", self._send_photo),
            ("sendDocument", self._send_document),
            ("sendInvoice", self._send_invoice),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("deleteMessage", self._delete_message),
            ("deleteMessages", self._delete_messages),
            ("answerCallbackQuery", self._answer_callback_query),
            ("sendChatAction", self._send_chat_action),
            ("getChat", self._get_chat),
            ("close", self._true),
            ("logOut", self._true),
            ("setMyDescription", self._true),
            ("setMyShortDescription", self._true),
            ("setMyName", self._true),
            ("setChatMenuButton", self._true),
            ("createInvoiceLink", self._create_invoice_link),
            ("answerPreCheckoutQuery", self._answer_pre_checkout_query),
            ("refundStarPayment", self._refund_star_payment),
            ("editUserStarSubscription", self._edit_user_star_subscription),
            ("getStarTransactions", self._get_star_transactions),
        ]
        self._handlers: dict[str, tuple[str, _Handler]] = {
            name.lower(): (name, handler) for name, handler in handlers
        }

    # Lifecycle

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application(client_max_size=_MAX_UPLOAD)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        self._closing = False

    async def stop(self) -> None:
        """Release long polls and stop listening."""
        self._closing = True
        async with self._updates_changed:
            self._updates_changed.notify_all()
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def port(self) -> int:
        """Return the TCP port the server listens on."""
        if self._port is None:
            raise RuntimeError("the fake Bot API is not started")
        return self._port

    @property
    def api_root(self) -> str:
        """Return the server root, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Return the prefix requests append `{token}/{method}` to."""
        return f"{self.api_root}/bot"

    # Inspection

    @property
    def calls(self) -> Sequence[Call]:
        """Return every recorded call, oldest first."""
        return self._calls

    def calls_to(self, method: str) -> list[Call]:
        """Return the recorded calls of one method (case-insensitive)."""
        wanted = method.lower()
        return [call for call in self._calls if call.method.lower() == wanted]

    def messages_to(self, chat_id: int) -> list[FakeMessage]:
        """Return the bot's messages in a chat in send order, deleted ones flagged."""
        chat = self._chats.get(chat_id)
        return list(chat.sent) if chat is not None else []

    def last_message(self, chat_id: int) -> FakeMessage:
        """Return the bot's latest message in a chat."""
        chat = self._chats.get(chat_id)
        if chat is None or not chat.sent:
            raise LookupError(f"the bot has sent nothing to chat {chat_id}")
        return chat.sent[-1]

    def callback_answer(self, query_id: str) -> Mapping[str, Any] | None:
        """Return the answerCallbackQuery parameters for a pressed button, if answered."""
        return self._queries[query_id].answer

    def pre_checkout_answer(self, query_id: str) -> Mapping[str, Any] | None:
        """Return the answerPreCheckoutQuery parameters for a query, if answered."""
        return self._pre_checkouts[query_id].answer

    def is_refunded(self, charge_id: str) -> bool:
        """Tell whether the bot refunded a charge."""
        return self.stars.charges[charge_id].refunded_at is not None

    def subscription_canceled(self, charge_id: str) -> bool | None:
        """Return the is_canceled the bot last set on a subscription, None if never."""
        return self.stars.canceled.get(charge_id)

    def commands(
        self, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[JsonDict]:
        """Return the command list set for a scope and language."""
        return list(self._commands.get(_commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> int:
        """Return how many updates wait for the bot to confirm them."""
        return len(self._updates)

    @property
    def waiting_pollers(self) -> int:
        """Return how many getUpdates requests are waiting for updates."""
        return self._waiting_pollers

    def take_updates(self) -> list[JsonDict]:
        """Hand over every pending update, as Telegram does to a webhook (tests post them)."""
        batch = [update.to_dict() for update in self._updates]
        self._updates.clear()
        return batch

    def reset_stats(self) -> None:
        """Start counting afresh (rate limiter state is kept)."""
        self.stats = Stats()
        self._send_window.clear()
        self._chat_windows.clear()

    async def wait_for(
        self,
        predicate: Callable[[Call], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
        *,
        since: int = 0,
    ) -> Call:
        """Wait for a recorded call (from index `since` on) that matches `predicate`."""
        if not self.record_calls:
            raise RuntimeError("wait_for needs record_calls=True; use wait_until with stats")
        index = since
        found: list[Call] = []

        def scan() -> bool:
            nonlocal index
            calls = self._calls
            while index < len(calls):
                call = calls[index]
                index += 1
                if predicate(call):
                    found.append(call)
                    return True
            return False

        try:
            await self.wait_until(scan, timeout)
        except TimeoutError:
            recent = ", ".join(f"{c.method}->{c.status}" for c in self._calls[-10:])
            raise TimeoutError(
                f"no matching call within {timeout}s; latest calls: {recent or 'none'}"
            ) from None
        return found[0]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until `condition()` holds, re-checking after every call and state change."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(condition)

    # Simulation

    def user(
        self, user_id: int, first_name: str, username: str | None = None, language_code: str = "en"
    ) -> FakeUser:
        """Return the simulated user with this id, creating it and its private chat."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        if user_id <= 0:
            raise ValueError("user ids are positive")
        info: JsonDict = {"id": user_id, "type": "private", "first_name": first_name}
        if username is not None:
            info["username"] = username
        chat = self._chats.get(user_id)
        if chat is None:
            chat = self._chats[user_id] = _Chat(user_id, info, self._keep)
        else:
            chat.info = info
        user = FakeUser(self, chat, user_id, first_name, username, language_code)
        self._users[user_id] = user
        return user

    def group(self, chat_id: int, title: str) -> FakeGroup:
        """Return the simulated supergroup with this (negative) id, creating it."""
        existing = self._groups.get(chat_id)
        if existing is not None:
            return existing
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        info: JsonDict = {"id": chat_id, "type": "supergroup", "title": title}
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id, info, self._keep)
        else:
            chat.info = info
        group = FakeGroup(self, chat, title)
        self._groups[chat_id] = group
        return group

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with an error."""
        fault = _Fault(status, description, retry_after, times)
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def reset_next(self, method: str, times: int = 1) -> None:
        """Drop the next `times` calls of `method` unanswered (a connection reset)."""
        fault = _Fault(0, "connection reset", None, times, kind="reset")
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def stall_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next `times` calls of `method` for `seconds`, then drop them unanswered."""
        fault = _Fault(0, "stalled", None, times, kind="stall", seconds=seconds)
        self._faults.setdefault(method.lower(), deque()).append(fault)

    def chaos(
        self,
        methods: Iterable[str],
        *,
        rate: float,
        seed: int = 0,
        stall_seconds: float = 6.0,
        budget: int | None = None,
    ) -> None:
        """Make random faults on a share `rate` of these methods' calls, from a seeded generator:
        429 with retry_after, short 5xx storms, connection resets, stalls past the client's
        time-out, and slow answers; at most `budget` of them (None: no limit)."""
        self._chaos = _Chaos(
            frozenset(m.lower() for m in methods), rate, random.Random(seed), stall_seconds, budget
        )

    def calm(self) -> None:
        """Stop making random faults."""
        self._chaos = None

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Hold the next `times` calls of `method` for `seconds` before answering."""
        self._delays.setdefault(method.lower(), deque()).append(_Delay(seconds, times))

    @property
    def _keep(self) -> int | None:
        return None if self.record_calls else _KEPT_WITHOUT_RECORDING

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _enqueue(self, kind: str, body: JsonDict) -> int:
        update = _Update(next(self._update_ids), kind, body)
        self._updates.append(update)
        async with self._updates_changed:
            self._updates_changed.notify_all()
        await self._notify()
        return update.update_id

    def _new_message(
        self,
        chat: _Chat,
        sender: JsonDict,
        *,
        from_bot: bool,
        method: str,
        params: Mapping[str, Any],
    ) -> FakeMessage:
        message = FakeMessage(
            chat, chat.next_id, sender, from_bot=from_bot, method=method, params=params
        )
        chat.next_id += 1
        return message

    async def _user_message(
        self,
        chat: _Chat,
        user: FakeUser,
        text: str | None,
        *,
        reply_to: FakeMessage | None = None,
        extra: JsonDict | None = None,
    ) -> FakeMessage:
        message = self._new_message(chat, user.to_dict(), from_bot=False, method="", params={})
        if text is not None:
            message.text = text
            message.entities = _command_entities(text)
        message.reply_to = reply_to
        if extra:
            message.extra = extra
        chat.add(message)
        await self._enqueue("message", message.to_dict())
        return message

    async def _press(
        self, user: FakeUser, target: FakeMessage | int, data: str, *, force: bool
    ) -> str:
        message = (
            target if isinstance(target, FakeMessage) else self._chats[user.id].messages[target]
        )
        if not force:
            if not message.from_bot:
                raise ValueError(f"{message!r} is not the bot's; only its buttons can be pressed")
            if message.deleted:
                raise ValueError(f"{message!r} was deleted; its buttons are gone")
            if message.chat_id > 0 and message.chat_id != user.id:
                raise ValueError(f"{message!r} is in another user's private chat")
            if data not in message.callback_data:
                raise ValueError(
                    f"callback_data {data!r} is not on {message!r}; "
                    f"its buttons carry {message.callback_data}"
                )
        query_id = f"{user.id}{next(self._query_ids):06d}"
        body: JsonDict = {
            "id": query_id,
            "from": user.to_dict(),
            "message": message.to_dict(),
            "chat_instance": f"{abs(message.chat_id) * 7 + 1}",
            "data": data,
        }
        self._queries[query_id] = _Query()
        await self._enqueue("callback_query", body)
        return query_id

    async def _member_update(self, user: FakeUser, old: str, new: str) -> None:
        new_member: JsonDict = {"user": self._me, "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        body: JsonDict = {
            "chat": user._chat.info,
            "from": user.to_dict(),
            "date": int(time.time()),
            "old_chat_member": {"user": self._me, "status": old},
            "new_chat_member": new_member,
        }
        await self._enqueue("my_chat_member", body)

    async def _pre_checkout(
        self, user: FakeUser, payload: str, currency: str, total_amount: int
    ) -> str:
        query_id = f"pcq{user.id}{next(self._query_ids):06d}"
        body: JsonDict = {
            "id": query_id,
            "from": user.to_dict(),
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        self._pre_checkouts[query_id] = _Query()
        await self._enqueue("pre_checkout_query", body)
        return query_id

    def _pay(
        self,
        user: FakeUser,
        payload: str,
        amount: int,
        charge_id: str | None,
        subscription: bool,
        renewal: bool,
    ) -> str:
        charge = self.stars.pay(
            user.id,
            payload,
            amount,
            date=int(time.time()),
            charge_id=charge_id,
            subscription=subscription,
            renewal=renewal,
        )
        return charge.id

    # HTTP

    async def _handle(self, request: web.Request) -> web.Response:
        now = self._clock()
        self.stats.requests += 1
        path = request.path
        token, slash, method = path[4:].partition("/") if path.startswith("/bot") else ("", "", "")
        if not slash or not method or "/" in method:
            return _response(404, _ApiError(404, "Not Found").body())
        key = method.lower()
        entry = self._handlers.get(key)
        name = entry[0] if entry is not None else method
        params: JsonDict = {}
        files: dict[str, UploadedFile] = {}
        result: Any = None
        description: str | None = None
        try:
            params, files = await _read_params(request)
            result = await self._dispatch(token, key, entry, params, files, now)
        except _ApiError as error:
            status, body, description = error.status, error.body(), error.description
        except _Dropped as dropped:
            # The connection goes without an answer, and the call did nothing.
            if request.transport is not None:
                request.transport.abort()
            status, body, description = 0, {}, str(dropped)
        except Exception as error:
            # A bug in the fake must reach the test as a recorded call, not a silent hang.
            failure = _ApiError(500, f"Internal Server Error: fake Bot API failed: {error!r}")
            status, body, description = 500, failure.body(), failure.description
        else:
            status, body = 200, {"ok": True, "result": result}
        self.stats.by_method[name] += 1
        if self.record_calls:
            call = Call(
                method=name,
                params=MappingProxyType(params),
                time=now,
                files=MappingProxyType(files),
                token=token,
                status=status,
                result=result,
                description=description,
            )
            self._calls.append(call)
        await self._notify()
        return _response(status, body)

    async def _dispatch(
        self,
        token: str,
        key: str,
        entry: tuple[str, _Handler] | None,
        params: JsonDict,
        files: Mapping[str, UploadedFile],
        now: float,
    ) -> Any:
        if token != self.token:
            if _TOKEN_RE.fullmatch(token):
                raise _ApiError(401, "Unauthorized")
            raise _ApiError(404, "Not Found")
        if entry is None:
            raise _ApiError(404, "Not Found: method not found")
        if self._chaos is not None and key in self._chaos.methods:
            self._stir(key)
        if self._delays:
            await self._apply_delay(key)
        if self._faults:
            await self._apply_fault(key)
        limited = key in self._limited
        chat_key = params.get("chat_id")
        if not isinstance(chat_key, int | str):
            chat_key = None
        if limited and self._limiting:
            self._check_rate(chat_key, now)
        result = await entry[1](params, files)
        if limited:
            self._count_send(chat_key, now)
        return result

    def _stir(self, key: str) -> None:
        chaos = self._chaos
        assert chaos is not None
        if chaos.budget is not None and chaos.budget <= 0:
            return
        if self._faults.get(key) or key in self._just_faulted:
            # At most one storm in a row: a client that retries a few times gets through.
            self._just_faulted.discard(key)
            return
        if chaos.rng.random() >= chaos.rate:
            return
        self._just_faulted.add(key)
        if chaos.budget is not None:
            chaos.budget -= 1
        kind = chaos.rng.choice(("429", "5xx", "reset", "stall", "slow"))
        if kind == "429":
            self.fail_next(key, 429, "Too Many Requests: retry after 1", retry_after=1)
        elif kind == "5xx":
            status = chaos.rng.choice((500, 502, 503))
            self.fail_next(key, status, "Internal Server Error", times=chaos.rng.randint(1, 2))
        elif kind == "reset":
            self.reset_next(key)
        elif kind == "stall":
            self.stall_next(key, chaos.stall_seconds)
        else:
            self.delay_next(key, chaos.rng.uniform(0.3, 1.5))
            self.stats.faults["slow"] += 1
            self.stats.faulted_methods[key] += 1

    async def _apply_delay(self, key: str) -> None:
        delays = self._delays.get(key)
        if not delays:
            return
        delay = delays[0]
        delay.remaining -= 1
        if delay.remaining <= 0:
            delays.popleft()
        await asyncio.sleep(delay.seconds)

    async def _apply_fault(self, key: str) -> None:
        faults = self._faults.get(key)
        if not faults:
            return
        fault = faults[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            faults.popleft()
        self.stats.faulted_methods[key] += 1
        if self._chaos is not None:
            self._just_faulted.add(key)  # the call after a fault is left alone by chaos
        if fault.kind == "status":
            self.stats.faults["429" if fault.status == 429 else f"{fault.status // 100}xx"] += 1
            raise _ApiError(fault.status, fault.description, fault.retry_after)
        self.stats.faults[fault.kind] += 1
        if fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
        raise _Dropped(fault.kind)

    def _check_rate(self, chat_key: ChatKey | None, now: float) -> None:
        buckets: list[_TokenBucket] = []
        wait = 0.0
        if self._global_bucket is not None:
            buckets.append(self._global_bucket)
        if chat_key is not None:
            if self._per_chat_rate is not None:
                bucket = self._chat_buckets.get(chat_key)
                if bucket is None:
                    bucket = _TokenBucket(self._per_chat_rate, self._burst, now)
                    self._chat_buckets[chat_key] = bucket
                buckets.append(bucket)
            if self._group_rate is not None and isinstance(chat_key, int) and chat_key < 0:
                bucket = self._group_buckets.get(chat_key)
                if bucket is None:
                    bucket = _TokenBucket(self._group_rate, self._burst, now)
                    self._group_buckets[chat_key] = bucket
                buckets.append(bucket)
        for bucket in buckets:
            wait = max(wait, bucket.refill(now))
        if wait > 0.0:
            self.stats.rejected_429 += 1
            if chat_key is not None:
                self.stats.rejected_per_chat[chat_key] += 1
            retry_after = max(1, math.ceil(wait))
            raise _ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        for bucket in buckets:
            bucket.tokens -= 1.0

    def _count_send(self, chat_key: ChatKey | None, now: float) -> None:
        stats = self.stats
        stats.sent += 1
        if stats.first_sent_at is None:
            stats.first_sent_at = now
        stats.last_sent_at = now
        cutoff = now - 1.0
        window = self._send_window
        window.append(now)
        while window[0] <= cutoff:
            window.popleft()
        stats.peak_sends_per_second = max(stats.peak_sends_per_second, len(window))
        if chat_key is None:
            return
        stats.sent_per_chat[chat_key] += 1
        chat_window = self._chat_windows.get(chat_key)
        if chat_window is None:
            chat_window = self._chat_windows[chat_key] = deque()
        chat_window.append(now)
        while chat_window[0] <= cutoff:
            chat_window.popleft()
        stats.peak_chat_sends_per_second = max(stats.peak_chat_sends_per_second, len(chat_window))

    # Chats and messages

    def _chat(self, raw: Any, *, create: bool) -> _Chat:
        if isinstance(raw, int) and not isinstance(raw, bool):
            chat = self._chats.get(raw)
            if chat is not None:
                return chat
            if create and raw != 0:
                info: JsonDict = {"id": raw, "type": "private", "first_name": f"User {raw}"}
                if raw < 0:
                    info = {"id": raw, "type": "supergroup", "title": f"Chat {raw}"}
                chat = self._chats[raw] = _Chat(raw, info, self._keep)
                return chat
        elif isinstance(raw, str) and raw.startswith("@"):
            wanted = raw[1:].lower()
            for chat in self._chats.values():
                if (chat.username or "").lower() == wanted:
                    return chat
        elif raw is None or raw == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        raise _ApiError(400, _CHAT_NOT_FOUND)

    def _target_chat(self, params: JsonDict) -> _Chat:
        chat = self._chat(params.get("chat_id"), create=not self.strict_chats)
        if chat.blocked:
            raise _ApiError(403, _BLOCKED)
        return chat

    def _find(self, chat: _Chat, message_id: int) -> FakeMessage | None:
        message = chat.messages.get(message_id)
        if message is None and chat.keep is not None and 0 < message_id < chat.next_id:
            # Evicted to bound memory; a blank stand-in keeps later edits and deletes working.
            message = FakeMessage(
                chat, message_id, self._me, from_bot=True, method="sendMessage", params={}
            )
            message.text = ""
            chat.messages[message_id] = message
        return message

    def _editable(self, params: JsonDict) -> FakeMessage:
        chat = self._target_chat(params)
        message = self._find(chat, _req_int(params, "message_id"))
        if message is None or message.deleted:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if not message.from_bot:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return message

    def _reply_target(self, chat: _Chat, params: JsonDict) -> FakeMessage | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = _opt_int(reply, "message_id")
            allow = bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = _opt_int(params, "reply_to_message_id")
            allow = _opt_bool(params, "allow_sending_without_reply")
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow:
                return None
            raise _ApiError(400, "Bad Request: message to be replied not found")
        return target

    def _bot_message(
        self, chat: _Chat, method: str, params: JsonDict, markup: JsonDict | None
    ) -> FakeMessage:
        reply_to = self._reply_target(chat, params)
        message = self._new_message(chat, self._me, from_bot=True, method=method, params=params)
        message.reply_markup = markup
        message.reply_to = reply_to
        return message

    def _input_file(
        self, params: JsonDict, files: Mapping[str, UploadedFile], name: str
    ) -> _StoredFile:
        value = params.get(name)
        upload = files.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _ApiError(400, f"Bad Request: file {value} not found in the request")
        if upload is not None:
            return self._store_file(upload=upload)
        if isinstance(value, str) and value:
            known = self._files.get(value)
            if known is not None:
                return known
            if value.startswith(("http://", "https://")):
                return self._store_file(url=value)
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        raise _ApiError(400, f"Bad Request: there is no {name} in the request")

    def _store_file(
        self, *, upload: UploadedFile | None = None, url: str | None = None
    ) -> _StoredFile:
        number = next(self._file_ids)
        stored = _StoredFile(
            file_id=f"FakeFile{number:06d}",
            unique_id=f"FakeUnique{number:06d}",
            file_name=upload.filename if upload else (url or "").rsplit("/", 1)[-1] or None,
            mime_type=upload.content_type if upload else None,
            size=len(upload.data) if upload else None,
            # Without call recording, uploaded bytes are not kept so benchmarks stay flat.
            upload=upload if self.record_calls else None,
        )
        self._files[stored.file_id] = stored
        for width, _height in _PHOTO_SIZES:
            self._files[f"{stored.file_id}-{width}"] = stored
        return stored

    # Bot API methods

    async def _true(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> bool:
        return True

    async def _get_me(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> JsonDict:
        return {
            **self._me,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> list[JsonDict]:
        if self.webhook is not None:
            raise _ApiError(409, _WEBHOOK_CONFLICT)
        offset = _opt_int(params, "offset")
        limit = min(max(_opt_int(params, "limit") or 100, 1), 100)
        timeout = _opt_float(params, "timeout") or 0.0
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed) or None
        self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        cond = self._updates_changed
        if self._waiting_pollers:
            # Like Telegram, a newer getUpdates ends the older long poll with 409.
            async with cond:
                cond.notify_all()
        batch = self._batch(limit)
        if batch or timeout <= 0 or self._closing:
            return batch
        async with cond:
            self._waiting_pollers += 1
            await self._notify()
            try:
                async with asyncio.timeout(timeout):
                    await cond.wait_for(
                        lambda: (
                            self._closing
                            or generation != self._poll_generation
                            or self._has_pending()
                        )
                    )
            except TimeoutError:
                pass
            finally:
                self._waiting_pollers -= 1
        if generation != self._poll_generation:
            raise _ApiError(409, _POLL_CONFLICT)
        return self._batch(limit)

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        updates = self._updates
        if offset < 0:
            while len(updates) > -offset:
                updates.popleft()
            return
        while updates and updates[0].update_id < offset:
            updates.popleft()

    def _allowed(self, kind: str) -> bool:
        allowed = self._allowed_updates
        return kind not in _OPT_IN_UPDATES if allowed is None else kind in allowed

    def _has_pending(self) -> bool:
        return any(self._allowed(update.kind) for update in self._updates)

    def _batch(self, limit: int) -> list[JsonDict]:
        batch: list[JsonDict] = []
        for update in self._updates:
            if self._allowed(update.kind):
                batch.append(update.to_dict())
                if len(batch) >= limit:
                    break
        return batch

    async def _set_webhook(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> bool:
        url = _opt_str(params, "url") or ""
        if url and not url.startswith("https://"):
            raise _ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if _opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        self.webhook = MappingProxyType(dict(params)) if url else None
        return True

    async def _delete_webhook(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> bool:
        if _opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        self.webhook = None
        return True

    async def _get_webhook_info(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> JsonDict:
        url = str(self.webhook.get("url", "")) if self.webhook is not None else ""
        return {
            "url": url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _set_my_commands(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        cleaned: list[JsonDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = _commands_key(params.get("scope"), _opt_str(params, "language_code") or "")
        self._commands[key] = cleaned
        return True

    async def _get_my_commands(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> list[JsonDict]:
        key = _commands_key(params.get("scope"), _opt_str(params, "language_code") or "")
        return list(self._commands.get(key, []))

    async def _delete_my_commands(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> bool:
        key = _commands_key(params.get("scope"), _opt_str(params, "language_code") or "")
        self._commands.pop(key, None)
        return True

    async def _send_message(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> JsonDict:
        chat = self._target_chat(params)
        text, entities = _formatted(params, "text", "entities", 4096)
        markup = _markup(params)
        message = self._bot_message(chat, "sendMessage", params, markup)
        message.text, message.entities = text, entities
        chat.add(message)
        return message.to_dict()

    async def _copy_message(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> JsonDict:
        chat = self._target_chat(params)
        source = self._chat(params.get("from_chat_id"), create=False)
        original = self._find(source, _req_int(params, "message_id"))
        if original is None or original.deleted:
            raise _ApiError(400, "Bad Request: message to copy not found")
        message = self._bot_message(chat, "copyMessage", params, _markup(params))
        message.text, message.entities = original.text, original.entities
        chat.add(message)
        return {"message_id": message.message_id}

    async def _send_photo(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> JsonDict:
        chat = self._target_chat(params)
        caption, entities = _formatted(params, "caption", "caption_entities", 1024)
        markup = _markup(params)
        stored = self._input_file(params, files, "photo")
        message = self._bot_message(chat, "sendPhoto", params, markup)
        message.caption, message.caption_entities = caption, entities
        message.photo = stored.photo_sizes()
        message.file = stored.upload
        chat.add(message)
        return message.to_dict()

    async def _send_document(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> JsonDict:
        chat = self._target_chat(params)
        caption, entities = _formatted(params, "caption", "caption_entities", 1024)
        markup = _markup(params)
        stored = self._input_file(params, files, "document")
        message = self._bot_message(chat, "sendDocument", params, markup)
        message.caption, message.caption_entities = caption, entities
        message.document = stored.document()
        message.file = stored.upload
        chat.add(message)
        return message.to_dict()

    async def _send_invoice(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> JsonDict:
        chat = self._target_chat(params)
        invoice = _invoice(params)
        markup = _markup(params)
        message = self._bot_message(chat, "sendInvoice", params, markup)
        message.extra = {
            "invoice": {
                "title": invoice["title"],
                "description": invoice["description"],
                "start_parameter": _opt_str(params, "start_parameter") or "",
                "currency": invoice["currency"],
                "total_amount": invoice["total_amount"],
            }
        }
        chat.add(message)
        return message.to_dict()

    async def _edit_message_text(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> JsonDict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        if message.text is None:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities = _formatted(params, "text", "entities", 4096)
        # Omitting reply_markup removes the inline keyboard, as on Telegram.
        markup = _inline_markup(params)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise _ApiError(400, _NOT_MODIFIED)
        message.text, message.entities, message.reply_markup = text, entities, markup
        _mark_edited(message)
        return message.to_dict()

    async def _edit_message_caption(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> JsonDict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        if message.photo is None and message.document is None:
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = _formatted(params, "caption", "caption_entities", 1024, required=False)
        markup = _inline_markup(params)
        current = (message.caption, message.caption_entities, message.reply_markup)
        if (caption, entities, markup) == current:
            raise _ApiError(400, _NOT_MODIFIED)
        message.caption, message.caption_entities, message.reply_markup = caption, entities, markup
        _mark_edited(message)
        return message.to_dict()

    async def _edit_message_reply_markup(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> JsonDict | bool:
        if params.get("inline_message_id"):
            return True
        message = self._editable(params)
        markup = _inline_markup(params)
        if markup == message.reply_markup:
            raise _ApiError(400, _NOT_MODIFIED)
        message.reply_markup = markup
        _mark_edited(message)
        return message.to_dict()

    async def _delete_message(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> bool:
        chat = self._target_chat(params)
        message = self._find(chat, _req_int(params, "message_id"))
        if message is None or message.deleted:
            raise _ApiError(400, "Bad Request: message to delete not found")
        message.deleted = True
        return True

    async def _delete_messages(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> bool:
        chat = self._target_chat(params)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _ApiError(400, "Bad Request: message_ids must be a list of 1-100 identifiers")
        for message_id in ids:
            if not isinstance(message_id, int) or isinstance(message_id, bool):
                raise _ApiError(400, "Bad Request: invalid message_ids specified")
            message = self._find(chat, message_id)
            if message is not None:
                message.deleted = True
        return True

    async def _answer_callback_query(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> bool:
        query = self._queries.get(_opt_str(params, "callback_query_id") or "")
        if query is None or query.answer is not None:
            raise _ApiError(400, _QUERY_INVALID)
        text = _opt_str(params, "text")
        if text is not None and len(text) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        query.answer = MappingProxyType(dict(params))
        return True

    async def _send_chat_action(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> bool:
        self._target_chat(params)
        if _opt_str(params, "action") not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    async def _get_chat(self, params: JsonDict, files: Mapping[str, UploadedFile]) -> JsonDict:
        chat = self._chat(params.get("chat_id"), create=False)
        return {
            **chat.info,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _create_invoice_link(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> str:
        _invoice(params)
        period = _opt_int(params, "subscription_period")
        if period is not None and period != 2592000:
            raise _ApiError(400, "Bad Request: SUBSCRIPTION_PERIOD_INVALID")
        link = f"https://t.me/$FakeInvoice{len(self.invoice_links) + 1:06d}"
        self.invoice_links[link] = MappingProxyType(dict(params))
        return link

    async def _answer_pre_checkout_query(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> bool:
        query = self._pre_checkouts.get(_opt_str(params, "pre_checkout_query_id") or "")
        if query is None or query.answer is not None:
            raise _ApiError(400, _QUERY_INVALID)
        if "ok" not in params:
            raise _ApiError(400, "Bad Request: ok is empty")
        if not _opt_bool(params, "ok") and not _opt_str(params, "error_message"):
            raise _ApiError(400, "Bad Request: PRECHECKOUT_ERROR_MESSAGE_EMPTY")
        query.answer = MappingProxyType(dict(params))
        return True

    async def _refund_star_payment(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> bool:
        try:
            self.stars.refund(
                params.get("user_id"),
                params.get("telegram_payment_charge_id"),
                date=int(time.time()),
            )
        except LedgerError as refused:
            raise _ApiError(400, refused.description) from None
        return True

    async def _edit_user_star_subscription(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> bool:
        try:
            self.stars.edit_subscription(
                params.get("user_id"),
                params.get("telegram_payment_charge_id"),
                params.get("is_canceled"),
            )
        except LedgerError as refused:
            raise _ApiError(400, refused.description) from None
        return True

    async def _get_star_transactions(
        self, params: JsonDict, files: Mapping[str, UploadedFile]
    ) -> JsonDict:
        try:
            return self.stars.transactions(params.get("offset"), params.get("limit"))
        except LedgerError as refused:
            raise _ApiError(400, refused.description) from None


# Request parsing and parameter helpers


def _response(status: int, body: JsonDict) -> web.Response:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return web.Response(body=payload, status=status, content_type="application/json")


def _decode(name: str, value: str) -> Any:
    """Decode a form value the way Telegram reads it: JSON where it parses, else a string."""
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def _read_params(request: web.Request) -> tuple[JsonDict, dict[str, UploadedFile]]:
    params: JsonDict = {}
    files: dict[str, UploadedFile] = {}
    if request.query_string:
        for name, value in request.query.items():
            params[name] = _decode(name, value)
    if not request.body_exists:
        return params, files
    content_type = request.content_type
    if content_type == "application/x-www-form-urlencoded":
        for name, value in parse_qsl(await request.text(), keep_blank_values=True):
            params[name] = _decode(name, value)
    elif content_type == "application/json":
        try:
            data = json.loads(await request.read())
        except ValueError:
            raise _ApiError(400, "Bad Request: can't parse JSON object") from None
        if not isinstance(data, dict):
            raise _ApiError(400, "Bad Request: can't parse JSON object")
        for name, value in data.items():
            params[name] = _decode(name, value) if isinstance(value, str) else value
    elif content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            if part.filename is None:
                params[part.name] = _decode(part.name, await part.text())
                continue
            content = part.headers.get(hdrs.CONTENT_TYPE, "application/octet-stream")
            data_bytes = bytes(await part.read())
            files[part.name] = UploadedFile(part.name, part.filename, content, data_bytes)
    return params, files


def _opt_int(params: Mapping[str, Any], name: str) -> int | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise _ApiError(400, f"Bad Request: invalid {name} specified")


def _req_int(params: Mapping[str, Any], name: str) -> int:
    value = _opt_int(params, name)
    if value is None:
        raise _ApiError(400, f"Bad Request: {name} is empty")
    return value


def _opt_float(params: Mapping[str, Any], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _ApiError(400, f"Bad Request: invalid {name} specified")


def _opt_str(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _ApiError(400, f"Bad Request: invalid {name} specified")


def _opt_bool(params: Mapping[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in {"true", "1"}
    return bool(value)


def _utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _command_entities(text: str) -> list[JsonDict] | None:
    match = _BOT_COMMAND_RE.match(text)
    if match is None:
        return None
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(match.group())}]


def _commands_key(scope: Any, language_code: str) -> tuple[str, str]:
    if not isinstance(scope, Mapping) or not scope:
        scope = {"type": "default"}
    return json.dumps(dict(scope), sort_keys=True), language_code


def _mark_edited(message: FakeMessage) -> None:
    message.edit_date = int(time.time())
    message.edits += 1


def _formatted(
    params: JsonDict, name: str, entities_name: str, limit: int, *, required: bool | None = None
) -> tuple[str | None, list[JsonDict] | None]:
    """Return the plain text and entities of a text or caption parameter, as Telegram stores it."""
    is_text = name == "text"
    required = is_text if required is None else required
    raw = _opt_str(params, name)
    if not raw:
        if required:
            raise _ApiError(400, "Bad Request: message text is empty")
        return None, None
    mode = (_opt_str(params, "parse_mode") or "").lower()
    if mode == "html":
        text, entities = _parse_html(raw)
    else:
        text = raw
        given = params.get(entities_name)
        entities = given if isinstance(given, list) and given else None
    if is_text and not text.strip():
        raise _ApiError(400, "Bad Request: message text is empty")
    if _utf16_len(text) > limit:
        what = "message" if is_text else "message caption"
        raise _ApiError(400, f"Bad Request: {what} is too long")
    return text, entities


def _markup(params: JsonDict) -> JsonDict | None:
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        if not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        return markup
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _ApiError(400, "Bad Request: can't parse inline keyboard markup JSON object")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _ApiError(
                    400, "Bad Request: can't parse inline keyboard button: Text is empty"
                )
            if not _BUTTON_ACTIONS & button.keys():
                raise _ApiError(
                    400,
                    "Bad Request: can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard",
                )
            data = button.get("callback_data")
            if data is not None and not (isinstance(data, str) and 1 <= len(data.encode()) <= 64):
                raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _inline_markup(params: JsonDict) -> JsonDict | None:
    markup = _markup(params)
    if markup is not None and "inline_keyboard" not in markup:
        raise _ApiError(400, "Bad Request: inline keyboard expected")
    return markup


def _invoice(params: JsonDict) -> JsonDict:
    title = _opt_str(params, "title") or ""
    description = _opt_str(params, "description") or ""
    payload = _opt_str(params, "payload") or ""
    currency = _opt_str(params, "currency") or ""
    prices = params.get("prices")
    if not 1 <= len(title) <= 32:
        raise _ApiError(400, "Bad Request: INVOICE_TITLE_INVALID")
    if not 1 <= len(description) <= 255:
        raise _ApiError(400, "Bad Request: INVOICE_DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode()) <= 128:
        raise _ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
    if len(currency) != 3:
        raise _ApiError(400, "Bad Request: CURRENCY_INVALID")
    if not isinstance(prices, list) or not prices:
        raise _ApiError(400, "Bad Request: can't parse prices JSON object")
    if currency == "XTR" and len(prices) != 1:
        raise _ApiError(400, "Bad Request: STARS_INVOICE_INVALID")
    total = 0
    for price in prices:
        if not isinstance(price, dict) or not isinstance(price.get("label"), str):
            raise _ApiError(400, "Bad Request: can't parse LabeledPrice JSON object")
        total += _req_int(price, "amount")
    return {
        "title": title,
        "description": description,
        "currency": currency,
        "total_amount": total,
    }


class _HtmlEntities(HTMLParser):
    """Turn Telegram-flavoured HTML into plain text plus entities, rejecting what Telegram does."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.parts: list[str] = []
        self.position = 0
        self.stack: list[tuple[str, JsonDict | None]] = []
        self.entities: list[JsonDict] = []
        self.line_starts = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self.line_starts.append(index + 1)

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        return len(self.source[: self.line_starts[line - 1] + column].encode())

    def _fail(self, reason: str) -> _ApiError:
        return _ApiError(400, f"Bad Request: can't parse entities: {reason}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _HTML_TAGS.get(tag)
        values = dict(attrs)
        if kind is None or (tag == "span" and values.get("class") != "tg-spoiler"):
            raise self._fail(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        if tag == "code" and self.stack and self.stack[-1][0] == "pre":
            outer = self.stack[-1][1]
            language = (values.get("class") or "").removeprefix("language-")
            if outer is not None and language:
                outer["language"] = language
            self.stack.append((tag, None))
            return
        entity: JsonDict = {"type": kind, "offset": self.position}
        if tag == "a":
            entity["url"] = values.get("href") or ""
        elif tag == "blockquote" and "expandable" in values:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = values.get("emoji-id") or ""
        self.stack.append((tag, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack:
            raise self._fail(f"Unexpected end tag at byte offset {self._byte_offset()}")
        open_tag, entity = self.stack.pop()
        if open_tag != tag:
            raise self._fail(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{open_tag}>", found "</{tag}>"'
            )
        if entity is not None and self.position > entity["offset"]:
            entity["length"] = self.position - entity["offset"]
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.position += _utf16_len(data)

    def finish(self) -> tuple[str, list[JsonDict] | None]:
        self.close()
        if self.stack:
            raise self._fail(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1][0]}"'
            )
        self.entities.sort(key=lambda entity: int(entity["offset"]))
        return "".join(self.parts), self.entities or None


def _parse_html(source: str) -> tuple[str, list[JsonDict] | None]:
    if "<" not in source and "&" not in source:
        return source, None
    parser = _HtmlEntities(source)
    parser.feed(source)
    return parser.finish()
