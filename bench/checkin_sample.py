"""Play five weeks of check-ins for two partners; write a sample summary and chart, time the chart.

    .venv/bin/python -m bench.checkin_sample [--out-dir /tmp]

Everything runs through the same services and templates the bot uses, on a fresh SQLite file
made by the migrations, with a clock moved from one Sunday evening to the next.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time as wallclock
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from bot.app import checkin_config_of, policy_of, rhythm_of
from bot.checkins import weekly as checkins
from bot.checkins.chart import render_chart, spec_of
from bot.content.checkins import CheckinDeck
from bot.content.texts import Texts
from bot.core.clock import FixedClock
from bot.db.engine import Sessions, create_engine, create_sessions
from bot.db.migrate import upgrade
from bot.nudges.schedules import Rhythm
from bot.people import pairing
from bot.people import profiles as people
from bot.settings import PROJECT_ROOT, load_settings

CONTENT = PROJECT_ROOT / "content"
ALEX, SAM = 1, 2
FIRST_SUNDAY = datetime(2026, 3, 8, 19, 0, tzinfo=UTC)
# Each week: Alex's and Sam's scores (close, heard, appreciated) and two reflections each.
WEEKS = (
    (
        (3, 4, 2),
        (4, 3, 4),
        ("A long walk by the river", "Slow Sunday mornings"),
        ("Cooking together", None),
    ),
    (
        (4, 4, 3),
        (4, 2, 4),
        ("Laughing at the cat", None),
        ("Finally talking about the trip", "Dancing"),
    ),
    ((4, 5, 4), (5, 4, 4), ("The picnic", "Early nights"), ("You made me tea", "More picnics")),
    ((5, 4, 5), (3, 4, 5), ("Date night", "Phone-free dinners"), (None, "Time for just us")),
    ((5, 5, 4), (5, 4, 2), ("Planning the garden", "Walks"), ("Breakfast in bed", "Walks, yes")),
)


async def _person(
    sessions: Sessions, clock: FixedClock, rhythm: Rhythm, user_id: int, name: str, zone: str
) -> None:
    now = clock.now()
    async with sessions.begin() as session:
        await people.register(
            session,
            user_id=user_id,
            chat_id=user_id,
            telegram_name=name,
            username=None,
            locale="en",
            now=now,
            rhythm=rhythm,
        )
        await people.set_timezone(session, user_id, zone, now=now, rhythm=rhythm)
        for slot, at in (("morning", time(8, 0)), ("evening", time(21, 0))):
            await people.set_nudge_time(session, user_id, slot, at, now=now, rhythm=rhythm)
        await people.finish_onboarding(session, user_id, now=now, rhythm=rhythm)


async def _pair(sessions: Sessions, clock: FixedClock, rhythm: Rhythm) -> None:
    async with sessions.begin() as session:
        made = await pairing.create_invite(session, ALEX, now=clock.now(), ttl=timedelta(days=2))
    async with sessions.begin() as session:
        preview = await pairing.open_invite(
            session,
            SAM,
            made.payload,
            now=clock.now(),
            bad_code_limit=5,
            bad_code_window=timedelta(minutes=15),
        )
    async with sessions.begin() as session:
        await pairing.accept(session, SAM, preview.invite_id, now=clock.now(), rhythm=rhythm)


async def _answer(
    sessions: Sessions,
    clock: FixedClock,
    deck: CheckinDeck,
    user_id: int,
    checkin_id: int,
    scores: tuple[int, ...],
    words: tuple[str | None, ...],
    zone: str,
) -> None:
    scales, reflections = iter(scores), iter(words)
    for index, question in enumerate(deck.get().questions):
        async with sessions.begin() as session:
            if question.is_scale:
                score, typed = next(scales), None
            else:
                score, typed = None, next(reflections)
            await checkins.answer(
                session,
                user_id,
                checkin_id,
                index,
                score=score,
                typed=typed,
                now=clock.now(),
                content=deck.get(),
                default_zone=zone,
            )
    async with sessions.begin() as session:
        await checkins.submit(session, user_id, checkin_id, now=clock.now(), content=deck.get())


async def play(database_url: str, out_dir: Path) -> None:
    """Run the weeks, then write the latest summary (as Alex gets it) and the chart."""
    settings = load_settings(_env_file=None)
    engine = create_engine(database_url)
    sessions = create_sessions(engine)
    rhythm = rhythm_of(settings)
    # Five weeks run past the free week; the sample shows check-ins, not the subscription.
    policy = replace(policy_of(settings), gated=frozenset())
    clock = FixedClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    deck, texts = CheckinDeck(CONTENT), Texts(CONTENT)
    windows = checkin_config_of(settings).windows
    zone = windows.default_zone
    try:
        await _person(sessions, clock, rhythm, ALEX, "Alex", "Europe/Lisbon")
        await _person(sessions, clock, rhythm, SAM, "Sam", "Asia/Tokyo")
        await _pair(sessions, clock, rhythm)
        checkin_id = 0
        for week, (alex, sam, alex_words, sam_words) in enumerate(WEEKS):
            clock.set(FIRST_SUNDAY + timedelta(weeks=week))
            async with sessions.begin() as session:
                started = await checkins.start(
                    session,
                    ALEX,
                    now=clock.now(),
                    content=deck.get(),
                    question_ids=[q.id for q in deck.get().questions],
                    windows=windows,
                    policy=policy,
                )
            checkin_id = started.step.checkin_id
            await _answer(sessions, clock, deck, ALEX, checkin_id, alex, alex_words, zone)
            clock.advance(timedelta(hours=3))
            await _answer(sessions, clock, deck, SAM, checkin_id, sam, sam_words, zone)
        async with sessions() as session:
            summary = await checkins.summary_for(
                session, checkin_id, ALEX, content=deck.get(), videos=deck.videos()
            )
            history = await checkins.history(
                session, ALEX, content=deck.get(), today=clock.now().date()
            )
    finally:
        await engine.dispose()
    video = summary.suggestion.video if summary.suggestion else None
    url = f"{settings.video_base_url.rstrip('/')}/{video.path}" if video else None
    text = texts.render("checkins.summary", summary=summary, video_url=url)
    listing = texts.render("checkins.history", history=history)
    summary_path, chart_path = (
        out_dir / "remainly_sample_summary.txt",
        out_dir / "remainly_sample_chart.png",
    )
    summary_path.write_text(f"{text}\n\n----- /history -----\n\n{listing}\n", encoding="utf-8")
    spec = spec_of(history, texts)
    timings, picture = [], b""
    for _ in range(5):
        started_at = wallclock.perf_counter()
        picture = await asyncio.to_thread(render_chart, spec)
        timings.append(wallclock.perf_counter() - started_at)
    chart_path.write_bytes(picture)
    print(f"summary  {summary_path}  ({len(text)} characters, the HTML Telegram receives)")
    print(f"chart    {chart_path}  ({len(picture):,} bytes PNG)")
    print(
        f"chart render: first {timings[0] * 1000:.0f} ms (imports matplotlib), "
        f"then median {statistics.median(timings[1:]) * 1000:.0f} ms"
    )


def main() -> None:
    """Parse the arguments and play the sample."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=Path("/tmp"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'sample.db'}"
        upgrade(url)
        asyncio.run(play(url, args.out_dir))


if __name__ == "__main__":
    main()
