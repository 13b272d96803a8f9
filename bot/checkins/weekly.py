"""Weekly check-ins together: each partner answers privately; both see both once both submit."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing import entitlements
from bot.billing.entitlements import Policy
from bot.checkins import schedules as checkin_schedules
from bot.checkins.schedules import Plan
from bot.content.checkins import CheckinContent, CheckinQuestion
from bot.content.entries import Video
from bot.core.errors import DomainError, StaleAction
from bot.db.checkins import (
    Appreciation,
    Checkin,
    CheckinAnswer,
    CheckinEntry,
    CheckinJob,
    CheckinPlan,
    CheckinStatus,
    TopicFlag,
)
from bot.db.engine import dialect_insert
from bot.db.models import Couple, User
from bot.nudges.timing import local_date_of
from bot.people import conversation
from bot.people.profiles import name_of, partner_of, require, zone_of
from bot.safety import signals as safety

REFLECTION_MAX_LENGTH = 300
SCORES = range(1, 6)
# A score gap this wide on one question earns a gentle suggestion in the summary.
NOTABLE_GAP = 2
REFLECTING = "checkins.reflect"
# A scheduled run joins the couple's latest check-in when it opened this recently: the two
# partners' local times on the same weekday can lie up to 26 hours apart.
JOIN_WITHIN = timedelta(hours=48)
HISTORY_LIMIT = 12
# The neutral words the safety capability uses whenever shared exercises are paused.
PAUSED = "safety.paused_notice"


@dataclass(frozen=True)
class Windows:
    """How long a check-in stays open, and when a partner who has not finished is reminded."""

    window: timedelta
    reminder_after: timedelta
    default_zone: str


@dataclass(frozen=True)
class Given:
    """One partner's answer to one question (nothing given yet when all fields are empty)."""

    score: int | None = None
    text: str | None = None
    skipped: bool = False

    @property
    def answered(self) -> bool:
        """Tell whether the person gave an answer or chose to skip."""
        return self.score is not None or self.text is not None or self.skipped


@dataclass(frozen=True)
class Step:
    """What a partner sees next: one question with their answer so far, or the review."""

    checkin_id: int
    total: int
    index: int | None  # None: the review of every answer before sending them
    question: CheckinQuestion | None
    given: Given
    answers: tuple[tuple[CheckinQuestion, Given], ...]
    closes_at: datetime  # aware, in the person's own time zone


@dataclass(frozen=True)
class Started:
    """A check-in this person is now in, and the partner to tell if it just opened."""

    step: Step
    my_name: str
    partner_name: str
    partner_to_tell: User | None


@dataclass(frozen=True)
class Submitted:
    """The outcome of sending one's answers."""

    checkin_id: int
    revealed: bool
    user: User
    partner: User
    # Tell the partner their turn is waiting (they have the check-in but have not finished).
    tell_partner: bool
    partner_started: bool


@dataclass(frozen=True)
class Line:
    """Both partners' answers to one question."""

    question: CheckinQuestion
    mine: Given
    theirs: Given

    @property
    def gap(self) -> int | None:
        """Return how far apart the two scores are, when both gave one."""
        if self.mine.score is None or self.theirs.score is None:
            return None
        return abs(self.mine.score - self.theirs.score)


@dataclass(frozen=True)
class Suggestion:
    """Something to explore together where the two saw a question differently."""

    line: Line
    video: Video | None


@dataclass(frozen=True)
class Rhythm:
    """Weeks in a row with a check-in together (never a count of misses), and the total."""

    weeks_in_a_row: int
    together: int


@dataclass(frozen=True)
class Summary:
    """A revealed check-in as one partner sees it: their answers first."""

    checkin_id: int
    week_of: date
    partner_name: str
    lines: tuple[Line, ...]
    suggestion: Suggestion | None
    rhythm: Rhythm


@dataclass(frozen=True)
class Past:
    """One check-in both finished, for the history."""

    checkin_id: int
    week_of: date
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class History:
    """The couple's check-ins together, newest first, and the scale questions to chart."""

    my_name: str
    partner_name: str
    past: tuple[Past, ...]
    scales: tuple[CheckinQuestion, ...]
    rhythm: Rhythm


@dataclass(frozen=True)
class Closed:
    """A check-in whose window ended before both submitted."""

    checkin_id: int
    lone_submitter_id: int | None


