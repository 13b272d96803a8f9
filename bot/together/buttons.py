"""The buttons of plans together: marking ideas, choosing one and a day, and how it went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from bot.core.callbacks import CallbackData, Range, RowId
from bot.together.ideas import PER_ROUND

Index = Annotated[int, Range(0, PER_ROUND - 1)]
# A day as YYYYMMDD; the service accepts only the days it offered.
Day = Annotated[int, Range(20000101, 29991231)]


def day_number(day: date) -> int:
    """Return a day as the number a button carries."""
    return day.year * 10000 + day.month * 100 + day.day


def day_of(number: int) -> date | None:
    """Return the day a button's number stands for, or None if it is no real day."""
    try:
        return date(number // 10000, number // 100 % 100, number % 100)
    except ValueError:
        return None


@dataclass(frozen=True)
class MarkIdea(CallbackData, prefix="tog:m"):
    """Mark (or unmark) one of the round's ideas as something I'd enjoy."""

    plan_id: RowId
    index: Index


@dataclass(frozen=True)
class MarksDone(CallbackData, prefix="tog:done"):
    """I've marked the ones I'd enjoy."""

    plan_id: RowId


@dataclass(frozen=True)
class PickIdea(CallbackData, prefix="tog:i"):
    """Do this one of the ideas we both marked."""

    plan_id: RowId
    index: Index


@dataclass(frozen=True)
class PickDay(CallbackData, prefix="tog:day"):
    """Do it on this day."""

    plan_id: RowId
    day: Day


@dataclass(frozen=True)
class ChangeDay(CallbackData, prefix="tog:cd"):
    """Choose another day for the plan."""

    plan_id: RowId


@dataclass(frozen=True)
class HowItWent(CallbackData, prefix="tog:s"):
    """How it went, 1 to 5; 0 is "we didn't get round to it"."""

    plan_id: RowId
    score: Annotated[int, Range(0, 5)]


@dataclass(frozen=True)
class NoWords(CallbackData, prefix="tog:nw"):
    """Nothing to add in words."""

    plan_id: RowId
