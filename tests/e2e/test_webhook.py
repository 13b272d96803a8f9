"""`python -m bot web` as a real process: Telegram's webhook, its secret, health and readiness."""

from __future__ import annotations

import json
import socket

import aiohttp
import pytest

from tests.support.process import RunningBot
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789"
PUBLIC_URL = "https://bot.remainly.example/telegram"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PORT = free_port()


@pytest.fixture
def bot_args() -> tuple[str, ...]:
    return ("web",)


@pytest.fixture
def bot_env() -> dict[str, str]:
    return {
        "WEBHOOK_URL": PUBLIC_URL,
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_HOST": "127.0.0.1",
        "WEBHOOK_PORT": str(PORT),
        "WEBHOOK_PATH": "/telegram",
        "WEBHOOK_MAX_BODY_BYTES": "4096",
    }


async def post(
    http: aiohttp.ClientSession, body: bytes, secret: str | None = SECRET
) -> aiohttp.ClientResponse:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    async with http.post(f"http://127.0.0.1:{PORT}/telegram", data=body, headers=headers) as r:
        await r.read()
        return r


async def test_the_webhook_takes_only_telegrams_requests_and_stores_each_update_once(
    running_bot: RunningBot,
) -> None:
    api = running_bot.api
    [registered] = api.calls_to("setWebhook")
    assert registered.params["url"] == PUBLIC_URL
    assert registered.params["secret_token"] == SECRET

    alex = api.user(601, "Alex")
    await alex.start()
    [update] = api.take_updates()
    body = json.dumps(update).encode()
    async with aiohttp.ClientSession() as http:
        assert (await post(http, body, secret=None)).status == 403
        assert (await post(http, body, secret="e2e-webhook-secret-0123456780")).status == 403
        assert (await post(http, body, secret=SECRET[:-1])).status == 403
        padded = json.dumps({**update, "padding": "x" * 5000}).encode()
        assert (await post(http, padded)).status == 413
        assert (await post(http, b"[1, 2]")).status == 400
        # Nothing got in without the secret: the bot said nothing.
        assert alex.messages == []
        assert (await post(http, body)).status == 200
        await wait_for_text(alex, "What should we call you?")
        # Telegram delivering it again (our answer lost on the way) changes nothing.
        assert (await post(http, body)).status == 200
        await alex.send_text("/help")
        [help_update] = api.take_updates()
        assert (await post(http, json.dumps(help_update).encode())).status == 200
        await wait_for_text(alex, "/settings")
        welcomes = [m for m in alex.messages if "What should we call you?" in (m.text or "")]
        assert len(welcomes) == 1

        async with http.get(f"http://127.0.0.1:{PORT}/healthz") as alive:
            assert alive.status == 200
        async with http.get(f"http://127.0.0.1:{PORT}/readyz") as ready:
            assert ready.status == 200
            assert "ready" in await ready.text()
    assert api.calls_to("getUpdates") == []  # behind a webhook, nobody polls
