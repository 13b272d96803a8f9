"""How two expectations maps compare: pure functions over plain values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SCALE = range(1, 6)
# Answers this close count as seeing a statement alike.
CLOSE_GAP = 1
# Answers this far apart make a statement one to talk about.
DIFFER_GAP = 2
MAX_DIFFERENCES = 3


@dataclass(frozen=True)
class Point:
    """Both partners' answers to one statement, as one partner sees them."""

    statement_id: str
    area_id: str
    mine: int
    theirs: int

    @property
    def gap(self) -> int:
        """Return how far apart the two answers are."""
        return abs(self.mine - self.theirs)


@dataclass(frozen=True)
class Comparison:
    """Where the two are close (areas, in order) and at most three statements they differ on."""

    close_areas: tuple[str, ...]
    differences: tuple[Point, ...]


@dataclass(frozen=True)
class Move:
    """How the distance on one statement changed since the previous map."""

    statement_id: str
    before: int
    now: int


@dataclass(frozen=True)
class Moved:
    """Statements the two came closer on, and ones they drifted apart on, largest change first."""

    closer: tuple[Move, ...]
    apart: tuple[Move, ...]


def points(
    statements: Sequence[tuple[str, str]], mine: Mapping[str, int], theirs: Mapping[str, int]
) -> list[Point]:
    """Pair both answers for each (statement, area) that both partners answered."""
    return [
        Point(statement_id, area_id, mine[statement_id], theirs[statement_id])
        for statement_id, area_id in statements
        if statement_id in mine and statement_id in theirs
    ]


def compare(found: Sequence[Point], *, limit: int = MAX_DIFFERENCES) -> Comparison:
    """Name the areas where every answer is close, and the widest differences (at most `limit`)."""
    areas: dict[str, bool] = {}
    for point in found:
        areas[point.area_id] = areas.get(point.area_id, True) and point.gap <= CLOSE_GAP
    wide = [point for point in found if point.gap >= DIFFER_GAP]
    # Widest first; among equals, the order of the map.
    order = {point.statement_id: index for index, point in enumerate(found)}
    wide.sort(key=lambda point: (-point.gap, order[point.statement_id]))
    return Comparison(
        close_areas=tuple(area for area, close in areas.items() if close),
        differences=tuple(wide[:limit]),
    )


def moved(before: Sequence[Point], now: Sequence[Point], *, limit: int = 3) -> Moved:
    """Compare the gaps of the statements both maps share."""
    earlier = {point.statement_id: point.gap for point in before}
    moves = [
        Move(point.statement_id, earlier[point.statement_id], point.gap)
        for point in now
        if point.statement_id in earlier and earlier[point.statement_id] != point.gap
    ]
    closer = sorted((m for m in moves if m.now < m.before), key=lambda m: m.now - m.before)
    apart = sorted((m for m in moves if m.now > m.before), key=lambda m: m.before - m.now)
    return Moved(tuple(closer[:limit]), tuple(apart[:limit]))


def focus_areas(found: Sequence[Point]) -> tuple[str, ...]:
    """Return the map areas worth a conversation: those of the differences, widest first."""
    seen: dict[str, None] = {}
    for point in compare(found).differences:
        seen.setdefault(point.area_id, None)
    return tuple(seen)
