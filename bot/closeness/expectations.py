"""The expectations map: each partner places themselves on a scale, privately; both see the
comparison once both have finished, and what moved since the previous map."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements
from bot.billing.entitlements import Policy
from bot.checkins.weekly import lock_couple
from bot.closeness import mapping
from bot.closeness.mapping import Comparison, Moved, Point
from bot.content.closeness import Area, ExpectationsDeck, Statement
from bot.core.errors import DomainError, StaleAction
from bot.db.closeness import ExpectationAnswer, ExpectationMap
from bot.db.engine import dialect_insert
from bot.db.models import User
from bot.people.profiles import name_of, partner_of, require
from bot.safety import signals as safety

# The map is offered again this long after the couple's latest one.
RETAKE_AFTER = timedelta(days=91)
PAUSED = "safety.paused_notice"


@dataclass(frozen=True)
class Step:
    """What a partner sees next: one statement with their answer so far, or that they're done."""

    map_id: int
    total: int
    index: int | None  # None: every statement answered
    statement: Statement | None
    given: int | None


@dataclass(frozen=True)
class Started:
    """A map this person is in now, and the partner to tell if it has just opened."""

    step: Step
    my_name: str
    partner_name: str
    partner_to_tell: User | None


@dataclass(frozen=True)
class Answered:
    """The outcome of one answer: the next step, and whether it finished or revealed the map."""

    step: Step
    user: User
    partner: User
    just_finished: bool
    revealed: bool
    # Whether the partner has answered anything yet (their button says "carry on" if so).
    partner_started: bool


@dataclass(frozen=True)
class Difference:
    """A statement the two see differently: a conversation to have, with one question."""

    statement: Statement
    area: Area | None
    mine: int
    theirs: int


@dataclass(frozen=True)
class Change:
    """How far apart the two were on a statement last time, and now."""

    statement: Statement
    before: int
    now: int


@dataclass(frozen=True)
class Result:
    """A revealed map as one partner sees it."""

    map_id: int
    partner_name: str
    close: tuple[Area, ...]
    differences: tuple[Difference, ...]
    closer: tuple[Change, ...]
    apart: tuple[Change, ...]
    retaken: bool


@dataclass(frozen=True)
class MapFocus:
    """What the couple's latest map points picks at: its areas, focus areas and question topics."""

    areas: tuple[str, ...]
    focus: frozenset[str]
    topics: frozenset[str]

    @property
    def empty(self) -> bool:
        """Tell whether the map points at nothing (no map yet, or no differences)."""
        return not self.areas


NO_FOCUS = MapFocus((), frozenset(), frozenset())


async def couple_of(session: AsyncSession, user_id: int) -> tuple[User, User]:
    """Return a person and their partner, or explain that the map needs a partner."""
    user = await require(session, user_id)
    partner = await partner_of(session, user)
    if partner is None:
        raise DomainError("expectations.not_paired")
    return user, partner


async def require_open_to_couple(
    session: AsyncSession, couple_id: int, now: datetime, *, policy: Policy
) -> None:
    """Refuse while a safety signal pauses the couple, or after an unpaid trial."""
    if await safety.exercises_paused(session, couple_id):
        raise DomainError(PAUSED)
    if not await entitlements.is_entitled(
        session, couple_id, entitlements.EXPECTATIONS, now, policy=policy
    ):
        raise DomainError("expectations.resting")


async def _answers(session: AsyncSession, map_id: int, user_id: int) -> dict[str, int]:
    result = await session.exec(
        select(ExpectationAnswer.statement_id, ExpectationAnswer.score).where(
            ExpectationAnswer.map_id == map_id, ExpectationAnswer.user_id == user_id
        )
    )
    return dict(result.all())


def _statements(chart: ExpectationMap, deck: ExpectationsDeck) -> list[Statement]:
    """Return a map's statements in the person's language, skipping any since removed."""
    found = (deck.statement(statement_id) for statement_id in chart.statement_ids)
    return [statement for statement in found if statement is not None]


def _finished(statements: list[Statement], answers: dict[str, int]) -> bool:
    return all(statement.id in answers for statement in statements)


def _step(
    chart: ExpectationMap, deck: ExpectationsDeck, answers: dict[str, int], index: int | None
) -> Step:
    assert chart.id is not None
    statements = _statements(chart, deck)
    if index is None:
        index = next((i for i, s in enumerate(statements) if s.id not in answers), None)
    if index is None:
        return Step(chart.id, len(statements), None, None, None)
    statement = statements[index]
    return Step(chart.id, len(statements), index, statement, answers.get(statement.id))


