"""An offline Bot API transport that records calls, and people who talk to the bot through it."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.app import BotApplication
from bot.telegram.context import services_of
from tests.fakes.stars import LedgerError, StarsLedger

BOT_ID = 424242
BOT_USERNAME = "remainly_test_bot"
_JSON_PARAMETERS = ("reply_markup", "reply_parameters")


@dataclass(frozen=True)
class Call:
    """One Bot API method call the bot made."""

    method: str
    params: dict[str, Any]


@dataclass
class RecordingTransport(BaseRequest):
    """A `BaseRequest` that answers like the Bot API without any network, and records calls."""

    failures: dict[str, tuple[int, str]] = field(default_factory=dict)
    # Faults answered once each, in order, before a method succeeds again:
    # (status, description, retry_after or None).
    faults: dict[str, list[tuple[int, str, int | None]]] = field(default_factory=dict)
    # Chats whose person blocked the bot: every call naming them is refused with a 403.
    blocked_chats: set[int] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    faulted: list[Call] = field(default_factory=list)
    # Telegram's side of payments: what was charged, refunded and cancelled.
    stars: StarsLedger = field(default_factory=StarsLedger)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        for parameter in _JSON_PARAMETERS:
            # The Bot API reads these as JSON whether they come as objects or encoded already.
            encoded = params.get(parameter)
            if isinstance(encoded, str):
                params[parameter] = json.loads(encoded)
        if request_data is not None and request_data.contains_files:
            # Uploaded files as {field: (file name, bytes)}, so tests can read what was sent.
            params["_files"] = {
                field: (part[0], part[1])
                for field, part in (request_data.multipart_data or {}).items()
                if isinstance(part, tuple)
            }
        if self.faults.get(name):
            # A refused call delivered nothing: it is kept apart from what people received.
            self.faulted.append(Call(name, params))
            status, description, retry_after = self.faults[name].pop(0)
            fault: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
            if retry_after is not None:
                fault["parameters"] = {"retry_after": retry_after}
            return status, json.dumps(fault).encode()
        if str(params.get("chat_id")) in {str(chat) for chat in self.blocked_chats}:
            self.faulted.append(Call(name, params))
            body = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
            return 403, json.dumps(body).encode()
        self.calls.append(Call(name, params))
        if name in self.failures:
            status, description = self.failures[name]
            body = {"ok": False, "error_code": status, "description": description}
            return status, json.dumps(body).encode()
        try:
            result = self._result(name, params)
        except LedgerError as refused:
            body = {"ok": False, "error_code": 400, "description": refused.description}
            return 400, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Remainly",
                "username": BOT_USERNAME,
            }
        if name in ("sendMessage", "sendDocument", "editMessageText", "editMessageReplyMarkup"):
            chat_id = int(params.get("chat_id", 0))
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id") or next(self._ids)),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Remainly"},
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        if name == "copyMessage":
            return {"message_id": next(self._ids)}
        if name == "getUpdates":
            return []
        if name == "createInvoiceLink":
            return f"https://t.me/$invoice{next(self._ids)}"
        if name == "refundStarPayment":
            charge = params.get("telegram_payment_charge_id")
            self.stars.refund(params.get("user_id"), charge, date=int(time.time()))
        if name == "editUserStarSubscription":
            charge = params.get("telegram_payment_charge_id")
            self.stars.edit_subscription(params.get("user_id"), charge, params.get("is_canceled"))
        if name == "getStarTransactions":
            return self.stars.transactions(params.get("offset"), params.get("limit"))
        return True

    def sent_to(self, chat_id: int) -> list[Call]:
        """Return the messages sent to a chat, oldest first."""
        return [
            call
            for call in self.calls
            if call.method == "sendMessage" and int(call.params["chat_id"]) == chat_id
        ]

    def calls_to(self, method: str) -> list[Call]:
        """Return the calls of one method."""
        return [call for call in self.calls if call.method == method]


def _buttons(call: Call) -> list[dict[str, Any]]:
    markup = call.params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [button for row in markup.get("inline_keyboard", []) for button in row]


@dataclass
class Person:
    """Someone chatting with the bot in private, driven by a test."""

    application: BotApplication
    transport: RecordingTransport
    id: int
    first_name: str
    language_code: str = "en"
    _updates: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _seen: int = 0

    def _user(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }

    async def _process(self, payload: dict[str, Any]) -> None:
        update_id = self.id * 10_000 + next(self._updates)
        update = Update.de_json({"update_id": update_id, **payload}, self.application.bot)
        await self.application.process_update(update)

    async def send(self, text: str, *, reply_to: int | None = None) -> None:
        """Send a text message (commands get their entity, as Telegram does); `reply_to` makes
        it a reply (a swipe) to the bot's message with that id."""
        chat = {"id": self.id, "type": "private", "first_name": self.first_name}
        message: dict[str, Any] = {
            "message_id": next(self._updates),
            "date": int(time.time()),
            "chat": chat,
            "from": self._user(),
            "text": text,
        }
        if reply_to is not None:
            message["reply_to_message"] = {
                "message_id": reply_to,
                "date": int(time.time()),
                "chat": chat,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Remainly"},
                "text": "",
            }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        await self._process({"message": message})

    async def edit(self, text: str, message_id: int = 1) -> None:
        """Edit one of this person's earlier messages to read `text`."""
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()) - 60,
            "edit_date": int(time.time()),
            "chat": {"id": self.id, "type": "private", "first_name": self.first_name},
            "from": self._user(),
            "text": text,
        }
        await self._process({"edited_message": message})

    async def pre_checkout(self, payload: str, currency: str, amount: int) -> str:
        """Press Pay in Telegram's payment sheet; return the pre-checkout query id."""
        query_id = f"pcq-{self.id}-{next(self._updates)}"
        query = {
            "id": query_id,
            "from": self._user(),
            "currency": currency,
            "total_amount": amount,
            "invoice_payload": payload,
        }
        await self._process({"pre_checkout_query": query})
        return query_id

    async def paid(
        self,
        payload: str,
        currency: str,
        amount: int,
        charge_id: str,
        *,
        expires: int | None = None,
        recurring: bool = False,
    ) -> None:
        """Deliver Telegram's successful-payment message for a charge (a renewal if recurring)."""
        self.charge(payload, amount, charge_id, recurring=recurring)
        payment: dict[str, Any] = {
            "currency": currency,
            "total_amount": amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
            "is_recurring": True,
            "is_first_recurring": not recurring,
        }
        if expires is not None:
            payment["subscription_expiration_date"] = expires
        message = {
            "message_id": next(self._updates),
            "date": int(time.time()),
            "chat": {"id": self.id, "type": "private", "first_name": self.first_name},
            "from": self._user(),
            "successful_payment": payment,
        }
        await self._process({"message": message})

    def charge(self, payload: str, amount: int, charge_id: str, *, recurring: bool = False) -> None:
        """Take a subscription payment on Telegram's side, without telling the bot."""
        now = services_of(self.application).clock.now()
        self.transport.stars.pay(
            self.id,
            payload,
            amount,
            date=int(now.timestamp()),
            charge_id=charge_id,
            subscription=True,
            renewal=recurring,
        )

    def pre_checkout_answer(self, query_id: str) -> dict[str, Any]:
        """Return how the bot answered a pre-checkout query."""
        for call in self.transport.calls_to("answerPreCheckoutQuery"):
            if call.params["pre_checkout_query_id"] == query_id:
                return call.params
        raise AssertionError(f"the bot never answered pre-checkout query {query_id}")

    async def change_membership(self, old: str, new: str) -> None:
        """Block ("kicked") or unblock ("member") the bot, as Telegram reports it."""

        def member(status: str) -> dict[str, Any]:
            bot = {"id": BOT_ID, "is_bot": True, "first_name": "Remainly"}
            return {
                "status": status,
                "user": bot,
                **({"until_date": 0} if status == "kicked" else {}),
            }

        chat = {"id": self.id, "type": "private", "first_name": self.first_name}
        change = {
            "chat": chat,
            "from": self._user(),
            "date": int(time.time()),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }
        await self._process({"my_chat_member": change})

    async def press_data(self, data: str, *, on: Call | None = None) -> None:
        """Press a button with exactly this callback data (which may be forged)."""
        sent = self.transport.sent_to(self.id)
        origin = on or (sent[-1] if sent else None)
        message = {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": self.id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Remainly"},
            "text": origin.params.get("text", "") if origin else "",
        }
        if origin is not None and origin.params.get("reply_markup"):
            message["reply_markup"] = origin.params["reply_markup"]
        query = {
            "id": f"{self.id}-{next(self._updates)}",
            "from": self._user(),
            "chat_instance": str(self.id),
            "data": data,
            "message": message,
        }
        await self._process({"callback_query": query})

    async def press(self, label: str) -> None:
        """Press the button whose label contains `label` on the newest message that has one."""
        for call in reversed(self.transport.sent_to(self.id)):
            for button in _buttons(call):
                if label in button["text"] and "callback_data" in button:
                    await self.press_data(button["callback_data"], on=call)
                    return
        raise AssertionError(f"no button labelled {label!r} was sent to {self.first_name}")

    def button_url(self, label: str) -> str:
        """Return the URL of the newest URL button whose label contains `label`."""
        for call in reversed(self.transport.sent_to(self.id)):
            for button in _buttons(call):
                if label in button["text"] and "url" in button:
                    return str(button["url"])
        raise AssertionError(f"no URL button labelled {label!r} was sent to {self.first_name}")

    def inbox(self) -> list[str]:
        """Return the texts of every message this person received, oldest first."""
        return [str(call.params["text"]) for call in self.transport.sent_to(self.id)]

    def new_messages(self) -> list[str]:
        """Return the texts received since the previous call."""
        texts = self.inbox()
        fresh, self._seen = texts[self._seen :], len(texts)
        return fresh

    def last(self) -> str:
        """Return the newest message this person received."""
        texts = self.inbox()
        assert texts, f"{self.first_name} has received nothing"
        return texts[-1]

    def alerts(self) -> list[str]:
        """Return the texts of the button answers shown to this person."""
        return [
            str(call.params.get("text"))
            for call in self.transport.calls_to("answerCallbackQuery")
            if str(call.params["callback_query_id"]).startswith(f"{self.id}-")
            and call.params.get("text")
        ]
