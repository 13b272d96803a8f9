"""Plans together on real databases: weekly rounds at each partner's time, private marks,
reminders on the chosen day, how it went, and the data rights that cover them."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.billing.entitlements import Policy
from bot.content.texts import Texts
from bot.content.together import TogetherDeck
from bot.core.clock import FixedClock
from bot.core.errors import DomainError, StaleAction
from bot.db.engine import Sessions
from bot.db.models import User
from bot.db.together import PlanStatus, TogetherEntry, TogetherJob, TogetherPlan, TogetherSchedule
from bot.outbox.messages import Outcome
from bot.people import data_rights, pairing
from bot.safety import signals as safety
from bot.together import plans
from bot.together.engine import TogetherConfig, TogetherEngine
from bot.together.schedules import Cadence
from tests.support.factories import ALEX, CONTENT, NOTHING_GATED, RHYTHM, SAM
from tests.support.senders import FakeSender

T = TypeVar("T")
DECK = TogetherDeck(CONTENT)
ZONE = "Europe/London"
# Thursdays at 18:30, reminders at 10:00: 09:30 UTC for Sam in Tokyo, 18:30 for Alex in Lisbon.
CADENCE = Cadence(3, time(18, 30), time(10, 0))


async def _in(sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions.begin() as session:
        return await work(session)


def engine_of(
    sessions: Sessions, clock: FixedClock, sender: FakeSender, policy: Policy = NOTHING_GATED
) -> TogetherEngine:
    return TogetherEngine(
        sessions=sessions,
        texts=Texts(CONTENT),
        deck=DECK,
        clock=clock,
        sender=sender,
        policy=policy,
        config=TogetherConfig(cadence=CADENCE, default_zone=ZONE),
    )


async def _plans(sessions: Sessions) -> list[TogetherPlan]:
    async with sessions() as session:
        return list((await session.exec(select(TogetherPlan).order_by(col(TogetherPlan.id)))).all())


async def _start(sessions: Sessions, clock: FixedClock, user_id: int = ALEX) -> plans.Started:
    return await _in(
        sessions,
        lambda s: plans.start(
            s, user_id, now=clock.now(), content=DECK.get(), policy=NOTHING_GATED, default_zone=ZONE
        ),
    )


async def _mark(
    sessions: Sessions, clock: FixedClock, user_id: int, plan_id: int, *picks: int
) -> plans.Marked:
    for index in picks:
        await _in(
            sessions,
            lambda s, i=index: plans.toggle(  # type: ignore[misc]
                s,
                user_id,
                plan_id,
                i,
                now=clock.now(),
                content=DECK.get(),
                policy=NOTHING_GATED,
                default_zone=ZONE,
            ),
        )
    return await _in(
        sessions,
        lambda s: plans.finish_marking(
            s,
            user_id,
            plan_id,
            now=clock.now(),
            content=DECK.get(),
            policy=NOTHING_GATED,
            default_zone=ZONE,
        ),
    )


async def _planned_for(sessions: Sessions, clock: FixedClock, day: date, *, by: int = SAM) -> int:
    """Alex and Sam both like the first idea; `by` picks `day`. Return the plan id."""
    started = await _start(sessions, clock)
    plan_id = started.view.plan_id
    await _mark(sessions, clock, ALEX, plan_id, 0, 1)
    marked = await _mark(sessions, clock, SAM, plan_id, 0)
    assert marked.both and [i.id for i in marked.view.matched] == [started.view.ideas[0].id]
    await _in(
        sessions,
        lambda s: plans.choose_day(
            s,
            by,
            plan_id,
            day,
            now=clock.now(),
            content=DECK.get(),
            policy=NOTHING_GATED,
            default_zone=ZONE,
            reminder_at=CADENCE.reminder_at,
        ),
    )
    return plan_id


async def test_weekly_ideas_reach_each_partner_at_their_own_time_as_one_round(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = engine_of(sessions, clock, sender)
    clock.set(datetime(2026, 3, 5, 9, 29, tzinfo=UTC))
    await engine.tick()
    assert sender.sent == []
    clock.set(datetime(2026, 3, 5, 9, 30, 20, tzinfo=UTC))
    await engine.tick()
    assert [m.chat_id for m in sender.sent] == [SAM]
    assert "This week's ideas for you and Alex" in sender.sent[0].text
    (plan,) = await _plans(sessions)
    # Sam marks before Alex's own 18:30: Alex, who has not seen the round, is not told.
    early = await _mark(sessions, clock, SAM, plan.id or 0, 1)
    assert not early.both and not early.tell_partner
    clock.set(datetime(2026, 3, 5, 18, 30, 20, tzinfo=UTC))
    await engine.tick()
    await engine.tick()
    assert [m.chat_id for m in sender.sent] == [SAM, ALEX]
    (plan,) = await _plans(sessions)
    assert plan.status == PlanStatus.MARKING and len(plan.idea_ids) == 3
    first, second = sender.sent
    assert first.buttons == second.buttons  # the same round, nothing marked yet
    assert all(f"tog:m:{plan.id}:" in target for _, target in first.buttons[0])
    # The rows moved on a week, to each partner's own Thursday.
    async with sessions() as session:
        rows = (await session.exec(select(TogetherSchedule))).all()
    weekly = {row.user_id: row.next_run_at for row in rows if row.kind == TogetherJob.WEEKLY}
    assert weekly == {
        SAM: datetime(2026, 3, 12, 9, 30, tzinfo=UTC),
        ALEX: datetime(2026, 3, 12, 18, 30, tzinfo=UTC),
    }


async def test_a_round_never_repeats_the_last_ones_ideas(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    seen: list[set[str]] = []
    for _ in range(6):
        started = await _start(sessions, clock)
        seen.append(set(started.view.ideas[i].id for i in range(3)))
        await _mark(sessions, clock, ALEX, started.view.plan_id, 0)
        marked = await _mark(sessions, clock, SAM, started.view.plan_id, 1)
        assert marked.both and marked.next_round is not None
        seen.append({idea.id for idea in marked.next_round.view.ideas})
        await _mark(sessions, clock, ALEX, marked.next_round.view.plan_id, 2)
        await _mark(sessions, clock, SAM, marked.next_round.view.plan_id, 1)
    for before, after in itertools.pairwise(seen):
        assert not before & after


async def test_marks_stay_private_and_only_the_shared_idea_is_revealed(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    started = await _start(sessions, clock)
    plan_id = started.view.plan_id
    alone = await _mark(sessions, clock, ALEX, plan_id, 0, 2)
    assert not alone.both and alone.view.matched == () and alone.tell_partner
    partner_view = await _start(sessions, clock, SAM)
    assert partner_view.view.liked == frozenset() and not partner_view.created
    with pytest.raises(DomainError, match="already_marked"):
        await _mark(sessions, clock, ALEX, plan_id)
    both = await _mark(sessions, clock, SAM, plan_id, 1, 2)
    assert [idea.id for idea in both.view.matched] == [started.view.ideas[2].id]
    assert both.view.idea == started.view.ideas[2]


async def test_the_chosen_day_reminds_each_at_their_own_time_and_asks_the_day_after(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    plan_id = await _planned_for(sessions, clock, date(2026, 3, 7))
    async with sessions() as session:
        rows = (await session.exec(select(TogetherSchedule))).all()
    due = {(row.user_id, row.kind): row.next_run_at for row in rows}
    assert due[(SAM, TogetherJob.REMIND)] == datetime(2026, 3, 7, 1, 0, tzinfo=UTC)
    assert due[(ALEX, TogetherJob.REMIND)] == datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    assert due[(SAM, TogetherJob.ASK)] == datetime(2026, 3, 8, 1, 0, tzinfo=UTC)
    assert due[(ALEX, TogetherJob.ASK)] == datetime(2026, 3, 8, 10, 0, tzinfo=UTC)
    with pytest.raises(DomainError, match="not_yet"):
        await _in(
            sessions,
            lambda s: plans.rate(s, ALEX, plan_id, 4, now=clock.now(), default_zone=ZONE),
        )

    sender = FakeSender()
    engine = engine_of(sessions, clock, sender)
    clock.set(datetime(2026, 3, 7, 1, 0, 30, tzinfo=UTC))
    await engine.tick()
    clock.set(datetime(2026, 3, 7, 10, 0, 30, tzinfo=UTC))
    await engine.tick()
    clock.set(datetime(2026, 3, 8, 10, 0, 30, tzinfo=UTC))
    await engine.tick()
    assert [(m.chat_id, m.text.split()[1]) for m in sender.sent] == [
        (SAM, "<b>Today's"),
        (ALEX, "<b>Today's"),
        (SAM, "How"),
        (ALEX, "How"),
    ]

    async def answer(user_id: int, score: int | None, words: str | None) -> plans.Answered:
        now = clock.now()
        await _in(
            sessions, lambda s: plans.rate(s, user_id, plan_id, score, now=now, default_zone=ZONE)
        )
        return await _in(
            sessions,
            lambda s: plans.finish_answer(s, user_id, plan_id, words, now=now, default_zone=ZONE),
        )

    assert not (await answer(SAM, None, "Next time!")).revealed
    with pytest.raises(StaleAction):
        await _in(sessions, lambda s: plans.reveal_for(s, plan_id, ALEX, content=DECK.get()))
    history = await _in(
        sessions,
        lambda s: plans.history(s, ALEX, now=clock.now(), content=DECK.get(), default_zone=ZONE),
    )
    assert [(p.revealed, p.mine, p.theirs) for p in history] == [(False, None, None)]
    with pytest.raises(DomainError, match="words_too_long"):
        await answer(ALEX, 5, "x" * 301)
    assert (await answer(ALEX, 5, "  Loved   it ")).revealed
    reveal = await _in(sessions, lambda s: plans.reveal_for(s, plan_id, ALEX, content=DECK.get()))
    assert reveal.mine == plans.Side(5, False, "Loved it")
    assert reveal.theirs == plans.Side(None, True, "Next time!")
    with pytest.raises(DomainError, match="already_answered"):
        await answer(SAM, 3, None)


async def test_nothing_is_sent_while_paused_by_safety_or_after_the_trial(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _planned_for(sessions, clock, date(2026, 3, 7))
    await _in(sessions, lambda s: safety.signal(s, SAM, now=clock.now()))
    sender = FakeSender()
    engine = engine_of(sessions, clock, sender)
    for at in (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), datetime(2026, 3, 12, 19, 0, tzinfo=UTC)):
        clock.set(at)
        await engine.tick()
    assert sender.sent == []
    with pytest.raises(DomainError, match="paused"):
        await _start(sessions, clock)

    gated = engine_of(sessions, clock, sender, Policy())
    await _in(sessions, lambda s: safety.feel_safe_again(s, SAM))
    clock.set(datetime(2026, 3, 19, 19, 0, tzinfo=UTC))
    await gated.tick()
    assert sender.sent == []


async def test_discreet_mode_holds_the_words_and_a_block_stops_the_rows(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _in(sessions, lambda s: safety.set_discreet(s, SAM, on=True, now=clock.now()))
    sender = FakeSender(script={ALEX: [Outcome.BLOCKED]})
    engine = engine_of(sessions, clock, sender)
    for at in (datetime(2026, 3, 5, 9, 31, tzinfo=UTC), datetime(2026, 3, 5, 18, 31, tzinfo=UTC)):
        clock.set(at)
        await engine.tick()
    (to_sam,) = sender.sent
    assert to_sam.chat_id == SAM and to_sam.text == "You have a new message."
    async with sessions() as session:
        alex = await session.get(User, ALEX)
        assert alex is not None and alex.unreachable_since is not None
        rows = (
            await session.exec(select(TogetherSchedule).where(TogetherSchedule.user_id == ALEX))
        ).all()
    assert rows == []


async def test_mydata_holds_my_side_and_deleteme_erases_it(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    plan_id = await _planned_for(sessions, clock, date(2026, 3, 7))
    data = await _in(sessions, lambda s: data_rights.export(s, SAM, now=clock.now()))
    [entry] = data["tables"]["together_entries"]
    assert entry["plan_id"] == plan_id and entry["user_id"] == SAM and len(entry["liked"]) == 1
    assert {row["kind"] for row in data["tables"]["together_schedules"]} >= {"tg_remind", "tg_ask"}

    await _in(sessions, lambda s: data_rights.ask_to_erase(s, SAM, now=clock.now()))
    await _in(sessions, lambda s: data_rights.erase(s, SAM, now=clock.now(), rhythm=RHYTHM))
    async with sessions() as session:
        left = (await session.exec(select(TogetherEntry))).all()
        rows = (await session.exec(select(TogetherSchedule))).all()
    assert [e.user_id for e in left] == [ALEX]
    assert all(row.user_id == ALEX for row in rows)
    # Alex's rows for the ended couple are dropped when due, with nothing sent.
    sender = FakeSender()
    clock.set(datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    await engine_of(sessions, clock, sender).tick()
    assert sender.sent == []


async def test_plans_of_couples_that_ended_long_ago_are_erased(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _planned_for(sessions, clock, date(2026, 3, 7))
    await _in(
        sessions,
        lambda s: pairing.unpair(s, ALEX, couple, now=clock.now(), rhythm=RHYTHM),
    )
    later = clock.now() + pairing.HISTORY_GRACE - timedelta(hours=1)
    assert (
        await _in(sessions, lambda s: plans.purge_ended(s, now=later, grace=pairing.HISTORY_GRACE))
        == 0
    )
    later += timedelta(hours=2)
    assert (
        await _in(sessions, lambda s: plans.purge_ended(s, now=later, grace=pairing.HISTORY_GRACE))
        == 1
    )
    assert await _plans(sessions) == []


async def test_a_round_someone_opened_is_not_sent_again_and_an_old_one_gives_way(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    sender = FakeSender()
    engine = engine_of(sessions, clock, sender)
    clock.set(datetime(2026, 3, 5, 8, 0, tzinfo=UTC))
    opened = await _start(sessions, clock)
    for at in (datetime(2026, 3, 5, 9, 31, tzinfo=UTC), datetime(2026, 3, 5, 18, 31, tzinfo=UTC)):
        clock.set(at)
        await engine.tick()
    assert sender.sent == []  # both saw it when Alex opened it
    # A week on, the unfinished round is quietly set aside for three fresh ideas.
    clock.set(datetime(2026, 3, 12, 9, 31, tzinfo=UTC))
    await engine.tick()
    old, fresh = await _plans(sessions)
    assert old.id == opened.view.plan_id and old.status == PlanStatus.LAPSED
    assert fresh.status == PlanStatus.MARKING and not set(old.idea_ids) & set(fresh.idea_ids)
    assert [m.chat_id for m in sender.sent] == [SAM]
    assert not any("missed" in m.text or "didn't" in m.text for m in sender.sent)
