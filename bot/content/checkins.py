"""The weekly check-in questions and the mutual topics in content/: load and validate them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from bot.content.entries import (
    FOCUS_AREAS,
    ContentError,
    Entry,
    Video,
    load_list,
    load_localised_videos,
    overlay,
    translations_of,
)
from bot.content.locales import discover, pick

MIN_QUESTIONS, MAX_QUESTIONS = 3, 5
MIN_REFLECTIONS, MAX_REFLECTIONS = 1, 2
MIN_TOPICS, MAX_TOPICS = 4, 20


class CheckinQuestion(Entry):
    """One check-in question: a 1-to-5 scale answered with buttons, or a short reflection."""

    kind: Literal["scale", "reflection"]
    theme: str
    label: str = Field(min_length=2, max_length=24)
    text: str = Field(min_length=8, max_length=200)
    low: str | None = Field(default=None, min_length=2, max_length=32)
    high: str | None = Field(default=None, min_length=2, max_length=32)
    talk: str | None = Field(default=None, min_length=8, max_length=280)

    @field_validator("theme")
    @classmethod
    def _known_theme(cls, value: str) -> str:
        if value not in FOCUS_AREAS:
            raise ValueError(f"unknown focus area {value!r}; use one of {list(FOCUS_AREAS)}")
        return value

    @model_validator(mode="after")
    def _scale_has_words(self) -> Self:
        if self.kind == "scale" and not (self.low and self.high and self.talk):
            raise ValueError("a scale question needs low, high and talk")
        return self

    @property
    def is_scale(self) -> bool:
        """Tell whether this question is answered with a score."""
        return self.kind == "scale"


class Topic(Entry):
    """A topic a partner can privately flag as something they would like to talk about."""

    text: str = Field(min_length=3, max_length=60)


@dataclass(frozen=True)
class CheckinContent:
    """The questions, in the order they are asked, and the topics."""

    questions: tuple[CheckinQuestion, ...]
    topics: tuple[Topic, ...]

    def question(self, question_id: str) -> CheckinQuestion | None:
        """Return a question by id, if it still exists."""
        return next((q for q in self.questions if q.id == question_id), None)

    def topic(self, topic_id: str) -> Topic | None:
        """Return a topic by id, if it still exists."""
        return next((t for t in self.topics if t.id == topic_id), None)


def checkins_path(content_dir: Path, locale: str) -> Path:
    """Return where a locale's check-in questions and topics live."""
    return content_dir / "locales" / locale / "checkins.yaml"


def _read(path: Path) -> tuple[CheckinContent, list[str]]:
    questions, problems = load_list(path, "questions", CheckinQuestion)
    topics, topic_problems = load_list(path, "topics", Topic)
    problems += topic_problems
    if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
        problems.append(
            f"{path}: {len(questions)} valid questions; a check-in has "
            f"{MIN_QUESTIONS} to {MAX_QUESTIONS}"
        )
    reflections = sum(not q.is_scale for q in questions)
    if not MIN_REFLECTIONS <= reflections <= MAX_REFLECTIONS or reflections == len(questions):
        problems.append(
            f"{path}: {reflections} reflection(s); a check-in has {MIN_REFLECTIONS} to "
            f"{MAX_REFLECTIONS}, and at least one scale question"
        )
    if not MIN_TOPICS <= len(topics) <= MAX_TOPICS:
        problems.append(
            f"{path}: {len(topics)} valid topics; the list needs {MIN_TOPICS} to {MAX_TOPICS}"
        )
    return CheckinContent(tuple(questions), tuple(topics)), problems


def check_checkins(content_dir: Path, default_locale: str) -> list[str]:
    """Validate the default locale's check-in file (translations: see bot/content/parity.py)."""
    path = checkins_path(content_dir, default_locale)
    if not path.exists():
        return [f"{path}: missing check-in questions"]
    return _read(path)[1]


def load_checkins(content_dir: Path, locale: str) -> CheckinContent:
    """Load a locale's check-in questions and topics, refusing a broken file."""
    content, problems = _read(checkins_path(content_dir, locale))
    if problems:
        raise ContentError(problems[0])
    return content


QUESTION_TEXT = ("label", "text", "low", "high", "talk")
TOPIC_TEXT = ("text",)


def localised(base: CheckinContent, content_dir: Path, locale: str) -> CheckinContent:
    """Return the check-in with each question and topic in `locale` where translated."""
    path = checkins_path(content_dir, locale)
    if not path.exists():
        return base
    return CheckinContent(
        tuple(overlay(list(base.questions), translations_of(path, "questions"), QUESTION_TEXT)),
        tuple(overlay(list(base.topics), translations_of(path, "topics"), TOPIC_TEXT)),
    )


class CheckinDeck:
    """The check-in content per locale: the default locale's questions and topics, each in
    the person's language where translated."""

    def __init__(self, content_dir: Path, *, default_locale: str = "en") -> None:
        self.content_dir = content_dir
        self.default_locale = default_locale
        self._loaded: dict[str, CheckinContent] = {}
        self._videos: dict[str, list[Video]] = {}
        self._resolved: dict[str | None, str] = {}

    def _locale(self, locale: str | None) -> str:
        # Looked up once per requested name: the folders do not change while the bot runs.
        found = self._resolved.get(locale)
        if found is None:
            found = self._resolved[locale] = pick(
                locale, discover(self.content_dir), self.default_locale
            )
        return found

    def get(self, locale: str | None = None) -> CheckinContent:
        """Return the content for a locale (loaded once)."""
        locale = self._locale(locale)
        if locale not in self._loaded:
            base = load_checkins(self.content_dir, self.default_locale)
            if locale != self.default_locale:
                base = localised(base, self.content_dir, locale)
            self._loaded[locale] = base
        return self._loaded[locale]

    def videos(self, locale: str | None = None) -> list[Video]:
        """Return the video catalogue (loaded once), to suggest one on a check-in's theme."""
        locale = self._locale(locale)
        if locale not in self._videos:
            self._videos[locale] = load_localised_videos(
                self.content_dir, locale, self.default_locale
            )
        return self._videos[locale]