def _insert(session: AsyncSession) -> Any:
    """Return the dialect's INSERT, which knows ON CONFLICT."""
    return dialect_insert(session)


async def couple_of(session: AsyncSession, user_id: int) -> tuple[User, User]:
    """Return a person and their partner, or explain that check-ins need a partner."""
    user = await require(session, user_id)
    partner = await partner_of(session, user)
    if partner is None:
        raise DomainError("checkins.not_paired")
    return user, partner


async def lock_couple(session: AsyncSession, couple_id: int) -> None:
    """Serialise both partners' decisions on one couple (SQLite has one writer anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(Couple.id).where(Couple.id == couple_id).with_for_update())


async def resting(
    session: AsyncSession, couple_id: int, now: datetime, *, policy: Policy
) -> str | None:
    """Return why the couple's check-ins rest right now (a message key), or None if they don't.

    A safety signal pauses everything the two do together, and says nothing about why; a
    couple whose trial ended unpaid keeps its history but opens no new check-ins.
    """
    if await safety.exercises_paused(session, couple_id):
        return PAUSED
    if not await entitlements.is_entitled(
        session, couple_id, entitlements.CHECKINS, now, policy=policy
    ):
        return "checkins.resting"
    return None


async def require_unpaused(session: AsyncSession, couple_id: int | None) -> None:
    """Refuse a shared exercise while a safety signal pauses the couple's."""
    if couple_id is not None and await safety.exercises_paused(session, couple_id):
        raise DomainError(PAUSED)


def questions_of(checkin: Checkin, content: CheckinContent) -> list[CheckinQuestion]:
    """Return a check-in's questions in the person's language, skipping any since removed."""
    found = (content.question(question_id) for question_id in checkin.question_ids)
    return [question for question in found if question is not None]


async def _entry(
    session: AsyncSession, checkin_id: int, user_id: int, *, now: datetime
) -> CheckinEntry:
    """Return a partner's side of a check-in, creating it (once, even with two workers)."""
    await session.exec(
        _insert(session)(CheckinEntry)
        .values(checkin_id=checkin_id, user_id=user_id, step=0, created_at=now)
        .on_conflict_do_nothing(index_elements=["checkin_id", "user_id"])
    )
    result = await session.exec(
        select(CheckinEntry).where(
            CheckinEntry.checkin_id == checkin_id, CheckinEntry.user_id == user_id
        )
    )
    return result.one()


async def open_checkin(
    session: AsyncSession,
    user: User,
    partner: User,
    *,
    now: datetime,
    question_ids: Sequence[str],
    windows: Windows,
) -> tuple[Checkin, bool]:
    """Return the couple's open check-in, opening one if there is none; tell whether it is new."""
    assert user.couple_id is not None
    inserted = (
        await session.exec(
            _insert(session)(Checkin)
            .values(
                couple_id=user.couple_id,
                status=CheckinStatus.OPEN,
                question_ids=list(question_ids),
                week_of=local_date_of(now, zone_of(user, default=windows.default_zone)),
                opened_at=now,
                closes_at=now + windows.window,
            )
            .on_conflict_do_nothing(
                index_elements=["couple_id"], index_where=text("status = 'open'")
            )
            .returning(col(Checkin.id))
        )
    ).first()
    checkin = (
        await session.exec(
            select(Checkin).where(
                Checkin.couple_id == user.couple_id, Checkin.status == CheckinStatus.OPEN
            )
        )
    ).one()
    assert checkin.id is not None
    for person in (user, partner):
        await _entry(session, checkin.id, person.id, now=now)
    return checkin, inserted is not None


async def invite(
    session: AsyncSession, checkin: Checkin, user: User, *, now: datetime, windows: Windows
) -> None:
    """Note that a partner has the check-in now, and plan their one gentle reminder."""
    assert checkin.id is not None
    entry = await _entry(session, checkin.id, user.id, now=now)
    if entry.invited_at is not None:
        return
    entry.invited_at = now
    session.add(entry)
    remind_at = now + windows.reminder_after
    if remind_at < checkin.closes_at:
        await checkin_schedules.plan_reminder(
            session, user, checkin.id, at=remind_at, default_zone=windows.default_zone
        )


