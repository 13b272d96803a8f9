"""Shared curiosity questions: each partner answers privately; both see both once both answered."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.errors import DomainError, StaleAction
from bot.db.engine import dialect_insert
from bot.db.models import Answer, CoupleQuestion, User
from bot.nudges import schedules
from bot.people import conversation
from bot.people.profiles import name_of, partner_of, require

ANSWER_MAX_LENGTH = 1000
ANSWERING = "nudges.answer"
CONFIRMING = "nudges.confirm"


async def chosen_questions(
    session: AsyncSession, keys: Collection[tuple[int, date]]
) -> dict[tuple[int, date], CoupleQuestion]:
    """Return the questions already chosen for these (couple, local date) keys."""
    if not keys:
        return {}
    wanted = set(keys)
    # Separate IN lists, not a row-value IN: SQLite searches the unique index only for these.
    result = await session.exec(
        select(CoupleQuestion).where(
            col(CoupleQuestion.couple_id).in_({couple_id for couple_id, _ in wanted}),
            col(CoupleQuestion.question_date).in_({day for _, day in wanted}),
        )
    )
    found = {(q.couple_id, q.question_date): q for q in result.all()}
    return {key: question for key, question in found.items() if key in wanted}


async def asked_prompts_of(
    session: AsyncSession, couple_ids: Collection[int]
) -> dict[int, list[str]]:
    """Return the prompt ids each of these couples has been asked, oldest first."""
    if not couple_ids:
        return {}
    result = await session.exec(
        select(CoupleQuestion.couple_id, CoupleQuestion.prompt_id)
        .where(col(CoupleQuestion.couple_id).in_(set(couple_ids)))
        .order_by(col(CoupleQuestion.question_date), col(CoupleQuestion.id))
    )
    asked: dict[int, list[str]] = {couple_id: [] for couple_id in couple_ids}
    for couple_id, prompt_id in result.all():
        asked[couple_id].append(prompt_id)
    return asked


async def create_questions(
    session: AsyncSession, picks: Mapping[tuple[int, date], str], *, now: datetime
) -> dict[tuple[int, date], CoupleQuestion]:
    """Create each couple's question for a local date with the picked prompt, unless one exists.

    Both partners need it, possibly from two workers at once, so the insert relies on the
    unique key: whoever comes second keeps the first one's question, and what is returned is
    what the database holds.
    """
    if not picks:
        return {}
    await session.exec(
        dialect_insert(session)(CoupleQuestion).on_conflict_do_nothing(
            index_elements=["couple_id", "question_date"]
        ),
        params=[
            {
                "couple_id": couple_id,
                "question_date": question_date,
                "prompt_id": prompt_id,
                "created_at": now,
            }
            for (couple_id, question_date), prompt_id in picks.items()
        ],
    )
    return await chosen_questions(session, list(picks))


async def answer_of(session: AsyncSession, question_id: int, user_id: int) -> Answer | None:
    """Return a person's answer to a question, if they gave one."""
    result = await session.exec(
        select(Answer).where(Answer.question_id == question_id, Answer.user_id == user_id)
    )
    return result.first()


async def _own_question(session: AsyncSession, user: User, question_id: int) -> CoupleQuestion:
    """Return a question of this person's current couple, or refuse (stale or forged)."""
    question = await session.get(CoupleQuestion, question_id)
    if question is None or user.couple_id is None or question.couple_id != user.couple_id:
        raise StaleAction()
    return question


async def begin_answer(
    session: AsyncSession, user_id: int, question_id: int, *, now: datetime
) -> None:
    """Note that this person's next message is their answer to the question."""
    user = await require(session, user_id)
    await _own_question(session, user, question_id)
    if await answer_of(session, question_id, user_id) is not None:
        raise DomainError("nudges.already_answered")
    await conversation.expect(
        session, user_id, ANSWERING, now=now, data={"question_id": question_id}
    )


def clean_answer(text: str) -> str:
    """Return a typed answer ready to store, or raise a friendly error."""
    text = text.strip()
    if not text:
        raise DomainError("nudges.answer_empty")
    if len(text) > ANSWER_MAX_LENGTH:
        raise DomainError("nudges.answer_too_long", limit=ANSWER_MAX_LENGTH, length=len(text))
    return text


