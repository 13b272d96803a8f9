"""The expectations map, the sharing prompt and their tick, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing.entitlements import Policy
from bot.closeness import expectations, schedules, vulnerability
from bot.closeness.engine import ClosenessEngine
from bot.content.closeness import ClosenessDecks
from bot.content.library import load_deck
from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.core.errors import DomainError, StaleAction
from bot.db.closeness import (
    ClosenessJob,
    ClosenessSchedule,
    ExpectationAnswer,
    ExpectationMap,
    VulnerabilityAnswer,
    VulnerabilityRound,
)
from bot.db.engine import Sessions
from bot.db.models import CoupleQuestion, User
from bot.outbox.messages import Outcome
from bot.people import data_rights, pairing
from bot.reading import library
from bot.safety import signals as safety
from tests.support.factories import (
    ALEX,
    CONTENT,
    NOTHING_GATED,
    POLICY,
    RHYTHM,
    SAM,
    nudge_engine,
)
from tests.support.senders import FakeSender
from tests.support.waiting import run_until

T = TypeVar("T")
DECKS = ClosenessDecks(CONTENT)
DECK = DECKS.expectations()
PROMPTS = DECKS.vulnerability()
# Alex and Sam differ on the first, seventh and ninth statements (time together, time apart,
# disagreements); everything else is within a step.
ALEX_SCORES = [5, 3, 4, 2, 5, 4, 1, 3, 5, 2, 4, 3]
SAM_SCORES = [1, 3, 4, 2, 5, 4, 5, 3, 2, 2, 4, 3]
# Wednesday 4 March 2026, 20:00 in Tokyo (11:00 UTC) and in Lisbon (20:00 UTC).
TOKYO_PROMPT = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)
LISBON_PROMPT = datetime(2026, 3, 4, 20, 0, tzinfo=UTC)


async def _in(sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions.begin() as session:
        return await work(session)


def engine_of(
    sessions: Sessions, clock: FixedClock, sender: FakeSender, policy: Policy = POLICY
) -> ClosenessEngine:
    return ClosenessEngine(
        sessions=sessions,
        texts=Texts(CONTENT),
        decks=DECKS,
        clock=clock,
        sender=sender,
        policy=policy,
    )


async def fill_map(sessions: Sessions, clock: FixedClock, user_id: int, scores: list[int]) -> None:
    started = await _in(
        sessions,
        lambda s: expectations.start(s, user_id, now=clock.now(), deck=DECK, policy=NOTHING_GATED),
    )
    for index, score in enumerate(scores):
        await place(sessions, clock, user_id, started.step.map_id, index, score)


async def place(
    sessions: Sessions, clock: FixedClock, user_id: int, map_id: int, index: int, score: int
) -> expectations.Answered:
    async with sessions.begin() as session:
        return await expectations.answer(
            session, user_id, map_id, index, score, now=clock.now(), deck=DECK
        )


async def test_a_map_opens_once_for_both_and_reveals_only_when_both_finish(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    first = await _in(
        sessions, lambda s: expectations.start(s, ALEX, now=clock.now(), deck=DECK, policy=POLICY)
    )
    again = await _in(
        sessions, lambda s: expectations.start(s, SAM, now=clock.now(), deck=DECK, policy=POLICY)
    )
    assert first.partner_to_tell is not None and first.partner_to_tell.id == SAM
    assert again.partner_to_tell is None and again.step.map_id == first.step.map_id
    assert (first.step.index, first.step.total) == (0, 12)
    await fill_map(sessions, clock, ALEX, ALEX_SCORES)
    map_id = first.step.map_id
    with pytest.raises(StaleAction):
        await _in(sessions, lambda s: expectations.result_for(s, map_id, ALEX, deck=DECK))
    for index, score in enumerate(SAM_SCORES):
        done = await place(sessions, clock, SAM, map_id, index, score)
    assert done.revealed and done.just_finished and done.step.index is None
    result = await _in(sessions, lambda s: expectations.result_for(s, map_id, SAM, deck=DECK))
    assert [d.statement.id for d in result.differences] == [
        "exp-evenings",
        "exp-own-time",
        "exp-talk-it-through",
    ]
    assert [(d.mine, d.theirs) for d in result.differences] == [(1, 5), (5, 1), (2, 5)]
    assert [area.id for area in result.close] == ["feelings", "affection", "plans"]
    focus = await _in(sessions, lambda s: expectations.focus_of(s, couple))
    assert focus.areas == ("time-together", "independence", "disagreements")
    assert focus.focus == {"meaningful_time", "trust", "conflict"}
    assert focus.topics == {"fun", "daily_life", "values"}
    with pytest.raises(DomainError) as refused:
        await _in(
            sessions,
            lambda s: expectations.answer(s, ALEX, map_id, 0, 3, now=clock.now(), deck=DECK),
        )
    assert refused.value.key == "expectations.already_revealed"


async def test_a_map_taken_again_shows_what_moved(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await fill_map(sessions, clock, ALEX, ALEX_SCORES)
    await fill_map(sessions, clock, SAM, SAM_SCORES)
    clock.advance(timedelta(days=100))
    await fill_map(sessions, clock, ALEX, ALEX_SCORES)
    await fill_map(sessions, clock, SAM, [5, *SAM_SCORES[1:8], 5, 5, 2, 3])
    async with sessions() as session:
        latest = await expectations.latest_revealed(session, couple)
        assert latest is not None and latest.id is not None
        result = await expectations.result_for(session, latest.id, ALEX, deck=DECK)
    assert result.retaken
    assert [(c.statement.id, c.before, c.now) for c in result.closer] == [
        ("exp-evenings", 4, 0),
        ("exp-talk-it-through", 3, 0),
    ]
    assert [(c.statement.id, c.before, c.now) for c in result.apart] == [
        ("exp-leave-unsolved", 0, 3),
        ("exp-weeks-ahead", 0, 2),
    ]


async def test_the_map_needs_a_partner_no_pause_and_an_entitled_couple(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    with pytest.raises(DomainError) as paused:
        await _in(
            sessions,
            lambda s: expectations.start(s, ALEX, now=clock.now(), deck=DECK, policy=POLICY),
        )
    assert paused.value.key == "safety.paused_notice"
    await _in(sessions, lambda s: safety.feel_safe_again(s, SAM))
    clock.advance(timedelta(days=8))
    with pytest.raises(DomainError) as resting:
        await _in(
            sessions,
            lambda s: expectations.start(s, ALEX, now=clock.now(), deck=DECK, policy=POLICY),
        )
    assert resting.value.key == "expectations.resting"
    await _in(sessions, lambda s: pairing.unpair(s, ALEX, couple, now=clock.now(), rhythm=RHYTHM))
    with pytest.raises(DomainError) as alone:
        await _in(
            sessions,
            lambda s: expectations.start(s, ALEX, now=clock.now(), deck=DECK, policy=POLICY),
        )
    assert alone.value.key == "expectations.not_paired"


async def test_the_tick_offers_the_map_each_evening_after_pairing_then_three_months_on(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = engine_of(sessions, clock, sender, NOTHING_GATED)
    await engine.tick()
    async with sessions() as session:
        rows = (await session.exec(select(ClosenessSchedule))).all()
    due = {row.user_id: row.next_run_at for row in rows if row.kind == ClosenessJob.MAP_OFFER}
    # 19:00 the next evening, each in their own zone: Tokyo (UTC+9) first, then Lisbon.
    assert due == {
        SAM: datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
        ALEX: datetime(2026, 3, 3, 19, 0, tzinfo=UTC),
    }
    clock.set(due[SAM])
    await engine.tick()
    await engine.tick()  # nothing twice
    assert len(sender.texts_to(SAM)) == 1 and "expectations map" in sender.texts_to(SAM)[0]
    assert sender.texts_to(ALEX) == []
    await fill_map(sessions, clock, SAM, SAM_SCORES)
    clock.set(due[ALEX])
    await engine.tick()
    [offer] = sender.texts_to(ALEX)
    assert "12 short statements" in offer
    await fill_map(sessions, clock, ALEX, ALEX_SCORES)
    async with sessions() as session:
        row = (
            await session.exec(
                select(ClosenessSchedule).where(
                    ClosenessSchedule.user_id == ALEX,
                    ClosenessSchedule.kind == ClosenessJob.MAP_OFFER,
                )
            )
        ).one()
    assert row.next_run_at - due[ALEX] >= expectations.RETAKE_AFTER
    clock.set(row.next_run_at)
    await engine.tick()
    assert len(sender.texts_to(ALEX)) == 2
    assert "since your last expectations map" in sender.texts_to(ALEX)[-1]


async def test_a_discreet_partner_gets_a_neutral_offer_and_a_blocked_one_is_let_go(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _in(sessions, lambda s: safety.set_discreet(s, SAM, on=True, now=clock.now()))
    sender = FakeSender(script={ALEX: [Outcome.BLOCKED]})
    engine = engine_of(sessions, clock, sender)
    await engine.tick()
    clock.set(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    await engine.tick()
    clock.set(datetime(2026, 3, 3, 19, 0, tzinfo=UTC))
    await engine.tick()
    [neutral] = sender.texts_to(SAM)
    assert "expectations" not in neutral
    async with sessions() as session:
        rows = (await session.exec(select(ClosenessSchedule.user_id))).all()
    assert ALEX not in rows


def prompts_to(sender: FakeSender, chat_id: int) -> list[str]:
    return [text for text in sender.texts_to(chat_id) if "sharing prompt" in text]


async def _both_in(sessions: Sessions, clock: FixedClock) -> None:
    for person in (ALEX, SAM):
        async with sessions.begin() as session:
            await vulnerability.choose(session, person, yes=True, now=clock.now())


async def test_sharing_comes_weekly_only_when_both_said_yes_and_not_while_paused(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = engine_of(sessions, clock, sender, NOTHING_GATED)
    first = await _in(sessions, lambda s: vulnerability.choose(s, ALEX, yes=True, now=clock.now()))
    assert not first.view.both and first.partner_to_tell is None
    clock.set(TOKYO_PROMPT)
    await engine.tick()
    assert prompts_to(sender, SAM) == []
    clock.set(TOKYO_PROMPT - timedelta(days=1))
    second = await _in(sessions, lambda s: vulnerability.choose(s, SAM, yes=True, now=clock.now()))
    assert second.view.both and second.partner_to_tell is not None
    for at in (TOKYO_PROMPT, LISBON_PROMPT, LISBON_PROMPT + timedelta(hours=1)):
        clock.set(at)
        await engine.tick()
    assert len(prompts_to(sender, SAM)) == len(prompts_to(sender, ALEX)) == 1
    async with sessions() as session:
        rounds = (await session.exec(select(VulnerabilityRound))).all()
    assert len(rounds) == 1
    # A safety signal pauses it; the rows stay, the prompts don't come.
    await _in(sessions, lambda s: safety.signal(s, ALEX, now=clock.now()))
    clock.set(LISBON_PROMPT + timedelta(days=7))
    await engine.tick()
    assert len(prompts_to(sender, ALEX)) == 1
    await _in(sessions, lambda s: safety.feel_safe_again(s, ALEX))
    clock.set(LISBON_PROMPT + timedelta(days=14))
    await engine.tick()
    assert len(prompts_to(sender, ALEX)) == 2
    async with sessions() as session:
        prompt_ids = (await session.exec(select(VulnerabilityRound.prompt_id))).all()
    assert len(set(prompt_ids)) == len(prompt_ids) == 2


async def test_not_ready_is_invisible_and_a_round_reveals_only_two_written_answers(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _both_in(sessions, clock)
    sender = FakeSender()
    engine = engine_of(sessions, clock, sender, NOTHING_GATED)
    clock.set(TOKYO_PROMPT)
    await engine.tick()
    async with sessions() as session:
        found = (await session.exec(select(VulnerabilityRound))).one()
    assert found.id is not None
    round_id = found.id
    await _in(sessions, lambda s: vulnerability.not_ready(s, SAM, round_id, now=clock.now()))
    saved = await _in(
        sessions, lambda s: vulnerability.write(s, ALEX, round_id, " Mine ", now=clock.now())
    )
    assert not saved.revealed
    with pytest.raises(StaleAction):
        await _in(sessions, lambda s: vulnerability.reveal_for(s, round_id, ALEX, deck=PROMPTS))
    with pytest.raises(DomainError) as too_long:
        await _in(
            sessions,
            lambda s: vulnerability.write(s, SAM, round_id, "x" * 1001, now=clock.now()),
        )
    assert too_long.value.key == "vulnerability.answer_too_long"
    saved = await _in(
        sessions, lambda s: vulnerability.write(s, SAM, round_id, "Theirs", now=clock.now())
    )
    assert saved.revealed
    shown = await _in(sessions, lambda s: vulnerability.reveal_for(s, round_id, ALEX, deck=PROMPTS))
    assert (shown.mine, shown.theirs, shown.partner_name) == ("Mine", "Theirs", "Sam")
    clock.set(found.closes_at)
    with pytest.raises(DomainError):
        await _in(sessions, lambda s: vulnerability.not_ready(s, SAM, round_id, now=clock.now()))


async def test_saying_no_stops_the_prompt_for_both_and_tells_nobody(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _both_in(sessions, clock)
    changed = await _in(
        sessions, lambda s: vulnerability.choose(s, SAM, yes=False, now=clock.now())
    )
    assert changed.partner_to_tell is None and not changed.view.both
    async with sessions() as session:
        kinds = (await session.exec(select(ClosenessSchedule.kind))).all()
        alex_view = await vulnerability.view(session, ALEX)
    assert ClosenessJob.PROMPT not in kinds
    assert alex_view.mine and not alex_view.both


async def test_picks_say_when_the_map_decided_them(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await fill_map(sessions, clock, ALEX, ALEX_SCORES)
    await fill_map(sessions, clock, SAM, SAM_SCORES)
    async with sessions() as session:
        alex = await session.get(User, ALEX)
        assert alex is not None
        plan = await library.plan_for(session, alex)
        topics = await expectations.topics_of_many(session, [couple, couple + 99])
    assert plan.mapped == {"meaningful_time", "trust", "conflict"}
    assert plan.reason(["conflict", "intimacy"]) == library.Reason("map", "conflict")
    assert plan.reason(["intimacy"]) == library.Reason("start", "intimacy")
    assert topics == {couple: frozenset({"fun", "daily_life", "values"})}


async def test_the_export_holds_my_answers_only_and_erasure_removes_them(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await fill_map(sessions, clock, ALEX, ALEX_SCORES)
    await fill_map(sessions, clock, SAM, SAM_SCORES)
    await _both_in(sessions, clock)
    engine = engine_of(sessions, clock, FakeSender(), NOTHING_GATED)
    clock.set(TOKYO_PROMPT)
    await engine.tick()
    async with sessions() as session:
        round_id = (await session.exec(select(VulnerabilityRound.id))).one()
    assert round_id is not None
    await _in(sessions, lambda s: vulnerability.write(s, ALEX, round_id, "Mine", now=clock.now()))
    await _in(sessions, lambda s: vulnerability.write(s, SAM, round_id, "Theirs", now=clock.now()))
    data = await _in(sessions, lambda s: data_rights.export(s, SAM, now=clock.now()))
    tables = data["tables"]
    assert [row["score"] for row in tables["expectation_answers"]] == SAM_SCORES
    assert [row["text"] for row in tables["vulnerability_answers"]] == ["Theirs"]
    assert tables["vulnerability_opt_ins"][0]["user_id"] == SAM
    assert "Mine" not in json.dumps(data)

    await _in(sessions, lambda s: data_rights.ask_to_erase(s, SAM, now=clock.now()))
    await _in(sessions, lambda s: data_rights.erase(s, SAM, now=clock.now(), rhythm=RHYTHM))
    async with sessions() as session:
        for table in (ExpectationAnswer, VulnerabilityAnswer):
            users = (await session.exec(select(table.user_id))).all()
            assert SAM not in users and ALEX in users
        assert (await vulnerability.view(session, ALEX)).both is False
    # Thirty days after the couple ended, both partners' words go too.
    clock.advance(timedelta(days=31))
    await _in(
        sessions,
        lambda s: schedules.purge_ended(s, now=clock.now(), grace=pairing.HISTORY_GRACE),
    )
    async with sessions() as session:
        assert (await session.exec(select(ExpectationMap))).all() == []
        assert (await session.exec(select(VulnerabilityAnswer))).all() == []


async def test_the_evening_question_leans_on_the_map_and_says_so(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await fill_map(sessions, clock, ALEX, ALEX_SCORES)
    await fill_map(sessions, clock, SAM, SAM_SCORES)
    sender = FakeSender()
    await run_until(
        nudge_engine(sessions, clock, sender), clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC)
    )
    async with sessions() as session:
        question = (await session.exec(select(CoupleQuestion))).one()
    prompt = next(p for p in load_deck(CONTENT, "en", "curiosity") if p.id == question.prompt_id)
    assert prompt.topic in {"fun", "daily_life", "values"}
    for person in (ALEX, SAM):
        [evening] = [t for t in sender.texts_to(person) if t.startswith("🌙")]
        assert "Picked because you both filled in the expectations map." in evening
