"""Tests for daily nudge scheduling across time zones, and for the clocks that drive it."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.clock import Clock, FileClock, FixedClock, SystemClock
from bot.nudges.timing import ALL_DAYS, local_date_of, local_to_utc, next_run_at

ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Apia",
    "America/Havana",
    "Asia/Tehran",
    "Pacific/Chatham",
    "UTC",
)
FIRST_DAY = date(1990, 1, 1)
LAST_DAY = date(2040, 12, 31)
ONE_MINUTE = timedelta(minutes=1)
ONE_DAY = timedelta(days=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Build a UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return the naive wall-clock reading in a zone at an instant."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


# An independent oracle: brute force over offsets and minutes rather than folds and bisection.


@dataclass(frozen=True)
class Transition:
    """A change of UTC offset in a zone."""

    at: datetime
    before: timedelta
    after: timedelta


@cache
def transitions(name: str) -> tuple[Transition, ...]:
    """Find every offset change in a zone from 1989 to 2041 by scanning day by day."""
    zone = ZoneInfo(name)
    found: list[Transition] = []
    previous = utc(1989, 1, 1, 12)
    while previous.year < 2042:
        current = previous + ONE_DAY
        before, after = previous.astimezone(zone).utcoffset(), current.astimezone(zone).utcoffset()
        assert before is not None
        assert after is not None
        if before != after:
            low, high = int(previous.timestamp()), int(current.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            found.append(Transition(datetime.fromtimestamp(high, UTC), before, after))
        previous = current
    return tuple(found)


def oracle_fire(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Return the first minute whose local wall reading is at or past the planned one."""
    wanted = datetime.combine(day, at)
    as_if_utc = wanted.replace(tzinfo=UTC)
    offsets = set()
    for hours in range(-36, 37, 3):
        offset = (as_if_utc + timedelta(hours=hours)).astimezone(zone).utcoffset()
        assert offset is not None
        offsets.add(offset)
    exact = sorted(as_if_utc - o for o in offsets if wall(as_if_utc - o, zone) == wanted)
    if exact:
        return exact[0]
    # The planned minute never shows on the wall: walk forward to the end of the gap.
    instant = as_if_utc - max(offsets)
    assert wall(instant, zone) < wanted
    while wall(instant, zone) < wanted:
        instant += ONE_MINUTE
    return instant


def exists_on_wall(day: date, at: time, zone: ZoneInfo) -> bool:
    """Tell whether a wall time shows on the clocks of a zone on a given day."""
    return wall(oracle_fire(day, at, zone), zone) == datetime.combine(day, at)


def fires_on_its_day(day: date, at: time, zone: ZoneInfo) -> bool:
    """Tell whether the planned minute, or the end of the gap hiding it, is still that day."""
    return oracle_fire(day, at, zone).astimezone(zone).date() == day


def oracle_next(
    after: datetime,
    at: time,
    zone: ZoneInfo,
    weekdays: frozenset[int],
    skip_dates: frozenset[date],
    paused_until: datetime | None,
) -> tuple[date, datetime]:
    """Return the first eligible fire after an instant by walking day by day."""
    not_before = max(after, paused_until) if paused_until is not None else after
    day = not_before.astimezone(zone).date() - ONE_DAY
    while True:
        if day.weekday() in weekdays and day not in skip_dates and fires_on_its_day(day, at, zone):
            instant = oracle_fire(day, at, zone)
            if instant > after and instant >= not_before:
                return day, instant
        day += ONE_DAY


# Strategies: plain days and times, weighted towards the minutes around real transitions.

minute_times = st.builds(
    time, hour=st.integers(min_value=0, max_value=23), minute=st.integers(min_value=0, max_value=59)
)


