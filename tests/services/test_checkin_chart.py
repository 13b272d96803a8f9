"""The check-in chart is a real PNG, sized for a phone, whatever the names and gaps."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from bot.checkins.chart import ChartSpec, Panel, plain, render_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def spec(weeks: int, panels: int = 3) -> ChartSpec:
    scores = tuple((week % 5) + 1 for week in range(weeks))
    return ChartSpec(
        title="How you've both been feeling",
        my_name="Alex",
        partner_name="Sam",
        weeks=tuple(f"{week + 1} Mar" for week in range(weeks)),
        panels=tuple(
            Panel(f"Question {n}", scores, tuple(reversed(scores))) for n in range(panels)
        ),
    )


def decoded(png: bytes) -> Image.Image:
    assert png.startswith(PNG_MAGIC)
    image = Image.open(BytesIO(png))
    image.load()
    assert image.format == "PNG"
    return image


@pytest.mark.parametrize(("panels", "height"), [(1, 544), (3, 1280)])
def test_the_chart_is_a_png_as_wide_as_a_phone_and_taller_with_each_question(
    panels: int, height: int
) -> None:
    image = decoded(render_chart(spec(4, panels)))
    assert image.size == (960, height)


def test_one_week_gaps_and_many_weeks_all_render() -> None:
    lonely = ChartSpec("T", "Alex", "Sam", ("2 Mar",), (Panel("Close", (None,), (4,)),))
    assert decoded(render_chart(lonely)).size == (960, 544)
    # Only the latest twelve weeks are drawn, so a long history stays readable.
    assert decoded(render_chart(spec(30))).size == (960, 1280)


def test_both_partners_are_drawn_in_their_own_colour() -> None:
    image = decoded(render_chart(spec(6))).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1_000_000) or []}
    assert (0x2A, 0x6F, 0x97) in colours and (0xD1, 0x49, 0x5B) in colours


def test_names_are_drawn_as_plain_text() -> None:
    assert plain("Sam $x$ <3") == r"Sam \$x\$ <3"
    assert plain("  Ana\n  Maria ") == "Ana Maria"
    assert plain("\U000f0000") == "·"  # a private-use character no font draws
    png = render_chart(ChartSpec("T", "$$", "\U000f0000", ("1 Mar",), (Panel("Q", (3,), (4,)),)))
    assert decoded(png).size == (960, 544)
