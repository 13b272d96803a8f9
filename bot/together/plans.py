"""Plans together: three ideas, each partner's private marks, the ones both chose, a day, and
how it went, shown to both once both have said."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements
from bot.billing.entitlements import Policy
from bot.checkins.weekly import PAUSED, lock_couple, require_unpaused
from bot.content.together import LONG_DISTANCE, Idea, TogetherContent
from bot.core.errors import DomainError, StaleAction
from bot.db.models import Couple, User
from bot.db.together import (
    ACTIVE,
    PlanStatus,
    TogetherEntry,
    TogetherJob,
    TogetherPlan,
)
from bot.nudges.timing import local_date_of
from bot.people import conversation
from bot.people.profiles import name_of, partner_of, require, zone_of
from bot.reading.library import plan_for
from bot.safety import signals as safety
from bot.together import ideas as choosing
from bot.together import schedules

WORDS = "together.words"
WORDS_MAX_LENGTH = 300
SCORES = range(1, 6)
# How far ahead a day can be chosen, from the chooser's today.
DAYS_AHEAD = 14
# A weekly run joins a round that opened this recently (the partners' local times differ).
JOIN_WITHIN = timedelta(hours=48)
# A round nobody finished marking (or picking a day for) is set aside quietly after this.
LAPSE_AFTER = timedelta(days=7)
HISTORY_LIMIT = 8


@dataclass(frozen=True)
class Side:
    """How it went for one partner: a score, or not got round to, and maybe some words."""

    score: int | None
    not_done: bool
    words: str | None


@dataclass(frozen=True)
class View:
    """A round as one partner sees it: only their own marks, never the partner's."""

    plan_id: int
    status: str
    ideas: tuple[Idea, ...]
    liked: frozenset[int]  # indexes of the ideas this person marked
    marked: bool  # this person finished marking
    matched: tuple[Idea, ...]
    idea: Idea | None
    day: date | None
    today: date  # this person's local date
    partner_name: str


@dataclass(frozen=True)
class Started:
    """The round this person is in, and whether it just began (so the partner hears of it)."""

    view: View
    created: bool
    me: User
    partner: User


@dataclass(frozen=True)
class Marked:
    """What finishing one's marks led to."""

    me: User
    partner: User
    both: bool  # both have now marked
    # The partner has seen this round and not marked yet: tell them it is their turn.
    tell_partner: bool
    view: View  # the round as this person sees it now
    next_round: Started | None = None  # nothing both marked: three more


@dataclass(frozen=True)
class Planned:
    """A day chosen for one idea both would enjoy."""

    me: User
    partner: User
    idea: Idea | None
    day: date
    changed: bool


@dataclass(frozen=True)
class Reveal:
    """How it went, as one partner sees it: their side first."""

    plan_id: int
    idea: Idea | None
    day: date | None
    partner_name: str
    mine: Side
    theirs: Side


@dataclass(frozen=True)
class Answered:
    """One partner said how it went; when both have, both see both."""

    me: User
    partner: User
    revealed: bool


@dataclass(frozen=True)
class PastPlan:
    """A plan whose day has passed, for /history: both sides only once both answered."""

    idea: Idea | None
    day: date
    revealed: bool
    mine: Side | None
    theirs: Side | None


async def couple_of(session: AsyncSession, user_id: int) -> tuple[User, User]:
    """Return a person and their partner, or explain that plans together need a partner."""
    user = await require(session, user_id)
    partner = await partner_of(session, user)
    if partner is None:
        raise DomainError("together.not_paired")
    return user, partner


async def resting(
    session: AsyncSession, couple_id: int, now: datetime, *, policy: Policy
) -> str | None:
    """Return why plans together rest right now (a message key), or None if they don't."""
    if await safety.exercises_paused(session, couple_id):
        return PAUSED
    if not await entitlements.is_entitled(
        session, couple_id, entitlements.TOGETHER, now, policy=policy
    ):
        return "together.resting"
    return None


async def _require_open(
    session: AsyncSession, couple_id: int, now: datetime, policy: Policy
) -> None:
    why = await resting(session, couple_id, now, policy=policy)
    if why is not None:
        raise DomainError(why)


def _today(user: User, now: datetime, default_zone: str) -> date:
    return local_date_of(now, zone_of(user, default=default_zone))


async def entry_of(session: AsyncSession, plan_id: int, user_id: int) -> TogetherEntry | None:
    """Return one partner's side of a round."""
    return (
        await session.exec(
            select(TogetherEntry).where(
                TogetherEntry.plan_id == plan_id, TogetherEntry.user_id == user_id
            )
        )
    ).first()