@dataclass(frozen=True)
class Plan:
    """A partner's choice of zone, local day and time."""

    zone: ZoneInfo
    day: date
    at: time


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """Draw a zone and a local day and time, often within 90 minutes of an offset change."""
    name = draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    nearby = [t for t in transitions(name) if FIRST_DAY.year <= t.at.year <= LAST_DAY.year]
    near_a_change = draw(st.booleans())
    if nearby and near_a_change:
        change = draw(st.sampled_from(nearby))
        edge = change.at.replace(tzinfo=None) + draw(st.sampled_from([change.before, change.after]))
        planned = edge + draw(st.integers(min_value=-90, max_value=90)) * ONE_MINUTE
        return Plan(zone, planned.date(), planned.time())
    day = draw(st.dates(min_value=FIRST_DAY, max_value=LAST_DAY))
    return Plan(zone, day, draw(minute_times))


@st.composite
def instants_near(draw: st.DrawFn, plan: Plan) -> datetime:
    """Draw an instant within two days of a plan, sometimes exactly at or beside its fire time."""
    fire = oracle_fire(plan.day, plan.at, plan.zone)
    if draw(st.booleans()):
        return fire + draw(st.sampled_from([-ONE_MINUTE, timedelta(0), ONE_MINUTE]))
    seconds = draw(st.integers(min_value=-2 * 86_400, max_value=2 * 86_400))
    return fire + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Rules:
    """Which days a partner wants nudges on."""

    weekdays: frozenset[int]
    skip_dates: frozenset[date]
    paused_until: datetime | None


@st.composite
def rules_near(draw: st.DrawFn, plan: Plan, after: datetime) -> Rules:
    """Draw weekdays, skipped dates and a pause that bite around a plan."""
    weekdays = draw(
        st.one_of(
            st.just(ALL_DAYS),
            st.frozensets(st.integers(min_value=0, max_value=6), min_size=1),
        )
    )
    skip_dates = draw(
        st.frozensets(
            st.dates(min_value=plan.day - 3 * ONE_DAY, max_value=plan.day + 30 * ONE_DAY),
            max_size=6,
        )
    )
    paused_until = draw(
        st.one_of(
            st.none(),
            st.integers(min_value=-86_400, max_value=40 * 86_400).map(
                lambda seconds: after + timedelta(seconds=seconds)
            ),
        )
    )
    return Rules(weekdays, skip_dates, paused_until)


# local_to_utc


@settings(max_examples=400, deadline=None)
@given(plans())
def test_local_to_utc_matches_the_wall_or_the_end_of_the_gap(plan: Plan) -> None:
    fire = local_to_utc(plan.day, plan.at, plan.zone)
    wanted = datetime.combine(plan.day, plan.at)
    assert fire.tzinfo is UTC
    assert fire == oracle_fire(plan.day, plan.at, plan.zone)
    if wall(fire, plan.zone) != wanted:
        # Only a planned time that never shows on the wall may move, and only to the gap's end.
        assert not exists_on_wall(plan.day, plan.at, plan.zone)
        assert wall(fire - ONE_MINUTE, plan.zone) < wanted < wall(fire, plan.zone)
        assert wall(fire, plan.zone).second == 0


