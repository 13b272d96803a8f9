"""Each partner's language in the services: scheduled sends, shared questions and answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from markupsafe import escape
from sqlmodel import select

from bot.content.library import Library
from bot.core.clock import FixedClock
from bot.core.errors import DomainError
from bot.db.engine import Sessions
from bot.db.models import Answer, CoupleQuestion
from bot.nudges import questions
from bot.nudges.engine import NudgeEngine
from bot.people import profiles as people
from tests.support.factories import ALEX, CONTENT, SAM
from tests.support.senders import FakeSender
from tests.support.waiting import run_until


async def _german(sessions: Sessions, clock: FixedClock, user_id: int) -> None:
    async with sessions.begin() as session:
        await people.set_locale(session, user_id, "de", now=clock.now())


async def test_scheduled_nudges_are_written_in_each_partners_language(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    await _german(sessions, clock, SAM)
    # Sam's evening is 12:00 UTC and next morning 23:00 UTC (Tokyo); Alex's evening 21:00.
    await run_until(nudger, clock, datetime(2026, 3, 2, 23, 1, tzinfo=UTC))
    [alex_question] = sender.texts_to(ALEX)
    sam_texts = sender.texts_to(SAM)
    async with sessions() as session:
        question = (await session.exec(select(CoupleQuestion))).one()
    library = Library(CONTENT)
    english = library.prompt("curiosity", question.prompt_id, "en")
    german = library.prompt("curiosity", question.prompt_id, "de")
    assert english is not None and german is not None
    assert "Tonight's question for you and Sam" in alex_question
    assert str(escape(english.text)) in alex_question
    # Sam (in Tokyo) got the morning nudge and the evening question, both in German.
    assert any("Guten Morgen" in text for text in sam_texts)
    evening = [text for text in sam_texts if "Die Frage für dich und Alex heute Abend" in text]
    assert len(evening) == 1 and str(escape(german.text)) in evening[0]
    assert not any("Tonight's question" in text or "Good morning" in text for text in sam_texts)


async def test_an_answer_keeps_the_language_it_was_written_in(
    nudger: NudgeEngine, clock: FixedClock, couple: int, sessions: Sessions
) -> None:
    await _german(sessions, clock, SAM)
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC))
    async with sessions() as session:
        question = (await session.exec(select(CoupleQuestion))).one()
    assert question.id is not None
    async with sessions.begin() as session:
        await questions.save_answer(session, SAM, question.id, "Das Meer", now=clock.now())
    # Sam switches back to English later: the answer stays marked as written in German.
    async with sessions.begin() as session:
        await people.set_locale(session, SAM, "en", now=clock.now())
        saved = await questions.save_answer(session, ALEX, question.id, "Rain", now=clock.now())
    assert saved.reveal is not None
    assert saved.reveal.sides[SAM].locale == "de" and saved.reveal.sides[ALEX].locale == "en"
    async with sessions() as session:
        stored = {a.user_id: a.locale for a in (await session.exec(select(Answer))).all()}
    assert stored == {SAM: "de", ALEX: "en"}


async def test_only_a_known_person_changes_language(sessions: Sessions, clock: FixedClock) -> None:
    async with sessions.begin() as session:
        with pytest.raises(DomainError, match="unknown_person"):
            await people.set_locale(session, 424242, "de", now=clock.now())
