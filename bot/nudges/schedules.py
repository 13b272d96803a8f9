"""Schedules are rows: compute each person's next nudge, and claim the due ones."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, bindparam, delete, null, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.claims import claim_rows, due_at, new_token
from bot.db.engine import dialect_insert, table_of
from bot.db.models import NudgeKind, NudgeSchedule, User
from bot.nudges.timing import local_date_of, next_run_at

DAILY_KINDS = (NudgeKind.MORNING, NudgeKind.EVENING)
CONTENT_KINDS = (NudgeKind.ARTICLE, NudgeKind.VIDEO)
RECURRING_KINDS = DAILY_KINDS + CONTENT_KINDS
# A pause "until resumed" is stored as a date far away, so one column covers both kinds.
INDEFINITELY = datetime(9999, 1, 1, tzinfo=ZoneInfo("UTC"))


@functools.lru_cache(maxsize=128)
def weekdays_of(mask: int) -> frozenset[int]:
    """Turn the stored bit mask (Monday = bit 0) into weekday numbers."""
    return frozenset(day for day in range(7) if mask & (1 << day))


def mask_of(days: frozenset[int]) -> int:
    """Turn weekday numbers into the stored bit mask."""
    return sum(1 << day for day in days)


def is_schedulable(user: User) -> bool:
    """Tell whether a person should get daily nudges at all right now."""
    return (
        user.couple_id is not None
        and user.onboarded_at is not None
        and user.unreachable_since is None
        and user.timezone is not None
        and user.nudge_days != 0
    )


def is_quiet(user: User, *, now: datetime) -> bool:
    """Tell whether this person asked for no nudges right now (pause, skipped day, day off)."""
    # Nobody without a time zone of their own is scheduled, so no default zone is needed here.
    if not is_schedulable(user) or user.timezone is None:
        return True
    if user.paused_until is not None and user.paused_until > now:
        return True
    today = local_date_of(now, ZoneInfo(user.timezone))
    return today == user.skip_date or today.weekday() not in weekdays_of(user.nudge_days)


@dataclass(frozen=True)
class Rhythm:
    """When article excerpts and the weekly video arrive, in each person's local time."""

    article_days: frozenset[int] = frozenset({1, 4})  # Tuesday and Friday
    article_time: time = time(12, 30)
    video_days: frozenset[int] = frozenset({6})  # Sunday
    video_time: time = time(18, 0)


def _when_for(user: User, kind: str, rhythm: Rhythm) -> tuple[time | None, frozenset[int]]:
    if kind == NudgeKind.ARTICLE:
        return rhythm.article_time, rhythm.article_days
    if kind == NudgeKind.VIDEO:
        return rhythm.video_time, rhythm.video_days
    at = user.morning_time if kind == NudgeKind.MORNING else user.evening_time
    return at, weekdays_of(user.nudge_days)


def next_daily_run(
    user: User, kind: str, *, after: datetime, rhythm: Rhythm
) -> tuple[date, datetime] | None:
    """Return the local date and UTC instant of this person's next run of a recurring kind."""
    at, weekdays = _when_for(user, kind, rhythm)
    if not is_schedulable(user) or at is None or user.timezone is None:
        return None
    return next_run_at(
        after=after,
        at=at,
        zone=ZoneInfo(user.timezone),
        weekdays=weekdays,
        skip_dates=frozenset({user.skip_date}) if user.skip_date else frozenset(),
        paused_until=user.paused_until,
    )


def _upsert_statement(session: AsyncSession) -> Any:
    # Planning a row anew also releases a claim on it: a worker sending the old run then
    # leaves the new plan alone when it finishes (see `finish_many`).
    insert = dialect_insert(session)(_SCHEDULES)
    return insert.on_conflict_do_update(
        index_elements=["user_id", "kind"],
        set_={
            "local_date": insert.excluded.local_date,
            "next_run_at": insert.excluded.next_run_at,
            "claim_token": None,
            "claimed_until": None,
        },
    )


def _row(user_id: int, kind: str, local_date: date, run_at: datetime) -> dict[str, Any]:
    return {"user_id": user_id, "kind": kind, "local_date": local_date, "next_run_at": run_at}


async def _upsert(
    session: AsyncSession, user_id: int, kind: str, local_date: date, run_at: datetime
) -> None:
    await session.exec(_upsert_statement(session), params=[_row(user_id, kind, local_date, run_at)])


async def reschedule(session: AsyncSession, user: User, *, now: datetime, rhythm: Rhythm) -> None:
    """Recompute this person's daily schedule rows after anything about them changed."""
    for kind in RECURRING_KINDS:
        upcoming = next_daily_run(user, kind, after=now, rhythm=rhythm)
        if upcoming is None:
            await session.exec(
                delete(NudgeSchedule).where(
                    col(NudgeSchedule.user_id) == user.id, col(NudgeSchedule.kind) == kind
                )
            )
        else:
            await _upsert(session, user.id, kind, *upcoming)
    if not is_schedulable(user):
        await cancel_reminder(session, user.id)


