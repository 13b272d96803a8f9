"""The decks of the closeness exercises: the expectations map and the vulnerability prompts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from bot.content.entries import (
    FOCUS_AREAS,
    ContentError,
    Entry,
    describe,
    load_list,
    load_yaml,
    overlay,
    translations_of,
)
from bot.content.library import DEPTHS, PROMPT_TEXT, TOPICS, Prompt, deck_path

EXPECTATIONS_DECK = "expectations"
VULNERABILITY_DECK = "vulnerability"
# About twelve statements: enough to cover every area, short enough to finish in one sitting.
MIN_STATEMENTS, MAX_STATEMENTS = 8, 16
MIN_AREAS = 4
MIN_VULNERABILITY_PROMPTS = 20
STATEMENT_MAX_LENGTH = 140
QUESTION_MAX_LENGTH = 200


class Area(Entry):
    """One area of expectations, with the focus area and question topic it points picks at."""

    label: str = Field(min_length=3, max_length=40)
    focus: str
    topic: str

    @field_validator("focus")
    @classmethod
    def _known_focus(cls, value: str) -> str:
        if value not in FOCUS_AREAS:
            raise ValueError(f"unknown focus area {value!r}; use one of {list(FOCUS_AREAS)}")
        return value

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, value: str) -> str:
        if value not in TOPICS:
            raise ValueError(f"unknown topic {value!r}; use one of {list(TOPICS)}")
        return value


class Statement(Entry):
    """One statement of the map, answered from 1 (not me at all) to 5 (very me)."""

    area: str = Field(min_length=2, max_length=48)
    text: str = Field(min_length=10, max_length=STATEMENT_MAX_LENGTH)
    question: str = Field(min_length=10, max_length=QUESTION_MAX_LENGTH)


@dataclass(frozen=True)
class ExpectationsDeck:
    """The areas and statements of the map, in the editors' order."""

    areas: tuple[Area, ...]
    statements: tuple[Statement, ...]

    def statement(self, statement_id: str) -> Statement | None:
        """Return a statement by id (None once an editor removed it)."""
        return next((s for s in self.statements if s.id == statement_id), None)

    def area(self, area_id: str) -> Area | None:
        """Return an area by id."""
        return next((a for a in self.areas if a.id == area_id), None)


def _read_expectations(content_dir: Path, locale: str) -> tuple[ExpectationsDeck, list[str]]:
    path = deck_path(content_dir, locale, EXPECTATIONS_DECK)
    if not path.exists():
        return ExpectationsDeck((), ()), [f"{path}: missing deck"]
    data, _ = load_yaml(path)
    problems: list[str] = []
    areas: list[Area] = []
    raw_areas = data.get("areas") if isinstance(data, dict) else None
    if not isinstance(raw_areas, list):
        problems.append(f"{path}: expected a list under 'areas'")
    else:
        for raw in raw_areas:
            try:
                areas.append(Area.model_validate(raw))
            except ValidationError as error:
                problems.append(f"{path}: area {raw!r}: {describe(error)}")
    statements, found = load_list(path, "items", Statement)
    problems += found
    known = {area.id for area in areas}
    problems += [
        f"{path}: statement {s.id!r} names the unknown area {s.area!r}"
        for s in statements
        if s.area not in known
    ]
    if not MIN_STATEMENTS <= len(statements) <= MAX_STATEMENTS:
        problems.append(
            f"{path}: {len(statements)} valid statements; the map needs "
            f"{MIN_STATEMENTS} to {MAX_STATEMENTS}"
        )
    used = Counter(s.area for s in statements)
    unused = [area.id for area in areas if used[area.id] == 0]
    if unused:
        problems.append(f"{path}: no statements for area(s) {unused}")
    if len(areas) < MIN_AREAS:
        problems.append(f"{path}: {len(areas)} areas; the map needs at least {MIN_AREAS}")
    return ExpectationsDeck(tuple(areas), tuple(statements)), problems


def _read_vulnerability(content_dir: Path, locale: str) -> tuple[list[Prompt], list[str]]:
    path = deck_path(content_dir, locale, VULNERABILITY_DECK)
    if not path.exists():
        return [], [f"{path}: missing deck"]
    prompts, problems = load_list(path, "items", Prompt)
    if len(prompts) < MIN_VULNERABILITY_PROMPTS:
        problems.append(
            f"{path}: {len(prompts)} valid prompts; the deck needs {MIN_VULNERABILITY_PROMPTS}"
        )
    depths = Counter[str](p.depth for p in prompts)
    if any(depths[depth] == 0 for depth in DEPTHS):
        problems.append(f"{path}: every depth (light, medium, deep) needs prompts")
    return prompts, problems


# What a translation of each deck may change; ids, areas and topics stay the default's.
AREA_TEXT = ("label",)
STATEMENT_TEXT = ("text", "question")


def check_closeness(content_dir: Path, locale: str) -> list[str]:
    """Validate and count both decks; return one line per problem."""
    _, problems = _read_expectations(content_dir, locale)
    return problems + _read_vulnerability(content_dir, locale)[1]


class ClosenessDecks:
    """Both decks per locale, loaded once; a locale without its own falls back to the default."""

    def __init__(self, content_dir: Path, *, default_locale: str = "en") -> None:
        self.content_dir = content_dir
        self.default_locale = default_locale

    def expectations(self, locale: str | None = None) -> ExpectationsDeck:
        """Return the map in a language; whatever it lacks stays in the default locale."""
        base = _expectations(self.content_dir, self.default_locale)
        if not locale or locale == self.default_locale:
            return base
        return _translated_expectations(self.content_dir, self.default_locale, locale)

    def vulnerability(self, locale: str | None = None) -> tuple[Prompt, ...]:
        """Return the sharing prompts in a language; a prompt it lacks stays in the default."""
        base = _vulnerability(self.content_dir, self.default_locale)
        if not locale or locale == self.default_locale:
            return base
        return _translated_vulnerability(self.content_dir, self.default_locale, locale)


@cache
def _translated_expectations(content_dir: Path, default: str, locale: str) -> ExpectationsDeck:
    base = _expectations(content_dir, default)
    path = deck_path(content_dir, locale, EXPECTATIONS_DECK)
    return ExpectationsDeck(
        tuple(overlay(list(base.areas), translations_of(path, "areas"), AREA_TEXT)),
        tuple(overlay(list(base.statements), translations_of(path, "items"), STATEMENT_TEXT)),
    )


@cache
def _translated_vulnerability(content_dir: Path, default: str, locale: str) -> tuple[Prompt, ...]:
    base = _vulnerability(content_dir, default)
    path = deck_path(content_dir, locale, VULNERABILITY_DECK)
    return tuple(overlay(list(base), translations_of(path, "items"), PROMPT_TEXT))


@cache
def _expectations(content_dir: Path, locale: str) -> ExpectationsDeck:
    deck, problems = _read_expectations(content_dir, locale)
    if problems:
        raise ContentError(problems[0])
    return deck


@cache
def _vulnerability(content_dir: Path, locale: str) -> tuple[Prompt, ...]:
    prompts, problems = _read_vulnerability(content_dir, locale)
    if problems:
        raise ContentError(problems[0])
    return tuple(prompts)
