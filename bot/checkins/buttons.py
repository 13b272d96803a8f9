"""The buttons of the weekly check-in, its plan, /history and /topics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Annotated, Literal

from bot.checkins.weekly import SCORES
from bot.content.checkins import MAX_QUESTIONS
from bot.content.entries import ID_PATTERN
from bot.core.callbacks import CallbackData, Matching, Range, RowId

Index = Annotated[int, Range(0, MAX_QUESTIONS - 1)]
Weekday = Annotated[int, Range(0, 6)]


@dataclass(frozen=True)
class OpenCheckin(CallbackData, prefix="ci:go"):
    """Begin (or carry on with) a check-in."""

    checkin_id: RowId


@dataclass(frozen=True)
class GiveScore(CallbackData, prefix="ci:s"):
    """Answer a scale question with a score."""

    checkin_id: RowId
    index: Index
    score: Annotated[int, Range(min(SCORES), max(SCORES))]


@dataclass(frozen=True)
class CheckinStep(CallbackData, prefix="ci"):
    """Skip a question (k), or go back (b), on (n) or to it to edit (e)."""

    action: Literal["k", "b", "n", "e"]
    checkin_id: RowId
    index: Index


@dataclass(frozen=True)
class SubmitCheckin(CallbackData, prefix="ci:sub"):
    """Send the answers."""

    checkin_id: RowId


@dataclass(frozen=True)
class PastCheckin(CallbackData, prefix="ci:past"):
    """Show a past check-in's summary."""

    checkin_id: RowId


@dataclass(frozen=True)
class ChangePlan(CallbackData, prefix="ci:plan"):
    """Change the couple's check-in day and time."""


@dataclass(frozen=True)
class PlanDay(CallbackData, prefix="ci:pd"):
    """Hold the check-in on this weekday (0 is Monday)."""

    weekday: Weekday


@dataclass(frozen=True)
class PlanTime(CallbackData, prefix="ci:pt"):
    """Hold the check-in on this weekday at this time."""

    weekday: Weekday
    at: time


@dataclass(frozen=True)
class ToggleTopic(CallbackData, prefix="tp"):
    """Flag or unflag a topic to talk about."""

    topic_id: Annotated[str, Matching(ID_PATTERN, reserved=frozenset({"done"}))]


@dataclass(frozen=True)
class TopicsDone(CallbackData, prefix="tp:done"):
    """Finish flagging topics."""