async def checkin_to_offer(
    session: AsyncSession,
    user: User,
    *,
    now: datetime,
    question_ids: Sequence[str],
    windows: Windows,
    policy: Policy,
) -> Checkin | None:
    """Return the check-in a scheduled run brings this person, or None if nothing is new."""
    partner = await partner_of(session, user)
    if user.couple_id is None or partner is None:
        return None
    # No couple lock here: the tick prepares many couples in one transaction, and the unique
    # keys (one open check-in per couple, one entry per partner) already settle any race.
    await close_overdue(
        session, now=now, default_zone=windows.default_zone, couple_id=user.couple_id
    )
    if await resting(session, user.couple_id, now, policy=policy) is not None:
        return None
    latest = (
        await session.exec(
            select(Checkin)
            .where(Checkin.couple_id == user.couple_id)
            .order_by(col(Checkin.opened_at).desc(), col(Checkin.id).desc())
            .limit(1)
        )
    ).first()
    if latest is not None and latest.opened_at > now - JOIN_WITHIN:
        # This week's check-in already exists (the partner's time came first, or one of
        # them started it with /checkin): bring it, unless this person already has it.
        if latest.status != CheckinStatus.OPEN:
            return None
        checkin = latest
    else:
        checkin, _ = await open_checkin(
            session, user, partner, now=now, question_ids=question_ids, windows=windows
        )
    assert checkin.id is not None
    entry = await _entry(session, checkin.id, user.id, now=now)
    return None if entry.invited_at is not None or entry.submitted_at is not None else checkin


async def _answers(session: AsyncSession, entry_id: int) -> dict[str, CheckinAnswer]:
    result = await session.exec(select(CheckinAnswer).where(CheckinAnswer.entry_id == entry_id))
    return {answer.question_id: answer for answer in result.all()}


def _given(answer: CheckinAnswer | None) -> Given:
    if answer is None:
        return Given()
    return Given(answer.score, answer.text, answer.skipped)


async def _forget_mine(session: AsyncSession, user_id: int) -> None:
    waiting = await conversation.awaiting(session, user_id)
    if waiting is not None and waiting.state == REFLECTING:
        await conversation.forget(session, user_id)


async def _present(
    session: AsyncSession,
    user: User,
    checkin: Checkin,
    entry: CheckinEntry,
    content: CheckinContent,
    index: int,
    *,
    now: datetime,
    default_zone: str,
) -> Step:
    """Move a partner to a question (or the review) and remember where they are."""
    assert checkin.id is not None and entry.id is not None
    questions = questions_of(checkin, content)
    answers = await _answers(session, entry.id)
    index = min(max(index, 0), len(questions))
    entry.step = index
    session.add(entry)
    review = tuple((q, _given(answers.get(q.id))) for q in questions)
    closes_at = checkin.closes_at.astimezone(zone_of(user, default=default_zone))
    if index == len(questions):
        await _forget_mine(session, user.id)
        return Step(checkin.id, len(questions), None, None, Given(), review, closes_at)
    question = questions[index]
    if question.is_scale:
        await _forget_mine(session, user.id)
    else:
        # The typed reflection is the next message; the step lives in the database.
        await conversation.expect(
            session, user.id, REFLECTING, now=now, data={"checkin_id": checkin.id, "index": index}
        )
    given = _given(answers.get(question.id))
    return Step(checkin.id, len(questions), index, question, given, review, closes_at)


async def _own(session: AsyncSession, user: User, checkin_id: int) -> Checkin:
    """Return a check-in of this person's current couple, or refuse (stale or forged)."""
    checkin = await session.get(Checkin, checkin_id)
    if checkin is None or user.couple_id is None or checkin.couple_id != user.couple_id:
        raise StaleAction()
    return checkin


async def _own_open(
    session: AsyncSession, user: User, checkin_id: int, *, now: datetime
) -> tuple[Checkin, CheckinEntry]:
    """Return an open check-in of this person's couple and their unsent side of it."""
    checkin = await _own(session, user, checkin_id)
    await require_unpaused(session, checkin.couple_id)
    if checkin.status == CheckinStatus.REVEALED:
        raise DomainError("checkins.finished")
    if checkin.status != CheckinStatus.OPEN or checkin.closes_at <= now:
        raise DomainError("checkins.closed")
    assert checkin.id is not None
    entry = (
        await session.exec(
            select(CheckinEntry).where(
                CheckinEntry.checkin_id == checkin.id, CheckinEntry.user_id == user.id
            )
        )
    ).first()
    if entry is None:
        raise StaleAction()
    if entry.submitted_at is not None:
        raise DomainError("checkins.already_submitted")
    return checkin, entry


