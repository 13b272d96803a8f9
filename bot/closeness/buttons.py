"""The buttons of the expectations map and the sharing prompt."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from bot.closeness.mapping import SCALE
from bot.content.closeness import MAX_STATEMENTS
from bot.core.callbacks import CallbackData, Range, RowId

Index = Annotated[int, Range(0, MAX_STATEMENTS - 1)]


@dataclass(frozen=True)
class OpenMap(CallbackData, prefix="ex:go"):
    """Begin (or carry on with) the couple's expectations map."""


@dataclass(frozen=True)
class PlaceOnScale(CallbackData, prefix="ex:s"):
    """Answer one statement of a map with a place on the scale."""

    map_id: RowId
    index: Index
    score: Annotated[int, Range(min(SCALE), max(SCALE))]


@dataclass(frozen=True)
class MapBack(CallbackData, prefix="ex:b"):
    """Go back to a statement to change the answer."""

    map_id: RowId
    index: Index


@dataclass(frozen=True)
class OpenSharing(CallbackData, prefix="vu:open"):
    """Show the sharing prompt's explanation and choice."""


@dataclass(frozen=True)
class SharingChoice(CallbackData, prefix="vu:opt"):
    """Say yes or no to the weekly sharing prompt."""

    choice: Literal["yes", "no"]


@dataclass(frozen=True)
class WriteShare(CallbackData, prefix="vu:w"):
    """Write an answer to this week's sharing prompt."""

    round_id: RowId


@dataclass(frozen=True)
class NotReady(CallbackData, prefix="vu:nr"):
    """Pass on this week's sharing prompt, privately."""

    round_id: RowId