@settings(max_examples=400, deadline=None)
@given(plans())
def test_local_to_utc_takes_the_first_of_a_repeated_time(plan: Plan) -> None:
    fire = local_to_utc(plan.day, plan.at, plan.zone)
    if wall(fire, plan.zone) == datetime.combine(plan.day, plan.at):
        earlier = fire - timedelta(hours=3)
        while earlier < fire:
            assert wall(earlier, plan.zone) != datetime.combine(plan.day, plan.at)
            earlier += ONE_MINUTE


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected"),
    [
        # Europe/Berlin springs forward at 02:00 to 03:00 on 2025-03-30.
        ("Europe/Berlin", date(2025, 3, 30), time(1, 59), utc(2025, 3, 30, 0, 59)),
        ("Europe/Berlin", date(2025, 3, 30), time(2, 0), utc(2025, 3, 30, 1, 0)),
        ("Europe/Berlin", date(2025, 3, 30), time(2, 30), utc(2025, 3, 30, 1, 0)),
        ("Europe/Berlin", date(2025, 3, 30), time(2, 59), utc(2025, 3, 30, 1, 0)),
        ("Europe/Berlin", date(2025, 3, 30), time(3, 0), utc(2025, 3, 30, 1, 0)),
        ("Europe/Berlin", date(2025, 3, 30), time(3, 1), utc(2025, 3, 30, 1, 1)),
        # Europe/Berlin falls back at 03:00 to 02:00 on 2025-10-26: the first 02:30 is CEST.
        ("Europe/Berlin", date(2025, 10, 26), time(2, 30), utc(2025, 10, 26, 0, 30)),
        ("Europe/Berlin", date(2025, 10, 26), time(3, 0), utc(2025, 10, 26, 2, 0)),
        # America/New_York: 02:00 to 03:00 on 2025-03-09, 02:00 back to 01:00 on 2025-11-02.
        ("America/New_York", date(2025, 3, 9), time(2, 30), utc(2025, 3, 9, 7, 0)),
        ("America/New_York", date(2025, 11, 2), time(1, 30), utc(2025, 11, 2, 5, 30)),
        ("America/New_York", date(2025, 11, 2), time(2, 0), utc(2025, 11, 2, 7, 0)),
        # Australia/Lord_Howe moves by half an hour: 02:00 to 02:30, and 02:00 back to 01:30.
        ("Australia/Lord_Howe", date(2025, 10, 5), time(2, 15), utc(2025, 10, 4, 15, 30)),
        ("Australia/Lord_Howe", date(2025, 10, 5), time(2, 30), utc(2025, 10, 4, 15, 30)),
        ("Australia/Lord_Howe", date(2025, 4, 6), time(1, 45), utc(2025, 4, 5, 14, 45)),
        ("Australia/Lord_Howe", date(2025, 4, 6), time(2, 0), utc(2025, 4, 5, 15, 30)),
        # America/Havana changes at midnight: 00:00 to 01:00, and 01:00 back to 00:00.
        ("America/Havana", date(2025, 3, 9), time(0, 0), utc(2025, 3, 9, 5, 0)),
        ("America/Havana", date(2025, 3, 9), time(0, 30), utc(2025, 3, 9, 5, 0)),
        ("America/Havana", date(2025, 3, 9), time(1, 0), utc(2025, 3, 9, 5, 0)),
        ("America/Havana", date(2025, 11, 2), time(0, 30), utc(2025, 11, 2, 4, 30)),
        # Pacific/Apia skipped 2011-12-30: its wall went from the 29th straight to the 31st.
        ("Pacific/Apia", date(2011, 12, 29), time(9, 0), utc(2011, 12, 29, 19, 0)),
        ("Pacific/Apia", date(2011, 12, 30), time(9, 0), utc(2011, 12, 30, 10, 0)),
        ("Pacific/Apia", date(2011, 12, 31), time(9, 0), utc(2011, 12, 30, 19, 0)),
        # Asia/Kolkata has no daylight saving time.
        ("Asia/Kolkata", date(2025, 6, 1), time(7, 30), utc(2025, 6, 1, 2, 0)),
    ],
)
def test_local_to_utc_at_real_transitions(
    zone: str, day: date, at: time, expected: datetime
) -> None:
    assert local_to_utc(day, at, ZoneInfo(zone)) == expected


def test_local_to_utc_rejects_an_aware_time() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_to_utc(date(2025, 1, 1), time(7, 0, tzinfo=UTC), ZoneInfo("UTC"))


@pytest.mark.parametrize("at", [time(0, 0), time(0, 2), time(0, 2, 43), time(0, 3)])
def test_local_to_utc_rounds_a_gap_ending_off_the_minute_up_to_the_next_minute(at: time) -> None:
    # Nairobi left local mean time (+02:27:16) for +02:30 at midnight on 1908-05-01, so the
    # wall jumped from 00:00:00 to 00:02:44.
    fire = local_to_utc(date(1908, 5, 1), at, ZoneInfo("Africa/Nairobi"))
    assert fire == utc(1908, 4, 30, 21, 33)


# local_date_of