async def start(
    session: AsyncSession,
    user_id: int,
    *,
    now: datetime,
    content: CheckinContent,
    question_ids: Sequence[str],
    windows: Windows,
    policy: Policy,
) -> Started:
    """Start (or continue) the couple's check-in on demand, with /checkin."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    reason = await resting(session, user.couple_id, now, policy=policy)
    if reason is not None:
        raise DomainError(reason)
    await lock_couple(session, user.couple_id)
    # A check-in past its window that the tick has not closed yet must not be continued.
    await close_overdue(
        session, now=now, default_zone=windows.default_zone, couple_id=user.couple_id
    )
    checkin, created = await open_checkin(
        session, user, partner, now=now, question_ids=question_ids, windows=windows
    )
    assert checkin.id is not None
    mine = await _entry(session, checkin.id, user.id, now=now)
    if mine.submitted_at is not None:
        raise DomainError("checkins.waiting", partner=name_of(partner))
    await invite(session, checkin, user, now=now, windows=windows)
    tell = None
    if created:
        await invite(session, checkin, partner, now=now, windows=windows)
        tell = partner
    step = await _present(
        session, user, checkin, mine, content, mine.step, now=now, default_zone=windows.default_zone
    )
    return Started(step, name_of(user), name_of(partner), tell)


async def show(
    session: AsyncSession,
    user_id: int,
    checkin_id: int,
    *,
    now: datetime,
    content: CheckinContent,
    default_zone: str,
) -> Step:
    """Show a partner where they are in a check-in (its Begin or Continue button)."""
    user = await require(session, user_id)
    checkin, entry = await _own_open(session, user, checkin_id, now=now)
    if entry.invited_at is None:
        entry.invited_at = now
    return await _present(
        session, user, checkin, entry, content, entry.step, now=now, default_zone=default_zone
    )


def clean_reflection(typed: str) -> str:
    """Return a typed reflection ready to store, or raise a friendly error."""
    cleaned = typed.strip()
    if not cleaned:
        raise DomainError("checkins.reflection_empty")
    if len(cleaned) > REFLECTION_MAX_LENGTH:
        raise DomainError(
            "checkins.reflection_too_long", limit=REFLECTION_MAX_LENGTH, length=len(cleaned)
        )
    return cleaned


async def answer(
    session: AsyncSession,
    user_id: int,
    checkin_id: int,
    index: int,
    *,
    score: int | None = None,
    typed: str | None = None,
    now: datetime,
    content: CheckinContent,
    default_zone: str,
) -> Step:
    """Record a score, a typed reflection, or a skip (neither) for one question; go on."""
    user = await require(session, user_id)
    checkin, entry = await _own_open(session, user, checkin_id, now=now)
    assert entry.id is not None
    questions = questions_of(checkin, content)
    if not 0 <= index < len(questions):
        raise StaleAction()
    question = questions[index]
    if score is not None and (not question.is_scale or score not in SCORES):
        raise StaleAction()
    if typed is not None:
        if question.is_scale:
            raise StaleAction()
        typed = clean_reflection(typed)
    stored = (await _answers(session, entry.id)).get(question.id)
    if stored is None:
        stored = CheckinAnswer(
            entry_id=entry.id, user_id=user.id, question_id=question.id, answered_at=now
        )
    stored.score, stored.text = score, typed
    stored.skipped = score is None and typed is None
    stored.answered_at = now
    session.add(stored)
    await session.flush()
    return await _present(
        session, user, checkin, entry, content, index + 1, now=now, default_zone=default_zone
    )


async def move(
    session: AsyncSession,
    user_id: int,
    checkin_id: int,
    index: int,
    *,
    now: datetime,
    content: CheckinContent,
    default_zone: str,
) -> Step:
    """Go to another question (back, next, or one picked from the review) without changing it."""
    user = await require(session, user_id)
    checkin, entry = await _own_open(session, user, checkin_id, now=now)
    if not 0 <= index <= len(questions_of(checkin, content)):
        raise StaleAction()
    return await _present(
        session, user, checkin, entry, content, index, now=now, default_zone=default_zone
    )


async def submit(
    session: AsyncSession,
    user_id: int,
    checkin_id: int,
    *,
    now: datetime,
    content: CheckinContent,
) -> Submitted:
    """Send one's answers (unanswered ones count as skipped); reveal both if both have sent."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    await lock_couple(session, user.couple_id)
    checkin, entry = await _own_open(session, user, checkin_id, now=now)
    assert checkin.id is not None and entry.id is not None
    given = await _answers(session, entry.id)
    for question in questions_of(checkin, content):
        if question.id not in given:
            session.add(
                CheckinAnswer(
                    entry_id=entry.id,
                    user_id=user.id,
                    question_id=question.id,
                    skipped=True,
                    answered_at=now,
                )
            )
    entry.submitted_at = now
    session.add(entry)
    await _forget_mine(session, user.id)
    await checkin_schedules.cancel(session, user.id, CheckinJob.REMIND)
    theirs = await _entry(session, checkin.id, partner.id, now=now)
    revealed = False
    if theirs.submitted_at is not None:
        # Conditional, so only one of two racing submissions reveals (and sends summaries).
        result = await session.exec(
            update(Checkin)
            .where(col(Checkin.id) == checkin.id, col(Checkin.status) == CheckinStatus.OPEN)
            .values(status=CheckinStatus.REVEALED, finished_at=now)
        )
        revealed = result.rowcount == 1
    await session.flush()
    tell = not revealed and theirs.invited_at is not None
    return Submitted(checkin.id, revealed, user, partner, tell, theirs.step > 0)


