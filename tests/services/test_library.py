"""Focus areas, the couple's plan, reading progress, and tailored deliveries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.content.library import Library
from bot.core.clock import FixedClock
from bot.core.errors import DomainError, StaleAction
from bot.db.engine import Sessions
from bot.db.models import User
from bot.nudges.engine import NudgeEngine
from bot.reading import library
from bot.reading.library import Plan
from tests.support.factories import ALEX, CONTENT, POLICY, SAM
from tests.support.senders import FakeSender
from tests.support.waiting import run_until

BOOKS = Library(CONTENT)


async def _pick(sessions: Sessions, clock: FixedClock, user_id: int, *areas: str) -> None:
    async with sessions.begin() as session:
        for area in areas:
            await library.toggle_focus(session, user_id, area, now=clock.now())


async def _user(sessions: Sessions, user_id: int) -> User:
    async with sessions() as session:
        user = await session.get(User, user_id)
    assert user is not None
    return user


async def test_focus_areas_are_capped_at_three_and_checked(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _pick(sessions, clock, ALEX, "trust", "conflict", "curiosity")
    async with sessions.begin() as session:
        with pytest.raises(DomainError, match=r"library\.focus_full"):
            await library.toggle_focus(session, ALEX, "appreciation", now=clock.now())
        with pytest.raises(StaleAction):
            await library.toggle_focus(session, ALEX, "astrology", now=clock.now())
        assert await library.toggle_focus(session, ALEX, "trust", now=clock.now()) == {
            "conflict",
            "curiosity",
        }


async def test_the_plan_weighs_both_partners_and_explains_itself(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _pick(sessions, clock, ALEX, "appreciation", "trust")
    await _pick(sessions, clock, SAM, "appreciation", "busy_lives")
    async with sessions() as session:
        plan = await library.plan_for(session, await _user(sessions, ALEX))
    assert plan.reason(["appreciation", "trust"]) == library.Reason("both", "appreciation")
    assert plan.reason(["trust"]) == library.Reason("you", "trust")
    assert plan.reason(["busy_lives", "intimacy"]) == library.Reason("partner", "busy_lives")
    assert plan.reason(["intimacy"]) == library.Reason("start", "intimacy")
    ranked = library.rank_articles(BOOKS.articles(), plan)
    assert ranked[0].meta.focus == "appreciation"
    videos = library.rank_videos(BOOKS.videos(), plan)
    assert "appreciation" in videos[0].topics


@given(
    mine=st.sets(st.sampled_from(library.FOCUS_CHOICES), max_size=3),
    theirs=st.sets(st.sampled_from(library.FOCUS_CHOICES), max_size=3),
)
def test_ranking_never_puts_a_worse_fit_first(mine: set[str], theirs: set[str]) -> None:
    plan = Plan(frozenset(mine), frozenset(theirs))
    weights = [plan.weight(a.meta.focus) for a in library.rank_articles(BOOKS.articles(), plan)]
    assert weights == sorted(weights, reverse=True)
    scores = [
        sum(plan.weight(t) for t in v.topics) for v in library.rank_videos(BOOKS.videos(), plan)
    ]
    assert scores == sorted(scores, reverse=True)


async def test_progress_is_per_partner(sessions: Sessions, clock: FixedClock, couple: int) -> None:
    article = BOOKS.articles()[0]
    async with sessions.begin() as session:
        first = await library.read_next(session, ALEX, article, now=clock.now())
        second = await library.read_next(session, ALEX, article, now=clock.now())
        sams = await library.read_next(session, SAM, article, now=clock.now())
    assert (first.index, second.index, sams.index) == (0, 1, 0)
    async with sessions.begin() as session:
        for _ in range(len(article.excerpts) - 2):
            last = await library.read_next(session, ALEX, article, now=clock.now())
        assert not last.has_next
        progress = await library.progress_of(session, ALEX)
    assert progress[article.meta.id].finished_at is not None


async def test_excerpts_and_videos_arrive_on_the_rhythm_tailored_to_the_couple(
    nudger: NudgeEngine, sessions: Sessions, clock: FixedClock, sender: FakeSender, couple: int
) -> None:
    await _pick(sessions, clock, ALEX, "appreciation")
    await _pick(sessions, clock, SAM, "appreciation")
    # Tuesday 3 March, 12:30 in Lisbon (UTC) and in Tokyo (03:30 UTC).
    await run_until(nudger, clock, datetime(2026, 3, 3, 12, 31, tzinfo=UTC))
    excerpts = {chat: [t for t in sender.texts_to(chat) if "📖" in t] for chat in (ALEX, SAM)}
    assert len(excerpts[ALEX]) == len(excerpts[SAM]) == 1
    assert "part 1 of" in excerpts[ALEX][0] and "you both chose appreciation" in excerpts[ALEX][0]
    await run_until(nudger, clock, datetime(2026, 3, 6, 12, 31, tzinfo=UTC))  # Friday
    assert "part 2 of" in [t for t in sender.texts_to(ALEX) if "📖" in t][-1]
    await run_until(nudger, clock, datetime(2026, 3, 8, 18, 1, tzinfo=UTC))  # Sunday
    videos = [m for m in sender.sent if m.chat_id == ALEX and "🎬" in m.text]
    assert len(videos) == 1
    watch = videos[0].buttons[0][0]
    assert watch[1].startswith("https://videos.remainly.example/")
    await run_until(nudger, clock, datetime(2026, 3, 15, 18, 1, tzinfo=UTC))
    second = [m for m in sender.sent if m.chat_id == ALEX and "🎬" in m.text][-1]
    assert second.buttons[0][0][1] != watch[1]  # a new video each week


async def test_a_retried_excerpt_is_the_same_part_not_the_next(
    nudger: NudgeEngine, sessions: Sessions, clock: FixedClock, sender: FakeSender, couple: int
) -> None:
    from bot.outbox.messages import Outcome

    await run_until(nudger, clock, datetime(2026, 3, 3, 12, 0, tzinfo=UTC))
    sender.script[ALEX] = [Outcome.RETRY, Outcome.RETRY]
    await run_until(nudger, clock, datetime(2026, 3, 3, 12, 45, tzinfo=UTC))
    excerpts = [t for t in sender.texts_to(ALEX) if "📖" in t]
    assert len(excerpts) == 1 and "part 1 of" in excerpts[0]


async def test_paid_videos_and_articles_follow_the_couples_entitlement(
    nudger: NudgeEngine, sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    paid = next(v for v in BOOKS.videos() if v.paid)
    free = next(v for v in BOOKS.videos() if not v.paid)
    alex = await _user(sessions, ALEX)
    async with sessions() as session:
        assert (
            await library.video_access(session, alex, paid, now=clock.now(), policy=POLICY)
            == "trial"
        )
        assert (
            await library.video_access(session, alex, free, now=clock.now(), policy=POLICY)
            == "free"
        )
        assert await library.may_read(session, alex, now=clock.now(), policy=POLICY)
    after_trial = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    async with sessions() as session:
        assert (
            await library.video_access(session, alex, paid, now=after_trial, policy=POLICY)
            == "locked"
        )
        assert (
            await library.video_access(session, alex, free, now=after_trial, policy=POLICY)
            == "free"
        )
        assert not await library.may_read(session, alex, now=after_trial, policy=POLICY)
    text, buttons = library.video_message(
        nudger.texts, paid, base_url="https://v.example", locale="en", reason=None, access="locked"
    )
    assert "🔒" in text
    assert [target for _, target in buttons[0] if target.startswith("https://")] == []


async def test_the_last_check_in_steers_video_picks_when_nobody_chose_that_area(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    from datetime import date, timedelta

    from bot.db.checkins import Checkin, CheckinAnswer, CheckinEntry, CheckinStatus

    themes = BOOKS.checkin_themes()
    assert themes["heard"] == "curiosity"
    now = clock.now()
    async with sessions.begin() as session:
        checkin = Checkin(
            couple_id=couple,
            status=CheckinStatus.REVEALED,
            question_ids=["close", "heard"],
            week_of=date(2026, 3, 2),
            opened_at=now,
            closes_at=now + timedelta(days=3),
            finished_at=now,
        )
        session.add(checkin)
        await session.flush()
        assert checkin.id is not None
        for user_id, heard in ((ALEX, 4), (SAM, 1)):  # Sam felt little heard
            entry = CheckinEntry(checkin_id=checkin.id, user_id=user_id, created_at=now)
            session.add(entry)
            await session.flush()
            assert entry.id is not None
            for question_id, score in (("close", 4), ("heard", heard)):
                session.add(
                    CheckinAnswer(
                        entry_id=entry.id,
                        user_id=user_id,
                        question_id=question_id,
                        score=score,
                        answered_at=now,
                    )
                )
    alex = await _user(sessions, ALEX)
    async with sessions() as session:
        plain = await library.plan_for(session, alex)
        informed = await library.plan_for(session, alex, themes=themes)
    assert plain.needs == frozenset() and informed.needs == {"curiosity"}
    top = library.rank_videos(BOOKS.videos(), informed)[0]
    assert "curiosity" in top.topics
    assert informed.reason(top.topics) == library.Reason("checkin", "curiosity")
    # Both partners' own choice still comes first.
    both = library.Plan(frozenset({"trust"}), frozenset({"trust"}), needs=frozenset({"curiosity"}))
    assert "trust" in library.rank_videos(BOOKS.videos(), both)[0].topics


@given(
    mine=st.sets(st.sampled_from(library.FOCUS_CHOICES), max_size=3),
    topic=st.sampled_from(library.VIDEO_TOPICS),
)
def test_a_topic_list_keeps_the_couples_order_and_only_that_topic(
    mine: set[str], topic: str
) -> None:
    plan = Plan(frozenset(mine), frozenset())
    ranked = library.rank_videos(BOOKS.videos(), plan)
    on_topic = library.pick_videos(BOOKS.videos(), plan, topic=topic)
    assert on_topic == [video for video in ranked if topic in video.topics]
    assert library.pick_videos(BOOKS.videos(), plan) == ranked


async def _suggest(
    sessions: Sessions, clock: FixedClock, *, like: str | None = None, topic: str | None = None
) -> library.Suggestions:
    async with sessions() as session:
        return await library.suggest_videos(
            session,
            ALEX,
            BOOKS.videos(),
            themes=BOOKS.checkin_themes(),
            now=clock.now(),
            policy=POLICY,
            like=like,
            topic=topic,
        )


async def test_video_suggestions_are_the_best_few_with_reasons_and_access(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _pick(sessions, clock, ALEX, "trust")
    await _pick(sessions, clock, SAM, "trust")
    best = await _suggest(sessions, clock)
    assert len(best.picks) == library.SUGGESTIONS and best.like is None
    assert "trust" in best.picks[0].video.topics
    assert best.picks[0].reason == library.Reason("both", "trust")
    paid = {video.id for video in BOOKS.videos() if video.paid}
    # In the trial, paid videos are open and say so.
    assert all((pick.access == "trial") == (pick.video.id in paid) for pick in best.picks)

    liked = best.picks[0].video
    alike = await _suggest(sessions, clock, like=liked.id)
    assert alike.like == liked
    assert [pick.video for pick in alike.picks] == library.like_this(BOOKS.videos(), liked)[:3]

    on_topic = await _suggest(sessions, clock, topic="conflict")
    assert on_topic.picks and all("conflict" in pick.video.topics for pick in on_topic.picks)


async def test_video_suggestions_refuse_what_names_nothing(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    with pytest.raises(StaleAction):
        await _suggest(sessions, clock, like="no-such-video")
    with pytest.raises(StaleAction):
        await _suggest(sessions, clock, topic="astrology")