def test_local_date_of() -> None:
    instant = utc(2025, 6, 1, 23, 30)
    assert local_date_of(instant, ZoneInfo("Europe/Berlin")) == date(2025, 6, 2)
    assert local_date_of(instant, ZoneInfo("America/New_York")) == date(2025, 6, 1)
    assert local_date_of(utc(2011, 12, 30, 12), ZoneInfo("Pacific/Apia")) == date(2011, 12, 31)


def test_local_date_of_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date_of(datetime(2025, 6, 1), ZoneInfo("UTC"))


# next_run_at: properties


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_next_run_at_matches_the_day_by_day_oracle(data: st.DataObject) -> None:
    plan = data.draw(plans())
    after = data.draw(instants_near(plan))
    rules = data.draw(rules_near(plan, after))
    day, fire = next_run_at(
        after=after,
        at=plan.at,
        zone=plan.zone,
        weekdays=rules.weekdays,
        skip_dates=rules.skip_dates,
        paused_until=rules.paused_until,
    )
    assert (day, fire) == oracle_next(
        after, plan.at, plan.zone, rules.weekdays, rules.skip_dates, rules.paused_until
    )
    assert fire > after
    assert fire.tzinfo is UTC
    assert local_date_of(fire, plan.zone) == day
    assert day.weekday() in rules.weekdays
    assert day not in rules.skip_dates
    if rules.paused_until is not None:
        assert fire >= rules.paused_until
    assert fire == local_to_utc(day, plan.at, plan.zone)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_next_run_at_fires_once_a_day_and_skips_no_eligible_day(data: st.DataObject) -> None:
    plan = data.draw(plans())
    after = data.draw(instants_near(plan))
    weekdays = data.draw(st.one_of(st.just(ALL_DAYS), st.frozensets(st.integers(0, 6), min_size=1)))
    skip_dates = data.draw(
        st.frozensets(st.dates(plan.day - ONE_DAY, plan.day + 14 * ONE_DAY), max_size=4)
    )
    runs = []
    for _ in range(8):
        runs.append(
            next_run_at(
                after=after, at=plan.at, zone=plan.zone, weekdays=weekdays, skip_dates=skip_dates
            )
        )
        after = runs[-1][1]
    for (previous_day, previous_fire), (day, fire) in itertools.pairwise(runs):
        assert previous_day < day
        assert previous_fire < fire
        assert local_date_of(previous_fire, plan.zone) < local_date_of(fire, plan.zone)
        between = previous_day + ONE_DAY
        while between < day:
            assert (
                between.weekday() not in weekdays
                or between in skip_dates
                or not fires_on_its_day(between, plan.at, plan.zone)
            ), between
            between += ONE_DAY


@settings(max_examples=200, deadline=None)
@given(plan=plans(), pause_days=st.integers(min_value=0, max_value=40_000))
def test_next_run_at_honours_long_pauses(plan: Plan, pause_days: int) -> None:
    after = oracle_fire(plan.day, plan.at, plan.zone)
    paused_until = after + timedelta(days=pause_days, minutes=1)
    day, fire = next_run_at(after=after, at=plan.at, zone=plan.zone, paused_until=paused_until)
    assert fire >= paused_until
    assert fire - paused_until < timedelta(days=3)
    assert local_date_of(fire, plan.zone) == day


@settings(max_examples=200, deadline=None)
@given(plan=plans(), offset_hours=st.integers(min_value=-12, max_value=14))
def test_next_run_at_reads_any_aware_after_as_the_same_instant(
    plan: Plan, offset_hours: int
) -> None:
    after = oracle_fire(plan.day, plan.at, plan.zone) - timedelta(hours=5)
    shifted = after.astimezone(timezone(timedelta(hours=offset_hours)))
    assert next_run_at(after=shifted, at=plan.at, zone=plan.zone) == next_run_at(
        after=after, at=plan.at, zone=plan.zone
    )


# next_run_at: examples