async def _active(session: AsyncSession, couple_id: int) -> TogetherPlan | None:
    return (
        await session.exec(
            select(TogetherPlan).where(
                TogetherPlan.couple_id == couple_id, col(TogetherPlan.status).in_(ACTIVE)
            )
        )
    ).first()


def _ideas(content: TogetherContent, ids: Sequence[str] | None) -> tuple[Idea, ...]:
    found = (content.idea(idea_id) for idea_id in ids or ())
    return tuple(idea for idea in found if idea is not None)


async def view_of(
    session: AsyncSession,
    plan: TogetherPlan,
    user: User,
    partner: User,
    *,
    content: TogetherContent,
    now: datetime,
    default_zone: str,
) -> View:
    """Describe a round as this person sees it."""
    assert plan.id is not None
    entry = await entry_of(session, plan.id, user.id)
    liked = set(entry.liked) if entry is not None else set()
    return View(
        plan_id=plan.id,
        status=plan.status,
        ideas=_ideas(content, plan.idea_ids),
        liked=frozenset(i for i, idea_id in enumerate(plan.idea_ids) if idea_id in liked),
        marked=entry is not None and entry.marked_at is not None,
        matched=_ideas(content, plan.matched_ids),
        idea=content.idea(plan.idea_id) if plan.idea_id else None,
        day=plan.day,
        today=_today(user, now, default_zone),
        partner_name=name_of(partner),
    )


async def current_plan(session: AsyncSession, plan_id: int) -> TogetherPlan:
    """Return a round by id (one the caller has just read or written)."""
    plan = await session.get(TogetherPlan, plan_id)
    if plan is None:
        raise StaleAction()
    return plan


async def view_for(
    session: AsyncSession,
    user_id: int,
    plan_id: int,
    *,
    now: datetime,
    content: TogetherContent,
    default_zone: str,
) -> View:
    """Return one of the couple's rounds as this person sees it."""
    user, partner = await couple_of(session, user_id)
    plan = await _own(session, user, plan_id)
    return await view_of(
        session, plan, user, partner, content=content, now=now, default_zone=default_zone
    )


async def partner_name(session: AsyncSession, user_id: int) -> str:
    """Return what this person calls their partner ("" without one)."""
    user = await require(session, user_id)
    partner = await partner_of(session, user)
    return name_of(partner) if partner is not None else ""


async def _settle_old(
    session: AsyncSession, plan: TogetherPlan, user: User, *, now: datetime, default_zone: str
) -> TogetherPlan | None:
    """Set aside a round that went quiet, or mark a past day done; return it if still active."""
    if plan.status == PlanStatus.PLANNED:
        if plan.day is not None and plan.day < _today(user, now, default_zone):
            plan.status = PlanStatus.DONE
            session.add(plan)
            return None
        return plan
    if now - plan.created_at > LAPSE_AFTER:
        plan.status = PlanStatus.LAPSED
        session.add(plan)
        return None
    return plan


async def _new_round(
    session: AsyncSession,
    user: User,
    partner: User,
    *,
    now: datetime,
    content: TogetherContent,
    shown_to: Sequence[User],
) -> TogetherPlan:
    """Choose three ideas for the couple and open a round with a side for each partner."""
    assert user.couple_id is not None
    earlier = (
        await session.exec(
            select(TogetherPlan)
            .where(TogetherPlan.couple_id == user.couple_id)
            .order_by(col(TogetherPlan.created_at).desc(), col(TogetherPlan.id).desc())
        )
    ).all()
    focus = await plan_for(session, user)
    offered = Counter(idea_id for plan in earlier for idea_id in plan.idea_ids)
    done = {plan.idea_id for plan in earlier if plan.idea_id and plan.status == PlanStatus.DONE}
    picked = choosing.pick(
        content.ideas,
        weigh=focus.weight,
        previous=earlier[0].idea_ids if earlier else (),
        done=done,
        offered=offered,
        apart=LONG_DISTANCE in focus.mine | focus.partner,
        seed=user.couple_id * 7919 + len(earlier),
    )
    plan = TogetherPlan(
        couple_id=user.couple_id, idea_ids=[idea.id for idea in picked], created_at=now
    )
    session.add(plan)
    await session.flush()
    assert plan.id is not None
    for person in (user, partner):
        shown = now if person in shown_to else None
        session.add(
            TogetherEntry(plan_id=plan.id, user_id=person.id, shown_at=shown, created_at=now)
        )
    await session.flush()
    return plan


