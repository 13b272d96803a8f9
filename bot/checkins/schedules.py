"""Check-in work as schedule rows: plan each person's next run, and claim the due ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.claims import claim_rows, due_at, new_token
from bot.db.checkins import CheckinJob, CheckinPlan, CheckinSchedule
from bot.db.engine import dialect_insert
from bot.db.models import Couple, User
from bot.nudges.timing import local_date_of, next_run_at
from bot.people.profiles import zone_of


@dataclass(frozen=True)
class Plan:
    """When a couple's weekly check-in comes: a weekday (Monday = 0) and a local time."""

    weekday: int
    at: time


@dataclass(frozen=True)
class Job:
    """A due row this worker now owns until its lease ends."""

    schedule_id: int
    user_id: int
    kind: str
    local_date: date
    run_at: datetime
    checkin_id: int | None
    token: str


def is_eligible(user: User) -> bool:
    """Tell whether a person can get a scheduled check-in at all right now."""
    return (
        user.couple_id is not None
        and user.onboarded_at is not None
        and user.unreachable_since is None
        and user.timezone is not None
    )


async def plan_of(session: AsyncSession, couple_id: int, *, default: Plan) -> Plan:
    """Return the couple's chosen check-in day and time, or the default."""
    row = await session.get(CheckinPlan, couple_id)
    return default if row is None else Plan(row.weekday, row.at)


def next_open(user: User, plan: Plan, *, after: datetime) -> tuple[date, datetime] | None:
    """Return the local date and UTC instant of this person's next weekly check-in."""
    if not is_eligible(user) or user.timezone is None:
        return None
    return next_run_at(
        after=after, at=plan.at, zone=ZoneInfo(user.timezone), weekdays=frozenset({plan.weekday})
    )


async def _upsert(
    session: AsyncSession,
    user_id: int,
    kind: str,
    local_date: date,
    run_at: datetime,
    checkin_id: int | None = None,
) -> None:
    values = {
        "user_id": user_id,
        "kind": kind,
        "local_date": local_date,
        "next_run_at": run_at,
        "checkin_id": checkin_id,
    }
    insert = dialect_insert(session)
    statement = insert(CheckinSchedule).values(**values)
    await session.exec(
        statement.on_conflict_do_update(
            index_elements=["user_id", "kind"],
            set_={
                "local_date": local_date,
                "next_run_at": run_at,
                "checkin_id": checkin_id,
                "claim_token": None,
                "claimed_until": None,
            },
        )
    )


async def cancel(session: AsyncSession, user_id: int, kind: str) -> None:
    """Drop a person's pending row of one kind."""
    await session.exec(
        delete(CheckinSchedule).where(
            col(CheckinSchedule.user_id) == user_id, col(CheckinSchedule.kind) == kind
        )
    )


async def plan_open(session: AsyncSession, user: User, plan: Plan, *, now: datetime) -> None:
    """Recompute a person's weekly check-in row (after a new plan, say)."""
    upcoming = next_open(user, plan, after=now)
    if upcoming is None:
        await cancel(session, user.id, CheckinJob.OPEN)
    else:
        await _upsert(session, user.id, CheckinJob.OPEN, *upcoming)


async def plan_reminder(
    session: AsyncSession, user: User, checkin_id: int, *, at: datetime, default_zone: str
) -> None:
    """Plan the one gentle reminder of a check-in for a person."""
    local = local_date_of(at, zone_of(user, default=default_zone))
    await _upsert(session, user.id, CheckinJob.REMIND, local, at, checkin_id)


async def plan_closed_note(
    session: AsyncSession, user: User, checkin_id: int, *, now: datetime, default_zone: str
) -> None:
    """Plan the note telling a lone submitter that the check-in closed unshared."""
    local = local_date_of(now, zone_of(user, default=default_zone))
    await _upsert(session, user.id, CheckinJob.CLOSED, local, now, checkin_id)


def next_morning(
    user: User, *, after: datetime, default_morning: time, default_zone: str
) -> tuple[date, datetime]:
    """Return the local date and instant of a person's next morning nudge time, in their zone."""
    return next_run_at(
        after=after,
        at=user.morning_time or default_morning,
        zone=zone_of(user, default=default_zone),
    )


