"""Domain errors are answered in one place: a message for a message, an alert for a press."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from telegram import Update
from telegram.ext import CommandHandler

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.core.errors import DomainError
from bot.db.models import Worker
from bot.nudges.buttons import ToggleDay
from bot.telegram.context import BotContext, services_of
from tests.fakes.inprocess import Person, RecordingTransport

MakePerson = Callable[[int, str], Person]
UNKNOWN = "We don't know each other yet — send /start to begin."
UNEXPECTED = "Sorry, something went wrong on our side."


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


@pytest.mark.parametrize("command", ["/days", "/history", "/mydata", "/topics"])
async def test_a_domain_error_from_a_command_gets_its_own_reply_and_logs_no_error(
    person: MakePerson, caplog: pytest.LogCaptureFixture, command: str
) -> None:
    stranger = person(7, "Kim")
    with caplog.at_level(logging.INFO):
        await stranger.send(command)
    assert stranger.inbox() == [UNKNOWN]
    assert stranger.alerts() == []
    assert errors_logged(caplog) == []


async def test_a_domain_error_from_a_button_is_an_alert_and_sends_no_message(
    person: MakePerson, transport: RecordingTransport, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = person(7, "Kim")
    with caplog.at_level(logging.INFO):
        await stranger.press_data(ToggleDay(2).encode())
    assert stranger.inbox() == []
    assert stranger.alerts() == [UNKNOWN]
    (answer,) = transport.calls_to("answerCallbackQuery")
    assert answer.params.get("show_alert") is True
    assert errors_logged(caplog) == []


async def test_a_domain_error_inside_a_transaction_rolls_it_back(
    application: BotApplication, person: MakePerson, clock: FixedClock
) -> None:
    async def write_then_refuse(update: Update, context: BotContext) -> None:
        async with context.services.sessions.begin() as session:
            session.add(Worker(id="half-done", last_seen=clock.now()))
            await session.flush()
            raise DomainError("errors.unknown_person")

    application.add_handler(CommandHandler("refuse", write_then_refuse), group=-1)
    kim = person(7, "Kim")
    await kim.send("/refuse")
    assert kim.inbox()[0] == UNKNOWN
    async with services_of(application).sessions() as session:
        assert await session.get(Worker, "half-done") is None


async def test_anything_else_is_still_logged_and_apologised_for(
    application: BotApplication, person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail(update: Update, context: BotContext) -> None:
        raise RuntimeError("the text someone typed")

    application.add_handler(CommandHandler("fail", fail), group=-1)
    kim = person(7, "Kim")
    with caplog.at_level(logging.INFO):
        await kim.send("/fail")
    assert kim.inbox()[0].startswith(UNEXPECTED)
    assert [m for m in errors_logged(caplog) if "failed with RuntimeError" in m]