async def open_map(session: AsyncSession, couple_id: int) -> ExpectationMap | None:
    """Return the couple's map that is not revealed yet, if any."""
    return (
        await session.exec(
            select(ExpectationMap).where(
                ExpectationMap.couple_id == couple_id, col(ExpectationMap.revealed_at).is_(None)
            )
        )
    ).first()


async def latest_revealed(
    session: AsyncSession, couple_id: int, *, before: int | None = None
) -> ExpectationMap | None:
    """Return the couple's latest revealed map (older than map `before`, when given)."""
    query = select(ExpectationMap).where(
        ExpectationMap.couple_id == couple_id, col(ExpectationMap.revealed_at).is_not(None)
    )
    if before is not None:
        query = query.where(col(ExpectationMap.id) < before)
    return (
        await session.exec(query.order_by(col(ExpectationMap.revealed_at).desc()).limit(1))
    ).first()


async def start(
    session: AsyncSession,
    user_id: int,
    *,
    now: datetime,
    deck: ExpectationsDeck,
    policy: Policy,
) -> Started:
    """Open the couple's map (or carry on with the open one) and return this person's step."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    await require_open_to_couple(session, user.couple_id, now, policy=policy)
    inserted = (
        await session.exec(
            dialect_insert(session)(ExpectationMap)
            .values(
                couple_id=user.couple_id,
                statement_ids=[statement.id for statement in deck.statements],
                opened_at=now,
                focus_areas=[],
                focus=[],
                topics=[],
            )
            .on_conflict_do_nothing(
                index_elements=["couple_id"], index_where=text("revealed_at IS NULL")
            )
            .returning(col(ExpectationMap.id))
        )
    ).first()
    chart = await open_map(session, user.couple_id)
    assert chart is not None and chart.id is not None
    step = _step(chart, deck, await _answers(session, chart.id, user.id), None)
    return Started(step, name_of(user), name_of(partner), partner if inserted else None)


async def _own_open(session: AsyncSession, user: User, map_id: int) -> ExpectationMap:
    chart = await session.get(ExpectationMap, map_id)
    if chart is None or user.couple_id is None or chart.couple_id != user.couple_id:
        raise StaleAction()
    if chart.revealed_at is not None:
        raise DomainError("expectations.already_revealed")
    return chart


async def show(
    session: AsyncSession, user_id: int, map_id: int, index: int, *, deck: ExpectationsDeck
) -> Step:
    """Return one statement of an open map again (to change an answer)."""
    user, _ = await couple_of(session, user_id)
    chart = await _own_open(session, user, map_id)
    if not 0 <= index < len(_statements(chart, deck)):
        raise StaleAction()
    return _step(chart, deck, await _answers(session, map_id, user.id), index)


async def answer(
    session: AsyncSession,
    user_id: int,
    map_id: int,
    index: int,
    score: int,
    *,
    now: datetime,
    deck: ExpectationsDeck,
) -> Answered:
    """Place this person on the scale for one statement; reveal once both have finished."""
    if score not in mapping.SCALE:
        raise StaleAction()
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    if await safety.exercises_paused(session, user.couple_id):
        raise DomainError(PAUSED)
    await lock_couple(session, user.couple_id)
    chart = await _own_open(session, user, map_id)
    statements = _statements(chart, deck)
    if not 0 <= index < len(statements):
        raise StaleAction()
    before = await _answers(session, map_id, user.id)
    statement_id = statements[index].id
    await session.exec(
        dialect_insert(session)(ExpectationAnswer)
        .values(
            map_id=map_id, user_id=user.id, statement_id=statement_id, score=score, answered_at=now
        )
        .on_conflict_do_update(
            index_elements=["map_id", "user_id", "statement_id"],
            set_={"score": score, "answered_at": now},
        )
    )
    mine = {**before, statement_id: score}
    finished = _finished(statements, mine)
    just_finished = finished and not _finished(statements, before)
    revealed = False
    theirs = await _answers(session, map_id, partner.id)
    if finished and _finished(statements, theirs):
        pairs = [(s.id, s.area) for s in statements]
        areas = [deck.area(i) for i in mapping.focus_areas(mapping.points(pairs, mine, theirs))]
        found = [area for area in areas if area is not None]
        await session.exec(
            update(ExpectationMap)
            .where(col(ExpectationMap.id) == map_id, col(ExpectationMap.revealed_at).is_(None))
            .values(
                revealed_at=now,
                focus_areas=[area.id for area in found],
                focus=sorted({area.focus for area in found}),
                topics=sorted({area.topic for area in found}),
            )
        )
        revealed = True
    step = _step(chart, deck, mine, None)
    return Answered(step, user, partner, just_finished, revealed, bool(theirs))


async def _points(
    session: AsyncSession,
    chart: ExpectationMap,
    viewer_id: int,
    partner_id: int,
    deck: ExpectationsDeck,
) -> list[Point]:
    assert chart.id is not None
    pairs = [(s.id, s.area) for s in _statements(chart, deck)]
    mine = await _answers(session, chart.id, viewer_id)
    theirs = await _answers(session, chart.id, partner_id)
    return mapping.points(pairs, mine, theirs)


async def result_for(
    session: AsyncSession, map_id: int, viewer_id: int, *, deck: ExpectationsDeck
) -> Result:
    """Return a revealed map of this person's current couple, as they see it."""
    user, partner = await couple_of(session, viewer_id)
    chart = await session.get(ExpectationMap, map_id)
    if chart is None or chart.couple_id != user.couple_id or chart.revealed_at is None:
        raise StaleAction()
    now_points = await _points(session, chart, user.id, partner.id, deck)
    comparison: Comparison = mapping.compare(now_points)
    previous = await latest_revealed(session, chart.couple_id, before=map_id)
    moved = mapping.Moved((), ())
    if previous is not None:
        moved = mapping.moved(
            await _points(session, previous, user.id, partner.id, deck), now_points
        )
    return Result(
        map_id=map_id,
        partner_name=name_of(partner),
        close=tuple(a for a in (deck.area(i) for i in comparison.close_areas) if a is not None),
        differences=tuple(
            _difference(deck, point)
            for point in comparison.differences
            if deck.statement(point.statement_id)
        ),
        closer=_changes(deck, moved, closer=True),
        apart=_changes(deck, moved, closer=False),
        retaken=previous is not None,
    )


