"""The content library: prompt decks, articles and videos, loaded once per locale."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.content.checkins import checkins_path, load_checkins
from bot.content.entries import (
    FOCUS_AREAS,
    ID_PATTERN,
    ContentError,
    Entry,
    Video,
    describe,
    load_list,
    load_videos,
)

TOPICS = ("memories", "dreams", "daily_life", "feelings", "values", "family", "fun", "relationship")
DEPTHS = ("light", "medium", "deep")
DECK_MINIMUMS = {"affirmations": 120, "curiosity": 240}
PROMPT_MAX_LENGTH = 280
ARTICLE_MIN_EXCERPTS, ARTICLE_MAX_EXCERPTS = 4, 8
MIN_ARTICLES, MIN_VIDEOS = 6, 24


class Prompt(Entry):
    """One prompt of a deck: an affirmation to share or a question to answer."""

    topic: Literal[
        "memories", "dreams", "daily_life", "feelings", "values", "family", "fun", "relationship"
    ]
    depth: Literal["light", "medium", "deep"]
    text: str = Field(min_length=8, max_length=PROMPT_MAX_LENGTH)


class ArticleMeta(BaseModel):
    """The front matter of an article."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=rf"^{ID_PATTERN}$")
    title: str = Field(min_length=3, max_length=120)
    focus: str
    reading_minutes: int = Field(ge=1, le=60)

    @field_validator("focus")
    @classmethod
    def _known_focus(cls, value: str) -> str:
        if value not in FOCUS_AREAS:
            raise ValueError(f"unknown focus area {value!r}; use one of {list(FOCUS_AREAS)}")
        return value


@dataclass(frozen=True)
class Excerpt:
    """One part of an article, read in Telegram one at a time."""

    heading: str
    body: str


@dataclass(frozen=True)
class Article:
    """An article split into excerpts."""

    meta: ArticleMeta
    excerpts: tuple[Excerpt, ...]


def deck_path(content_dir: Path, locale: str, deck: str) -> Path:
    """Return where a deck lives for a locale."""
    return content_dir / "locales" / locale / "decks" / f"{deck}.yaml"


def load_deck(content_dir: Path, locale: str, deck: str) -> list[Prompt]:
    """Load a prompt deck, refusing a broken one."""
    prompts, problems = load_list(deck_path(content_dir, locale, deck), "items", Prompt)
    if problems:
        raise ContentError(problems[0])
    return prompts


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)
_HEADING = re.compile(r"^## (.+)$", re.MULTILINE)


def parse_article(path: Path) -> Article:
    """Read an article: YAML front matter, then one excerpt per `## ` heading."""
    raw = path.read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(raw)
    if match is None:
        raise ContentError(f"{path}:1: an article starts with front matter between --- lines")
    try:
        meta = ArticleMeta.model_validate(yaml.safe_load(match.group(1)))
    except (yaml.YAMLError, ValidationError) as error:
        detail = describe(error) if isinstance(error, ValidationError) else str(error)
        raise ContentError(f"{path}:2: front matter: {detail}") from None
    body = raw[match.end() :]
    body_line = raw[: match.end()].count("\n") + 1
    headings = list(_HEADING.finditer(body))
    before = body[: headings[0].start()] if headings else body
    if before.strip():
        line = body_line + len(before) - len(before.lstrip("\n"))
        raise ContentError(f"{path}:{line}: text before the first '## ' heading")
    excerpts = []
    for index, heading in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(body)
        text = body[heading.end() : end].strip()
        line = body_line + body[: heading.start()].count("\n")
        if not text:
            raise ContentError(f"{path}:{line}: the excerpt '{heading.group(1)}' is empty")
        excerpts.append(Excerpt(heading=heading.group(1).strip(), body=text))
    if not ARTICLE_MIN_EXCERPTS <= len(excerpts) <= ARTICLE_MAX_EXCERPTS:
        raise ContentError(
            f"{path}: has {len(excerpts)} excerpts; an article needs "
            f"{ARTICLE_MIN_EXCERPTS} to {ARTICLE_MAX_EXCERPTS} '## ' headings"
        )
    return Article(meta=meta, excerpts=tuple(excerpts))


def load_articles(content_dir: Path, locale: str) -> list[Article]:
    """Load every article of a locale, in file-name order."""
    folder = content_dir / "locales" / locale / "articles"
    return [parse_article(path) for path in sorted(folder.glob("*.md"))]


class Library:
    """The loaded decks, per locale, falling back to the default locale."""

    def __init__(self, content_dir: Path, *, default_locale: str = "en") -> None:
        self.content_dir = content_dir
        self.default_locale = default_locale
        self._decks: dict[tuple[str, str], list[Prompt]] = {}
        self._by_id: dict[tuple[str, str], dict[str, Prompt]] = {}
        self._articles: dict[str, list[Article]] = {}
        self._videos: list[Video] | None = None
        self._themes: dict[str, dict[str, str]] = {}
        # Which locale answers for (what, requested locale): the folders are looked at once.
        self._resolved: dict[tuple[str, str], str] = {}

    def _locale(self, what: str, locale: str | None, present: Callable[[str], bool]) -> str:
        """Return `locale` if it has `what`, else the default locale (decided once per pair)."""
        locale = locale or self.default_locale
        key = (what, locale)
        resolved = self._resolved.get(key)
        if resolved is None:
            resolved = self._resolved[key] = locale if present(locale) else self.default_locale
        return resolved

    def articles(self, locale: str | None = None) -> list[Article]:
        """Return the articles of a locale (loaded once), falling back to the default locale."""
        locale = self._locale(
            "articles",
            locale,
            lambda name: (self.content_dir / "locales" / name / "articles").is_dir(),
        )
        if locale not in self._articles:
            self._articles[locale] = load_articles(self.content_dir, locale)
        return self._articles[locale]

    def checkin_themes(self, locale: str | None = None) -> dict[str, str]:
        """Return each check-in question's theme (a focus area), by question id."""
        locale = self._locale(
            "checkins", locale, lambda name: checkins_path(self.content_dir, name).exists()
        )
        if locale not in self._themes:
            content = load_checkins(self.content_dir, locale)
            self._themes[locale] = {q.id: q.theme for q in content.questions}
        return self._themes[locale]

    def videos(self) -> list[Video]:
        """Return the video catalogue (loaded once)."""
        if self._videos is None:
            self._videos = load_videos(self.content_dir)
        return self._videos

    def deck(self, name: str, locale: str | None = None) -> list[Prompt]:
        """Return a deck in a locale (loaded once), or in the default locale if it has none."""
        locale = self._deck_locale(name, locale)
        key = (locale, name)
        if key not in self._decks:
            self._decks[key] = load_deck(self.content_dir, locale, name)
            self._by_id[key] = {prompt.id: prompt for prompt in self._decks[key]}
        return self._decks[key]

    def prompt(self, name: str, prompt_id: str, locale: str | None = None) -> Prompt | None:
        """Return one prompt of a deck by id, if it still exists."""
        self.deck(name, locale)
        return self._by_id[(self._deck_locale(name, locale), name)].get(prompt_id)

    def _deck_locale(self, name: str, locale: str | None) -> str:
        return self._locale(
            f"deck:{name}", locale, lambda found: deck_path(self.content_dir, found, name).exists()
        )
