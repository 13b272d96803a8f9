"""Who may use what: the pair's 7-day trial, paid periods with a short grace, and the lookups.

The rules at the top are pure (plain values in, plain values out) so they can be tested with
generated inputs; the functions below them read a couple's facts from the database.

- The trial belongs to a pair of people: it starts when they first paired and lasts 7 days.
  Pairing again with the same partner, however much later, never starts another one, even
  after one of them erased their data (bot/billing/pair_trials remembers the pair).
- A subscription belongs to the partner who pays. It covers that person's current couple
  until its paid period ends; while Telegram is expected to renew it, a short grace covers a
  renewal that arrives late. A refund ends it at once.
- A gated feature needs the trial or a covering subscription; anything not gated is open.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from bot.billing import pair_trials
from bot.db.billing import Subscription
from bot.db.models import Couple, User

TRIAL = timedelta(days=7)
DEFAULT_GRACE = timedelta(hours=24)

# The features other capabilities ask about; GATED_FEATURES names which of them are paid.
NUDGES = "nudges"
CHECKINS = "checkins"
ARTICLES = "articles"
PAID_VIDEOS = "paid_videos"
TOGETHER = "together"
EXPECTATIONS = "expectations"
VULNERABILITY = "vulnerability"
DEFAULT_GATED = frozenset(
    {NUDGES, CHECKINS, ARTICLES, PAID_VIDEOS, TOGETHER, EXPECTATIONS, VULNERABILITY}
)


class State(enum.StrEnum):
    """Where a couple stands."""

    TRIAL = "trial"
    PAID = "paid"
    LAPSED = "lapsed"


@dataclass(frozen=True)
class Policy:
    """What is gated, how long a renewal may be late, and the key that names pairs of people."""

    gated: frozenset[str] = DEFAULT_GATED
    grace: timedelta = DEFAULT_GRACE
    pair_key: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class Cover:
    """One subscription, as far as access is concerned."""

    subscription_id: int
    payer_id: int
    paid_until: datetime
    renewing: bool
    ended_at: datetime | None = None

    def ends_at(self, grace: timedelta) -> datetime:
        """Return the instant this subscription stops covering its payer's couple."""
        end = self.paid_until + (grace if self.renewing else timedelta(0))
        return end if self.ended_at is None else min(end, self.ended_at)


@dataclass(frozen=True)
class Access:
    """A couple's standing at one instant."""

    state: State
    trial_couple_id: int
    trial_started_at: datetime
    trial_ends_at: datetime
    cover: Cover | None = None
    lapsed_at: datetime | None = None

    @property
    def entitled(self) -> bool:
        """Tell whether gated features are open right now."""
        return self.state is not State.LAPSED

    @property
    def lapsed_with_trial(self) -> bool:
        """Tell whether access ended when the trial did (nothing paid ran past it)."""
        return self.state is State.LAPSED and self.lapsed_at == self.trial_ends_at


def trial_window(pair_starts: Iterable[datetime]) -> tuple[datetime, datetime]:
    """Return the start and end of a pair's trial, given when each of their couples began."""
    start = min(pair_starts)
    return start, start + TRIAL