def _difference(deck: ExpectationsDeck, point: Point) -> Difference:
    statement = deck.statement(point.statement_id)
    assert statement is not None
    return Difference(statement, deck.area(point.area_id), point.mine, point.theirs)


def _changes(deck: ExpectationsDeck, moved: Moved, *, closer: bool) -> tuple[Change, ...]:
    found = []
    for move in moved.closer if closer else moved.apart:
        statement = deck.statement(move.statement_id)
        if statement is not None:
            found.append(Change(statement, move.before, move.now))
    return tuple(found)


async def focus_of(session: AsyncSession, couple_id: int) -> MapFocus:
    """Return what the couple's latest revealed map points picks at (empty without one).

    Other capabilities (reading, the evening question, ideas to do together) weigh their
    picks with this, and say so when it decided a pick.
    """
    chart = await latest_revealed(session, couple_id)
    if chart is None:
        return NO_FOCUS
    return MapFocus(tuple(chart.focus_areas), frozenset(chart.focus), frozenset(chart.topics))


async def topics_of_many(
    session: AsyncSession, couple_ids: Collection[int]
) -> dict[int, frozenset[str]]:
    """Return the question topics each couple's latest revealed map points at, in one query."""
    if not couple_ids:
        return {}
    result = await session.exec(
        select(ExpectationMap.couple_id, ExpectationMap.topics)
        .where(
            col(ExpectationMap.couple_id).in_(set(couple_ids)),
            col(ExpectationMap.revealed_at).is_not(None),
        )
        .order_by(col(ExpectationMap.revealed_at))
    )
    latest: dict[int, frozenset[str]] = {}
    for couple_id, topics in result.all():
        latest[couple_id] = frozenset(topics)  # later rows replace earlier ones
    return {couple_id: topics for couple_id, topics in latest.items() if topics}


async def due_for_offer(session: AsyncSession, couple_id: int, *, now: datetime) -> bool:
    """Tell whether the couple should be offered the map: never taken, or long enough ago."""
    latest = (
        await session.exec(
            select(ExpectationMap.opened_at)
            .where(ExpectationMap.couple_id == couple_id)
            .order_by(col(ExpectationMap.opened_at).desc())
            .limit(1)
        )
    ).first()
    return latest is None or latest <= now - RETAKE_AFTER


async def has_started(session: AsyncSession, map_id: int, user_id: int) -> bool:
    """Tell whether this person answered anything in a map."""
    return bool(await _answers(session, map_id, user_id))


async def has_finished(
    session: AsyncSession, chart: ExpectationMap, user_id: int, *, deck: ExpectationsDeck
) -> bool:
    """Tell whether this person answered every statement of a map."""
    assert chart.id is not None
    return _finished(_statements(chart, deck), await _answers(session, chart.id, user_id))
