"""What a scenario found: figures with their targets, printed as one table and kept as JSON."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.procs import ROOT

RESULTS = Path(__file__).resolve().parent / "results"
COUNTED = ("", "msg")  # units of whole numbers; everything else keeps its decimals


@dataclass(frozen=True)
class Figure:
    """One measured value; `met` is None when there is no target to meet."""

    name: str
    value: float
    unit: str = ""
    target: str = ""
    met: bool | None = None

    def shown(self) -> str:
        """Return the value formatted for the table."""
        if self.unit == "%":
            return f"{self.value:.1f} %"
        if float(self.value).is_integer() and self.unit in COUNTED:
            text = f"{int(self.value):,}"
        elif abs(self.value) >= 100:
            text = f"{self.value:,.0f}"
        elif abs(self.value) >= 1:
            text = f"{self.value:.2f}"
        else:
            text = f"{self.value:.3f}"
        return f"{text} {self.unit}".strip()


@dataclass
class ScenarioResult:
    """A scenario's figures, a line on how it ran, and the raw measurements."""

    scenario: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(
        self,
        name: str,
        value: float,
        unit: str = "",
        *,
        target: str = "",
        met: bool | None = None,
    ) -> None:
        """Record a figure."""
        self.figures.append(Figure(name, value, unit, target, met))


def median(values: list[float]) -> float:
    """Return the median (the middle run of an odd number)."""
    return float(statistics.median(values)) if values else 0.0


def _status(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "MISSED")


def table(results: list[ScenarioResult]) -> str:
    """Render every figure as one plain-text table."""
    rows = [("scenario", "figure", "value", "target", "")]
    for result in results:
        for figure in result.figures:
            rows.append(
                (result.scenario, figure.name, figure.shown(), figure.target, _status(figure.met))
            )
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def commit() -> str:
    """Return `git describe --always --dirty` of the checkout (untracked files don't count)."""
    try:
        described = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return "unknown"
    return described.stdout.strip() or "unknown"


def write_json(
    results: list[ScenarioResult], *, quick: bool, started: datetime, commits: tuple[str, str]
) -> Path:
    """Keep the run as JSON under bench/results/ and return the file."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"bench-{started:%Y%m%dT%H%M%SZ}{'-quick' if quick else ''}.json"
    document = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        # Other work may commit while a long run goes on: both ends are kept.
        "commit_at_start": commits[0],
        "commit_at_end": commits[1],
        "quick": quick,
        "python": platform.python_version(),
        "machine": {"cpus": _cpus(), "platform": platform.platform()},
        "results": [asdict(result) for result in results],
    }
    path.write_text(json.dumps(document, indent=2, default=str))
    return path


def _cpus() -> int:
    return len(os.sched_getaffinity(0))
