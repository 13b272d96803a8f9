"""Answers to button presses retry on network trouble and never fail the handler."""

from __future__ import annotations

import pytest

from bot.telegram import answers
from bot.telegram.answers import PatientBot
from tests.fakes.botapi import FakeBotApi

TOKEN = "123:ABC"


async def test_an_answer_that_keeps_failing_is_given_up_quietly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(answers, "ANSWER_BACKOFF", 0.0)
    async with FakeBotApi(token=TOKEN) as api, PatientBot(TOKEN, base_url=api.base_url) as bot:
        api.fail_next("answerCallbackQuery", 502, "Bad Gateway", times=10)
        assert await bot.answer_callback_query("1") is False
        assert api.stats.faulted_methods["answercallbackquery"] == answers.ANSWER_TRIES
    assert "gave up answering a button press: NetworkError" in caplog.text


async def test_an_answer_gets_through_after_a_reset_and_a_storm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(answers, "ANSWER_BACKOFF", 0.0)
    async with FakeBotApi(token=TOKEN) as api, PatientBot(TOKEN, base_url=api.base_url) as bot:
        alex = api.user(5, "Alex")
        sent = await bot.send_message(5, "pick", reply_markup=None)
        query_id = await alex.press(sent.message_id, "x", force=True)
        api.reset_next("answerCallbackQuery")
        api.fail_next("answerCallbackQuery", 503, "Service Unavailable", times=2)
        assert await bot.answer_callback_query(query_id, "ok") is True
        assert api.callback_answer(query_id) is not None
