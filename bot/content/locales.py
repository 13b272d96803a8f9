"""Locales: which exist (one folder each), which fits a person, and Babel's dates, numbers and
plural forms for each."""

from __future__ import annotations

from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal

# Every plural category CLDR knows; a locale uses `other` plus some of the rest.
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")
# Where `plural()` puts the count inside a form.
COUNT_MARK = "{n}"


def discover(content_dir: Path) -> list[str]:
    """List the locales that have a folder under `content/locales` (nothing else to edit)."""
    root = content_dir / "locales"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def pick(language_code: str | None, available: list[str], default: str) -> str:
    """Return the supported locale closest to Telegram's `language_code`, else the default."""
    if not language_code:
        return default
    wanted = language_code.replace("_", "-").lower()
    by_lower = {name.replace("_", "-").lower(): name for name in available}
    if wanted in by_lower:
        return by_lower[wanted]
    primary = wanted.split("-")[0]
    return by_lower.get(primary, default)


@cache
def babel_locale(locale: str) -> Locale:
    """Return Babel's data for a locale name (English if Babel does not know it)."""
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def language_name(locale: str, in_locale: str | None = None) -> str:
    """Return a locale's name in `in_locale` ("Englisch"), or in its own ("Deutsch")."""
    named = babel_locale(locale)
    name = named.get_display_name(babel_locale(in_locale) if in_locale else named) or locale
    return name[:1].upper() + name[1:]


def format_when(value: Any, pattern: str, locale: str) -> str:
    """Format a date or datetime with a CLDR pattern (`EEEE d MMMM`) in a locale."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        # The value is already in the person's time zone: show its wall clock as it is.
        return format_datetime(value, pattern, tzinfo=value.tzinfo, locale=babel_locale(locale))
    if isinstance(value, date):
        return format_date(value, pattern, locale=babel_locale(locale))
    if isinstance(value, time):
        return format_time(value, pattern, locale=babel_locale(locale))
    raise TypeError(f"cannot format {type(value).__name__} as a date")


def format_clock(value: Any, locale: str) -> str:
    """Format a time of day as hours and minutes (24-hour, as the bot asks for times)."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, datetime):
        return format_datetime(value, "HH:mm", tzinfo=value.tzinfo, locale=babel_locale(locale))
    return format_time(value, "HH:mm", locale=babel_locale(locale))


def format_number(value: Any, locale: str) -> str:
    """Format a number with the locale's separators."""
    if isinstance(value, str):
        return value
    return format_decimal(value, locale=babel_locale(locale))


def plural_categories(locale: str) -> frozenset[str]:
    """Return the CLDR plural categories a locale's counted phrases need."""
    return frozenset(babel_locale(locale).plural_form.tags) | {"other"}


def plural_category(count: int | float, locale: str) -> str:
    """Return the CLDR plural category of a count in a locale."""
    return str(babel_locale(locale).plural_form(count))


def plural(count: int | float, locale: str, **forms: str) -> str:
    """Pick the form for `count` (`one=`, `few=`, ..., `other=`); `{n}` becomes the count."""
    unknown = set(forms) - set(PLURAL_CATEGORIES)
    if unknown:
        raise ValueError(f"unknown plural categories {sorted(unknown)}")
    if "other" not in forms:
        raise ValueError("a counted phrase needs an `other` form")
    form = forms.get(plural_category(count, locale), forms["other"])
    return form.replace(COUNT_MARK, format_number(count, locale))