async def start(
    session: AsyncSession,
    user_id: int,
    *,
    now: datetime,
    content: TogetherContent,
    policy: Policy,
    default_zone: str,
) -> Started:
    """Return the couple's current round, or open one with three fresh ideas."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    await _require_open(session, user.couple_id, now, policy)
    await lock_couple(session, user.couple_id)
    plan = await _active(session, user.couple_id)
    if plan is not None:
        plan = await _settle_old(session, plan, user, now=now, default_zone=default_zone)
    created = plan is None
    if plan is None:
        # Both hear of it now: the one who asked, and the partner by a notification.
        plan = await _new_round(
            session, user, partner, now=now, content=content, shown_to=(user, partner)
        )
    else:
        assert plan.id is not None
        entry = await entry_of(session, plan.id, user.id)
        if entry is not None and entry.shown_at is None:
            # Seen now: their weekly run later today need not bring the same three again.
            entry.shown_at = now
            session.add(entry)
    view = await view_of(
        session, plan, user, partner, content=content, now=now, default_zone=default_zone
    )
    return Started(view, created, user, partner)


async def weekly_round(
    session: AsyncSession,
    user: User,
    *,
    now: datetime,
    content: TogetherContent,
    policy: Policy,
    default_zone: str,
) -> View | None:
    """Return the round a weekly run offers this person, or None when there is nothing to say.

    The partner whose time comes first opens the round; the other's run, hours later, offers
    the same one. A couple with a day still ahead of them hears nothing new.
    """
    partner = await partner_of(session, user)
    if partner is None or user.couple_id is None:
        return None
    if await resting(session, user.couple_id, now, policy=policy) is not None:
        return None
    await lock_couple(session, user.couple_id)
    plan = await _active(session, user.couple_id)
    if plan is not None:
        plan = await _settle_old(session, plan, user, now=now, default_zone=default_zone)
    if plan is not None:
        assert plan.id is not None
        entry = await entry_of(session, plan.id, user.id)
        joinable = (
            plan.status == PlanStatus.MARKING
            and now - plan.created_at <= JOIN_WITHIN
            and entry is not None
            and entry.shown_at is None
        )
        if not joinable:
            return None
        assert entry is not None
        entry.shown_at = now
        session.add(entry)
    else:
        # The partner's own weekly run shows it to them at their own time.
        plan = await _new_round(session, user, partner, now=now, content=content, shown_to=(user,))
    return await view_of(
        session, plan, user, partner, content=content, now=now, default_zone=default_zone
    )


async def _own(session: AsyncSession, user: User, plan_id: int) -> TogetherPlan:
    plan = await session.get(TogetherPlan, plan_id)
    if plan is None or user.couple_id is None or plan.couple_id != user.couple_id:
        raise StaleAction()
    return plan


async def toggle(
    session: AsyncSession,
    user_id: int,
    plan_id: int,
    index: int,
    *,
    now: datetime,
    content: TogetherContent,
    policy: Policy,
    default_zone: str,
) -> View:
    """Mark or unmark one idea as something this person would enjoy (privately)."""
    user, partner = await couple_of(session, user_id)
    plan = await _own(session, user, plan_id)
    entry = await entry_of(session, plan_id, user.id)
    if plan.status != PlanStatus.MARKING or entry is None or not 0 <= index < len(plan.idea_ids):
        raise StaleAction()
    if entry.marked_at is not None:
        raise DomainError("together.already_marked")
    await _require_open(session, plan.couple_id, now, policy)
    idea_id = plan.idea_ids[index]
    liked = [i for i in entry.liked if i != idea_id]
    entry.liked = liked if idea_id in entry.liked else [*liked, idea_id]
    session.add(entry)
    await session.flush()
    return await view_of(
        session, plan, user, partner, content=content, now=now, default_zone=default_zone
    )


async def finish_marking(
    session: AsyncSession,
    user_id: int,
    plan_id: int,
    *,
    now: datetime,
    content: TogetherContent,
    policy: Policy,
    default_zone: str,
) -> Marked:
    """Seal this person's marks; once both have, reveal only the ideas both marked.

    With nothing in common, nobody learns what the other marked: a fresh round begins.
    """
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    await lock_couple(session, user.couple_id)
    plan = await _own(session, user, plan_id)
    entry = await entry_of(session, plan_id, user.id)
    if plan.status != PlanStatus.MARKING or entry is None:
        raise StaleAction()
    if entry.marked_at is not None:
        raise DomainError("together.already_marked")
    await _require_open(session, plan.couple_id, now, policy)
    entry.marked_at = now
    session.add(entry)
    theirs = await entry_of(session, plan_id, partner.id)
    both = theirs is not None and theirs.marked_at is not None
    next_round: Started | None = None
    if both:
        assert theirs is not None
        matched = [i for i in plan.idea_ids if i in entry.liked and i in theirs.liked]
        if matched:
            plan.status, plan.matched_ids = PlanStatus.MATCHED, matched
            if len(matched) == 1:
                plan.idea_id = matched[0]
            session.add(plan)
        else:
            plan.status = PlanStatus.UNMATCHED
            session.add(plan)
            await session.flush()
            fresh = await _new_round(
                session, user, partner, now=now, content=content, shown_to=(user, partner)
            )
            view = await view_of(
                session, fresh, user, partner, content=content, now=now, default_zone=default_zone
            )
            next_round = Started(view, True, user, partner)
    await session.flush()
    view = await view_of(
        session, plan, user, partner, content=content, now=now, default_zone=default_zone
    )
    tell = not both and theirs is not None and theirs.shown_at is not None
    return Marked(user, partner, both, tell, view, next_round)


async def choose_idea(
    session: AsyncSession,
    user_id: int,
    plan_id: int,
    index: int,
    *,
    now: datetime,
    content: TogetherContent,
    default_zone: str,
) -> View:
    """Choose which of the ideas both marked to do (when there is more than one)."""
    user, partner = await couple_of(session, user_id)
    plan = await _own(session, user, plan_id)
    matched = plan.matched_ids or []
    if plan.status != PlanStatus.MATCHED or not 0 <= index < len(matched):
        raise StaleAction()
    await require_unpaused(session, plan.couple_id)
    plan.idea_id = matched[index]
    session.add(plan)
    await session.flush()
    return await view_of(
        session, plan, user, partner, content=content, now=now, default_zone=default_zone
    )


def day_choices(today: date) -> list[date]:
    """Return the days a person may choose from, starting today."""
    return [today + timedelta(days=offset) for offset in range(DAYS_AHEAD)]


async def choose_day(
    session: AsyncSession,
    user_id: int,
    plan_id: int,
    day: date,
    *,
    now: datetime,
    content: TogetherContent,
    policy: Policy,
    default_zone: str,
    reminder_at: time,
) -> Planned:
    """Fix the day for the chosen idea; each partner is reminded on it at their own time."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    await lock_couple(session, user.couple_id)
    plan = await _own(session, user, plan_id)
    if plan.status not in (PlanStatus.MATCHED, PlanStatus.PLANNED) or plan.idea_id is None:
        raise StaleAction()
    if day not in day_choices(_today(user, now, default_zone)):
        raise StaleAction()
    await _require_open(session, plan.couple_id, now, policy)
    changed = plan.status == PlanStatus.PLANNED
    if changed and plan.day == day:
        raise DomainError("together.same_day")
    plan.status, plan.day, plan.planned_at = PlanStatus.PLANNED, day, now
    session.add(plan)
    assert plan.id is not None
    for person in (user, partner):
        await schedules.plan_day(
            session, person, plan.id, day, now=now, at=reminder_at, default_zone=default_zone
        )
    return Planned(user, partner, content.idea(plan.idea_id), day, changed)


