"""Locales: which one fits a person, and Babel's dates, numbers and plural forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.content.locales import (
    format_clock,
    format_number,
    format_when,
    language_name,
    pick,
    plural,
    plural_categories,
    plural_category,
)
from bot.content.texts import Texts

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("de", "de"),
        ("de-AT", "de"),
        ("DE_ch", "de"),
        ("en-GB", "en"),
        ("ru", "en"),
        ("", "en"),
        (None, "en"),
        ("pt-br", "pt-BR"),
        ("pt", "en"),
    ],
)
def test_the_closest_supported_locale_is_picked(code: str | None, expected: str) -> None:
    assert pick(code, ["de", "en", "pt-BR"], "en") == expected


@given(st.integers(min_value=0, max_value=10**9))
def test_english_and_german_use_one_only_for_exactly_one(count: int) -> None:
    for locale in ("en", "de"):
        expected = "one" if count == 1 else "other"
        assert plural_category(count, locale) == expected
        assert plural(count, locale, one="a", other="b") == ("a" if count == 1 else "b")


def test_plural_puts_the_formatted_count_in_the_form() -> None:
    assert plural(1, "de", one="{n} Tag", other="{n} Tage") == "1 Tag"
    assert plural(3, "de", one="{n} Tag", other="{n} Tage") == "3 Tage"
    assert plural(1500, "de", one="{n} Tag", other="{n} Tage") == "1.500 Tage"
    assert plural(1500, "en", one="{n} day", other="{n} days") == "1,500 days"
    # A form the language does not use is never picked; `other` covers the rest.
    assert plural(0, "en", zero="none", one="one", other="many") == "many"


def test_plural_refuses_unknown_or_missing_forms() -> None:
    with pytest.raises(ValueError, match="other"):
        plural(2, "en", one="x")
    with pytest.raises(ValueError, match="unknown plural"):
        plural(2, "en", one="x", other="y", several="z")


def test_languages_need_the_plural_forms_cldr_gives_them() -> None:
    assert plural_categories("en") == {"one", "other"}
    assert plural_categories("de") == {"one", "other"}
    assert plural_categories("pl") == {"one", "few", "many", "other"}
    assert plural_category(3, "pl") == "few" and plural_category(5, "pl") == "many"


def test_dates_times_and_numbers_follow_the_locale() -> None:
    when = datetime(2026, 12, 2, 17, 5, tzinfo=ZoneInfo("Europe/Berlin"))
    assert format_when(when, "EEEE dd MMMM", "en") == "Wednesday 02 December"
    assert format_when(when, "EEEE, d. MMMM", "de") == "Mittwoch, 2. Dezember"
    # The wall clock of the value's own zone is shown, not UTC's.
    assert format_when(when, "EEEE HH:mm", "de") == "Mittwoch 17:05"
    assert format_when(date(2026, 3, 1), "d. MMM", "de") == "1. März"
    assert format_when(datetime(2026, 3, 1, 9, tzinfo=UTC), "MMM", "en") == "Mar"
    assert format_when(None, "d", "en") == "" and format_when("08:00", "d", "en") == "08:00"
    assert format_clock(time(7, 5), "de") == "07:05" == format_clock(time(7, 5), "en")
    assert format_clock(None, "en") == ""
    assert format_number(1234.5, "en") == "1,234.5" and format_number(1234.5, "de") == "1.234,5"


def test_language_names_read_naturally() -> None:
    assert language_name("de") == "Deutsch" and language_name("en") == "English"
    assert language_name("en", "de") == "Englisch" and language_name("de", "en") == "German"


def test_templates_format_with_their_locale() -> None:
    texts = Texts(CONTENT)
    assert texts.render("buttons.pause_days", locale="de", days=1) == "1 Tag"
    assert texts.render("buttons.pause_days", locale="de", days=7) == "7 Tage"
    assert texts.render("buttons.pause_days", locale="en", days=1) == "1 day"
    assert texts.render("buttons.pause_days", locale="en-US", days=2) == "2 days"
    until = datetime(2026, 3, 6, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    german = texts.render("billing.renewed", locale="de", until=until)
    assert "bis Freitag, 6. März" in german
    english = texts.render("billing.renewed", locale="en", until=until)
    assert "until Friday 06 March" in english
