"""The fake Bot API answers like Telegram, as python-telegram-bot sees it."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    LabeledPrice,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from .botapi import FakeBotApi, FakeMessage

TOKEN = "123:ABC"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """Run a fake Bot API with default settings."""
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """Return an initialised python-telegram-bot Bot pointed at the fake."""
    async with Bot(TOKEN, base_url=api.base_url) as client:
        yield client


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    """Return a one-row inline keyboard of (label, callback_data) buttons."""
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d) for t, d in buttons]])


# PTB 22 warns from RetryAfter itself that retry_after will become a timedelta.
ignore_retry_after_deprecation = pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)


def retry_seconds(error: RetryAfter) -> float:
    """Return RetryAfter's delay in seconds whichever type this PTB version reports."""
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def raw(
    api: FakeBotApi, method: str, token: str = TOKEN, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    """POST (or GET with params=) to the fake without PTB; return status and JSON body."""
    http_method = "GET" if "params" in kwargs else "POST"
    async with (
        aiohttp.ClientSession() as session,
        session.request(http_method, f"{api.base_url}{token}/{method}", **kwargs) as response,
    ):
        body: dict[str, Any] = await response.json()
        return response.status, body


async def test_urls_point_at_loopback(api: FakeBotApi) -> None:
    assert api.api_root == f"http://127.0.0.1:{api.port}"
    assert api.base_url == f"{api.api_root}/bot"
    assert api.port > 0


async def test_get_me_is_parsed(bot: Bot, api: FakeBotApi) -> None:
    me = await bot.get_me()

    assert (me.id, me.is_bot, me.first_name) == (123, True, "Remainly")
    assert me.username == "remainly_test_bot"
    assert me.can_join_groups is True
    assert bot.username == "remainly_test_bot"
    assert api.calls_to("getme")[0].token == TOKEN


async def test_username_is_configurable() -> None:
    async with (
        FakeBotApi(token="987:xyz", username="other_bot") as api,
        Bot("987:xyz", base_url=api.base_url) as client,
    ):
        me = await client.get_me()
    assert (me.id, me.username) == (987, "other_bot")


async def test_send_message_with_inline_keyboard(bot: Bot, api: FakeBotApi) -> None:
    api.user(42, "Ann")

    sent = await bot.send_message(42, "Pick one", reply_markup=keyboard(("Yes", "y"), ("No", "n")))

    assert sent.text == "Pick one"
    assert sent.chat.id == 42
    assert sent.chat.type == ChatType.PRIVATE
    assert sent.chat.first_name == "Ann"
    assert sent.from_user is not None
    assert sent.from_user.id == 123
    assert sent.reply_markup is not None
    assert [b.callback_data for b in sent.reply_markup.inline_keyboard[0]] == ["y", "n"]
    call = api.calls_to("sendMessage")[0]
    assert call.params["chat_id"] == 42
    assert call.params["reply_markup"]["inline_keyboard"][0][1] == {
        "text": "No",
        "callback_data": "n",
    }
    stored = api.last_message(42)
    assert (stored.message_id, stored.text) == (sent.message_id, "Pick one")
    assert [b.text for b in stored.buttons] == ["Yes", "No"]


async def test_message_ids_increase_per_chat(bot: Bot) -> None:
    first = await bot.send_message(1, "a")
    second = await bot.send_message(1, "b")
    other = await bot.send_message(-100500, "c")

    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert other.chat.type == ChatType.SUPERGROUP


async def test_html_is_stored_as_text_and_entities(bot: Bot, api: FakeBotApi) -> None:
    sent = await bot.send_message(5, "<b>Hi</b> &amp; <i>bye</i>", parse_mode="HTML")

    assert sent.text == "Hi & bye"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 2),
        ("italic", 5, 3),
    ]
    with pytest.raises(BadRequest, match=r'(?i)Unsupported start tag "br"'):
        await bot.send_message(5, "line<br>break", parse_mode="HTML")
    assert api.stats.sent == 1


