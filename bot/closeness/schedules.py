"""Closeness work as schedule rows: when each person's next offer or prompt is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.claims import claim_rows, due_at, new_token
from bot.db.closeness import (
    ClosenessJob,
    ClosenessSchedule,
    ExpectationMap,
    VulnerabilityOptIn,
    VulnerabilityRound,
)
from bot.db.engine import dialect_insert
from bot.db.models import Couple, User
from bot.nudges.timing import next_run_at

# The map is offered in the evening, a day or so after pairing (never in the middle of it).
OFFER_AT = time(19, 0)
OFFER_AFTER_PAIRING = timedelta(hours=12)
# A first offer planned a little after its evening slot (the tick was busy) still goes out.
CATCH_UP = timedelta(hours=1)
# The sharing prompt comes on Wednesday evenings, each partner's own local time.
PROMPT_WEEKDAY, PROMPT_AT = 2, time(20, 0)


@dataclass(frozen=True)
class Job:
    """A due row this worker now owns until its lease ends."""

    schedule_id: int
    user_id: int
    kind: str
    local_date: date
    run_at: datetime
    token: str


def is_eligible(user: User) -> bool:
    """Tell whether a person can get scheduled closeness work at all right now."""
    return (
        user.couple_id is not None
        and user.onboarded_at is not None
        and user.unreachable_since is None
        and user.timezone is not None
    )


def next_offer(user: User, *, after: datetime) -> tuple[date, datetime] | None:
    """Return when this person is next offered the map: the first evening after `after`."""
    if not is_eligible(user) or user.timezone is None:
        return None
    return next_run_at(after=after, at=OFFER_AT, zone=ZoneInfo(user.timezone))


def next_prompt(user: User, *, after: datetime) -> tuple[date, datetime] | None:
    """Return this person's next Wednesday evening after `after`."""
    if not is_eligible(user) or user.timezone is None:
        return None
    return next_run_at(
        after=after,
        at=PROMPT_AT,
        zone=ZoneInfo(user.timezone),
        weekdays=frozenset({PROMPT_WEEKDAY}),
    )


async def plan(
    session: AsyncSession, user_id: int, kind: str, upcoming: tuple[date, datetime] | None
) -> None:
    """Set (or, with no upcoming run, drop) a person's row of one kind."""
    if upcoming is None:
        await session.exec(
            delete(ClosenessSchedule).where(
                col(ClosenessSchedule.user_id) == user_id, col(ClosenessSchedule.kind) == kind
            )
        )
        return
    local_date, run_at = upcoming
    await session.exec(
        dialect_insert(session)(ClosenessSchedule)
        .values(user_id=user_id, kind=kind, local_date=local_date, next_run_at=run_at)
        .on_conflict_do_update(
            index_elements=["user_id", "kind"],
            set_={
                "local_date": local_date,
                "next_run_at": run_at,
                "claim_token": None,
                "claimed_until": None,
            },
        )
    )


async def cancel_for_couple(session: AsyncSession, user: User, kind: str) -> None:
    """Drop the rows of one kind of both partners of this person's couple (or theirs alone)."""
    ids = [user.id]
    if user.couple_id is not None:
        ids = list(
            (await session.exec(select(User.id).where(User.couple_id == user.couple_id))).all()
        )
    await session.exec(
        delete(ClosenessSchedule).where(
            col(ClosenessSchedule.user_id).in_(ids), col(ClosenessSchedule.kind) == kind
        )
    )