async def plan_courier(
    session: AsyncSession,
    user: User,
    *,
    after: datetime,
    default_morning: time,
    default_zone: str,
) -> tuple[date, datetime]:
    """Make sure appreciations for a person go out at their next morning time; return it."""
    local, run_at = next_morning(
        user, after=after, default_morning=default_morning, default_zone=default_zone
    )
    existing = (
        await session.exec(
            select(CheckinSchedule).where(
                CheckinSchedule.user_id == user.id, CheckinSchedule.kind == CheckinJob.COURIER
            )
        )
    ).first()
    # A row already due sooner (the same morning) carries the new note too.
    if existing is not None and existing.next_run_at <= run_at:
        return existing.local_date, existing.next_run_at
    await _upsert(session, user.id, CheckinJob.COURIER, local, run_at)
    return local, run_at


async def missing_open_rows(
    session: AsyncSession, *, limit: int
) -> list[tuple[User, CheckinPlan | None]]:
    """Return paired, reachable people who have no weekly check-in row yet, with their plan."""
    mine = and_(
        col(CheckinSchedule.user_id) == col(User.id), col(CheckinSchedule.kind) == CheckinJob.OPEN
    )
    statement = (
        select(User, CheckinPlan)
        .join(Couple, col(Couple.id) == col(User.couple_id))
        .outerjoin(CheckinPlan, col(CheckinPlan.couple_id) == col(User.couple_id))
        .outerjoin(CheckinSchedule, mine)
        .where(
            col(CheckinSchedule.id).is_(None),
            col(Couple.ended_at).is_(None),
            col(User.onboarded_at).is_not(None),
            col(User.timezone).is_not(None),
            col(User.unreachable_since).is_(None),
        )
        .order_by(col(User.id))
        .limit(limit)
    )
    return [(user, plan) for user, plan in (await session.exec(statement)).all()]


async def sync_open_rows(
    session: AsyncSession,
    *,
    now: datetime,
    default: Plan,
    limit: int,
    lookback: timedelta = timedelta(0),
) -> int:
    """Give every paired person a weekly check-in row; return how many were added.

    Pairing, onboarding and unblocking happen elsewhere, so rather than hooking each of them
    the tick fills in what is missing; rows of people who stopped qualifying are dropped
    when they come due. Looking back a little keeps a run that fell due between finishing
    onboarding and the next tick; the delivery ledger keeps any week from coming twice.
    """
    added = 0
    for user, row in await missing_open_rows(session, limit=limit):
        plan = default if row is None else Plan(row.weekday, row.at)
        upcoming = next_open(user, plan, after=now - lookback)
        if upcoming is None:
            continue
        insert = dialect_insert(session)
        await session.exec(
            insert(CheckinSchedule)
            .values(
                user_id=user.id,
                kind=CheckinJob.OPEN,
                local_date=upcoming[0],
                next_run_at=upcoming[1],
            )
            .on_conflict_do_nothing(index_elements=["user_id", "kind"])
        )
        added += 1
    return added


def _due(now: datetime) -> ColumnElement[bool]:
    return due_at(CheckinSchedule.next_run_at, CheckinSchedule.claimed_until, now)


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[Job]:
    """Claim up to `limit` due rows for this worker, oldest first (the one claim, core/claims)."""
    token = new_token()
    rows = await claim_rows(
        session,
        CheckinSchedule,
        due=_due(now),
        order_by=col(CheckinSchedule.next_run_at),
        limit=limit,
        take={"claim_token": token, "claimed_until": now + lease},
        returning=(
            col(CheckinSchedule.id),
            col(CheckinSchedule.user_id),
            col(CheckinSchedule.kind),
            col(CheckinSchedule.local_date),
            col(CheckinSchedule.next_run_at),
            col(CheckinSchedule.checkin_id),
        ),
    )
    return [Job(r[0], r[1], r[2], r[3], r[4], r[5], token) for r in rows]


def _mine(job: Job) -> ColumnElement[bool]:
    return and_(
        col(CheckinSchedule.id) == job.schedule_id, col(CheckinSchedule.claim_token) == job.token
    )


async def finish(
    session: AsyncSession, job: Job, *, upcoming: tuple[date, datetime] | None
) -> None:
    """Move a claimed row to its next run (or remove it) and release the claim."""
    if upcoming is None:
        await session.exec(delete(CheckinSchedule).where(_mine(job)))
        return
    await session.exec(
        update(CheckinSchedule)
        .where(_mine(job))
        .values(
            local_date=upcoming[0], next_run_at=upcoming[1], claim_token=None, claimed_until=None
        )
    )


async def retry_later(session: AsyncSession, job: Job, *, at: datetime) -> None:
    """Release a claim so the row is tried again at `at`."""
    await session.exec(
        update(CheckinSchedule)
        .where(_mine(job))
        .values(next_run_at=at, claim_token=None, claimed_until=None)
    )
