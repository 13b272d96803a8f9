"""Work out when a daily nudge fires, at a partner's local time in their own zone."""

from __future__ import annotations

import functools
import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALL_DAYS: frozenset[int] = frozenset(range(7))

_ONE_MINUTE = timedelta(minutes=1)
# One week to reach the allowed weekday, a week if that day's time has already passed, a week
# if the zone drops that date (Apia, 2011), and the day before the start; each skipped date
# then costs at most one more week.
_BASE_SEARCH_DAYS = 22


def _require_aware(name: str, value: datetime) -> datetime:
    """Return an aware datetime in UTC; reject a naive one."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(UTC)


def local_date_of(instant: datetime, zone: ZoneInfo) -> date:
    """Return the calendar date on the wall in a zone at an aware instant."""
    return _require_aware("instant", instant).astimezone(zone).date()


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return the naive wall-clock reading in a zone at a UTC instant."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Return the UTC instant at which a nudge planned for a local day and time fires."""
    # A time repeated by a fall-back fires at its first occurrence, so it fires once. A time
    # skipped by a spring-forward gap fires at the first local minute after the gap rather
    # than not at all; that minute falls on a later date when the gap swallows the day's end.
    if at.tzinfo is not None:
        raise ValueError(f"at must be a naive wall-clock time, got {at!r}")
    wanted = datetime.combine(day, at)
    # In a fold fold=0 is the earlier offset; in a gap it reads the wall with the pre-gap offset.
    early = wanted.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(early, zone) == wanted:
        return early
    return _end_of_gap(wanted, zone)


def _end_of_gap(wanted: datetime, zone: ZoneInfo) -> datetime:
    """Return the first whole local minute after the gap that swallows a wall time."""
    # fold=1 reads the wall with the post-gap offset, landing before the transition.
    low = math.floor(wanted.replace(tzinfo=zone, fold=1).timestamp())
    high = math.ceil(wanted.replace(tzinfo=zone, fold=0).timestamp())
    if _wall_at(low, zone) >= wanted or _wall_at(high, zone) < wanted:
        raise AssertionError(f"{wanted} in {zone.key} is neither valid nor in a single gap")
    # Offsets do not always move by an hour (Lord Howe shifts 30 minutes), so search for the
    # transition instead of adding a fixed amount.
    while high - low > 1:
        middle = (low + high) // 2
        if _wall_at(middle, zone) >= wanted:
            high = middle
        else:
            low = middle
    instant = datetime.fromtimestamp(high, UTC)
    wall = _wall(instant, zone)
    # Offsets with seconds (historical local mean time) would otherwise leave an odd minute.
    if wall.second:
        instant += _ONE_MINUTE - timedelta(seconds=wall.second)
    return instant


def _wall_at(timestamp: int, zone: ZoneInfo) -> datetime:
    """Return the naive wall-clock reading in a zone at a POSIX timestamp."""
    return _wall(datetime.fromtimestamp(timestamp, UTC), zone)


def next_run_at(
    *,
    after: datetime,
    at: time,
    zone: ZoneInfo,
    weekdays: frozenset[int] = ALL_DAYS,
    skip_dates: frozenset[date] = frozenset(),
    paused_until: datetime | None = None,
) -> tuple[date, datetime]:
    """Return the local date and UTC instant of the first nudge strictly after an instant."""
    # A round asks this for many people whose answers coincide (the same zone, time and days,
    # due at the same instant); the answer depends on nothing else, so it is worked out once.
    return _next_run_at(after, at, zone, weekdays, skip_dates, paused_until)


@functools.lru_cache(maxsize=4096)
def _next_run_at(
    after: datetime,
    at: time,
    zone: ZoneInfo,
    weekdays: frozenset[int],
    skip_dates: frozenset[date],
    paused_until: datetime | None,
) -> tuple[date, datetime]:
    # Eligible days have a weekday in `weekdays` (Monday is 0), are not in `skip_dates` and
    # fire no earlier than `paused_until`. A day whose time lies in a gap running past its
    # midnight (Pacific/Apia dropped 2011-12-30 outright) gets no nudge: firing on the next
    # date would make that date fire twice.
    if not weekdays:
        raise ValueError("weekdays must not be empty")
    if not weekdays <= ALL_DAYS:
        raise ValueError(f"weekdays must be within 0..6, got {sorted(weekdays)}")
    after_utc = _require_aware("after", after)
    not_before = after_utc
    if paused_until is not None:
        not_before = max(not_before, _require_aware("paused_until", paused_until))
    # Start a day early in case the zone's calendar ever steps backwards across midnight.
    day = local_date_of(not_before, zone) - timedelta(days=1)
    # Each skipped date can cost at most a week when only one weekday is allowed.
    for _ in range(_BASE_SEARCH_DAYS + 7 * len(skip_dates)):
        if day.weekday() in weekdays and day not in skip_dates:
            instant = local_to_utc(day, at, zone)
            if (
                instant > after_utc
                and instant >= not_before
                and local_date_of(instant, zone) == day
            ):
                return day, instant
        day += timedelta(days=1)
    raise AssertionError("no eligible day found in a search window that always holds one")
