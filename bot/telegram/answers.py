"""The bot object the application runs on: its answers to button presses never fail a handler."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import ExtBot

log = logging.getLogger(__name__)


# A button's answer is retried this often on network trouble, then given up on quietly.
ANSWER_TRIES = 4
ANSWER_BACKOFF = 0.5
ANSWER_MAX_WAIT = 5.0


class PatientBot(ExtBot[None]):
    """The bot, whose answers to button presses never stop the handler that makes them.

    A press is answered before the work it starts is told about (a reveal, a notice); had a
    network failure on that answer raised, the words would never go out. An unanswered press
    only spins a little longer in the person's app, so it is retried a few times, then dropped.
    """

    async def answer_callback_query(self, *args: Any, **kwargs: Any) -> bool:
        """Answer a button press; on network trouble retry, and in the end give up quietly."""
        for attempt in range(ANSWER_TRIES):
            try:
                return await super().answer_callback_query(*args, **kwargs)
            except RetryAfter as error:
                wait = error.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                await asyncio.sleep(min(seconds, ANSWER_MAX_WAIT))
            except BadRequest as error:
                # A subclass of NetworkError, but Telegram answered: asking again changes nothing
                # (a press answered too late, say).
                log.warning("Telegram refused to answer a button press: %s", type(error).__name__)
                break
            except (TimedOut, NetworkError) as error:
                if attempt + 1 == ANSWER_TRIES:
                    log.warning("gave up answering a button press: %s", type(error).__name__)
                    break
                await asyncio.sleep(ANSWER_BACKOFF * 2**attempt)
        return False