def _runs(
    zone: str, at: time, after: datetime, count: int, weekdays: frozenset[int] = ALL_DAYS
) -> list[tuple[date, datetime]]:
    """Chain next_run_at from an instant, each call starting where the last one fired."""
    runs = []
    for _ in range(count):
        runs.append(next_run_at(after=after, at=at, zone=ZoneInfo(zone), weekdays=weekdays))
        after = runs[-1][1]
    return runs


def test_next_run_at_berlin_spring_forward() -> None:
    assert _runs("Europe/Berlin", time(2, 30), utc(2025, 3, 28, 12), 3) == [
        (date(2025, 3, 29), utc(2025, 3, 29, 1, 30)),
        (date(2025, 3, 30), utc(2025, 3, 30, 1, 0)),
        (date(2025, 3, 31), utc(2025, 3, 31, 0, 30)),
    ]


def test_next_run_at_berlin_fall_back_fires_once() -> None:
    assert _runs("Europe/Berlin", time(2, 30), utc(2025, 10, 25, 12), 3) == [
        (date(2025, 10, 26), utc(2025, 10, 26, 0, 30)),
        (date(2025, 10, 27), utc(2025, 10, 27, 1, 30)),
        (date(2025, 10, 28), utc(2025, 10, 28, 1, 30)),
    ]


def test_next_run_at_berlin_second_pass_of_a_repeated_time_does_not_fire() -> None:
    # 01:15 UTC is 02:15 CET, the second time the wall shows 02:15 that night.
    assert next_run_at(
        after=utc(2025, 10, 26, 1, 15), at=time(2, 30), zone=ZoneInfo("Europe/Berlin")
    ) == (
        date(2025, 10, 27),
        utc(2025, 10, 27, 1, 30),
    )


def test_next_run_at_new_york_transitions() -> None:
    assert _runs("America/New_York", time(2, 30), utc(2025, 3, 8, 12), 2) == [
        (date(2025, 3, 9), utc(2025, 3, 9, 7, 0)),
        (date(2025, 3, 10), utc(2025, 3, 10, 6, 30)),
    ]
    assert _runs("America/New_York", time(1, 30), utc(2025, 11, 1, 12), 3) == [
        (date(2025, 11, 2), utc(2025, 11, 2, 5, 30)),
        (date(2025, 11, 3), utc(2025, 11, 3, 6, 30)),
        (date(2025, 11, 4), utc(2025, 11, 4, 6, 30)),
    ]


def test_next_run_at_lord_howe_half_hour_shifts() -> None:
    assert _runs("Australia/Lord_Howe", time(2, 15), utc(2025, 10, 3, 12), 3) == [
        (date(2025, 10, 4), utc(2025, 10, 3, 15, 45)),
        (date(2025, 10, 5), utc(2025, 10, 4, 15, 30)),
        (date(2025, 10, 6), utc(2025, 10, 5, 15, 15)),
    ]
    assert _runs("Australia/Lord_Howe", time(1, 45), utc(2025, 4, 4, 12), 3) == [
        (date(2025, 4, 5), utc(2025, 4, 4, 14, 45)),
        (date(2025, 4, 6), utc(2025, 4, 5, 14, 45)),
        (date(2025, 4, 7), utc(2025, 4, 6, 15, 15)),
    ]


def test_next_run_at_havana_midnight_transitions() -> None:
    assert _runs("America/Havana", time(0, 0), utc(2025, 3, 7, 12), 3) == [
        (date(2025, 3, 8), utc(2025, 3, 8, 5, 0)),
        (date(2025, 3, 9), utc(2025, 3, 9, 5, 0)),
        (date(2025, 3, 10), utc(2025, 3, 10, 4, 0)),
    ]
    assert _runs("America/Havana", time(0, 30), utc(2025, 10, 31, 12), 3) == [
        (date(2025, 11, 1), utc(2025, 11, 1, 4, 30)),
        (date(2025, 11, 2), utc(2025, 11, 2, 4, 30)),
        (date(2025, 11, 3), utc(2025, 11, 3, 5, 30)),
    ]


