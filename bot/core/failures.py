"""Describe failures for the log without what people wrote, and tell a database outage once."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import exc as sa

log = logging.getLogger(__name__)

# How many of the innermost frames a summary names: enough to find the failing line.
SUMMARY_FRAMES = 4
_ROOT = Path(__file__).resolve().parents[2]


def _where(filename: str) -> str:
    path = Path(filename)
    try:
        return str(path.resolve().relative_to(_ROOT))
    except ValueError:
        return path.name


def summarise(error: BaseException) -> str:
    """Return the error's type, its causes' types and where it was raised; never its message.

    Exception texts may quote what people wrote (a statement's parameters, a message), so a
    summary names types and code locations only.
    """
    chain: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(chain) < 5:
        seen.add(id(current))
        chain.append(type(current).__name__)
        orig = getattr(current, "orig", None)  # SQLAlchemy's wrapper: name the driver's error
        if isinstance(orig, BaseException) and id(orig) not in seen:
            seen.add(id(orig))
            chain.append(type(orig).__name__)
        current = current.__cause__ or current.__context__
    stack = list(traceback.extract_tb(error.__traceback__))
    # Our own frames say where it happened; a library's innermost ones rarely do.
    ours = [frame for frame in stack if _where(frame.filename).startswith("bot/")]
    frames = (ours or stack)[-SUMMARY_FRAMES:]
    where = " < ".join(
        f"{_where(frame.filename)}:{frame.lineno} {frame.name}" for frame in reversed(frames)
    )
    return " from ".join(chain) + (f" at {where}" if where else "")


def is_unavailable(error: BaseException) -> bool:
    """Tell whether an error means the database can't be reached or is locked just now."""
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(
        error,
        sa.OperationalError | sa.InterfaceError | sa.DisconnectionError | sa.TimeoutError,
    ):
        return True
    # asyncpg raises the socket's own errors when it cannot connect at all.
    if isinstance(error, OSError):
        return True
    cause = error.__cause__
    return cause is not None and cause is not error and is_unavailable(cause)


class Outage:
    """Log one line when the database goes out of reach and one when it is back, not one a try.

    Every tick and every update meets the same outage; a line per failure buries the log (a
    20-second outage once wrote hundreds) and says nothing more than the first. The database
    counts as back once it has answered with no failure for `settle` seconds: a locked SQLite
    file still serves reads between failed writes, and that is no recovery.
    """

    def __init__(
        self, *, settle: float = 10.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.settle = settle
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failures = 0
        self._last_failure = 0.0

    @property
    def ongoing(self) -> bool:
        """Tell whether the database was last seen out of reach."""
        return self._failures > 0

    @property
    def failures(self) -> int:
        """Return how many operations failed in the current outage."""
        return self._failures

    def failed(self, error: BaseException) -> None:
        """Note a failure that `is_unavailable`; log only the first of an outage."""
        with self._lock:
            self._failures += 1
            self._last_failure = self._monotonic()
            first = self._failures == 1
        if first:
            log.warning("the database is unavailable (%s); retrying quietly", summarise(error))

    def reached(self) -> None:
        """Note that the database answered; log once when an outage has settled."""
        if not self._failures:
            return
        with self._lock:
            if not self._failures or self._monotonic() - self._last_failure < self.settle:
                return
            failures, self._failures = self._failures, 0
        log.info("the database is reachable again (%d operations failed meanwhile)", failures)
