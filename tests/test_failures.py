"""Failures are described without their messages, and an outage is told once each way."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.core.failures import Outage, is_unavailable, summarise


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_a_summary_names_types_and_places_never_the_message() -> None:
    wrapped = OperationalError("INSERT INTO answer VALUES (?)", ("my secret words",), Exception())
    error = _raised(wrapped)
    summary = summarise(error)
    assert summary.startswith("OperationalError from Exception at ")
    assert "tests/test_failures.py" in summary
    assert "secret" not in summary and "INSERT" not in summary


def test_what_counts_as_the_database_out_of_reach() -> None:
    assert is_unavailable(ConnectionRefusedError(111, "refused"))
    assert is_unavailable(OperationalError("SELECT 1", None, Exception("locked")))
    assert not is_unavailable(ValueError("a bug"))
    chained = RuntimeError("wrapper")
    chained.__cause__ = TimeoutError()
    assert is_unavailable(chained)


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_settles(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    outage = Outage(settle=10, monotonic=lambda: now[0])
    caplog.set_level(logging.INFO, logger="bot.core.failures")
    outage.reached()
    for _ in range(50):
        outage.failed(ConnectionRefusedError(111, "refused"))
        now[0] += 0.3
        outage.reached()  # reads between failed writes are no recovery
    assert outage.ongoing
    now[0] += 10
    outage.reached()
    outage.reached()
    assert not outage.ongoing
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("WARNING", lines[0][1]),
        ("INFO", "the database is reachable again (50 operations failed meanwhile)"),
    ]
    assert lines[0][1].startswith("the database is unavailable (ConnectionRefusedError")