def test_next_run_at_apia_skips_the_day_that_never_was() -> None:
    assert _runs("Pacific/Apia", time(9, 0), utc(2011, 12, 29), 3) == [
        (date(2011, 12, 29), utc(2011, 12, 29, 19, 0)),
        (date(2011, 12, 31), utc(2011, 12, 30, 19, 0)),
        (date(2012, 1, 1), utc(2011, 12, 31, 19, 0)),
    ]


def test_next_run_at_apia_fridays_jump_a_week() -> None:
    # 2011-12-30 was the Friday Samoa skipped.
    assert _runs("Pacific/Apia", time(9, 0), utc(2011, 12, 20), 2, weekdays=frozenset({4})) == [
        (date(2011, 12, 23), utc(2011, 12, 23, 19, 0)),
        (date(2012, 1, 6), utc(2012, 1, 5, 19, 0)),
    ]


def test_next_run_at_is_strictly_after() -> None:
    zone = ZoneInfo("Europe/Berlin")
    fire = utc(2025, 6, 10, 7, 0)
    assert next_run_at(after=fire - timedelta(microseconds=1), at=time(9), zone=zone) == (
        date(2025, 6, 10),
        fire,
    )
    assert next_run_at(after=fire, at=time(9), zone=zone) == (
        date(2025, 6, 11),
        utc(2025, 6, 11, 7),
    )


def test_next_run_at_weekdays() -> None:
    # 2025-06-10 is a Tuesday.
    runs = _runs("Europe/Berlin", time(9), utc(2025, 6, 10, 8), 3, weekdays=frozenset({0, 2}))
    assert [day for day, _ in runs] == [date(2025, 6, 11), date(2025, 6, 16), date(2025, 6, 18)]


def test_next_run_at_skip_dates() -> None:
    skip = frozenset({date(2025, 6, 11), date(2025, 6, 12)})
    assert next_run_at(
        after=utc(2025, 6, 10, 8), at=time(9), zone=ZoneInfo("Europe/Berlin"), skip_dates=skip
    ) == (date(2025, 6, 13), utc(2025, 6, 13, 7))


def test_next_run_at_many_skipped_mondays() -> None:
    mondays = frozenset(date(2025, 6, 16) + timedelta(weeks=week) for week in range(30))
    day, _ = next_run_at(
        after=utc(2025, 6, 10),
        at=time(9),
        zone=ZoneInfo("Europe/Berlin"),
        weekdays=frozenset({0}),
        skip_dates=mondays,
    )
    assert day == date(2025, 6, 16) + timedelta(weeks=30)


@pytest.mark.parametrize(
    ("paused_until", "expected"),
    [
        # The pause ends at 10:00 local, after that day's 09:00 nudge.
        (utc(2025, 6, 10, 8), (date(2025, 6, 11), utc(2025, 6, 11, 7))),
        # A pause ending exactly at a fire time lets that nudge through.
        (utc(2025, 6, 12, 7), (date(2025, 6, 12), utc(2025, 6, 12, 7))),
        # A pause already over changes nothing.
        (utc(2025, 6, 1), (date(2025, 6, 10), utc(2025, 6, 10, 7))),
        # A pause of decades is not walked day by day.
        (utc(2075, 1, 1), (date(2075, 1, 1), utc(2075, 1, 1, 8))),
    ],
)
def test_next_run_at_paused_until(paused_until: datetime, expected: tuple[date, datetime]) -> None:
    assert (
        next_run_at(
            after=utc(2025, 6, 10, 5),
            at=time(9),
            zone=ZoneInfo("Europe/Berlin"),
            paused_until=paused_until,
        )
        == expected
    )


def test_next_run_at_rejects_bad_arguments() -> None:
    zone = ZoneInfo("UTC")
    with pytest.raises(ValueError, match="weekdays"):
        next_run_at(after=utc(2025, 1, 1), at=time(9), zone=zone, weekdays=frozenset())
    with pytest.raises(ValueError, match="weekdays"):
        next_run_at(after=utc(2025, 1, 1), at=time(9), zone=zone, weekdays=frozenset({7}))
    with pytest.raises(ValueError, match="after"):
        next_run_at(after=datetime(2025, 1, 1), at=time(9), zone=zone)
    with pytest.raises(ValueError, match="paused_until"):
        next_run_at(after=utc(2025, 1, 1), at=time(9), zone=zone, paused_until=datetime(2025, 2, 1))
    with pytest.raises(ValueError, match="naive"):
        next_run_at(after=utc(2025, 1, 1), at=time(9, tzinfo=UTC), zone=zone)