async def hold_draft(
    session: AsyncSession, user_id: int, question_id: int, text: str, *, now: datetime
) -> str:
    """Keep a typed answer aside until the person chooses to share it or keep it private."""
    user = await require(session, user_id)
    await _own_question(session, user, question_id)
    cleaned = clean_answer(text)
    await conversation.expect(
        session, user_id, CONFIRMING, now=now, data={"question_id": question_id, "text": cleaned}
    )
    return cleaned


async def hold_replacement(
    session: AsyncSession, user_id: int, question_id: int, text: str, *, now: datetime
) -> tuple[str, str]:
    """Keep a second typed answer beside the waiting one; return (waiting, new) to ask which."""
    user = await require(session, user_id)
    await _own_question(session, user, question_id)
    waiting = await take_draft(session, user_id, question_id)
    cleaned = clean_answer(text)
    if cleaned != waiting:
        data = {"question_id": question_id, "text": waiting, "replacement": cleaned}
        await conversation.expect(session, user_id, CONFIRMING, now=now, data=data)
    return waiting, cleaned


async def choose_draft(
    session: AsyncSession, user_id: int, question_id: int, *, replace: bool, now: datetime
) -> str:
    """Keep the waiting answer or take the newer one instead; return the one now waiting."""
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != CONFIRMING:
        raise StaleAction()
    if waiting.data.get("question_id") != question_id or "replacement" not in waiting.data:
        raise StaleAction()
    chosen = str(waiting.data["replacement" if replace else "text"])
    data = {"question_id": question_id, "text": chosen}
    await conversation.expect(session, user_id, CONFIRMING, now=now, data=data)
    return chosen


async def take_draft(session: AsyncSession, user_id: int, question_id: int) -> str:
    """Return the answer waiting for the person's share-or-private choice."""
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != CONFIRMING:
        raise StaleAction()
    if waiting.data.get("question_id") != question_id:
        raise StaleAction()
    return str(waiting.data["text"])


@dataclass(frozen=True)
class Side:
    """One partner's side of a revealed question."""

    name: str
    text: str | None
    skipped: bool
    private: bool
    # The language the answer was written in, if known.
    locale: str | None = None


@dataclass(frozen=True)
class Reveal:
    """Both answers to a question, for both partners to see."""

    question_id: int
    prompt_id: str
    first: User
    second: User
    sides: dict[int, Side]


@dataclass(frozen=True)
class Saved:
    """The outcome of saving an answer: the reveal if both have answered, else who to tell."""

    answer_id: int
    question_id: int
    prompt_id: str
    answerer_name: str
    reveal: Reveal | None
    partner_to_notify: User | None


async def save_answer(
    session: AsyncSession,
    user_id: int,
    question_id: int,
    text: str | None,
    *,
    private: bool = False,
    now: datetime,
) -> Saved:
    """Store an answer (None = skipped); reveal both if the partner already answered."""
    user = await require(session, user_id)
    question = await _own_question(session, user, question_id)
    if text is not None:
        text = clean_answer(text)
    if await answer_of(session, question_id, user_id) is not None:
        raise DomainError("nudges.already_answered")
    answer = Answer(
        question_id=question_id,
        user_id=user_id,
        text=text,
        skipped=text is None,
        private=private and text is not None,
        locale=user.locale,
        answered_at=now,
    )
    session.add(answer)
    await session.flush()
    assert answer.id is not None
    await conversation.forget(session, user_id)
    await schedules.cancel_reminder(session, user_id)
    partner = await partner_of(session, user)
    if partner is None:
        return Saved(answer.id, question_id, question.prompt_id, name_of(user), None, None)
    theirs = await answer_of(session, question_id, partner.id)
    if theirs is None:
        return Saved(answer.id, question_id, question.prompt_id, name_of(user), None, partner)
    question.revealed_at = now
    session.add(question)
    reveal = await _reveal(session, question, user, partner)
    return Saved(answer.id, question_id, question.prompt_id, name_of(user), reveal, None)


async def _reveal(
    session: AsyncSession, question: CoupleQuestion, first: User, second: User
) -> Reveal:
    assert question.id is not None
    sides = {}
    for person in (first, second):
        answer = await answer_of(session, question.id, person.id)
        assert answer is not None
        sides[person.id] = Side(
            name_of(person), answer.text, answer.skipped, answer.private, answer.locale
        )
    return Reveal(question.id, question.prompt_id, first, second, sides)
