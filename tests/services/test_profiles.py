"""A person's name, partner and time zone: one helper, and one fallback zone everywhere."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.billing import payments
from bot.billing.entitlements import Policy
from bot.checkins import appreciations
from bot.checkins import weekly as checkins
from bot.content.checkins import CheckinDeck
from bot.core.clock import FixedClock
from bot.db.engine import Sessions
from bot.db.models import User
from bot.people import pairing
from bot.people import profiles as people
from bot.people.profiles import name_of, partner_of, zone_of
from tests.support.factories import RHYTHM

CONTENT = Path(__file__).resolve().parents[2] / "content"
ALEX, SAM, KIM = 1, 2, 3
# UTC+14 all year: for most of the day its date is not UTC's.
DEFAULT = "Pacific/Kiritimati"
# Monday 2 March 2026 at noon in UTC is already Tuesday 3 March, 02:00, in the default zone.
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def _register(sessions: Sessions, clock: FixedClock, user_id: int, name: str) -> None:
    async with sessions.begin() as session:
        await people.register(
            session,
            user_id=user_id,
            chat_id=user_id,
            telegram_name=name,
            username=None,
            locale="en",
            now=clock.now(),
            rhythm=RHYTHM,
        )


@pytest.fixture
async def zoneless(sessions: Sessions, clock: FixedClock) -> int:
    """Alex and Sam, paired before either of them chose a time zone."""
    await _register(sessions, clock, ALEX, "Alex")
    await _register(sessions, clock, SAM, "Sam")
    async with sessions.begin() as session:
        made = await pairing.create_invite(session, ALEX, now=clock.now(), ttl=timedelta(days=2))
        preview = await pairing.open_invite(
            session,
            SAM,
            made.payload,
            now=clock.now(),
            bad_code_limit=5,
            bad_code_window=timedelta(minutes=15),
        )
        paired = await pairing.accept(
            session, SAM, preview.invite_id, now=clock.now(), rhythm=RHYTHM
        )
    return paired.couple_id


def test_the_chosen_name_wins_over_the_telegram_name() -> None:
    person = User(id=ALEX, chat_id=ALEX, telegram_name="Alexandra T", created_at=NOON)
    assert name_of(person) == "Alexandra T"
    person.display_name = "Alex"
    assert name_of(person) == "Alex"


def test_a_chosen_zone_wins_over_the_default() -> None:
    person = User(id=ALEX, chat_id=ALEX, telegram_name="Alex", created_at=NOON)
    assert zone_of(person, default=DEFAULT) == ZoneInfo(DEFAULT)
    person.timezone = "Asia/Tokyo"
    assert zone_of(person, default=DEFAULT) == ZoneInfo("Asia/Tokyo")


async def test_the_partner_is_the_other_person_of_the_current_couple(
    sessions: Sessions, clock: FixedClock, zoneless: int
) -> None:
    await _register(sessions, clock, KIM, "Kim")
    async with sessions() as session:
        alex, kim = await people.require(session, ALEX), await people.require(session, KIM)
        found = await partner_of(session, alex)
        assert found is not None and found.id == SAM
        assert await partner_of(session, kim) is None


async def test_a_person_without_a_zone_is_placed_in_the_default_zone_everywhere(
    sessions: Sessions, clock: FixedClock, zoneless: int
) -> None:
    """Skipping a day and a check-in's closing time used UTC; billing and notes the default."""
    clock.set(NOON)
    expected = ZoneInfo(DEFAULT)
    deck = CheckinDeck(CONTENT).get()
    windows = checkins.Windows(timedelta(hours=72), timedelta(hours=24), DEFAULT)
    async with sessions.begin() as session:
        skipped = await people.skip_today(
            session, ALEX, now=NOON, rhythm=RHYTHM, default_zone=DEFAULT
        )
        started = await checkins.start(
            session,
            ALEX,
            now=NOON,
            content=deck,
            question_ids=[question.id for question in deck.questions],
            windows=windows,
            policy=Policy(),
        )
        shown = await checkins.show(
            session, SAM, started.step.checkin_id, now=NOON, content=deck, default_zone=DEFAULT
        )
        written = await appreciations.write(
            session, ALEX, "Thank you", now=NOON, default_morning=time(8), default_zone=DEFAULT
        )
        view = await payments.overview(
            session, ALEX, now=NOON, price=250, default_zone=DEFAULT, policy=Policy()
        )
    assert skipped == date(2026, 3, 3), "the default zone's date, not UTC's"
    assert view.trial_ends_at is not None
    shown_in = {
        "check-in closes (starter)": started.step.closes_at.tzinfo,
        "check-in closes (partner)": shown.closes_at.tzinfo,
        "a note arrives": written.arrives_at.tzinfo,
        "the trial ends": view.trial_ends_at.tzinfo,
    }
    assert shown_in == dict.fromkeys(shown_in, expected)