def test_among_listed_zones_only_apia_loses_a_whole_day() -> None:
    # A gap that runs past midnight moves its times onto the next date, losing a nudge day.
    lost = {
        (name, (change.at.replace(tzinfo=None) + change.before).date())
        for name in ZONES
        for change in transitions(name)
        if change.after > change.before
        and (change.at + change.before).date() != (change.at + change.after).date()
        and FIRST_DAY.year <= change.at.year <= LAST_DAY.year
    }
    assert lost == {("Pacific/Apia", date(2011, 12, 30))}


# Clocks


def test_fixed_clock_stands_still_until_moved() -> None:
    clock = FixedClock(utc(2025, 1, 1, 9))
    assert clock.now() == utc(2025, 1, 1, 9)
    assert clock.now() == utc(2025, 1, 1, 9)
    clock.advance(timedelta(hours=2))
    assert clock.now() == utc(2025, 1, 1, 11)
    clock.set(datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == utc(2025, 1, 1, 10)
    assert clock.now().tzinfo is UTC


def test_fixed_clock_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2025, 1, 1))
    clock = FixedClock(utc(2025, 1, 1))
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2025, 1, 1))


def test_system_clock_is_aware_utc_and_current() -> None:
    clock: Clock = SystemClock()
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def _write(path: Path, text: str, mtime_ns: int) -> None:
    """Rewrite a file in place and pin its modification time."""
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))


def test_file_clock_reads_the_file_and_falls_back_when_absent(tmp_path: Path) -> None:
    path = tmp_path / "now"
    fallback = FixedClock(utc(2030, 1, 1))
    clock: Clock = FileClock(path, fallback=fallback)
    assert clock.now() == utc(2030, 1, 1)
    _write(path, "2025-03-30T00:59:00Z\n", 1_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 3, 30, 0, 59)
    _write(path, "2025-03-30T03:00:00+02:00", 2_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 3, 30, 1, 0)
    _write(path, "2025-03-30T05:00:00", 3_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 3, 30, 5, 0)
    _write(path, "  \n", 4_000_000_000_000_000_000)
    assert clock.now() == utc(2030, 1, 1)
    _write(path, "2025-03-30T06:00:00Z", 5_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 3, 30, 6, 0)
    path.unlink()
    assert clock.now() == utc(2030, 1, 1)


def test_file_clock_rereads_only_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "now"
    clock = FileClock(path, fallback=FixedClock(utc(2030, 1, 1)))
    _write(path, "2025-01-01T00:00:00Z", 1_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 1, 1)
    # Same size and mtime: the cached instant stands, proving the file was not parsed again.
    _write(path, "2025-01-02T00:00:00Z", 1_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 1, 1)
    os.utime(path, ns=(1_000_000_000_000_000_001, 1_000_000_000_000_000_001))
    assert clock.now() == utc(2025, 1, 2)


def test_file_clock_keeps_the_last_good_instant_over_a_half_written_file(tmp_path: Path) -> None:
    path = tmp_path / "now"
    clock = FileClock(path, fallback=FixedClock(utc(2030, 1, 1)))
    _write(path, "2025-01-01T00:00:00Z", 1_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 1, 1)
    _write(path, "2025-01-0", 2_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 1, 1)
    _write(path, "2025-01-03T00:00:00Z", 3_000_000_000_000_000_000)
    assert clock.now() == utc(2025, 1, 3)


def test_file_clock_uses_real_time_by_default(tmp_path: Path) -> None:
    before = datetime.now(UTC)
    now = FileClock(tmp_path / "missing").now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)