async def _both_sides(
    session: AsyncSession, checkin: Checkin, viewer: User, content: CheckinContent
) -> tuple[tuple[Line, ...], str]:
    """Return both partners' answers of a revealed check-in, the viewer's first."""
    assert checkin.id is not None
    entries = (
        await session.exec(select(CheckinEntry).where(CheckinEntry.checkin_id == checkin.id))
    ).all()
    mine = next((e for e in entries if e.user_id == viewer.id), None)
    theirs = next((e for e in entries if e.user_id != viewer.id), None)
    # The rule everything rests on: nothing is shown unless both partners sent their answers.
    if (
        checkin.status != CheckinStatus.REVEALED
        or mine is None
        or theirs is None
        or mine.submitted_at is None
        or theirs.submitted_at is None
    ):
        raise StaleAction()
    assert mine.id is not None and theirs.id is not None
    my_answers, their_answers = await _answers(session, mine.id), await _answers(session, theirs.id)
    lines = tuple(
        Line(q, _given(my_answers.get(q.id)), _given(their_answers.get(q.id)))
        for q in questions_of(checkin, content)
    )
    partner = await session.get(User, theirs.user_id)
    return lines, name_of(partner) if partner is not None else ""


def suggestion_for(lines: Sequence[Line], videos: Sequence[Video]) -> Suggestion | None:
    """Pick the question the two saw most differently (a gap of 2 or more), if any."""
    notable = [line for line in lines if (line.gap or 0) >= NOTABLE_GAP]
    if not notable:
        return None
    line = max(notable, key=lambda candidate: candidate.gap or 0)
    themed = [video for video in videos if line.question.theme in video.topics]
    themed.sort(key=lambda video: video.paid)
    return Suggestion(line, themed[0] if themed else None)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


async def rhythm(session: AsyncSession, couple_id: int, *, today: date | None = None) -> Rhythm:
    """Count the weeks in a row the couple checked in together, up to the latest one.

    With `today`, a run that ended more than a week ago counts as no run at all: the bot
    never says how many weeks were missed, it just stops mentioning the run.
    """
    weeks = (
        await session.exec(
            select(col(Checkin.week_of)).where(
                Checkin.couple_id == couple_id, Checkin.status == CheckinStatus.REVEALED
            )
        )
    ).all()
    mondays = sorted({_monday(week) for week in weeks}, reverse=True)
    run = 1 if mondays else 0
    for later, earlier in itertools.pairwise(mondays):
        if later - earlier != timedelta(days=7):
            break
        run += 1
    if today is not None and mondays and mondays[0] < _monday(today) - timedelta(days=7):
        run = 0
    return Rhythm(run, len(weeks))


async def summary_for(
    session: AsyncSession,
    checkin_id: int,
    viewer_id: int,
    *,
    content: CheckinContent,
    videos: Sequence[Video],
) -> Summary:
    """Return a revealed check-in as one partner sees it; refuse anything not revealed."""
    viewer = await require(session, viewer_id)
    checkin = await _own(session, viewer, checkin_id)
    lines, partner_name = await _both_sides(session, checkin, viewer, content)
    assert checkin.id is not None
    return Summary(
        checkin.id,
        checkin.week_of,
        partner_name,
        lines,
        suggestion_for(lines, videos),
        await rhythm(session, checkin.couple_id),
    )


