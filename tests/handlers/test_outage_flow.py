"""A PostgreSQL outage: one line when it starts, one when it ends, and calm words meanwhile."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.app import BotApplication
from bot.settings import Settings
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers import billing, checkins, counsellor, nudges
from tests.support.app import MakePerson, handler_settings, onboarded_couple
from tests.support.databases import PG_HOST, PG_PORT
from tests.support.proxy import CuttableProxy

pytestmark = pytest.mark.postgres

TRY_AGAIN = "try again in a minute"
Job = Callable[[BotContext], Awaitable[None]]
# Every repeating job that reads or writes the database, as the JobQueue runs them.
JOBS: tuple[Job, ...] = (nudges.tick, nudges.beat, checkins.tick, billing.tick, counsellor.announce)


@pytest.fixture
async def proxy() -> AsyncIterator[CuttableProxy]:
    """Stand between the bot and PostgreSQL, ready to cut."""
    async with CuttableProxy(PG_HOST, PG_PORT) as running:
        yield running


@pytest.fixture
def settings(postgres_url: str, proxy: CuttableProxy) -> Settings:
    """Settings for a database reached through the proxy."""
    proxied = postgres_url.replace(f"@{PG_HOST}:{PG_PORT}/", f"@127.0.0.1:{proxy.listen_port}/")
    assert proxied != postgres_url
    return handler_settings(proxied, counsellor_chat_id=-100777)


async def run_jobs(application: BotApplication, rounds: int) -> int:
    """Run every repeating job `rounds` times as the JobQueue would; return how many failed."""
    failed = 0
    for _ in range(rounds):
        for job in JOBS:
            try:
                await job(BotContext(application))
            except Exception as error:
                # The JobQueue hands a job's error to the application's error handlers.
                failed += 1
                await application.process_error(None, error)
    return failed


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level]


async def test_an_outage_is_told_once_each_way_and_people_hear_a_calm_word(
    person: MakePerson,
    application: BotApplication,
    proxy: CuttableProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alex, sam = await onboarded_couple(person)
    assert await run_jobs(application, 1) == 0
    services_of(application).outage.settle = 0  # no waiting in a test: the next success ends it

    caplog.clear()
    caplog.set_level(logging.INFO)
    proxy.cut()
    failed = await run_jobs(application, 10)
    await alex.send("/settings")
    await sam.press_data("set:morning")
    assert failed == 10 * len(JOBS), "every job met the outage"
    assert TRY_AGAIN in alex.last()
    assert TRY_AGAIN in sam.alerts()[-1]
    problems = lines(caplog, logging.WARNING)
    assert len(problems) == 1, problems
    assert problems[0].startswith("the database is unavailable (")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    caplog.clear()
    proxy.restore()
    assert await run_jobs(application, 3) == 0
    await alex.send("/settings")
    assert "Your settings" in alex.last()
    recovered = [r for r in caplog.records if r.name == "bot.core.failures"]
    [line] = [r.getMessage() for r in recovered]
    counted = re.fullmatch(
        r"the database is reachable again \((\d+) operations failed meanwhile\)", line
    )
    assert counted, line
    # Every job, both people's updates, and the apology's note for /hide that could not be kept.
    assert int(counted.group(1)) >= failed + 2
    assert lines(caplog, logging.WARNING) == []
    assert proxy.refused > 0