async def _answerable(
    session: AsyncSession, user: User, plan_id: int, *, now: datetime, default_zone: str
) -> tuple[TogetherPlan, TogetherEntry]:
    plan = await _own(session, user, plan_id)
    entry = await entry_of(session, plan_id, user.id)
    if entry is not None and entry.answered_at is not None:
        raise DomainError("together.already_answered")
    if (
        plan.status not in (PlanStatus.PLANNED, PlanStatus.DONE)
        or plan.day is None
        or plan.revealed_at is not None
        or entry is None
    ):
        raise StaleAction()
    if plan.day > _today(user, now, default_zone):
        raise DomainError("together.not_yet", day=plan.day)
    # Saying how it went is shared too: it waits while a safety signal pauses the couple.
    await require_unpaused(session, plan.couple_id)
    return plan, entry


async def rate(
    session: AsyncSession,
    user_id: int,
    plan_id: int,
    score: int | None,
    *,
    now: datetime,
    default_zone: str,
) -> None:
    """Keep how it went for this person (None: we didn't get round to it); words may follow."""
    user, _ = await couple_of(session, user_id)
    _, entry = await _answerable(session, user, plan_id, now=now, default_zone=default_zone)
    if score is not None and score not in SCORES:
        raise StaleAction()
    entry.score, entry.not_done = score, score is None
    session.add(entry)
    await conversation.expect(session, user.id, WORDS, now=now, data={"plan_id": plan_id})


