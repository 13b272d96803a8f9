"""Check-ins together on real databases: privacy of answers, reminders, closing, the courier."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.billing.entitlements import Policy
from bot.checkins import appreciations, topics
from bot.checkins import weekly as checkins
from bot.checkins.engine import CheckinConfig, CheckinEngine
from bot.checkins.schedules import Plan
from bot.content.checkins import CheckinDeck
from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.core.errors import DomainError, StaleAction
from bot.db.checkins import (
    Appreciation,
    Checkin,
    CheckinAnswer,
    CheckinSchedule,
    CheckinStatus,
    TopicFlag,
)
from bot.db.engine import Sessions
from bot.db.models import User
from bot.outbox.messages import Outcome
from bot.people import data_rights, pairing
from bot.safety import signals as safety
from tests.support.factories import CONTENT, RHYTHM, onboard, pair
from tests.support.senders import FakeSender

DECK = CheckinDeck(CONTENT)
IDS = [question.id for question in DECK.get().questions]
ZONE = "Europe/London"
WINDOWS = checkins.Windows(timedelta(hours=72), timedelta(hours=24), ZONE)
ALEX, SAM, KIM, LEE = 1, 2, 3, 4
# Monday 2 March 2026, 09:00 UTC: the shared test clock's start.
SUNDAY = date(2026, 3, 8)
# Most tests here span weeks, past the free week: check-ins are not gated for them.
UNGATED = Policy(gated=frozenset())


def make_engine(
    sessions: Sessions, clock: FixedClock, sender: FakeSender, *, policy: Policy = UNGATED
) -> CheckinEngine:
    return CheckinEngine(
        sessions=sessions,
        texts=Texts(CONTENT),
        deck=DECK,
        clock=clock,
        sender=sender,
        policy=policy,
        config=CheckinConfig(
            default_plan=Plan(6, time(19, 0)),
            window=WINDOWS.window,
            reminder_after=WINDOWS.reminder_after,
            default_zone=WINDOWS.default_zone,
        ),
    )


@pytest.fixture
def ticker(sessions: Sessions, clock: FixedClock, sender: FakeSender) -> CheckinEngine:
    return make_engine(sessions, clock, sender)


@pytest.fixture
async def couple(sessions: Sessions, clock: FixedClock) -> int:
    """Alex in Lisbon (morning 08:00) and Sam in Tokyo (morning 07:00), paired on Monday."""
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon", time(8, 0))
    await onboard(sessions, clock, SAM, "Sam", "Asia/Tokyo", time(7, 0))
    return await pair(sessions, clock, ALEX, SAM)


async def start(
    sessions: Sessions, clock: FixedClock, user_id: int, *, policy: Policy = UNGATED
) -> checkins.Started:
    async with sessions.begin() as session:
        return await checkins.start(
            session,
            user_id,
            now=clock.now(),
            content=DECK.get(),
            question_ids=IDS,
            windows=WINDOWS,
            policy=policy,
        )


async def answer_all(
    sessions: Sessions,
    clock: FixedClock,
    user_id: int,
    checkin_id: int,
    scores: tuple[int, ...],
    words: tuple[str, ...],
) -> checkins.Step:
    """Answer every question in order: scores for scale questions, words for reflections."""
    scales, reflections = iter(scores), iter(words)
    step = None
    for index, question in enumerate(DECK.get().questions):
        async with sessions.begin() as session:
            if question.is_scale:
                step = await checkins.answer(
                    session,
                    user_id,
                    checkin_id,
                    index,
                    score=next(scales),
                    now=clock.now(),
                    content=DECK.get(),
                    default_zone=ZONE,
                )
            else:
                step = await checkins.answer(
                    session,
                    user_id,
                    checkin_id,
                    index,
                    typed=next(reflections),
                    now=clock.now(),
                    content=DECK.get(),
                    default_zone=ZONE,
                )
    assert step is not None
    return step


async def submit(
    sessions: Sessions, clock: FixedClock, user_id: int, checkin_id: int
) -> checkins.Submitted:
    async with sessions.begin() as session:
        return await checkins.submit(
            session, user_id, checkin_id, now=clock.now(), content=DECK.get()
        )


async def summary(sessions: Sessions, checkin_id: int, viewer: int) -> checkins.Summary:
    async with sessions() as session:
        return await checkins.summary_for(
            session, checkin_id, viewer, content=DECK.get(), videos=DECK.videos()
        )


async def run_until(engine: CheckinEngine, clock: FixedClock, until: datetime) -> None:
    """Move the clock from one due moment to the next (as ticks would find them) up to `until`."""
    await engine.tick()
    while clock.now() < until:
        async with engine.sessions() as session:
            row = (await session.exec(select(func.min(CheckinSchedule.next_run_at)))).one()
            closing = (
                await session.exec(
                    select(func.min(Checkin.closes_at)).where(Checkin.status == CheckinStatus.OPEN)
                )
            ).one()
        moments = [m.replace(tzinfo=UTC) for m in (row, closing) if m is not None]
        upcoming = min(moments, default=None)
        if upcoming is None or upcoming > until:
            clock.set(until)
        else:
            clock.set(max(clock.now(), upcoming + timedelta(seconds=20)))
        await engine.tick()


async def test_both_see_both_only_after_both_submitted(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    started = await start(sessions, clock, ALEX)
    assert started.partner_to_tell is not None and started.partner_to_tell.id == SAM
    cid = started.step.checkin_id
    review = await answer_all(sessions, clock, ALEX, cid, (5, 4, 4), ("Our <walk>", "Dancing"))
    assert review.index is None and [g.score for _, g in review.answers][:3] == [5, 4, 4]
    first = await submit(sessions, clock, ALEX, cid)
    assert not first.revealed
    # Neither partner can see anything yet: not Sam, and not even Alex's own "summary".
    for viewer in (ALEX, SAM):
        with pytest.raises(StaleAction):
            await summary(sessions, cid, viewer)
    async with sessions() as session:
        assert (await checkins.history(session, SAM, content=DECK.get(), today=SUNDAY)).past == ()

    await answer_all(sessions, clock, SAM, cid, (3, 4, 5), ("Sunday pancakes", "Walks"))
    second = await submit(sessions, clock, SAM, cid)
    assert second.revealed
    mine, theirs = await summary(sessions, cid, SAM), await summary(sessions, cid, ALEX)
    assert mine.partner_name == "Alex" and theirs.partner_name == "Sam"
    assert [(ln.mine.score, ln.theirs.score) for ln in mine.lines[:3]] == [(3, 5), (4, 4), (5, 4)]
    assert mine.lines[3].theirs.text == "Our <walk>" and theirs.lines[3].theirs.text == (
        "Sunday pancakes"
    )
    # A second reveal can't happen: the check-in is finished for good.
    with pytest.raises(DomainError, match=r"^checkins\.finished$"):
        await submit(sessions, clock, SAM, cid)


async def test_a_lone_partners_answers_are_never_shown_and_the_window_closes(
    sessions: Sessions,
    clock: FixedClock,
    couple: int,
    ticker: CheckinEngine,
    sender: FakeSender,
) -> None:
    started = await start(sessions, clock, ALEX)
    cid = started.step.checkin_id
    await answer_all(sessions, clock, ALEX, cid, (2, 2, 2), ("A secret wish", "More sleep"))
    await submit(sessions, clock, ALEX, cid)
    await run_until(ticker, clock, clock.now() + timedelta(hours=71))
    async with sessions() as session:
        assert (await session.get(Checkin, cid)).status == CheckinStatus.OPEN  # type: ignore[union-attr]
    await run_until(ticker, clock, clock.now() + timedelta(hours=2))
    async with sessions() as session:
        closed = await session.get(Checkin, cid)
    assert closed is not None and closed.status == CheckinStatus.CLOSED
    assert any("nothing was shared" in t for t in sender.texts_to(ALEX))
    assert not any("nothing was shared" in t for t in sender.texts_to(SAM))
    assert not any("secret wish" in m.text for m in sender.sent)
    with pytest.raises(StaleAction):
        await summary(sessions, cid, SAM)
    with pytest.raises(DomainError, match=r"^checkins\.closed$"):
        async with sessions.begin() as session:
            await checkins.answer(
                session,
                SAM,
                cid,
                0,
                score=4,
                now=clock.now(),
                content=DECK.get(),
                default_zone=ZONE,
            )
    # A new /checkin opens a fresh check-in rather than the closed one.
    again = await start(sessions, clock, SAM)
    assert again.step.checkin_id != cid and again.step.index == 0


async def test_an_expired_check_in_is_not_continued_before_the_tick_closes_it(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    first = await start(sessions, clock, ALEX)
    clock.advance(timedelta(hours=73))
    with pytest.raises(DomainError, match=r"^checkins\.closed$"):
        async with sessions.begin() as session:
            await checkins.show(
                session,
                SAM,
                first.step.checkin_id,
                now=clock.now(),
                content=DECK.get(),
                default_zone=ZONE,
            )
    again = await start(sessions, clock, SAM)
    assert again.step.checkin_id != first.step.checkin_id


async def test_the_weekly_check_in_comes_at_each_partners_local_time_and_reminds_once(
    sessions: Sessions,
    clock: FixedClock,
    couple: int,
    ticker: CheckinEngine,
    sender: FakeSender,
) -> None:
    # Sunday 19:00 in Tokyo is 10:00 UTC; in Lisbon (UTC+0 in March) it is 19:00 UTC.
    await run_until(ticker, clock, datetime(2026, 3, 8, 9, 59, tzinfo=UTC))
    assert sender.sent == []
    await run_until(ticker, clock, datetime(2026, 3, 8, 10, 1, tzinfo=UTC))
    assert len(sender.texts_to(SAM)) == 1 and "weekly check-in with Alex" in sender.texts_to(SAM)[0]
    assert sender.texts_to(ALEX) == []
    await run_until(ticker, clock, datetime(2026, 3, 8, 19, 1, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1
    buttons = {m.chat_id: m.buttons[0][0][1] for m in sender.sent}
    assert buttons[ALEX] == buttons[SAM], "both partners get the same check-in"
    cid = int(buttons[ALEX].rsplit(":", 1)[1])

    # Alex answers; Sam doesn't. Sam gets one reminder 24 hours after their check-in arrived.
    await answer_all(sessions, clock, ALEX, cid, (4, 4, 4), ("x", "y"))
    await submit(sessions, clock, ALEX, cid)
    await run_until(ticker, clock, datetime(2026, 3, 9, 10, 1, tzinfo=UTC))
    reminders = [t for t in sender.texts_to(SAM) if "gentle nudge" in t]
    assert len(reminders) == 1
    # More ticks, a restarted engine, and the rest of the window: still exactly one reminder.
    restarted = make_engine(sessions, clock, sender)
    await restarted.tick()
    await run_until(ticker, clock, datetime(2026, 3, 11, 20, 0, tzinfo=UTC))
    assert len([t for t in sender.texts_to(SAM) if "gentle nudge" in t]) == 1
    assert not any("gentle nudge" in t for t in sender.texts_to(ALEX)), "Alex had submitted"
    async with sessions() as session:
        count = (await session.exec(select(func.count()).select_from(Checkin))).one()
    assert count == 1


async def test_the_check_in_plan_moves_both_partners(
    sessions: Sessions,
    clock: FixedClock,
    couple: int,
    ticker: CheckinEngine,
    sender: FakeSender,
) -> None:
    await ticker.tick()  # plants the weekly rows for both
    async with sessions.begin() as session:
        plan, partner = await checkins.change_plan(session, SAM, 2, time(20, 30), now=clock.now())
    assert partner.id == ALEX and plan == Plan(2, time(20, 30))
    async with sessions() as session:
        rows = (
            await session.exec(select(CheckinSchedule).order_by(col(CheckinSchedule.user_id)))
        ).all()
    # Wednesday 4 March, 20:30 local: Lisbon is UTC+0, Tokyo UTC+9.
    assert [(r.user_id, r.next_run_at) for r in rows] == [
        (ALEX, datetime(2026, 3, 4, 20, 30, tzinfo=UTC)),
        (SAM, datetime(2026, 3, 4, 11, 30, tzinfo=UTC)),
    ]
    with pytest.raises(StaleAction):
        async with sessions.begin() as session:
            await checkins.change_plan(session, SAM, 7, time(20, 30), now=clock.now())


async def test_answers_are_validated_and_foreign_ids_refused(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    cid = (await start(sessions, clock, ALEX)).step.checkin_id
    await onboard(sessions, clock, KIM, "Kim", "Europe/Paris", time(8, 0))
    await onboard(sessions, clock, LEE, "Lee", "Europe/Paris", time(8, 0))
    await pair(sessions, clock, KIM, LEE)
    other = (await start(sessions, clock, KIM)).step.checkin_id
    content = DECK.get()
    reflection = next(i for i, q in enumerate(content.questions) if not q.is_scale)
    bad: list[tuple[int, int, int | None, str | None]] = [
        (cid, 0, 0, None),  # below the scale
        (cid, 0, 6, None),  # above the scale
        (cid, reflection, 3, None),  # a score for a reflection
        (cid, 0, None, "words"),  # words for a scale question
        (cid, len(content.questions), 3, None),  # no such question
        (other, 0, 3, None),  # another couple's check-in
        (cid + other + 100, 0, 3, None),  # no such check-in
    ]
    for checkin_id, index, score, typed in bad:
        with pytest.raises(StaleAction):
            async with sessions.begin() as session:
                await checkins.answer(
                    session,
                    ALEX,
                    checkin_id,
                    index,
                    score=score,
                    typed=typed,
                    now=clock.now(),
                    content=content,
                    default_zone=ZONE,
                )
    with pytest.raises(DomainError, match="reflection_too_long") as caught:
        async with sessions.begin() as session:
            await checkins.answer(
                session,
                ALEX,
                cid,
                reflection,
                typed="x" * 301,
                now=clock.now(),
                content=content,
                default_zone=ZONE,
            )
    assert caught.value.values == {"limit": 300, "length": 301}
    with pytest.raises(DomainError, match="reflection_empty"):
        async with sessions.begin() as session:
            await checkins.answer(
                session,
                ALEX,
                cid,
                reflection,
                typed="   ",
                now=clock.now(),
                content=content,
                default_zone=ZONE,
            )
    for forged in (other, cid + other + 100):
        with pytest.raises(StaleAction):
            await submit(sessions, clock, ALEX, forged)
    with pytest.raises(StaleAction):
        await summary(sessions, other, ALEX)
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CheckinAnswer))).one() == 0


async def test_going_back_changes_an_answer_until_sent_and_a_restart_loses_nothing(
    sessions: Sessions, clock: FixedClock, couple: int, ticker: CheckinEngine
) -> None:
    cid = (await start(sessions, clock, ALEX)).step.checkin_id
    content = DECK.get()
    async with sessions.begin() as session:
        await checkins.answer(
            session, ALEX, cid, 0, score=2, now=clock.now(), content=content, default_zone=ZONE
        )
        step = await checkins.answer(
            session, ALEX, cid, 1, now=clock.now(), content=content, default_zone=ZONE
        )
    assert step.index == 2 and step.given.score is None
    async with sessions.begin() as session:
        back = await checkins.move(
            session, ALEX, cid, 0, now=clock.now(), content=content, default_zone=ZONE
        )
    assert back.index == 0 and back.given.score == 2
    async with sessions.begin() as session:
        await checkins.answer(
            session, ALEX, cid, 0, score=5, now=clock.now(), content=content, default_zone=ZONE
        )
    # A new process on the same database picks up exactly where Alex was.
    restarted = make_engine(sessions, clock, FakeSender())
    async with restarted.sessions.begin() as session:
        resumed = await checkins.show(
            session, ALEX, cid, now=clock.now(), content=content, default_zone=ZONE
        )
    assert resumed.index == 1
    assert [g.score for _, g in resumed.answers][:2] == [5, None]
    assert resumed.answers[1][1].skipped
    await answer_all(sessions, clock, ALEX, cid, (5, 3, 3), ("a", "b"))
    await submit(sessions, clock, ALEX, cid)
    with pytest.raises(DomainError, match="already_submitted"):
        async with sessions.begin() as session:
            await checkins.answer(
                session, ALEX, cid, 0, score=1, now=clock.now(), content=content, default_zone=ZONE
            )
    with pytest.raises(DomainError, match=r"^checkins\.waiting$"):
        await start(sessions, clock, ALEX)


async def test_a_wide_gap_suggests_a_curious_question_gently(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    cid = (await start(sessions, clock, ALEX)).step.checkin_id
    await answer_all(sessions, clock, ALEX, cid, (5, 3, 4), ("a", "b"))
    await answer_all(sessions, clock, SAM, cid, (4, 5, 1), ("c", "d"))
    await submit(sessions, clock, ALEX, cid)
    await submit(sessions, clock, SAM, cid)
    seen = await summary(sessions, cid, ALEX)
    assert seen.suggestion is not None
    # "appreciated" differs by 3, "heard" by 2: the widest gap wins.
    assert seen.suggestion.line.question.id == "appreciated"
    assert seen.suggestion.video is not None
    assert "appreciation" in seen.suggestion.video.topics
    assert seen.rhythm == checkins.Rhythm(1, 1)


async def test_a_close_week_suggests_nothing() -> None:
    questions = DECK.get().questions
    lines = [
        checkins.Line(questions[0], checkins.Given(score=4), checkins.Given(score=3)),
        checkins.Line(questions[1], checkins.Given(score=5), checkins.Given(skipped=True)),
    ]
    assert checkins.suggestion_for(lines, DECK.videos()) is None


async def test_weeks_in_a_row_never_count_misses(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    for week in (0, 1, 2, 4, 5, 6, 7):
        clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC) + timedelta(weeks=week))
        cid = (await start(sessions, clock, ALEX)).step.checkin_id
        for person in (ALEX, SAM):
            await answer_all(sessions, clock, person, cid, (4, 4, 4), ("a", "b"))
            await submit(sessions, clock, person, cid)
    async with sessions() as session:
        now = await checkins.rhythm(session, couple, today=date(2026, 4, 20))
        later = await checkins.rhythm(session, couple, today=date(2026, 5, 25))
    assert now == checkins.Rhythm(4, 7)
    assert later == checkins.Rhythm(0, 7), "an old run is simply not mentioned"
    async with sessions() as session:
        past = await checkins.history(session, SAM, content=DECK.get(), today=date(2026, 4, 20))
    assert len(past.past) == 7 and past.past[0].week_of == date(2026, 4, 20)
    assert past.my_name == "Sam" and past.partner_name == "Alex"


async def test_mutual_topics_reveal_nothing_unless_both_flag_one(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    known = [topic.id for topic in DECK.get().topics]

    async def toggle(user_id: int, topic_id: str) -> topics.Toggled:
        async with sessions.begin() as session:
            return await topics.toggle(session, user_id, topic_id, known=known, now=clock.now())

    async def view(user_id: int) -> topics.Topics:
        async with sessions() as session:
            return await topics.view(session, user_id)

    flagged = await toggle(ALEX, "money")
    assert flagged.matched is None and flagged.topics == topics.Topics(
        frozenset({"money"}), frozenset()
    )
    assert await view(SAM) == topics.Topics(frozenset(), frozenset())
    other = await toggle(SAM, "families")
    assert other.matched is None and other.topics.shared == frozenset()
    assert (await view(ALEX)).mine == frozenset({"money"})
    matched = await toggle(SAM, "money")
    assert matched.matched == "money" and matched.partner.id == ALEX
    assert (await view(ALEX)).shared == (await view(SAM)).shared == frozenset({"money"})
    unflagged = await toggle(ALEX, "money")
    assert unflagged.matched is None and unflagged.topics.shared == frozenset()
    with pytest.raises(StaleAction):
        await toggle(ALEX, "not-a-topic")
    async with sessions() as session:
        flags = (await session.exec(select(TopicFlag.user_id, TopicFlag.topic_id))).all()
    assert sorted(flags) == [(SAM, "families"), (SAM, "money")]


async def test_the_courier_honours_the_recipients_time_zone(
    sessions: Sessions,
    clock: FixedClock,
    couple: int,
    ticker: CheckinEngine,
    sender: FakeSender,
) -> None:
    # Monday 09:00 UTC is 18:00 in Tokyo: Sam's next morning is Tuesday 07:00 Tokyo time,
    # which is Monday 22:00 UTC — not 07:00 in the writer's zone (Lisbon).
    async with sessions.begin() as session:
        written = await appreciations.write(
            session,
            ALEX,
            "  Thank you for the <tea>  ",
            now=clock.now(),
            default_morning=time(8, 0),
            default_zone="Europe/London",
        )
    assert written.recipient_name == "Sam"
    assert written.arrives_at == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    assert str(written.arrives_at.tzinfo) == "Asia/Tokyo" and written.arrives_at.hour == 7

    def notes() -> list[str]:
        return [t for t in sender.texts_to(SAM) if "note from Alex" in t]

    await run_until(ticker, clock, datetime(2026, 3, 2, 21, 59, tzinfo=UTC))
    assert notes() == []
    await run_until(ticker, clock, datetime(2026, 3, 2, 22, 1, tzinfo=UTC))
    assert len(notes()) == 1 and "Thank you for the &lt;tea&gt;" in notes()[0]
    assert sender.texts_to(ALEX) == []
    await ticker.tick()
    await make_engine(sessions, clock, sender).tick()
    assert len(notes()) == 1, "delivered once"
    # A note written after this morning's delivery waits for the next morning.
    async with sessions.begin() as session:
        await appreciations.write(
            session,
            ALEX,
            "And for the map",
            now=clock.now(),
            default_morning=time(8, 0),
            default_zone="Europe/London",
        )
    await run_until(ticker, clock, datetime(2026, 3, 3, 21, 59, tzinfo=UTC))
    assert len(notes()) == 1
    await run_until(ticker, clock, datetime(2026, 3, 3, 22, 1, tzinfo=UTC))
    assert len(notes()) == 2 and "map" in notes()[1]
    async with sessions() as session:
        undelivered = (
            await session.exec(
                select(func.count())
                .select_from(Appreciation)
                .where(col(Appreciation.delivered_at).is_(None))
            )
        ).one()
    assert undelivered == 0
    with pytest.raises(DomainError, match="appreciation_too_long"):
        async with sessions.begin() as session:
            await appreciations.write(
                session,
                ALEX,
                "x" * 401,
                now=clock.now(),
                default_morning=time(8, 0),
                default_zone="Europe/London",
            )


async def test_the_courier_retries_and_never_delivers_after_unpairing(
    sessions: Sessions,
    clock: FixedClock,
    couple: int,
    ticker: CheckinEngine,
    sender: FakeSender,
) -> None:
    async with sessions.begin() as session:
        await appreciations.write(
            session,
            SAM,
            "Thanks for Sunday",
            now=clock.now(),
            default_morning=time(8, 0),
            default_zone="Europe/London",
        )
    sender.script[ALEX] = [Outcome.RETRY]
    await run_until(ticker, clock, datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    assert sender.texts_to(ALEX) == []
    await run_until(ticker, clock, datetime(2026, 3, 3, 8, 5, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1
    async with sessions.begin() as session:
        await appreciations.write(
            session,
            SAM,
            "One more",
            now=clock.now(),
            default_morning=time(8, 0),
            default_zone="Europe/London",
        )
    async with sessions.begin() as session:
        await pairing.unpair(session, ALEX, couple, now=clock.now(), rhythm=RHYTHM)
    await run_until(ticker, clock, datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    assert len(sender.texts_to(ALEX)) == 1


async def test_ended_couples_check_in_records_are_purged_after_the_grace_period(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    cid = (await start(sessions, clock, ALEX)).step.checkin_id
    await answer_all(sessions, clock, ALEX, cid, (4, 4, 4), ("a", "b"))
    async with sessions.begin() as session:
        await topics.toggle(session, ALEX, "money", known=["money"], now=clock.now())
        await pairing.unpair(session, ALEX, couple, now=clock.now(), rhythm=RHYTHM)
    async with sessions.begin() as session:
        assert await checkins.purge_ended(session, now=clock.now(), grace=timedelta(days=30)) == 0
    clock.advance(timedelta(days=31))
    async with sessions.begin() as session:
        assert await checkins.purge_ended(session, now=clock.now(), grace=timedelta(days=30)) == 2
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CheckinAnswer))).one() == 0
        assert await session.get(User, ALEX) is not None


async def test_check_ins_rest_after_an_unpaid_trial_and_history_stays(
    sessions: Sessions,
    clock: FixedClock,
    couple: int,
    sender: FakeSender,
) -> None:
    gated = Policy()  # the default: check-ins are gated
    ticker = make_engine(sessions, clock, sender, policy=gated)
    cid = (await start(sessions, clock, ALEX, policy=gated)).step.checkin_id
    for person in (ALEX, SAM):
        await answer_all(sessions, clock, person, cid, (4, 4, 4), ("a", "b"))
        await submit(sessions, clock, person, cid)
    # The free week ends on Monday 9 March at 09:00; Sunday's check-in still comes.
    await run_until(ticker, clock, datetime(2026, 3, 8, 19, 1, tzinfo=UTC))
    assert len([t for t in sender.texts_to(ALEX) if "weekly check-in" in t]) == 1
    await run_until(ticker, clock, datetime(2026, 3, 15, 19, 1, tzinfo=UTC))
    assert len([t for t in sender.texts_to(ALEX) if "weekly check-in" in t]) == 1
    assert not any("gentle nudge" in t for t in sender.texts_to(ALEX)), "no reminder while resting"
    with pytest.raises(DomainError, match=r"^checkins\.resting$"):
        await start(sessions, clock, SAM, policy=gated)
    async with sessions() as session:
        past = await checkins.history(session, SAM, content=DECK.get(), today=date(2026, 3, 15))
    assert [p.checkin_id for p in past.past] == [cid]


async def test_a_safety_signal_pauses_check_ins_notes_and_topics_without_saying_why(
    sessions: Sessions,
    clock: FixedClock,
    couple: int,
    ticker: CheckinEngine,
    sender: FakeSender,
) -> None:
    cid = (await start(sessions, clock, ALEX)).step.checkin_id
    await answer_all(sessions, clock, ALEX, cid, (4, 4, 4), ("a", "b"))
    async with sessions.begin() as session:
        await appreciations.write(
            session,
            ALEX,
            "Thank you",
            now=clock.now(),
            default_morning=time(8, 0),
            default_zone="Europe/London",
        )
        await safety.signal(session, SAM, now=clock.now())
    paused = r"^safety\.paused_notice$"
    with pytest.raises(DomainError, match=paused):
        await submit(sessions, clock, ALEX, cid)
    with pytest.raises(DomainError, match=paused):
        await start(sessions, clock, SAM)
    with pytest.raises(DomainError, match=paused):
        async with sessions.begin() as session:
            await topics.toggle(session, ALEX, "money", known=["money"], now=clock.now())
    with pytest.raises(DomainError, match=paused):
        async with sessions.begin() as session:
            await appreciations.begin(session, ALEX, now=clock.now())
    await run_until(ticker, clock, datetime(2026, 3, 9, 20, 0, tzinfo=UTC))
    assert sender.sent == [], "no note, no reminder, no weekly check-in while paused"


async def test_a_persons_export_holds_their_own_check_in_words_only(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    cid = (await start(sessions, clock, ALEX)).step.checkin_id
    await answer_all(sessions, clock, ALEX, cid, (4, 4, 4), ("Alex's words", "b"))
    await answer_all(sessions, clock, SAM, cid, (3, 3, 3), ("Sam's words", "d"))
    async with sessions() as session:
        exported = data_rights.export_json(
            await data_rights.export(session, ALEX, now=clock.now())
        ).decode()
    assert "Alex's words" in exported and "Sam's words" not in exported


async def test_two_workers_ticking_at_once_send_each_message_once(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    first, second = FakeSender(), FakeSender()
    workers = [make_engine(sessions, clock, first), make_engine(sessions, clock, second)]
    await workers[0].tick()  # plants the weekly rows
    async with sessions.begin() as session:
        for person in (ALEX, SAM):
            await appreciations.write(
                session,
                person,
                "Thank you",
                now=clock.now(),
                default_morning=time(8, 0),
                default_zone="Europe/London",
            )
    for moment in (
        datetime(2026, 3, 2, 23, 0, 30, tzinfo=UTC),  # Sam's morning in Tokyo
        datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC),  # Alex's morning in Lisbon
        datetime(2026, 3, 8, 10, 0, 30, tzinfo=UTC),  # Sunday 19:00 in Tokyo
        datetime(2026, 3, 8, 19, 0, 30, tzinfo=UTC),  # Sunday 19:00 in Lisbon
    ):
        clock.set(moment)
        await asyncio.gather(*(worker.tick() for worker in workers))
    sent = first.sent + second.sent
    assert sorted((m.chat_id, "note" in m.text) for m in sent) == [
        (ALEX, False),
        (ALEX, True),
        (SAM, False),
        (SAM, True),
    ]
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Checkin))).one() == 1


async def test_discreet_mode_holds_the_courier_note_behind_show(
    sessions: Sessions, clock: FixedClock, couple: int, ticker: CheckinEngine, sender: FakeSender
) -> None:
    async with sessions.begin() as session:
        await safety.set_discreet(session, SAM, on=True, now=clock.now())
        await appreciations.write(
            session,
            ALEX,
            "Thank you for the garden",
            now=clock.now(),
            default_morning=time(8, 0),
            default_zone="Europe/London",
        )

    await run_until(ticker, clock, datetime(2026, 3, 2, 22, 1, tzinfo=UTC))

    (neutral,) = sender.sent
    assert neutral.chat_id == SAM and "garden" not in neutral.text
    assert neutral.text == Texts(CONTENT).render("safety.neutral_notice")
    ((show,),) = neutral.buttons
    async with sessions.begin() as session:
        held = await safety.show_held(session, SAM, int(show[1].rsplit(":", 1)[1]))
    assert "Thank you for the garden" in held.text


async def test_check_ins_stop_sending_when_results_cannot_be_recorded(
    sessions: Sessions, clock: FixedClock, sender: FakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = range(11, 11 + 24)
    for person in people:
        await onboard(sessions, clock, person, f"P{person}", "Asia/Tokyo", time(7, 0))
    for first in people[::2]:
        await pair(sessions, clock, first, first + 1)
    async with sessions.begin() as session:
        for first in people[::2]:
            await appreciations.write(
                session,
                first,
                "Thanks",
                now=clock.now(),
                default_morning=time(8, 0),
                default_zone="Europe/London",
            )
    engine = CheckinEngine(
        sessions=sessions,
        texts=Texts(CONTENT),
        deck=DECK,
        clock=clock,
        sender=sender,
        policy=UNGATED,
        config=CheckinConfig(concurrency=3),
    )

    async def broken(*_: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(engine, "_complete", broken)
    clock.set(datetime(2026, 3, 2, 22, 1, tzinfo=UTC))

    with pytest.raises(RuntimeError, match="went away"):
        await engine.tick()

    # Twelve notes were due; only what was already in flight went out.
    assert 0 < sender.calls <= 3