async def history(
    session: AsyncSession,
    user_id: int,
    *,
    content: CheckinContent,
    today: date,
    limit: int = HISTORY_LIMIT,
) -> History:
    """Return the couple's revealed check-ins, newest first (never one only one finished)."""
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    revealed = (
        await session.exec(
            select(Checkin)
            .where(Checkin.couple_id == user.couple_id, Checkin.status == CheckinStatus.REVEALED)
            .order_by(col(Checkin.opened_at).desc(), col(Checkin.id).desc())
            .limit(limit)
        )
    ).all()
    past = []
    for checkin in revealed:
        assert checkin.id is not None
        lines, _ = await _both_sides(session, checkin, user, content)
        past.append(Past(checkin.id, checkin.week_of, lines))
    scales = tuple(question for question in content.questions if question.is_scale)
    return History(
        name_of(user),
        name_of(partner),
        tuple(past),
        scales,
        await rhythm(session, user.couple_id, today=today),
    )


async def close_overdue(
    session: AsyncSession,
    *,
    now: datetime,
    default_zone: str,
    limit: int = 500,
    couple_id: int | None = None,
) -> list[Closed]:
    """Close check-ins whose window ended; plan a note for a partner who submitted alone."""
    overdue = select(Checkin.id).where(
        Checkin.status == CheckinStatus.OPEN, col(Checkin.closes_at) <= now
    )
    if couple_id is not None:
        overdue = overdue.where(Checkin.couple_id == couple_id)
    closed = (
        await session.exec(
            update(Checkin)
            .where(
                col(Checkin.id).in_(overdue.limit(limit).scalar_subquery()),
                col(Checkin.status) == CheckinStatus.OPEN,
            )
            .values(status=CheckinStatus.CLOSED, finished_at=now)
            .returning(col(Checkin.id))
        )
    ).all()
    outcomes = []
    for (checkin_id,) in closed:
        entries = (
            await session.exec(select(CheckinEntry).where(CheckinEntry.checkin_id == checkin_id))
        ).all()
        submitted = [entry.user_id for entry in entries if entry.submitted_at is not None]
        lone = submitted[0] if len(submitted) == 1 else None
        for entry in entries:
            await checkin_schedules.cancel(session, entry.user_id, CheckinJob.REMIND)
        if lone is not None:
            user = await session.get(User, lone)
            if user is not None:
                await checkin_schedules.plan_closed_note(
                    session, user, checkin_id, now=now, default_zone=default_zone
                )
        outcomes.append(Closed(checkin_id, lone))
    return outcomes


async def change_plan(
    session: AsyncSession,
    user_id: int,
    weekday: int,
    at: time,
    *,
    now: datetime,
) -> tuple[Plan, User]:
    """Move the couple's weekly check-in to another weekday and local time; return the partner."""
    if not 0 <= weekday <= 6:
        raise StaleAction()
    user, partner = await couple_of(session, user_id)
    assert user.couple_id is not None
    at = at.replace(second=0, microsecond=0)
    plan = await session.get(CheckinPlan, user.couple_id)
    if plan is None:
        plan = CheckinPlan(couple_id=user.couple_id, weekday=weekday, at=at, updated_at=now)
    else:
        plan.weekday, plan.at, plan.updated_at = weekday, at, now
    session.add(plan)
    chosen = Plan(weekday, at)
    for person in (user, partner):
        await checkin_schedules.plan_open(session, person, chosen, now=now)
    return chosen, partner


async def current_plan(session: AsyncSession, user_id: int, *, default: Plan) -> Plan:
    """Return the plan of this person's couple."""
    user, _ = await couple_of(session, user_id)
    assert user.couple_id is not None
    return await checkin_schedules.plan_of(session, user.couple_id, default=default)


async def purge_ended(session: AsyncSession, *, now: datetime, grace: timedelta) -> int:
    """Erase check-ins, appreciations, flagged topics and plans of couples long ended."""
    ended = select(Couple.id).where(
        col(Couple.ended_at).is_not(None), col(Couple.ended_at) <= now - grace
    )
    erased = 0
    for table in (Checkin, Appreciation, TopicFlag, CheckinPlan):
        result = await session.exec(delete(table).where(col(table.couple_id).in_(ended)))
        erased += int(result.rowcount or 0)
    return erased
