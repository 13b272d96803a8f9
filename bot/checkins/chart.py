"""Draw both partners' check-in scores over the weeks as a PNG that reads well on a phone."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from typing import Any

from bot.checkins.weekly import History
from bot.content.texts import Texts

# A portrait picture about 960 pixels wide: Telegram shows photos at most 1280 pixels on a
# side, and a phone screen is taller than it is wide.
WIDTH_INCHES = 6.0
PANEL_INCHES = 2.3
HEADER_INCHES = 1.1
DPI = 160
MAX_WEEKS = 12
MINE = {"color": "#2a6f97", "marker": "o", "linestyle": "-"}
THEIRS = {"color": "#d1495b", "marker": "s", "linestyle": "--"}
FONT = "DejaVu Sans"


@dataclass(frozen=True)
class Panel:
    """One scale question: its short label and both partners' scores, oldest week first."""

    title: str
    mine: tuple[int | None, ...]
    theirs: tuple[int | None, ...]


@dataclass(frozen=True)
class ChartSpec:
    """Everything the chart shows; every word comes from content/, already rendered."""

    title: str
    my_name: str
    partner_name: str
    weeks: tuple[str, ...]
    panels: tuple[Panel, ...]


@cache
def _glyphs() -> frozenset[int]:
    from matplotlib import font_manager, ft2font

    path = font_manager.findfont(font_manager.FontProperties(family=FONT))
    return frozenset(ft2font.FT2Font(path).get_charmap())


def plain(text: str) -> str:
    """Make a name or label safe to draw: no maths markup, no characters the font lacks."""
    # `$` starts matplotlib's maths mode; a missing glyph would make matplotlib warn with the
    # character itself, and names are people's own words, which never reach the logs.
    glyphs = _glyphs()
    kept = "".join(ch for ch in text if ord(ch) in glyphs or ch.isspace())
    return " ".join(kept.split()).replace("$", r"\$") or "·"


def _values(scores: Sequence[int | None]) -> list[float]:
    return [math.nan if score is None else float(score) for score in scores]


def render_chart(spec: ChartSpec) -> bytes:
    """Return the chart as PNG bytes; call it off the event loop (it takes a while)."""
    # Imported here, not at the top: matplotlib is slow to import and builds a font cache on
    # first use, which the bot should only pay for when someone asks for a chart.
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator

    weeks = spec.weeks[-MAX_WEEKS:]
    count = len(weeks)
    panels = spec.panels or (Panel("", (), ()),)
    height = HEADER_INCHES + PANEL_INCHES * len(panels)
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    figure.suptitle(plain(spec.title), fontsize=17, fontweight="bold", family=FONT)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    positions = list(range(count))
    # A small sideways nudge keeps two equal scores from hiding each other.
    for ax, panel in zip(axes, panels, strict=True):
        for scores, style, name, nudge in (
            (panel.mine, MINE, spec.my_name, -0.06),
            (panel.theirs, THEIRS, spec.partner_name, 0.06),
        ):
            ax.plot(
                [x + nudge for x in positions],
                _values(scores[-count:] if count else ()),
                label=plain(name),
                linewidth=2.6,
                markersize=9,
                **style,
            )
        ax.set_title(plain(panel.title), loc="left", fontsize=14, family=FONT)
        ax.set_ylim(0.5, 5.5)
        ax.yaxis.set_major_locator(FixedLocator([1, 2, 3, 4, 5]))
        ax.tick_params(labelsize=12)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1].set_xlim(-0.5, max(count - 0.5, 0.5))
    axes[-1].xaxis.set_major_locator(FixedLocator(positions))
    axes[-1].set_xticklabels(
        [plain(week) for week in weeks], rotation=45 if count > 6 else 0, ha="center"
    )
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=13, frameon=False)
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def spec_of(history: History, texts: Texts, locale: str | None = None) -> ChartSpec:
    """Describe the chart of a history: oldest week first, one panel per scale question."""

    def words(key: str, **values: Any) -> str:
        # Chart labels are drawn, not sent as HTML, so the template's escaping is undone.
        return html.unescape(texts.render(key, locale=locale, **values))

    weeks = list(reversed(history.past))
    panels = []
    for question in history.scales:
        lines = [next((ln for ln in p.lines if ln.question.id == question.id), None) for p in weeks]
        panels.append(
            Panel(
                question.label,
                tuple(line.mine.score if line else None for line in lines),
                tuple(line.theirs.score if line else None for line in lines),
            )
        )
    return ChartSpec(
        title=words("checkins.chart_title"),
        my_name=history.my_name,
        partner_name=history.partner_name,
        weeks=tuple(words("checkins.chart_week", day=p.week_of) for p in weeks),
        panels=tuple(panels),
    )
