"""The nudge engine on real databases: local times, never twice, never lost, blocked people."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.content.library import Library
from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.db.engine import Sessions
from bot.db.models import CoupleQuestion, Delivery, DeliveryStatus, NudgeSchedule, User
from bot.nudges import questions
from bot.nudges.engine import EngineConfig, NudgeEngine
from bot.nudges.schedules import Rhythm
from bot.outbox.messages import Outcome, Outgoing, SendResult
from bot.people import pairing
from bot.people import profiles as people
from tests.support.factories import (
    ALEX,
    CONTENT,
    NOTHING_GATED,
    POLICY,
    RHYTHM,
    SAM,
    nudge_engine,
    onboard,
    pair,
)
from tests.support.senders import FakeSender
from tests.support.waiting import run_until


async def test_each_partner_gets_nudges_at_their_own_local_time(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int
) -> None:
    # Sam (Tokyo, UTC+9): evening 21:00 local = 12:00 UTC on 2 March.
    await run_until(nudger, clock, datetime(2026, 3, 2, 11, 59, tzinfo=UTC))
    assert sender.sent == []
    await run_until(nudger, clock, datetime(2026, 3, 2, 12, 1, tzinfo=UTC))
    assert len(sender.texts_to(SAM)) == 1 and "Tonight's question" in sender.texts_to(SAM)[0]
    # Alex (Lisbon, UTC+0 in March): evening 21:00 UTC.
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1
    # Sam's morning 08:00 Tokyo on 3 March = 23:00 UTC on 2 March.
    await run_until(nudger, clock, datetime(2026, 3, 2, 23, 1, tzinfo=UTC))
    assert "Good morning" in sender.texts_to(SAM)[-1]
    await run_until(nudger, clock, datetime(2026, 3, 3, 8, 1, tzinfo=UTC))
    assert "Good morning" in sender.texts_to(ALEX)[-1]


async def _next_excerpt(sessions: Sessions, user_id: int) -> datetime:
    async with sessions() as session:
        row = (
            await session.exec(
                select(NudgeSchedule).where(
                    NudgeSchedule.user_id == user_id, NudgeSchedule.kind == "article"
                )
            )
        ).one()
    return row.next_run_at


async def test_excerpts_follow_the_rhythm_each_change_and_each_engine_is_given(
    clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    mondays = Rhythm(article_days=frozenset({0}), article_time=time(7, 0))
    async with sessions.begin() as session:
        await people.set_nudge_time(
            session, ALEX, "morning", time(8, 0), now=clock.now(), rhythm=mondays
        )
    # Lisbon is on UTC in March; Monday 07:00 has passed today (Monday 2 March, 09:00).
    assert await _next_excerpt(sessions, ALEX) == datetime(2026, 3, 9, 7, 0, tzinfo=UTC)
    # Sam was planned with the default rhythm: Tuesday 12:30 in Tokyo.
    assert await _next_excerpt(sessions, SAM) == datetime(2026, 3, 3, 3, 30, tzinfo=UTC)
    engine = nudge_engine(sessions, clock, sender, rhythm=mondays)
    clock.set(datetime(2026, 3, 9, 7, 0, 30, tzinfo=UTC))
    await engine.tick()
    assert await _next_excerpt(sessions, ALEX) == datetime(2026, 3, 16, 7, 0, tzinfo=UTC)


async def test_the_evening_question_is_the_same_for_both(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC))
    sam_q, alex_q = sender.texts_to(SAM)[0], sender.texts_to(ALEX)[0]
    assert sam_q.split("\n\n")[1] == alex_q.split("\n\n")[1]
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CoupleQuestion))).one() == 1


async def test_never_twice_across_ticks_restarts_and_time_changes(
    nudger: NudgeEngine,
    clock: FixedClock,
    sender: FakeSender,
    couple: int,
    sessions: Sessions,
) -> None:
    clock.set(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    await nudger.tick()
    await nudger.tick()
    restarted = nudge_engine(sessions, clock, sender)  # a new process, same database
    await restarted.tick()
    assert len(sender.texts_to(ALEX)) == 1
    # Moving the evening time later the same day does not bring a second question today.
    async with sessions.begin() as session:
        await people.set_nudge_time(
            session, ALEX, "evening", time(22, 0), now=clock.now(), rhythm=RHYTHM
        )
    await run_until(nudger, clock, datetime(2026, 3, 2, 22, 30, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1
    async with sessions() as session:
        row = (
            await session.exec(
                select(NudgeSchedule).where(
                    NudgeSchedule.user_id == ALEX, NudgeSchedule.kind == "evening"
                )
            )
        ).one()
    assert row.local_date.isoformat() == "2026-03-03"


async def test_changing_a_time_takes_effect_for_the_very_next_nudge(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    async with sessions.begin() as session:
        await people.set_nudge_time(
            session, ALEX, "evening", time(10, 0), now=clock.now(), rhythm=RHYTHM
        )
    await run_until(nudger, clock, datetime(2026, 3, 2, 10, 1, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1


async def test_interrupted_before_telegram_accepted_is_retried(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    class ProcessDied(BaseException):
        """Stands for kill -9 in the middle of a send."""

    class Crashing(FakeSender):
        async def send(self, message: Outgoing) -> SendResult:
            raise ProcessDied

    clock.set(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    with pytest.raises(BaseExceptionGroup):
        await nudge_engine(sessions, clock, Crashing()).tick()
    survivor = FakeSender()
    engine = nudge_engine(sessions, clock, survivor)
    await engine.tick()
    assert survivor.sent == []  # the dead worker's lease still holds
    clock.advance(EngineConfig().lease + timedelta(seconds=1))
    await engine.tick()
    assert len(survivor.texts_to(ALEX)) == 1
    async with sessions() as session:
        delivery = (await session.exec(select(Delivery).where(Delivery.user_id == ALEX))).one()
    assert delivery.status == DeliveryStatus.SENT


async def test_transient_failures_retry_then_give_up(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    sender.script[ALEX] = [Outcome.RETRY, Outcome.RETRY]
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    assert sender.texts_to(ALEX) == []
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 30, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1
    sender.script[SAM] = [Outcome.RETRY] * 50
    await run_until(nudger, clock, datetime(2026, 3, 3, 13, 0, tzinfo=UTC))
    async with sessions() as session:
        sam_evening = (
            await session.exec(
                select(Delivery).where(Delivery.user_id == SAM, Delivery.kind == "evening")
            )
        ).all()
    # 2 March was sent before the failures started; 3 March gave up after five attempts.
    assert [d.status for d in sam_evening] == [DeliveryStatus.SENT, DeliveryStatus.DROPPED]
    assert sam_evening[1].attempts == EngineConfig().max_attempts


async def test_blocked_people_stop_being_scheduled_until_they_return(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    sender.script[SAM] = [Outcome.BLOCKED]
    await run_until(nudger, clock, datetime(2026, 3, 2, 12, 5, tzinfo=UTC))
    async with sessions() as session:
        sam = await session.get(User, SAM)
        assert sam is not None and sam.unreachable_since is not None
        rows = await session.exec(select(NudgeSchedule).where(NudgeSchedule.user_id == SAM))
        assert rows.all() == []
    await run_until(nudger, clock, datetime(2026, 3, 3, 12, 5, tzinfo=UTC))
    assert sender.texts_to(SAM) == [] and sender.calls >= 1
    async with sessions.begin() as session:  # Sam sends /start again
        await people.register(
            session,
            user_id=SAM,
            chat_id=SAM,
            telegram_name="Sam",
            username=None,
            locale="en",
            now=clock.now(),
            rhythm=RHYTHM,
        )
    await run_until(nudger, clock, datetime(2026, 3, 4, 12, 5, tzinfo=UTC))
    assert len(sender.texts_to(SAM)) >= 1


async def test_pause_skip_days_and_resume(
    clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    # This runs past the 7-day trial; billing is not what it tests.
    nudger = nudge_engine(sessions, clock, sender, policy=NOTHING_GATED)
    async with sessions.begin() as session:
        await people.pause(session, ALEX, days=2, now=clock.now(), rhythm=RHYTHM)
    await run_until(nudger, clock, datetime(2026, 3, 4, 8, 30, tzinfo=UTC))
    assert sender.nudges_to(ALEX) == []
    await run_until(nudger, clock, datetime(2026, 3, 4, 21, 5, tzinfo=UTC))
    assert len(sender.nudges_to(ALEX)) == 1  # the pause ended at 09:00 on 4 March

    async with sessions.begin() as session:
        await people.skip_today(
            session,
            ALEX,
            now=datetime(2026, 3, 5, 7, 0, tzinfo=UTC),
            rhythm=RHYTHM,
            default_zone="UTC",
        )
    await run_until(nudger, clock, datetime(2026, 3, 5, 22, 0, tzinfo=UTC))
    assert len(sender.nudges_to(ALEX)) == 1

    async with sessions.begin() as session:
        for weekday in range(1, 7):  # leave only Mondays on
            await people.toggle_day(session, ALEX, weekday, now=clock.now(), rhythm=RHYTHM)
        with pytest.raises(Exception, match="last_day"):
            await people.toggle_day(session, ALEX, 0, now=clock.now(), rhythm=RHYTHM)
    await run_until(nudger, clock, datetime(2026, 3, 8, 23, 0, tzinfo=UTC))
    assert len(sender.nudges_to(ALEX)) == 1  # Friday to Sunday: nothing
    await run_until(nudger, clock, datetime(2026, 3, 9, 21, 5, tzinfo=UTC))
    assert len(sender.nudges_to(ALEX)) == 3  # Monday: morning and evening

    async with sessions.begin() as session:
        await people.pause(session, ALEX, days=None, now=clock.now(), rhythm=RHYTHM)
    await run_until(nudger, clock, datetime(2026, 3, 16, 22, 0, tzinfo=UTC))
    assert len(sender.nudges_to(ALEX)) == 3
    async with sessions.begin() as session:
        assert await people.resume(session, ALEX, now=clock.now(), rhythm=RHYTHM)
    await run_until(nudger, clock, datetime(2026, 3, 23, 22, 0, tzinfo=UTC))
    assert len(sender.nudges_to(ALEX)) == 5


async def test_unpairing_stops_nudges(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    async with sessions.begin() as session:
        await pairing.unpair(session, ALEX, couple, now=clock.now(), rhythm=RHYTHM)
    await run_until(nudger, clock, datetime(2026, 3, 4, 0, 0, tzinfo=UTC))
    assert sender.sent == []
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(NudgeSchedule))).one() == 0


async def test_far_too_late_runs_are_dropped_not_sent_at_night(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int
) -> None:
    clock.set(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))  # the bot was down all evening
    await nudger.tick()
    assert sender.texts_to(ALEX) == []
    await run_until(nudger, clock, datetime(2026, 3, 3, 8, 1, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1 and "Good morning" in sender.texts_to(ALEX)[0]


async def test_answers_are_revealed_only_when_both_answered_with_one_reminder(
    nudger: NudgeEngine, clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC))
    async with sessions() as session:
        question = (await session.exec(select(CoupleQuestion))).one()
    assert question.id is not None
    async with sessions.begin() as session:
        first = await questions.save_answer(
            session, SAM, question.id, "The sea at dawn", now=clock.now()
        )
    assert first.reveal is None and first.partner_to_notify is not None
    assert first.partner_to_notify.id == ALEX
    # Alex has not answered by noon: one gentle reminder, and only one for this question.
    asked = sender.texts_to(ALEX)[0].split("\n\n")[1]
    await run_until(nudger, clock, datetime(2026, 3, 4, 12, 30, tzinfo=UTC))
    reminders = [t for t in sender.texts_to(ALEX) if "gentle reminder" in t and asked in t]
    assert len(reminders) == 1
    # Sam answered this one, so Sam is never reminded of it.
    assert not [t for t in sender.texts_to(SAM) if "gentle reminder" in t and asked in t]
    async with sessions.begin() as session:
        second = await questions.save_answer(
            session, ALEX, question.id, "Rain on a tin roof", private=True, now=clock.now()
        )
    reveal = second.reveal
    assert reveal is not None
    assert reveal.sides[SAM].text == "The sea at dawn"
    assert reveal.sides[ALEX].private is True
    async with sessions.begin() as session:
        with pytest.raises(Exception, match="already_answered"):
            await questions.save_answer(session, ALEX, question.id, "again", now=clock.now())


async def test_another_couple_cannot_answer_or_open_a_question(
    nudger: NudgeEngine, clock: FixedClock, couple: int, sessions: Sessions
) -> None:
    await onboard(sessions, clock, 3, "Kim", "Europe/Paris")
    await onboard(sessions, clock, 4, "Lee", "Europe/Paris")
    await pair(sessions, clock, 3, 4)
    await run_until(nudger, clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC))
    async with sessions() as session:
        theirs = (
            await session.exec(select(CoupleQuestion).where(CoupleQuestion.couple_id == couple))
        ).one()
    assert theirs.id is not None
    async with sessions.begin() as session:
        with pytest.raises(Exception, match="stale_button"):
            await questions.save_answer(session, 3, theirs.id, "peeking", now=clock.now())
        with pytest.raises(Exception, match="stale_button"):
            await questions.begin_answer(session, 3, theirs.id, now=clock.now())


async def test_questions_do_not_repeat_over_many_evenings(
    clock: FixedClock, sender: FakeSender, couple: int, sessions: Sessions
) -> None:
    # Forty evenings run past the 7-day trial; billing is not what this tests.
    nudger = nudge_engine(sessions, clock, sender, policy=NOTHING_GATED)
    for day in range(40):
        clock.set(datetime(2026, 3, 2, 21, 1, tzinfo=UTC) + timedelta(days=day))
        await nudger.tick()
    async with sessions() as session:
        asked = (
            await session.exec(
                select(CoupleQuestion.prompt_id).order_by(col(CoupleQuestion.question_date))
            )
        ).all()
    assert len(asked) >= 40 and len(set(asked)) == len(asked)
    depths = [Library(CONTENT).prompt("curiosity", p) for p in asked]
    assert all(p is not None and p.depth == "light" for p in depths[:10])


async def test_preview_shows_what_comes_next_without_keeping_anything(
    nudger: NudgeEngine, couple: int, sessions: Sessions
) -> None:
    upcoming = await nudger.preview(ALEX)
    assert [p.kind for p in upcoming][:2] == ["evening", "morning"]
    assert {p.kind for p in upcoming} == {"evening", "morning", "article", "video"}
    assert "Tonight's question" in upcoming[0].text
    due = await nudger.due(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    assert {(p.user_id, p.kind) for p in due} == {(ALEX, "evening"), (SAM, "evening")}
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CoupleQuestion))).one() == 0


@pytest.mark.postgres
async def test_two_workers_share_a_round_without_duplicates(postgres_url: str) -> None:
    """Two processes' engines on one PostgreSQL claim disjoint rows (SKIP LOCKED)."""
    from bot.db.engine import create_engine, create_sessions

    engines = [create_engine(postgres_url), create_engine(postgres_url)]
    try:
        sessions = [create_sessions(e) for e in engines]
        clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
        for n in range(0, 120, 2):
            await onboard(sessions[0], clock, 100 + n, f"P{n}", "Europe/Lisbon")
            await onboard(sessions[0], clock, 101 + n, f"Q{n}", "Europe/Lisbon")
            await pair(sessions[0], clock, 100 + n, 101 + n)

        class SlowSender(FakeSender):
            async def send(self, message: Outgoing) -> SendResult:
                await asyncio.sleep(0.002)  # let the other worker interleave
                return await super().send(message)

        senders = [SlowSender(), SlowSender()]
        workers = [
            NudgeEngine(
                sessions=s,
                texts=Texts(CONTENT),
                library=Library(CONTENT),
                clock=clock,
                sender=sender,
                rhythm=RHYTHM,
                policy=POLICY,
                config=EngineConfig(batch_size=10),
            )
            for s, sender in zip(sessions, senders, strict=True)
        ]
        clock.set(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
        await asyncio.gather(*(w.tick() for w in workers))
        chats = [m.chat_id for sender in senders for m in sender.sent]
        assert sorted(chats) == list(range(100, 220))  # everyone once, nobody twice
        assert all(sender.sent for sender in senders), "both workers took part"
    finally:
        for e in engines:
            await e.dispose()


@dataclass
class ChangingSender(FakeSender):
    """Runs one change (a person's own action) while the next message is on its way."""

    change: Callable[[], Awaitable[None]] | None = None

    async def send(self, message: Outgoing) -> SendResult:
        if self.change is not None:
            change, self.change = self.change, None
            await change()
        return await super().send(message)


async def test_a_time_changed_while_its_nudge_is_on_the_way_holds_for_the_next_one(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = ChangingSender()
    engine = nudge_engine(sessions, clock, sender)

    async def earlier_evenings() -> None:
        async with sessions.begin() as session:
            await people.set_nudge_time(
                session, ALEX, "evening", time(20, 0), now=clock.now(), rhythm=RHYTHM
            )

    def evenings() -> list[str]:
        return [text for text in sender.texts_to(ALEX) if text.startswith("🌙")]

    # Lisbon is on UTC in March: Alex's 21:00 question goes out while Alex moves it to 20:00.
    clock.set(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    sender.change = earlier_evenings
    await engine.tick()
    assert len(evenings()) == 1
    # Finishing the run that was on its way must not put back the old time for tomorrow.
    clock.set(datetime(2026, 3, 3, 20, 0, 30, tzinfo=UTC))
    await engine.tick()
    assert len(evenings()) == 2
