"""The deck of things to do together in content/: load and validate it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field, field_validator

from bot.content.entries import (
    FOCUS_AREAS,
    ContentError,
    Entry,
    load_list,
    overlay,
    translations_of,
)

# Where an idea fits; a couple sees long-distance ideas only when one of them chose that focus.
CATEGORIES = (
    "at_home",
    "outdoors",
    "something_new",
    "conversation",
    "low_cost",
    "quick",
    "long_distance",
)
LONG_DISTANCE = "long_distance"
MIN_IDEAS = 60
# Every category needs enough ideas for a few fresh rounds of three.
MIN_PER_CATEGORY = 6
IDEA_MIN_LENGTH, IDEA_MAX_LENGTH = 20, 160
DECK = "together"
# What a translation may change: the words; categories and tags stay the default locale's.
IDEA_TEXT = ("text",)


class Idea(Entry):
    """One thing a couple could do together: short, concrete, and what it suits."""

    categories: tuple[str, ...] = Field(min_length=1, max_length=3)
    tags: tuple[str, ...] = Field(min_length=1, max_length=3)
    text: str = Field(min_length=IDEA_MIN_LENGTH, max_length=IDEA_MAX_LENGTH)

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in CATEGORIES]
        if unknown:
            raise ValueError(f"unknown categories {unknown}; use some of {list(CATEGORIES)}")
        if len(set(value)) != len(value):
            raise ValueError("a category is listed twice")
        return value

    @field_validator("tags")
    @classmethod
    def _known_tags(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in FOCUS_AREAS]
        if unknown:
            raise ValueError(f"unknown focus area(s) {unknown}; use some of {list(FOCUS_AREAS)}")
        return value

    @property
    def far_apart(self) -> bool:
        """Tell whether this idea is for partners who live apart."""
        return LONG_DISTANCE in self.categories


@dataclass(frozen=True)
class TogetherContent:
    """Every idea of a locale's deck, in file order."""

    ideas: tuple[Idea, ...]

    def idea(self, idea_id: str) -> Idea | None:
        """Return an idea by id, if it still exists."""
        return next((idea for idea in self.ideas if idea.id == idea_id), None)


def together_path(content_dir: Path, locale: str) -> Path:
    """Return where a locale's deck of ideas lives."""
    return content_dir / "locales" / locale / "decks" / f"{DECK}.yaml"


def _read(path: Path) -> tuple[TogetherContent, list[str]]:
    ideas, problems = load_list(path, "items", Idea)
    if len(ideas) < MIN_IDEAS:
        problems.append(f"{path}: {len(ideas)} valid ideas; the deck needs {MIN_IDEAS}")
    counts = Counter(name for idea in ideas for name in idea.categories)
    thin = [name for name in CATEGORIES if counts[name] < MIN_PER_CATEGORY]
    if thin:
        problems.append(f"{path}: fewer than {MIN_PER_CATEGORY} ideas in categor(ies) {thin}")
    texts = Counter(idea.text.casefold() for idea in ideas)
    problems.extend(f"{path}: the idea {t!r} is there {n} times" for t, n in texts.items() if n > 1)
    return TogetherContent(tuple(ideas)), problems


def check_together(content_dir: Path, default_locale: str) -> list[str]:
    """Validate the default locale's deck of ideas (other locales only translate its texts)."""
    path = together_path(content_dir, default_locale)
    if not path.exists():
        return [f"{path}: missing deck of ideas to do together"]
    return _read(path)[1]


def load_together(content_dir: Path, locale: str) -> TogetherContent:
    """Load a locale's ideas, refusing a broken deck."""
    content, problems = _read(together_path(content_dir, locale))
    if problems:
        raise ContentError(problems[0])
    return content


class TogetherDeck:
    """The loaded ideas per locale, falling back to the default locale."""

    def __init__(self, content_dir: Path, *, default_locale: str = "en") -> None:
        self.content_dir = content_dir
        self.default_locale = default_locale
        self._loaded: dict[str, TogetherContent] = {}

    def get(self, locale: str | None = None) -> TogetherContent:
        """Return the ideas in a locale (loaded once); an idea it lacks stays in the default."""
        locale = locale or self.default_locale
        if locale not in self._loaded:
            base = load_together(self.content_dir, self.default_locale)
            if locale != self.default_locale:
                own = translations_of(together_path(self.content_dir, locale), "items")
                base = TogetherContent(tuple(overlay(list(base.ideas), own, IDEA_TEXT)))
            self._loaded[locale] = base
        return self._loaded[locale]
