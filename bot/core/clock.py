"""Tell the time through a small seam so tests and end-to-end runs can move it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    """Give the current instant as a timezone-aware UTC datetime."""

    def now(self) -> datetime:
        """Return the current instant in UTC."""
        ...


def _as_utc(at: datetime) -> datetime:
    """Return an aware datetime converted to UTC; reject naive ones."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at!r}")
    return at.astimezone(UTC)


class SystemClock:
    """Read the real time."""

    def now(self) -> datetime:
        """Return the real current instant in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """Stand still at a chosen instant until told to move."""

    def __init__(self, at: datetime) -> None:
        """Start the clock at an aware instant."""
        self._at = _as_utc(at)

    def now(self) -> datetime:
        """Return the instant the clock is standing at."""
        return self._at

    def advance(self, delta: timedelta) -> None:
        """Move the clock by a duration, forwards or backwards."""
        self._at += delta

    def set(self, at: datetime) -> None:
        """Jump the clock to an aware instant."""
        self._at = _as_utc(at)


class FileClock:
    """Read the current instant from a file a test rewrites; no file or no text means real time."""

    def __init__(self, path: str | os.PathLike[str], *, fallback: Clock | None = None) -> None:
        """Watch a file; defer to the fallback clock (real time by default) when it is absent."""
        self._path = Path(path)
        self._fallback: Clock = fallback if fallback is not None else SystemClock()
        self._key: tuple[int, int, int] | None = None
        self._at: datetime | None = None

    def now(self) -> datetime:
        """Return the instant written in the file, or the fallback's time if there is none."""
        try:
            stat = self._path.stat()
        except OSError:
            self._key, self._at = None, None
            return self._fallback.now()
        # Inode catches atomic replacement; size and mtime catch in-place rewrites.
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if key != self._key:
            self._reload(key)
        return self._at if self._at is not None else self._fallback.now()

    def _reload(self, key: tuple[int, int, int]) -> None:
        """Parse the file again and remember which version was parsed."""
        try:
            text = self._path.read_text(encoding="utf-8").strip()
        except OSError:
            return
        if not text:
            self._key, self._at = key, None
            return
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            # Likely a half-written file: keep the last good instant and retry on the next call.
            return
        # Test scripts often write bare timestamps; the bot only ever thinks in UTC.
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        self._key, self._at = key, parsed.astimezone(UTC)
