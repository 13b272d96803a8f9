"""Together work as schedule rows: weekly ideas, the day's reminder, and the next day's ask."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkins.schedules import is_eligible
from bot.core.claims import claim_rows, due_at, new_token
from bot.db.engine import dialect_insert
from bot.db.models import Couple, User
from bot.db.together import TogetherJob, TogetherSchedule
from bot.nudges.timing import local_to_utc, next_run_at
from bot.people.profiles import zone_of


@dataclass(frozen=True)
class Cadence:
    """When a couple's weekly ideas come (a weekday, Monday = 0, and a local time), and when
    each partner hears about the chosen day."""

    weekday: int
    at: time
    reminder_at: time


@dataclass(frozen=True)
class Job:
    """A due row this worker now owns until its lease ends."""

    schedule_id: int
    user_id: int
    kind: str
    local_date: date
    run_at: datetime
    plan_id: int | None
    token: str


def next_weekly(user: User, cadence: Cadence, *, after: datetime) -> tuple[date, datetime] | None:
    """Return the local date and UTC instant of this person's next weekly ideas."""
    if not is_eligible(user) or user.timezone is None:
        return None
    return next_run_at(
        after=after,
        at=cadence.at,
        zone=ZoneInfo(user.timezone),
        weekdays=frozenset({cadence.weekday}),
    )


async def _upsert(
    session: AsyncSession,
    user_id: int,
    kind: str,
    local_date: date,
    run_at: datetime,
    plan_id: int | None = None,
) -> None:
    statement = dialect_insert(session)(TogetherSchedule).values(
        user_id=user_id, kind=kind, local_date=local_date, next_run_at=run_at, plan_id=plan_id
    )
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["user_id", "kind"],
            set_={
                "local_date": local_date,
                "next_run_at": run_at,
                "plan_id": plan_id,
                "claim_token": None,
                "claimed_until": None,
            },
        )
    )


async def cancel(session: AsyncSession, user_id: int, kind: str) -> None:
    """Drop a person's pending row of one kind."""
    await session.exec(
        delete(TogetherSchedule).where(
            col(TogetherSchedule.user_id) == user_id, col(TogetherSchedule.kind) == kind
        )
    )


async def plan_day(
    session: AsyncSession,
    user: User,
    plan_id: int,
    day: date,
    *,
    now: datetime,
    at: time,
    default_zone: str,
) -> None:
    """Remind a person on the chosen day at their own local time, and ask them the day after.

    A reminder whose time has already passed (the day chosen is today, late) is not sent:
    the two have only just chosen it.
    """
    zone = zone_of(user, default=default_zone)
    remind_at = local_to_utc(day, at, zone)
    if remind_at > now:
        await _upsert(session, user.id, TogetherJob.REMIND, day, remind_at, plan_id)
    else:
        await cancel(session, user.id, TogetherJob.REMIND)
    after = day + timedelta(days=1)
    await _upsert(session, user.id, TogetherJob.ASK, after, local_to_utc(after, at, zone), plan_id)


async def sync_weekly_rows(
    session: AsyncSession, *, now: datetime, cadence: Cadence, limit: int, lookback: timedelta
) -> int:
    """Give every paired, onboarded, reachable person a weekly row; return how many were added.

    As with check-ins, the tick fills in what is missing rather than hooking pairing,
    onboarding and unblocking; rows of people who stopped qualifying drop when they come due.
    """
    mine = and_(
        col(TogetherSchedule.user_id) == col(User.id),
        col(TogetherSchedule.kind) == TogetherJob.WEEKLY,
    )
    statement = (
        select(User)
        .join(Couple, col(Couple.id) == col(User.couple_id))
        .outerjoin(TogetherSchedule, mine)
        .where(
            col(TogetherSchedule.id).is_(None),
            col(Couple.ended_at).is_(None),
            col(User.onboarded_at).is_not(None),
            col(User.timezone).is_not(None),
            col(User.unreachable_since).is_(None),
        )
        .order_by(col(User.id))
        .limit(limit)
    )
    added = 0
    for user in (await session.exec(statement)).all():
        upcoming = next_weekly(user, cadence, after=now - lookback)
        if upcoming is None:
            continue
        await session.exec(
            dialect_insert(session)(TogetherSchedule)
            .values(
                user_id=user.id,
                kind=TogetherJob.WEEKLY,
                local_date=upcoming[0],
                next_run_at=upcoming[1],
            )
            .on_conflict_do_nothing(index_elements=["user_id", "kind"])
        )
        added += 1
    return added


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[Job]:
    """Claim up to `limit` due rows for this worker, oldest first (the one claim, core/claims)."""
    token = new_token()
    rows = await claim_rows(
        session,
        TogetherSchedule,
        due=due_at(TogetherSchedule.next_run_at, TogetherSchedule.claimed_until, now),
        order_by=col(TogetherSchedule.next_run_at),
        limit=limit,
        take={"claim_token": token, "claimed_until": now + lease},
        returning=(
            col(TogetherSchedule.id),
            col(TogetherSchedule.user_id),
            col(TogetherSchedule.kind),
            col(TogetherSchedule.local_date),
            col(TogetherSchedule.next_run_at),
            col(TogetherSchedule.plan_id),
        ),
    )
    return [Job(r[0], r[1], r[2], r[3], r[4], r[5], token) for r in rows]


def _mine(job: Job) -> ColumnElement[bool]:
    return and_(
        col(TogetherSchedule.id) == job.schedule_id,
        col(TogetherSchedule.claim_token) == job.token,
    )


async def finish(
    session: AsyncSession, job: Job, *, upcoming: tuple[date, datetime] | None
) -> None:
    """Move a claimed row to its next run (or remove it) and release the claim."""
    if upcoming is None:
        await session.exec(delete(TogetherSchedule).where(_mine(job)))
        return
    await session.exec(
        update(TogetherSchedule)
        .where(_mine(job))
        .values(
            local_date=upcoming[0], next_run_at=upcoming[1], claim_token=None, claimed_until=None
        )
    )


async def retry_later(session: AsyncSession, job: Job, *, at: datetime) -> None:
    """Release a claim so the row is tried again at `at`."""
    await session.exec(
        update(TogetherSchedule)
        .where(_mine(job))
        .values(next_run_at=at, claim_token=None, claimed_until=None)
    )
