"""Notices about the trial and the subscription as rows: plan them, note a lapse once, claim.

Each row is both the schedule (`next_run_at`, claimed by a tick with a lease) and the ledger
(its once-key: person, the pair's first couple, kind and the moment it is about), so a notice
is never planned or sent twice, whichever worker runs and however often a couple re-pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements, pair_trials
from bot.billing.entitlements import TRIAL, Access, Policy
from bot.core.claims import claim_rows, due_at, new_token
from bot.db.billing import BillingNotice, NoticeKind, NoticeStatus
from bot.db.engine import dialect_insert
from bot.db.models import Couple, NudgeKind, User
from bot.nudges.timing import local_to_utc

# Two days before the trial ends, both partners hear that it will, and how to go on.
ENDING_NOTICE = timedelta(days=2)
# Trial notices wait for the person's local daytime; nobody hears about billing at 3 a.m.
DAY_STARTS, DAY_ENDS = time(9, 0), time(21, 0)
# Someone still setting up right after pairing hears about the trial once they are done.
SETUP_WAIT = timedelta(minutes=10)
# A notice that could not go out for this long (the bot was down) is old news: drop it.
MAX_LATENESS = timedelta(days=2)
# Which scheduled messages are gated, and by which feature; other kinds belong to others.
# Looked up by the kinds rows hold, which read back as plain strings.
NUDGE_FEATURES: dict[str, str] = {
    NudgeKind.MORNING: entitlements.NUDGES,
    NudgeKind.EVENING: entitlements.NUDGES,
    NudgeKind.REMINDER: entitlements.NUDGES,
    NudgeKind.ARTICLE: entitlements.ARTICLES,
}


def next_daytime(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return `instant` if it is local daytime in `zone`, else the start of the next daytime."""
    local = instant.astimezone(zone)
    if DAY_STARTS <= local.time() < DAY_ENDS:
        return instant
    day = local.date() if local.time() < DAY_STARTS else local.date() + timedelta(days=1)
    return local_to_utc(day, DAY_STARTS, zone)


async def _insert(
    session: AsyncSession,
    *,
    user_id: int,
    couple_id: int,
    kind: str,
    about: datetime,
    run_at: datetime,
    now: datetime,
    revive: bool = False,
) -> bool:
    """Add a notice unless its once-key exists; `revive` brings back one that was never sent."""
    insert = dialect_insert(session)
    statement = insert(BillingNotice).values(
        user_id=user_id,
        couple_id=couple_id,
        kind=kind,
        about=about,
        next_run_at=run_at,
        status=NoticeStatus.PENDING,
        attempts=0,
        created_at=now,
    )
    key = ["user_id", "couple_id", "kind", "about"]
    if revive:
        result = await session.exec(
            statement.on_conflict_do_update(
                index_elements=key,
                set_={"status": NoticeStatus.PENDING, "next_run_at": run_at, "attempts": 0},
                where=col(BillingNotice.status) == NoticeStatus.DROPPED,
            )
        )
    else:
        result = await session.exec(statement.on_conflict_do_nothing(index_elements=key))
    return bool(result.rowcount)


def trial_plan(started_at: datetime, now: datetime) -> list[tuple[NoticeKind, datetime]]:
    """Return which trial notices are still worth planning at `now`, and when each is due."""
    ends = started_at + TRIAL
    plan = []
    if now < ends - ENDING_NOTICE:
        plan.append((NoticeKind.TRIAL_STARTED, now))
    if now < ends:
        plan.append((NoticeKind.TRIAL_ENDING, ends - ENDING_NOTICE))
    plan.append((NoticeKind.TRIAL_ENDED, ends))
    return plan


async def plan_new_trials(
    session: AsyncSession, *, now: datetime, pair_key: bytes = b"", limit: int = 500
) -> int:
    """Plan the three trial notices for every pair that started a trial recently; return how many.

    A pair's first couple owns the trial; a couple that re-opened keeps its notices, and a
    later couple of the same two people has no trial of its own, so neither is planned again.
    The pair is remembered by a keyed hash, so a trial that began before one of the two erased
    their data still counts, and only what is left of it is planned.
    """
    earlier = aliased(Couple)
    result = await session.exec(
        select(Couple)
        .where(
            col(Couple.ended_at).is_(None),
            col(Couple.created_at) > now - TRIAL - timedelta(days=1),
            ~exists().where(col(BillingNotice.couple_id) == col(Couple.id)),
            ~exists().where(
                col(earlier.partner_a_id) == col(Couple.partner_a_id),
                col(earlier.partner_b_id) == col(Couple.partner_b_id),
                col(earlier.created_at) < col(Couple.created_at),
            ),
        )
        .order_by(col(Couple.created_at))
        .limit(limit)
    )
    planned = 0
    for couple in result.all():
        assert couple.id is not None
        started = couple.created_at
        if couple.partner_a_id is not None and couple.partner_b_id is not None:
            pair = (couple.partner_a_id, couple.partner_b_id)
            started = (await pair_trials.started(session, pair_key, [pair])).get(pair, started)
            await pair_trials.remember(session, pair_key, *pair, started)
        for user_id in (couple.partner_a_id, couple.partner_b_id):
            if user_id is None:
                continue
            for kind, run_at in trial_plan(started, now):
                planned += await _insert(
                    session,
                    user_id=user_id,
                    couple_id=couple.id,
                    kind=kind,
                    about=started + TRIAL,
                    run_at=run_at,
                    now=now,
                )
    return planned


