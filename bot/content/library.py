"""The content library: prompt decks, articles and videos, loaded once per locale."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.content.checkins import load_checkins
from bot.content.entries import (
    FOCUS_AREAS,
    ID_PATTERN,
    ContentError,
    Entry,
    Video,
    describe,
    load_list,
    load_localised_videos,
    overlay,
    translations_of,
)
from bot.content.locales import discover, pick

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


PROMPT_TEXT = ("text",)


class Library:
    """The loaded decks, articles and videos per locale, each item falling back to the default
    locale where a locale has not translated it."""

    def __init__(self, content_dir: Path, *, default_locale: str = "en") -> None:
        self.content_dir = content_dir
        self.default_locale = default_locale
        self._decks: dict[tuple[str, str], list[Prompt]] = {}
        self._by_id: dict[tuple[str, str], dict[str, Prompt]] = {}
        self._articles: dict[str, list[Article]] = {}
        self._videos: dict[str, list[Video]] = {}
        self._themes: dict[str, str] | None = None
        self._resolved: dict[str | None, str] = {}

    def _locale(self, locale: str | None) -> str:
        """Return the locale folder that answers for `locale` (the default when none fits)."""
        # Looked up once per requested name: the folders do not change while the bot runs.
        found = self._resolved.get(locale)
        if found is None:
            found = self._resolved[locale] = pick(
                locale, discover(self.content_dir), self.default_locale
            )
        return found

    def articles(self, locale: str | None = None) -> list[Article]:
        """Return the articles (loaded once), each in `locale` where it has been written."""
        locale = self._locale(locale)
        if locale not in self._articles:
            base = load_articles(self.content_dir, self.default_locale)
            own: dict[str, Article] = {}
            if locale != self.default_locale:
                own = {a.meta.id: a for a in load_articles(self.content_dir, locale)}
            self._articles[locale] = [own.get(a.meta.id, a) for a in base]
        return self._articles[locale]

    def checkin_themes(self, locale: str | None = None) -> dict[str, str]:
        """Return each check-in question's theme (a focus area), by question id."""
        # Themes belong to the question, not its wording: every locale shares the default's.
        if self._themes is None:
            content = load_checkins(self.content_dir, self.default_locale)
            self._themes = {q.id: q.theme for q in content.questions}
        return self._themes

    def videos(self, locale: str | None = None) -> list[Video]:
        """Return the video catalogue (loaded once), with titles in `locale` where written."""
        locale = self._locale(locale)
        if locale not in self._videos:
            self._videos[locale] = load_localised_videos(
                self.content_dir, locale, self.default_locale
            )
        return self._videos[locale]

    def deck(self, name: str, locale: str | None = None) -> list[Prompt]:
        """Return a deck (loaded once): the default locale's items, each in `locale` where
        translated, so every locale shares the same ids, order, topics and depths."""
        locale = self._locale(locale)
        key = (locale, name)
        if key not in self._decks:
            base = load_deck(self.content_dir, self.default_locale, name)
            if locale != self.default_locale:
                path = deck_path(self.content_dir, locale, name)
                base = overlay(base, translations_of(path, "items"), PROMPT_TEXT)
            self._decks[key] = base
            self._by_id[key] = {prompt.id: prompt for prompt in base}
        return self._decks[key]

    def prompt(self, name: str, prompt_id: str, locale: str | None = None) -> Prompt | None:
        """Return one prompt of a deck by id, if it still exists."""
        self.deck(name, locale)
        return self._by_id[(self._locale(locale), name)].get(prompt_id)