def clean_words(typed: str) -> str:
    """Return typed words tidied, or explain why they cannot be kept."""
    words = " ".join(typed.split())
    if not words:
        raise DomainError("together.words_empty")
    if len(words) > WORDS_MAX_LENGTH:
        raise DomainError("together.words_too_long", limit=WORDS_MAX_LENGTH, length=len(words))
    return words


async def finish_answer(
    session: AsyncSession,
    user_id: int,
    plan_id: int,
    typed: str | None,
    *,
    now: datetime,
    default_zone: str,
) -> Answered:
    """Seal this person's answer (with words, or without); reveal both once both have."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    words = clean_words(typed) if typed is not None else None
    await lock_couple(session, user.couple_id)
    plan, entry = await _answerable(session, user, plan_id, now=now, default_zone=default_zone)
    if entry.score is None and not entry.not_done:
        raise StaleAction()
    entry.words, entry.answered_at = words, now
    session.add(entry)
    await conversation.forget(session, user.id)
    await schedules.cancel(session, user.id, TogetherJob.ASK)
    theirs = await entry_of(session, plan_id, partner.id)
    revealed = theirs is not None and theirs.answered_at is not None
    if revealed:
        plan.revealed_at, plan.status = now, PlanStatus.DONE
        session.add(plan)
    await session.flush()
    return Answered(user, partner, revealed)


def _side(entry: TogetherEntry | None) -> Side:
    if entry is None:
        return Side(None, False, None)
    return Side(entry.score, entry.not_done, entry.words)


async def reveal_for(
    session: AsyncSession, plan_id: int, viewer_id: int, *, content: TogetherContent
) -> Reveal:
    """Return how it went for both, as one partner sees it (only once both answered)."""
    user, partner = await couple_of(session, viewer_id)
    plan = await _own(session, user, plan_id)
    if plan.revealed_at is None:
        raise StaleAction()
    return Reveal(
        plan_id,
        content.idea(plan.idea_id) if plan.idea_id else None,
        plan.day,
        name_of(partner),
        _side(await entry_of(session, plan_id, user.id)),
        _side(await entry_of(session, plan_id, partner.id)),
    )


async def history(
    session: AsyncSession,
    user_id: int,
    *,
    now: datetime,
    content: TogetherContent,
    default_zone: str,
    limit: int = HISTORY_LIMIT,
) -> tuple[PastPlan, ...]:
    """Return the couple's plans whose day has come, newest first; sides only once revealed."""
    user = await require(session, user_id)
    partner = await partner_of(session, user)
    if user.couple_id is None or partner is None:
        return ()
    today = _today(user, now, default_zone)
    plans = (
        await session.exec(
            select(TogetherPlan)
            .where(
                TogetherPlan.couple_id == user.couple_id,
                col(TogetherPlan.status).in_((PlanStatus.PLANNED, PlanStatus.DONE)),
                col(TogetherPlan.day).is_not(None),
                col(TogetherPlan.day) <= today,
            )
            .order_by(col(TogetherPlan.day).desc(), col(TogetherPlan.id).desc())
            .limit(limit)
        )
    ).all()
    past = []
    for plan in plans:
        assert plan.id is not None and plan.day is not None
        shown = plan.revealed_at is not None
        past.append(
            PastPlan(
                content.idea(plan.idea_id) if plan.idea_id else None,
                plan.day,
                shown,
                _side(await entry_of(session, plan.id, user.id)) if shown else None,
                _side(await entry_of(session, plan.id, partner.id)) if shown else None,
            )
        )
    return tuple(past)


async def plan_of_job(
    session: AsyncSession, plan_id: int | None, user: User
) -> TogetherPlan | None:
    """Return the plan a scheduled row points at, if it is still this person's couple's."""
    if plan_id is None or user.couple_id is None:
        return None
    plan = await session.get(TogetherPlan, plan_id)
    return plan if plan is not None and plan.couple_id == user.couple_id else None


async def purge_ended(session: AsyncSession, *, now: datetime, grace: timedelta) -> int:
    """Erase the plans of couples that ended longer ago than `grace`."""
    ended = select(Couple.id).where(
        col(Couple.ended_at).is_not(None), col(Couple.ended_at) <= now - grace
    )
    result = await session.exec(delete(TogetherPlan).where(col(TogetherPlan.couple_id).in_(ended)))
    return int(result.rowcount or 0)