async def note_lapse(session: AsyncSession, user_id: int, access: Access, *, now: datetime) -> bool:
    """Make sure this person hears once that access has paused; tell whether a notice was added.

    When access ended with the trial, the trial-ended notice is that message; a paid period that
    ran out gets its own, keyed by the moment it ran out, so each lapse is told about once. A
    notice that was dropped unsent (say, the two had unpaired meanwhile) is brought back.
    """
    if access.lapsed_at is None:
        return False
    kind = NoticeKind.TRIAL_ENDED if access.lapsed_with_trial else NoticeKind.LAPSED
    return await _insert(
        session,
        user_id=user_id,
        couple_id=access.trial_couple_id,
        kind=kind,
        about=access.lapsed_at,
        run_at=now,
        now=now,
        revive=True,
    )


async def admit(
    session: AsyncSession, user: User, kind: str, *, now: datetime, policy: Policy
) -> bool:
    """Tell whether a scheduled message of this kind may go to this person now.

    A gated message for a couple out of trial and unpaid is held back, and the person is told
    once, warmly, how to subscribe: never again for the same lapse.
    """
    return (await admit_many(session, [(user, kind)], now=now, policy=policy))[0]


async def admit_many(
    session: AsyncSession, requests: Sequence[tuple[User, str]], *, now: datetime, policy: Policy
) -> list[bool]:
    """Tell for each (person, kind) whether it may go out now, as `admit` does, in one go."""

    def gated(user: User, kind: str) -> bool:
        feature = NUDGE_FEATURES.get(kind)
        return feature is not None and feature in policy.gated and user.couple_id is not None

    standing = await entitlements.access_of_many(
        session,
        {user.couple_id for user, kind in requests if gated(user, kind) and user.couple_id},
        now,
        policy=policy,
    )
    verdicts = []
    for user, kind in requests:
        access = standing.get(user.couple_id or 0) if gated(user, kind) else None
        if access is None or access.entitled:
            verdicts.append(True)
            continue
        await note_lapse(session, user.id, access, now=now)
        verdicts.append(False)
    return verdicts


@dataclass(frozen=True)
class NoticeClaim:
    """A due notice this worker owns until its lease ends."""

    notice_id: int
    user_id: int
    couple_id: int
    kind: str
    about: datetime
    run_at: datetime
    attempts: int
    token: str


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(BillingNotice.status) == NoticeStatus.PENDING,
        due_at(BillingNotice.next_run_at, BillingNotice.claimed_until, now),
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta
) -> list[NoticeClaim]:
    """Claim up to `limit` due notices, oldest first (the one claim, core/claims)."""
    token = new_token()
    rows = await claim_rows(
        session,
        BillingNotice,
        due=_due(now),
        order_by=col(BillingNotice.next_run_at),
        limit=limit,
        take={"claim_token": token, "claimed_until": now + lease},
        returning=(
            col(BillingNotice.id),
            col(BillingNotice.user_id),
            col(BillingNotice.couple_id),
            col(BillingNotice.kind),
            col(BillingNotice.about),
            col(BillingNotice.next_run_at),
            col(BillingNotice.attempts),
        ),
    )
    return [NoticeClaim(r[0], r[1], r[2], r[3], r[4], r[5], r[6], token) for r in rows]


def _mine(claim: NoticeClaim) -> ColumnElement[bool]:
    return and_(
        col(BillingNotice.id) == claim.notice_id, col(BillingNotice.claim_token) == claim.token
    )


async def settle(session: AsyncSession, claim: NoticeClaim, status: str, *, now: datetime) -> None:
    """Mark a claimed notice sent or dropped, for good."""
    values: dict[str, object] = {"status": status, "claim_token": None, "claimed_until": None}
    if status == NoticeStatus.SENT:
        values["sent_at"] = now
    await session.exec(update(BillingNotice).where(_mine(claim)).values(**values))


async def postpone(
    session: AsyncSession, claim: NoticeClaim, *, until: datetime, attempted: bool = False
) -> None:
    """Release a claimed notice so it is tried again at `until`."""
    values: dict[str, object] = {"next_run_at": until, "claim_token": None, "claimed_until": None}
    if attempted:
        values["attempts"] = claim.attempts + 1
    await session.exec(update(BillingNotice).where(_mine(claim)).values(**values))