async def schedule_reminders(
    session: AsyncSession, people: Sequence[tuple[int, str | None]], *, after: datetime, at: time
) -> None:
    """Plan the gentle reminder of each (person id, time zone), in one statement."""
    rows = []
    for user_id, zone in people:
        if zone is None:
            continue
        local_date, run_at = next_run_at(after=after, at=at, zone=ZoneInfo(zone))
        rows.append(_row(user_id, NudgeKind.REMINDER, local_date, run_at))
    if rows:
        await session.exec(_upsert_statement(session), params=rows)


async def cancel_reminder(session: AsyncSession, user_id: int) -> None:
    """Drop a pending reminder (answered, unpaired, or paused)."""
    await session.exec(
        delete(NudgeSchedule).where(
            col(NudgeSchedule.user_id) == user_id, col(NudgeSchedule.kind) == NudgeKind.REMINDER
        )
    )


async def drop_schedules(session: AsyncSession, user_id: int) -> None:
    """Remove every schedule row of a person."""
    await session.exec(delete(NudgeSchedule).where(col(NudgeSchedule.user_id) == user_id))


@dataclass(frozen=True)
class Claim:
    """A due schedule row this worker now owns until its lease ends."""

    schedule_id: int
    user_id: int
    kind: str
    local_date: date
    run_at: datetime
    token: str


def _due(now: datetime) -> ColumnElement[bool]:
    return due_at(NudgeSchedule.next_run_at, NudgeSchedule.claimed_until, now)


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[Claim]:
    """Claim up to `limit` due rows for this worker, oldest first (the one claim, core/claims)."""
    token = new_token()
    rows = await claim_rows(
        session,
        NudgeSchedule,
        due=_due(now),
        order_by=col(NudgeSchedule.next_run_at),
        limit=limit,
        take={"claim_token": token, "claimed_until": now + lease},
        returning=(
            col(NudgeSchedule.id),
            col(NudgeSchedule.user_id),
            col(NudgeSchedule.kind),
            col(NudgeSchedule.local_date),
            col(NudgeSchedule.next_run_at),
        ),
    )
    return [
        Claim(schedule_id=r[0], user_id=r[1], kind=r[2], local_date=r[3], run_at=r[4], token=token)
        for r in rows
    ]


async def due_rows(session: AsyncSession, *, now: datetime, limit: int) -> list[NudgeSchedule]:
    """List due rows without claiming them (for a dry run)."""
    result = await session.exec(
        select(NudgeSchedule).where(_due(now)).order_by(col(NudgeSchedule.next_run_at)).limit(limit)
    )
    return list(result.all())


def following(
    claim: Claim, user: User | None, *, now: datetime, rhythm: Rhythm
) -> tuple[date, datetime] | None:
    """Return the run that comes after a claimed one, or None if the row should go."""
    if user is None or claim.kind not in RECURRING_KINDS:
        return None
    upcoming = next_daily_run(user, claim.kind, after=max(now, claim.run_at), rhythm=rhythm)
    # A run for this local date happened (or was dropped): never plan the same date again.
    while upcoming is not None and upcoming[0] <= claim.local_date:
        upcoming = next_daily_run(user, claim.kind, after=upcoming[1], rhythm=rhythm)
    return upcoming


_SCHEDULES = table_of(NudgeSchedule)
_MOVE = (
    update(_SCHEDULES)
    .where(
        _SCHEDULES.c.id == bindparam("claimed_id"),
        _SCHEDULES.c.claim_token == bindparam("claimed_token"),
    )
    .values(
        local_date=bindparam("upcoming_date"),
        next_run_at=bindparam("upcoming_at"),
        # Written as NULL in the statement, not as parameters of every row of a group.
        claim_token=null(),
        claimed_until=null(),
    )
)
_REMOVE = delete(_SCHEDULES).where(
    _SCHEDULES.c.id == bindparam("claimed_id"),
    _SCHEDULES.c.claim_token == bindparam("claimed_token"),
)


async def finish_many(
    session: AsyncSession, done: Sequence[tuple[Claim, tuple[date, datetime] | None]]
) -> None:
    """Move each claimed row to its following run (local date, instant) or remove it (None).

    One statement for the moves and one for the removals. Only rows still carrying the
    claim's token change: a row planned anew meanwhile (the person changed a time, paused,
    unpaired) or taken over by another worker after its lease ran out keeps that plan.
    """
    moves, removals = [], []
    for claim, upcoming in done:
        mine = {"claimed_id": claim.schedule_id, "claimed_token": claim.token}
        if upcoming is None:
            removals.append(mine)
        else:
            moves.append({**mine, "upcoming_date": upcoming[0], "upcoming_at": upcoming[1]})
    if moves:
        await session.exec(_MOVE, params=moves)
    if removals:
        await session.exec(_REMOVE, params=removals)


async def retry_later(session: AsyncSession, claim: Claim, *, at: datetime) -> None:
    """Release a claim so the row is tried again at `at`."""
    await session.exec(
        update(NudgeSchedule)
        .where(
            col(NudgeSchedule.id) == claim.schedule_id,
            col(NudgeSchedule.claim_token) == claim.token,
        )
        .values(next_run_at=at, claim_token=None, claimed_until=None)
    )
