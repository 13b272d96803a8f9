"""The aiohttp transport behaves like python-telegram-bot's own, answers and failures alike."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.app import build_application
from bot.outbox.messages import Outcome, Outgoing
from bot.outbox.pacing import Pacer
from bot.settings import SettingsError, load_settings
from bot.telegram.sender import TelegramSender
from bot.telegram.transport import AiohttpRequest, NotSent, api_request
from tests.fakes.botapi import FakeBotApi

TOKEN = "123:ABC"

# PTB 22 warns from RetryAfter itself that retry_after will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, request=AiohttpRequest(read_timeout=1)) as client:
        yield client


async def test_messages_buttons_and_uploads_arrive_as_sent(bot: Bot, api: FakeBotApi) -> None:
    assert (await bot.get_me()).username == api.username
    sent = await bot.send_message(7, "<b>Hi</b> &amp; welcome", parse_mode="HTML")
    assert sent.text == "Hi & welcome" and api.last_message(7).text == "Hi & welcome"
    document = await bot.send_document(7, InputFile(b"a,b\n", filename="export.csv"))
    assert document.document is not None and document.document.file_size == 4
    assert api.calls_to("sendDocument")[0].files["document"].data == b"a,b\n"


async def test_telegram_errors_map_to_ptb_errors(bot: Bot, api: FakeBotApi) -> None:
    await api.user(8, "Ann").block_bot()
    with pytest.raises(Forbidden):
        await bot.send_message(8, "x")
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter):
        await bot.send_message(7, "x")
    with pytest.raises(BadRequest):
        await bot.send_message(7, "")


async def test_a_slow_answer_times_out_and_a_dead_server_is_a_network_error(
    bot: Bot, api: FakeBotApi
) -> None:
    api.delay_next("sendMessage", 3.0)
    with pytest.raises(TimedOut):
        await bot.send_message(7, "x")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    dead = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())
    with pytest.raises(NetworkError):
        async with dead:  # initialising calls getMe
            pass


async def test_a_slow_send_reaches_the_person_once_and_is_left_in_doubt(api: FakeBotApi) -> None:
    # Telegram took longer than the read time-out: the message arrived all the same.
    api.delay_next("sendMessage", 1.5)
    async with Bot(
        TOKEN, base_url=api.base_url, request=AiohttpRequest(read_timeout=0.5)
    ) as client:
        sender = TelegramSender(client, Pacer(per_second=0, per_chat_interval=0), backoff=0)
        result = await sender.send(Outgoing(7, "What made you smile today?"))
        assert result.outcome is Outcome.IN_DOUBT
        await asyncio.sleep(1.5)  # the fake finishes the slow request meanwhile
    assert [m.text for m in api.messages_to(7)] == ["What made you smile today?"]


async def test_no_free_connection_in_time_is_a_time_out_before_sending(api: FakeBotApi) -> None:
    api.delay_next("sendMessage", 1.0)
    request = AiohttpRequest(connection_pool_size=1, connect_timeout=0.1, pool_timeout=0.1)
    async with Bot(TOKEN, base_url=api.base_url, request=request) as client:
        slow = asyncio.create_task(client.send_message(7, "first"))
        await asyncio.sleep(0.2)  # the one connection is busy with it
        with pytest.raises(NotSent):
            await client.send_message(7, "second")
        await slow
    assert [m.text for m in api.messages_to(7)] == ["first"]


def test_the_read_time_out_is_a_setting(tmp_path: Path) -> None:
    settings = load_settings(
        _env_file=None,
        telegram_bot_token="42:secret-value",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
        telegram_read_timeout_seconds=45,
    )
    request = api_request(settings)
    assert isinstance(request, AiohttpRequest) and request.read_timeout == 45


def test_the_setting_chooses_the_transport(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:secret-value")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.delenv("TELEGRAM_HTTP_TRANSPORT", raising=False)
    application = build_application(load_settings(_env_file=None))
    assert isinstance(application.bot.request, AiohttpRequest)
    monkeypatch.setenv("TELEGRAM_HTTP_TRANSPORT", "httpx")
    assert isinstance(build_application(load_settings(_env_file=None)).bot.request, HTTPXRequest)
    monkeypatch.setenv("TELEGRAM_HTTP_TRANSPORT", "curl")
    with pytest.raises(SettingsError, match="TELEGRAM_HTTP_TRANSPORT"):
        load_settings(_env_file=None)
