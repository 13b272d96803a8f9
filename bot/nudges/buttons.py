"""The buttons of the shared question, /pause and /days."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from bot.core.callbacks import CallbackData, Range, RowId
from bot.people.profiles import MAX_PAUSE_DAYS


@dataclass(frozen=True)
class AnswerQuestion(CallbackData, prefix="ans"):
    """Begin, skip, share or keep private an answer, or pick the newer or first of two."""

    action: Literal["go", "skip", "share", "priv", "new", "old"]
    question_id: RowId


@dataclass(frozen=True)
class PauseFor(CallbackData, prefix="pause"):
    """Pause nudges for some days; 0 means until resumed."""

    days: Annotated[int, Range(0, MAX_PAUSE_DAYS)]


@dataclass(frozen=True)
class ToggleDay(CallbackData, prefix="days"):
    """Turn nudges on or off for one weekday (0 is Monday)."""

    weekday: Annotated[int, Range(0, 6)]


@dataclass(frozen=True)
class DaysDone(CallbackData, prefix="days:done"):
    """Finish choosing weekdays."""