async def test_send_validation_errors(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(5, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(5, "x", reply_markup=keyboard(("long", "d" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
        await bot.send_message(5, "x", reply_parameters=ReplyParameters(message_id=99))


async def test_strict_chats_reject_unknown_chats() -> None:
    async with FakeBotApi(strict_chats=True) as api, Bot(TOKEN, base_url=api.base_url) as client:
        api.user(8, "Known")
        await client.send_message(8, "fine")
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await client.send_message(9, "nobody")


async def test_edit_message_text_updates_the_stored_message(bot: Bot, api: FakeBotApi) -> None:
    sent = await bot.send_message(7, "Draft", reply_markup=keyboard(("Go", "go")))

    edited = await bot.edit_message_text(
        "Final", chat_id=7, message_id=sent.message_id, reply_markup=keyboard(("Again", "again"))
    )

    assert not isinstance(edited, bool)
    assert edited.text == "Final"
    assert edited.edit_date is not None
    stored = api.messages_to(7)[0]
    assert (stored.text, stored.callback_data, stored.edits) == ("Final", ["again"], 1)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "Final",
            chat_id=7,
            message_id=sent.message_id,
            reply_markup=keyboard(("Again", "again")),
        )
    # Like Telegram, an edit without reply_markup drops the inline keyboard.
    await bot.edit_message_text("Plain", chat_id=7, message_id=sent.message_id)
    assert (stored.text, stored.buttons) == ("Plain", [])
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=7, message_id=404)


async def test_edit_message_reply_markup(bot: Bot, api: FakeBotApi) -> None:
    sent = await bot.send_message(7, "Menu", reply_markup=keyboard(("A", "a")))

    edited = await bot.edit_message_reply_markup(
        chat_id=7, message_id=sent.message_id, reply_markup=keyboard(("B", "b"))
    )

    assert not isinstance(edited, bool)
    assert edited.reply_markup == keyboard(("B", "b"))
    assert edited.text == "Menu"
    assert api.last_message(7).callback_data == ["b"]
    await bot.edit_message_reply_markup(chat_id=7, message_id=sent.message_id)
    assert api.last_message(7).buttons == []


async def test_delete_messages(bot: Bot, api: FakeBotApi) -> None:
    first = await bot.send_message(3, "one")
    second = await bot.send_message(3, "two")
    third = await bot.send_message(3, "three")

    assert await bot.delete_message(3, first.message_id) is True
    assert await bot.delete_messages(3, [second.message_id, third.message_id]) is True

    assert [m.deleted for m in api.messages_to(3)] == [True, True, True]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(3, first.message_id)


async def test_send_photo_upload_keeps_bytes(bot: Bot, api: FakeBotApi) -> None:
    sent = await bot.send_photo(9, photo=InputFile(PNG, filename="card.png"), caption="Your card")

    assert sent.caption == "Your card"
    assert len(sent.photo) == 3
    largest = sent.photo[-1]
    assert (largest.width, largest.height) == (1280, 720)
    assert largest.file_id and largest.file_unique_id
    upload = api.calls_to("sendPhoto")[0].files["photo"]
    assert (upload.data, upload.filename, upload.content_type) == (PNG, "card.png", "image/png")
    assert api.last_message(9).file == upload

    again = await bot.send_photo(9, photo=largest.file_id)
    assert again.photo[-1].file_unique_id == largest.file_unique_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(9, photo="no-such-file-id")


async def test_send_photo_with_plain_bytes(bot: Bot, api: FakeBotApi) -> None:
    sent = await bot.send_photo(9, photo=PNG)

    assert sent.photo[-1].file_size == len(PNG)
    assert api.calls_to("sendPhoto")[0].files["photo"].data == PNG


async def test_send_document(bot: Bot, api: FakeBotApi) -> None:
    sent = await bot.send_document(
        9,
        document=InputFile(b"hello,world\n", filename="export.csv"),
        caption="<b>Export</b>",
        parse_mode="HTML",
    )

    assert sent.document is not None
    assert sent.document.file_name == "export.csv"
    assert sent.document.mime_type == "text/csv"
    assert sent.document.file_size == 12
    assert sent.caption == "Export"
    assert api.last_message(9).file is not None
    assert api.messages_to(9)[0].method == "sendDocument"


async def test_commands_are_kept_per_scope_and_language(bot: Bot, api: FakeBotApi) -> None:
    await bot.set_my_commands([BotCommand("start", "Begin"), BotCommand("help", "Help")])
    await bot.set_my_commands(
        [BotCommand("start", "Beginnen")], scope=BotCommandScopeChat(5), language_code="de"
    )

    default = await bot.get_my_commands()
    german = await bot.get_my_commands(scope=BotCommandScopeChat(5), language_code="de")

    assert [(c.command, c.description) for c in default] == [("start", "Begin"), ("help", "Help")]
    assert [c.command for c in german] == ["start"]
    assert api.commands({"type": "chat", "chat_id": 5}, "de")[0]["description"] == "Beginnen"
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == ()


async def test_get_updates_parses_user_messages(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann", username="ann", language_code="de")

    await ann.start("invite-abc")
    await ann.send_text("hello")

    updates = await bot.get_updates()
    assert [u.update_id for u in updates] == [1, 2]
    command = updates[0].message
    assert command is not None
    assert command.text == "/start invite-abc"
    assert command.chat.type == ChatType.PRIVATE
    assert command.from_user is not None
    assert (command.from_user.username, command.from_user.language_code) == ("ann", "de")
    assert [(e.type, e.offset, e.length) for e in command.entities] == [("bot_command", 0, 6)]
    assert updates[1].message is not None
    assert updates[1].message.entities == ()
    # Unconfirmed updates come again; an offset confirms them.
    assert len(await bot.get_updates()) == 2
    assert await bot.get_updates(offset=3) == ()
    assert api.pending_updates == 0


async def test_command_entity_counts_utf16_units(api: FakeBotApi, bot: Bot) -> None:
    await api.user(1, "Ann").send_text("/größe😀 now")

    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.entities[0].length == 8
    assert update.message.parse_entity(update.message.entities[0]) == "/größe😀"


async def test_press_becomes_a_callback_query(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    sent = await bot.send_message(42, "Ready?", reply_markup=keyboard(("Yes", "yes")))
    message = api.last_message(42)

    query_id = await ann.press(message, "yes")

    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None
    assert (query.id, query.data, query.from_user.id) == (query_id, "yes", 42)
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.message.text == "Ready?"
    assert api.callback_answer(query_id) is None
    assert await bot.answer_callback_query(query_id, text="Noted", show_alert=True) is True
    answer = api.callback_answer(query_id)
    assert answer is not None
    assert (answer["text"], answer["show_alert"]) == ("Noted", True)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await bot.answer_callback_query(query_id)


async def test_press_button_finds_the_latest_matching_label(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    await bot.send_message(42, "Old", reply_markup=keyboard(("Join now", "join:1")))
    await bot.send_message(42, "New", reply_markup=keyboard(("Skip", "skip"), ("Join", "join:2")))

    await ann.press_button("Join")

    (update,) = await bot.get_updates()
    assert update.callback_query is not None
    assert update.callback_query.data == "join:2"
    with pytest.raises(LookupError, match="Missing"):
        await ann.press_button("Missing")


async def test_forged_press_is_rejected_unless_forced(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    await bot.send_message(42, "Menu", reply_markup=keyboard(("Mine", "pair:1")))
    message = api.last_message(42)

    with pytest.raises(ValueError, match="pair:2"):
        await ann.press(message, "pair:2")
    assert api.pending_updates == 0

    await ann.press(message, "pair:2", force=True)
    (update,) = await bot.get_updates()
    assert update.callback_query is not None
    assert update.callback_query.data == "pair:2"


async def test_press_after_edit_uses_the_current_keyboard(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    sent = await bot.send_message(42, "Menu", reply_markup=keyboard(("A", "a")))
    await bot.edit_message_text("Done", chat_id=42, message_id=sent.message_id)

    with pytest.raises(ValueError, match="not on"):
        await ann.press(api.last_message(42), "a")


async def test_long_poll_waits_until_an_update_arrives(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_until(lambda: api.waiting_pollers == 1)
    assert not poll.done()

    started = time.monotonic()
    await ann.send_text("wake up")
    updates = await asyncio.wait_for(poll, timeout=5)

    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["wake up"]


async def test_long_poll_returns_empty_after_timeout(bot: Bot, api: FakeBotApi) -> None:
    started = time.monotonic()
    updates = await bot.get_updates(timeout=timedelta(seconds=0.3))

    assert updates == ()
    assert 0.25 <= time.monotonic() - started < 3
    assert api.calls_to("getUpdates")[0].params["timeout"] == 0.3


async def test_newer_poll_ends_the_older_with_conflict(api: FakeBotApi, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_until(lambda: api.waiting_pollers == 1)

    async with Bot(TOKEN, base_url=api.base_url) as second_instance:
        second = await second_instance.get_updates(timeout=0)

    assert second == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
        await asyncio.wait_for(first, timeout=5)


async def test_stopping_answers_pending_long_polls() -> None:
    api = FakeBotApi()
    await api.start()
    try:
        async with Bot(TOKEN, base_url=api.base_url) as client:
            poll = asyncio.create_task(client.get_updates(timeout=30))
            await api.wait_until(lambda: api.waiting_pollers == 1)
            started = time.monotonic()
            await api.stop()
            assert await asyncio.wait_for(poll, timeout=5) == ()
            assert time.monotonic() - started < 2
    finally:
        await api.stop()


async def test_allowed_updates_filters_kinds(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    await bot.send_message(42, "Menu", reply_markup=keyboard(("A", "a")))
    await ann.send_text("text")
    await ann.press_button("A")

    updates = await bot.get_updates(allowed_updates=["callback_query"])

    assert [u.callback_query is not None for u in updates] == [True]


async def test_webhook_blocks_polling(bot: Bot, api: FakeBotApi) -> None:
    assert await bot.set_webhook("https://example.org/hook") is True
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"
    assert api.webhook is not None
    with pytest.raises(Conflict, match=r"(?i)webhook is active"):
        await bot.get_updates()
    with pytest.raises(BadRequest, match=r"(?i)HTTPS URL"):
        await bot.set_webhook("http://example.org/hook")

    assert await bot.delete_webhook(drop_pending_updates=True) is True
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates() == ()


async def test_blocked_user_is_forbidden(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    await bot.send_message(42, "before")

    await ann.block_bot()

    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(42, "after")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(42, ChatAction.TYPING)
    (update,) = await bot.get_updates()
    member = update.my_chat_member
    assert member is not None
    assert (member.old_chat_member.status, member.new_chat_member.status) == ("member", "kicked")
    assert member.new_chat_member.user.id == 123
    assert api.calls_to("sendMessage")[-1].status == 403

    await ann.unblock_bot()
    await bot.send_message(42, "welcome back")
    assert [m.text for m in ann.messages] == ["before", "welcome back"]


async def test_next_message_yields_each_message_once(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    waiting = asyncio.create_task(ann.next_message(timeout=5))
    await asyncio.sleep(0)
    assert not waiting.done()

    first = await bot.send_message(42, "one")
    await bot.send_message(43, "someone else")
    await bot.send_message(42, "two")
    await bot.edit_message_text("one, edited", chat_id=42, message_id=first.message_id)

    got_first = await waiting
    got_second = await ann.next_message()
    assert (got_first.text, got_second.text) == ("one, edited", "two")
    with pytest.raises(TimeoutError, match="no new message to chat 42"):
        await ann.next_message(timeout=0.05)


async def test_wait_for_wakes_on_a_matching_call(bot: Bot, api: FakeBotApi) -> None:
    waiting = asyncio.create_task(
        api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == 2, timeout=5)
    )
    await bot.send_message(1, "not this")
    await bot.send_message(2, "this")

    call = await waiting
    assert call.params["text"] == "this"
    assert call.result["chat"]["id"] == 2
    with pytest.raises(TimeoutError, match="latest calls"):
        await api.wait_for(lambda c: c.method == "close", timeout=0.05)
    # Earlier calls count unless `since` skips them.
    assert (await api.wait_for(lambda c: c.chat_id == 1)).params["text"] == "not this"


async def test_calls_are_immutable(bot: Bot, api: FakeBotApi) -> None:
    await bot.send_message(1, "x")
    call = api.calls[-1]

    with pytest.raises(dataclasses.FrozenInstanceError):
        call.method = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        call.params["text"] = "y"  # type: ignore[index]


async def test_group_messages_and_replies(bot: Bot, api: FakeBotApi) -> None:
    staff = api.group(-1001234, "Remainly staff")
    agent = api.user(77, "Agent", username="agent")
    alert = await bot.send_message(staff.id, "User 42 needs help")
    stored_alert = await staff.next_message()
    assert stored_alert.message_id == alert.message_id

    reply = await staff.send_text(agent, "/answer on it", reply_to_message=stored_alert)

    (update,) = await bot.get_updates()
    message = update.message
    assert message is not None
    assert (message.chat.id, message.chat.type, message.chat.title) == (
        -1001234,
        ChatType.SUPERGROUP,
        "Remainly staff",
    )
    assert message.message_id == reply.message_id == alert.message_id + 1
    assert message.from_user is not None
    assert message.from_user.id == 77
    assert message.reply_to_message is not None
    assert message.reply_to_message.message_id == alert.message_id
    assert message.reply_to_message.text == "User 42 needs help"
    assert message.entities[0].type == "bot_command"
    threaded = await bot.send_message(
        staff.id, "Thanks", reply_parameters=ReplyParameters(reply.message_id)
    )
    assert threaded.reply_to_message is not None
    assert threaded.reply_to_message.from_user is not None
    assert threaded.reply_to_message.from_user.id == 77


async def test_payments_flow(bot: Bot, api: FakeBotApi) -> None:
    ann = api.user(42, "Ann")
    link = await bot.create_invoice_link(
        "Remainly Plus",
        "A month of Plus",
        "plus:42",
        "XTR",
        [LabeledPrice("Plus", 250)],
        subscription_period=timedelta(days=30),
    )
    assert link.startswith("https://t.me/$")
    assert api.invoice_links[link]["payload"] == "plus:42"

    query_id = await ann.pre_checkout("plus:42", "XTR", 250)
    (update,) = await bot.get_updates()
    query = update.pre_checkout_query
    assert query is not None
    assert (query.id, query.invoice_payload, query.total_amount) == (query_id, "plus:42", 250)
    assert await bot.answer_pre_checkout_query(query_id, ok=True) is True
    answer = api.pre_checkout_answer(query_id)
    assert answer is not None
    assert answer["ok"] is True

    charge_id = await ann.successful_payment(
        "plus:42", "XTR", 250, subscription_expiration_date=1_900_000_000, is_first_recurring=True
    )
    (paid,) = await bot.get_updates(offset=update.update_id + 1)
    assert paid.message is not None
    payment = paid.message.successful_payment
    assert payment is not None
    assert (payment.currency, payment.total_amount, payment.invoice_payload) == (
        "XTR",
        250,
        "plus:42",
    )
    assert payment.telegram_payment_charge_id == charge_id
    assert payment.is_first_recurring is True
    assert payment.subscription_expiration_date is not None

    assert api.subscription_canceled(charge_id) is None
    assert await bot.edit_user_star_subscription(42, charge_id, is_canceled=True) is True
    assert api.subscription_canceled(charge_id) is True
    assert await bot.refund_star_payment(42, charge_id) is True
    assert api.is_refunded(charge_id)
    with pytest.raises(BadRequest, match=r"(?i)CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(42, charge_id)
    with pytest.raises(BadRequest, match=r"(?i)CHARGE_ID_INVALID"):
        await bot.refund_star_payment(42, "made-up")


async def test_chat_action_get_chat_close_and_log_out(bot: Bot, api: FakeBotApi) -> None:
    api.user(42, "Ann", username="ann")

    assert await bot.send_chat_action(42, ChatAction.TYPING) is True
    chat = await bot.get_chat(42)
    assert (chat.id, chat.type, chat.username) == (42, ChatType.PRIVATE, "ann")
    group = await bot.get_chat((await bot.send_message(-100777, "hi")).chat.id)
    assert group.type == ChatType.SUPERGROUP
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(31337)
    assert await bot.close() is True
    assert await bot.log_out() is True


@ignore_retry_after_deprecation
async def test_per_chat_rate_limit_answers_429() -> None:
    clock = ManualClock()
    async with (
        FakeBotApi(per_chat_rate=1.0, burst=3, clock=clock) as api,
        Bot(TOKEN, base_url=api.base_url) as client,
    ):
        for n in range(3):
            await client.send_message(1, f"burst {n}")
        with pytest.raises(RetryAfter) as caught:
            await client.send_message(1, "one too many")
        assert retry_seconds(caught.value) == 1
        await client.send_message(2, "another chat has its own budget")
        clock.now += 1.0
        await client.send_message(1, "after waiting")

        stats = api.stats
        assert (stats.sent, stats.rejected_429) == (5, 1)
        assert stats.sent_per_chat == {1: 4, 2: 1}
        assert stats.rejected_per_chat == {1: 1}
        assert (stats.first_sent_at, stats.last_sent_at) == (1000.0, 1001.0)
        assert stats.peak_chat_sends_per_second == 3
        rejected = api.calls_to("sendMessage")[3]
        assert (rejected.status, rejected.description) == (429, "Too Many Requests: retry after 1")
        assert [m.text for m in api.messages_to(1)][-1] == "after waiting"


async def test_global_rate_limit_and_exact_429_body() -> None:
    clock = ManualClock()
    async with FakeBotApi(global_rate=2.0, clock=clock) as api:
        assert (await raw(api, "sendMessage", json={"chat_id": 1, "text": "a"}))[0] == 200
        assert (await raw(api, "sendMessage", json={"chat_id": 2, "text": "b"}))[0] == 200

        status, body = await raw(api, "sendMessage", json={"chat_id": 3, "text": "c"})

        assert status == 429
        assert body == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        # Non-send methods are not rate limited.
        assert (await raw(api, "getMe"))[0] == 200
        clock.now += 0.5
        assert (await raw(api, "sendMessage", json={"chat_id": 3, "text": "c"}))[0] == 200
        assert api.stats.peak_sends_per_second == 3


@ignore_retry_after_deprecation
async def test_group_rate_limit_applies_to_groups_only() -> None:
    clock = ManualClock()
    async with (
        FakeBotApi(group_rate=20 / 60, burst=2, clock=clock) as api,
        Bot(TOKEN, base_url=api.base_url) as client,
    ):
        for _ in range(2):
            await client.send_message(-100, "group")
        with pytest.raises(RetryAfter) as caught:
            await client.send_message(-100, "group")
        assert retry_seconds(caught.value) == 3
        for _ in range(5):
            await client.send_message(100, "private chats are not group limited")


@ignore_retry_after_deprecation
async def test_fail_next_injects_errors(bot: Bot, api: FakeBotApi) -> None:
    api.fail_next("sendMessage", 502, "Bad Gateway")
    api.fail_next("sendmessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    api.fail_next("sendChatAction", 403, "Forbidden: bot was kicked", times=2)

    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(1, "x")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1, "x")
    assert retry_seconds(caught.value) == 7
    for _ in range(2):
        with pytest.raises(Forbidden, match=r"(?i)kicked"):
            await bot.send_chat_action(1, ChatAction.TYPING)

    assert (await bot.send_message(1, "x")).text == "x"
    assert await bot.send_chat_action(1, ChatAction.TYPING) is True
    assert api.stats.sent == 1
    assert api.stats.rejected_429 == 0


async def test_resets_and_stalls_drop_the_call_without_doing_it(bot: Bot, api: FakeBotApi) -> None:
    api.reset_next("sendMessage")
    api.stall_next("sendMessage", 0.2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(1, "x")
    assert api.messages_to(1) == []
    assert (await bot.send_message(1, "y")).text == "y"
    assert [m.text for m in api.messages_to(1)] == ["y"]
    assert dict(api.stats.faults) == {"reset": 1, "stall": 1}


@ignore_retry_after_deprecation
async def test_chaos_makes_seeded_faults_within_its_budget(bot: Bot, api: FakeBotApi) -> None:
    api.chaos(["getMe"], rate=1.0, seed=1, stall_seconds=0.05, budget=4)
    outcomes = []
    for _ in range(12):
        try:
            await bot.get_me()
            outcomes.append("ok")
        except (NetworkError, RetryAfter):
            outcomes.append("fault")
    api.calm()
    assert 1 <= sum(api.stats.faults.values()) <= 8  # a 5xx storm may fail twice in a row
    assert outcomes[-1] == "ok" and "fault" in outcomes


async def test_copy_message_copies_the_words_into_another_chat(bot: Bot, api: FakeBotApi) -> None:
    original = await bot.send_message(-100, "Thursday suits")
    copied = await bot.copy_message(7, -100, original.message_id)
    [message] = api.messages_to(7)
    assert message.message_id == copied.message_id and message.text == "Thursday suits"
    with pytest.raises(BadRequest, match=r"(?i)message to copy not found"):
        await bot.copy_message(7, -100, 999)


async def test_delay_next_holds_the_answer(bot: Bot, api: FakeBotApi) -> None:
    api.delay_next("getMe", 0.2)

    started = time.monotonic()
    await bot.get_me()
    delayed = time.monotonic() - started
    started = time.monotonic()
    await bot.get_me()

    assert delayed >= 0.2
    assert time.monotonic() - started < 0.2


async def test_record_calls_off_keeps_only_counters() -> None:
    async with (
        FakeBotApi(record_calls=False) as api,
        Bot(TOKEN, base_url=api.base_url) as client,
    ):
        for n in range(150):
            await client.send_message(1, f"m{n}")
        first = await client.send_message(1, "editable")
        await client.edit_message_text("edited", chat_id=1, message_id=first.message_id)
        # Evicted messages still accept edits, so long benchmarks do not fail on memory bounds.
        await client.edit_message_text("old edited", chat_id=1, message_id=1)

        assert api.calls == []
        assert api.stats.sent == 151
        assert api.stats.by_method["sendMessage"] == 151
        assert api.stats.by_method["editMessageText"] == 2
        assert len(api.messages_to(1)) == 100
        assert api.last_message(1).text == "edited"
        with pytest.raises(RuntimeError, match="record_calls"):
            await api.wait_for(lambda c: True, timeout=0.01)
        await api.wait_until(lambda: api.stats.sent >= 151, timeout=1)


async def test_wrong_token_and_unknown_method() -> None:
    async with FakeBotApi() as api:
        assert await raw(api, "getMe", token="123:WRONG") == (
            401,
            {"ok": False, "error_code": 401, "description": "Unauthorized"},
        )
        assert await raw(api, "frobnicate") == (
            404,
            {"ok": False, "error_code": 404, "description": "Not Found: method not found"},
        )


async def test_wrong_token_fails_ptb_initialisation(api: FakeBotApi) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("999:OTHER", base_url=api.base_url):
            pass
    assert api.calls[-1].token == "999:OTHER"
    assert api.calls[-1].status == 401


async def test_parameters_in_query_json_and_form(api: FakeBotApi) -> None:
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'

    by_get = await raw(api, "SENDMESSAGE", params={"chat_id": "5", "text": "123"})
    by_json = await raw(
        api, "sendMessage", json={"chat_id": 5, "text": "j", "reply_markup": markup}
    )
    by_form = await raw(
        api, "sendmessage", data={"chat_id": "-5", "text": "true", "reply_markup": markup}
    )

    assert [r[0] for r in (by_get, by_json, by_form)] == [200, 200, 200]
    get_call, json_call, form_call = api.calls
    assert get_call.method == "sendMessage"
    assert (get_call.params["chat_id"], get_call.params["text"]) == (5, "123")
    assert json_call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
    assert (form_call.params["chat_id"], form_call.params["text"]) == (-5, "true")
    assert by_form[1]["result"]["reply_markup"] == json_call.params["reply_markup"]
    assert by_get[1] == {"ok": True, "result": by_get[1]["result"]}
    assert set(by_get[1]["result"]) == {"message_id", "from", "chat", "date", "text"}


async def test_multipart_keeps_file_details(api: FakeBotApi) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", "5")
    form.add_field("reply_markup", '{"inline_keyboard": [[{"text": "A", "url": "https://x.y"}]]}')
    form.add_field("document", b"%PDF-1.7", filename="a.pdf", content_type="application/pdf")

    status, body = await raw(api, "sendDocument", data=form)

    assert status == 200
    assert body["result"]["document"]["file_name"] == "a.pdf"
    upload = api.calls[0].files["document"]
    assert (upload.field, upload.data, upload.content_type) == (
        "document",
        b"%PDF-1.7",
        "application/pdf",
    )
    assert api.calls[0].params["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://x.y"


async def test_ptb_application_round_trip(api: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            f"Hello {' '.join(context.args or [])}", reply_markup=keyboard(("Tap me", "tap"))
        )

    async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("done")
        await query.edit_message_text("Tapped")

    application = Application.builder().token(TOKEN).base_url(api.base_url).build()
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(tapped))
    ann = api.user(42, "Ann")

    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=5)
        try:
            await ann.start("friend")
            greeting: FakeMessage = await ann.next_message()
            assert greeting.text == "Hello friend"

            query_id = await ann.press_button("Tap")
            await api.wait_for(lambda c: c.method == "editMessageText" and c.ok)
        finally:
            await application.updater.stop()
            await application.stop()

    assert (greeting.text, greeting.buttons) == ("Tapped", [])
    answer = api.callback_answer(query_id)
    assert answer is not None
    assert answer["text"] == "done"
    assert api.calls_to("deleteWebhook")


async def test_the_stars_ledger_lists_charges_and_refunds_page_by_page(
    bot: Bot, api: FakeBotApi
) -> None:
    ann = api.user(42, "Ann")
    first = await ann.successful_payment("plus:42", "XTR", 250, is_first_recurring=True)
    lost = ann.missed_payment("plus:42", 250, renewal=True)
    assert await bot.refund_star_payment(42, lost) is True
    page = await bot.get_star_transactions(offset=0, limit=2)
    assert [t.id for t in page.transactions] == [first, lost]
    assert page.transactions[0].source is not None
    assert page.transactions[0].source.invoice_payload == "plus:42"  # type: ignore[attr-defined]
    (refund,) = (await bot.get_star_transactions(offset=2, limit=2)).transactions
    assert refund.id == lost and refund.source is None and refund.receiver is not None
    assert (await bot.get_star_transactions(offset=3)).transactions == ()
    with pytest.raises(BadRequest, match=r"(?i)LIMIT_INVALID"):
        await bot.get_star_transactions(limit=101)
    # A renewal belongs to the subscription its first charge names; only that name stops it.
    with pytest.raises(BadRequest, match=r"(?i)SUBSCRIPTION_ID_INVALID"):
        await bot.edit_user_star_subscription(42, lost, is_canceled=True)
    assert await bot.edit_user_star_subscription(42, first, is_canceled=True) is True
    assert api.subscription_canceled(first) is True