async def sync(session: AsyncSession, *, now: datetime, limit: int) -> int:
    """Give paired people without one an offer row, and couples who both said yes a prompt row.

    Finding people by a missing row keeps schedules data: nothing else has to remember to
    plan the first offer after pairing, or the prompt after the second yes.
    """
    planned = 0
    for kind, extra in (
        (ClosenessJob.MAP_OFFER, None),
        (ClosenessJob.PROMPT, VulnerabilityOptIn),
    ):
        has_row = (
            select(ClosenessSchedule.id)
            .where(ClosenessSchedule.user_id == User.id, ClosenessSchedule.kind == kind)
            .exists()
        )
        query = (
            select(User, Couple.created_at)
            .join(Couple, col(Couple.id) == col(User.couple_id))
            .where(
                col(User.couple_id).is_not(None),
                col(User.onboarded_at).is_not(None),
                col(User.unreachable_since).is_(None),
                col(User.timezone).is_not(None),
                ~has_row,
            )
        )
        if extra is not None:
            partner = User.__table__.alias("partner")  # type: ignore[attr-defined]
            partner_in = (
                select(VulnerabilityOptIn.user_id)
                .join(partner, partner.c.id == col(VulnerabilityOptIn.user_id))
                .where(partner.c.couple_id == User.couple_id, partner.c.id != User.id)
                .exists()
            )
            mine_in = select(VulnerabilityOptIn.user_id).where(
                VulnerabilityOptIn.user_id == User.id
            )
            query = query.where(mine_in.exists(), partner_in)
        for user, paired_at in (await session.exec(query.limit(limit))).all():
            if kind == ClosenessJob.MAP_OFFER:
                after = max(paired_at + OFFER_AFTER_PAIRING, now - CATCH_UP)
                upcoming = next_offer(user, after=after)
            else:
                upcoming = next_prompt(user, after=now)
            await plan(session, user.id, kind, upcoming)
            planned += 1
    return planned


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[Job]:
    """Take up to `limit` due rows for this worker until the lease ends."""
    token = new_token()
    rows = await claim_rows(
        session,
        ClosenessSchedule,
        due=due_at(ClosenessSchedule.next_run_at, ClosenessSchedule.claimed_until, now),
        order_by=col(ClosenessSchedule.next_run_at),
        limit=limit,
        take={"claim_token": token, "claimed_until": now + lease},
        returning=(
            col(ClosenessSchedule.id),
            col(ClosenessSchedule.user_id),
            col(ClosenessSchedule.kind),
            col(ClosenessSchedule.local_date),
            col(ClosenessSchedule.next_run_at),
        ),
    )
    return [Job(row[0], row[1], row[2], row[3], row[4], token) for row in rows]


def _mine(job: Job) -> object:
    return and_(
        col(ClosenessSchedule.id) == job.schedule_id,
        col(ClosenessSchedule.claim_token) == job.token,
    )


async def finish(
    session: AsyncSession, job: Job, *, upcoming: tuple[date, datetime] | None
) -> None:
    """Settle a claimed row: move it to its next run, or drop it."""
    if upcoming is None:
        await session.exec(delete(ClosenessSchedule).where(_mine(job)))  # type: ignore[arg-type]
        return
    await session.exec(
        update(ClosenessSchedule)
        .where(_mine(job))  # type: ignore[arg-type]
        .values(
            local_date=upcoming[0], next_run_at=upcoming[1], claim_token=None, claimed_until=None
        )
    )


async def retry_later(session: AsyncSession, job: Job, *, at: datetime) -> None:
    """Release a claimed row to run again at `at`."""
    await session.exec(
        update(ClosenessSchedule)
        .where(_mine(job))  # type: ignore[arg-type]
        .values(next_run_at=at, claim_token=None, claimed_until=None)
    )


async def purge_ended(session: AsyncSession, *, now: datetime, grace: timedelta) -> int:
    """Erase the maps and sharing rounds (with both partners' answers) of couples long ended."""
    ended = select(Couple.id).where(
        col(Couple.ended_at).is_not(None), col(Couple.ended_at) <= now - grace
    )
    erased = 0
    for table in (ExpectationMap, VulnerabilityRound):
        result = await session.exec(delete(table).where(col(table.couple_id).in_(ended)))
        erased += int(result.rowcount or 0)
    return erased