def access_at(
    *,
    trial_couple_id: int,
    trial_started_at: datetime,
    covers: Collection[Cover],
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> Access:
    """Decide where a couple stands at `now`; a paid period wins over the trial."""
    trial_ends_at = trial_started_at + TRIAL
    live = [cover for cover in covers if cover.ends_at(grace) > now]
    if live:
        cover = max(live, key=lambda c: (c.ends_at(grace), c.subscription_id))
        return Access(State.PAID, trial_couple_id, trial_started_at, trial_ends_at, cover=cover)
    if now < trial_ends_at:
        return Access(State.TRIAL, trial_couple_id, trial_started_at, trial_ends_at)
    ends = [cover.ends_at(grace) for cover in covers]
    lapsed_at = max([trial_ends_at, *ends])
    return Access(
        State.LAPSED, trial_couple_id, trial_started_at, trial_ends_at, lapsed_at=lapsed_at
    )


def allows(access: Access, feature: str, gated: Collection[str]) -> bool:
    """Tell whether a couple in this standing may use a feature."""
    return feature not in gated or access.entitled


def paid_through(periods: Iterable[tuple[datetime, bool]]) -> datetime | None:
    """Return the end of the latest period a charge paid for, ignoring refunded charges."""
    kept = [end for end, refunded in periods if not refunded]
    return max(kept) if kept else None


def trial_days_left(access: Access, now: datetime) -> int:
    """Return the whole or started days left in the trial (0 once it is over)."""
    left = access.trial_ends_at - now
    if left <= timedelta(0):
        return 0
    return -(-left // timedelta(days=1))


def cover_of(subscription: Subscription) -> Cover:
    """Describe a stored subscription for the rules above."""
    assert subscription.id is not None and subscription.payer_id is not None
    return Cover(
        subscription_id=subscription.id,
        payer_id=subscription.payer_id,
        paid_until=subscription.paid_until,
        renewing=subscription.renewal_canceled_at is None,
        ended_at=subscription.ended_at,
    )


async def covers_of(session: AsyncSession, couple_id: int) -> list[Cover]:
    """Return the subscriptions of the people who are in this couple right now."""
    return (await _covers_by_couple(session, [couple_id])).get(couple_id, [])


async def personal_covers(session: AsyncSession, user_id: int) -> list[Cover]:
    """Return the subscriptions one person pays for."""
    result = await session.exec(select(Subscription).where(Subscription.payer_id == user_id))
    return [cover_of(subscription) for subscription in result.all()]


async def access_of(
    session: AsyncSession, couple_id: int, now: datetime, *, policy: Policy
) -> Access | None:
    """Return where a couple stands at `now`, or None if there is no such couple."""
    return (await access_of_many(session, [couple_id], now, policy=policy)).get(couple_id)


async def access_of_many(
    session: AsyncSession,
    couple_ids: Collection[int],
    now: datetime,
    *,
    policy: Policy,
) -> dict[int, Access]:
    """Return where each of these couples stands at `now`, by couple id, in three queries.

    The nudge engine asks this for a whole group of people at once; couples that do not exist
    are missing from the answer.
    """
    if not couple_ids:
        return {}
    # Plain rows, not ORM objects: only these columns are read, for many couples at a time.
    couple_rows: Select[Any] = Select(
        col(Couple.id),
        col(Couple.partner_a_id),
        col(Couple.partner_b_id),
        col(Couple.created_at),
        col(Couple.ended_at),
    )
    couple_rows = couple_rows.where(col(Couple.id).in_(set(couple_ids)))
    couples: list[Any] = list((await session.exec(couple_rows)).all())
    pairs = {
        (partner_a_id, partner_b_id)
        for _, partner_a_id, partner_b_id, _, _ in couples
        if partner_a_id is not None and partner_b_id is not None
    }
    firsts = await _first_couples(session, pairs)
    # A pair's earlier couples lose their names when one of the two erases their data.
    remembered = await pair_trials.started(session, policy.pair_key, pairs)
    covers = await _covers_by_couple(
        session, [couple_id for couple_id, _, _, _, ended_at in couples if ended_at is None]
    )
    standing = {}
    for couple_id, partner_a_id, partner_b_id, created_at, _ in couples:
        pair = (partner_a_id or 0, partner_b_id or 0)
        trial_couple_id, started = firsts.get(pair, (couple_id, created_at))
        started = min(started, remembered.get(pair, started))
        standing[couple_id] = access_at(
            trial_couple_id=trial_couple_id,
            trial_started_at=started,
            covers=covers.get(couple_id, []),  # loaded for couples that have not ended
            now=now,
            grace=policy.grace,
        )
    return standing


async def _first_couples(
    session: AsyncSession, pairs: Collection[tuple[int | None, int | None]]
) -> dict[tuple[int, int], tuple[int, datetime]]:
    """Return each pair's first couple (whose trial it is) and when it began."""
    if not pairs:
        return {}
    # Separate IN lists, not a row-value IN: SQLite searches the pair index only for these.
    result = await session.exec(
        select(Couple.id, Couple.partner_a_id, Couple.partner_b_id, Couple.created_at).where(
            col(Couple.partner_a_id).in_({a for a, _ in pairs}),
            col(Couple.partner_b_id).in_({b for _, b in pairs}),
        )
    )
    firsts: dict[tuple[int, int], tuple[int, datetime]] = {}
    for couple_id, partner_a, partner_b, created_at in result.all():
        key = (partner_a or 0, partner_b or 0)
        if couple_id is None or key not in pairs:
            continue
        known = firsts.get(key)
        if known is None or (created_at, couple_id) < (known[1], known[0]):
            firsts[key] = (couple_id, created_at)
    return firsts


async def _covers_by_couple(
    session: AsyncSession, couple_ids: Collection[int]
) -> dict[int, list[Cover]]:
    """Return the subscriptions of the people in each of these couples right now."""
    if not couple_ids:
        return {}
    cover_rows: Select[Any] = Select(
        col(User.couple_id),
        col(Subscription.id),
        col(Subscription.payer_id),
        col(Subscription.paid_until),
        col(Subscription.renewal_canceled_at),
        col(Subscription.ended_at),
    )
    cover_rows = cover_rows.join(User, col(User.id) == col(Subscription.payer_id)).where(
        col(User.couple_id).in_(couple_ids)
    )
    covers: dict[int, list[Cover]] = {}
    rows: Iterable[Any] = (await session.exec(cover_rows)).all()
    for couple_id, subscription_id, payer_id, paid_until, canceled_at, ended_at in rows:
        if couple_id is not None:
            # As `cover_of` describes a subscription, from its columns alone.
            covers.setdefault(couple_id, []).append(
                Cover(
                    subscription_id=subscription_id,
                    payer_id=payer_id,
                    paid_until=paid_until,
                    renewing=canceled_at is None,
                    ended_at=ended_at,
                )
            )
    return covers


async def is_entitled(
    session: AsyncSession,
    couple_id: int,
    feature: str,
    now: datetime,
    *,
    policy: Policy,
) -> bool:
    """Tell whether a couple may use a feature now (features not gated are always open)."""
    if feature not in policy.gated:
        return True
    access = await access_of(session, couple_id, now, policy=policy)
    return access is not None and access.entitled
