"""Crisis lines and counsellor topics from content/: load, validate, and look up by country."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.content.entries import ContentError, overlay, translations_of
from bot.content.locales import discover, pick

CRISIS_LINES = Path("safety") / "crisis_lines.yaml"
TOPICS = Path("counsellor") / "topics.yaml"
MIN_TOPICS, MAX_TOPICS = 2, 12


class CrisisLine(BaseModel):
    """One phone line: who answers, the number, and an optional short note."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=3, max_length=80)
    phone: str = Field(pattern=r"^\+?[0-9][0-9 -]{0,19}$")
    note: str | None = Field(default=None, min_length=2, max_length=60)


class Topic(BaseModel):
    """What a counsellor request can be about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    label: str = Field(min_length=2, max_length=40)


class CrisisWording(BaseModel):
    """How a locale words the crisis lines: each English name or note, and its translation."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: dict[str, str] = Field(default_factory=dict)
    notes: dict[str, str] = Field(default_factory=dict)


class CrisisLines(BaseModel):
    """The whole crisis-lines file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    general: tuple[CrisisLine, ...] = Field(min_length=1)
    countries: dict[str, tuple[CrisisLine, ...]]


class Topics(BaseModel):
    """The whole topics file of one locale."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: tuple[Topic, ...] = Field(min_length=MIN_TOPICS, max_length=MAX_TOPICS)


@dataclass(frozen=True)
class Resources:
    """The lines to show one person: their country's (if known) and the general ones."""

    country: str | None
    lines: tuple[CrisisLine, ...]
    general: tuple[CrisisLine, ...]


class SafetyContentError(Exception):
    """A safety content file that cannot be used; the message names the file and line."""


def _line_of(node: yaml.Node | None, path: tuple[Any, ...]) -> int | None:
    """Follow a validation error's location through the YAML node tree to a line number."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else None
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _load(path: Path, model: type[BaseModel]) -> Any:
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SafetyContentError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        data, node = yaml.safe_load(raw), yaml.compose(raw, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise SafetyContentError(f"{where}: not valid YAML ({error})") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]
        line = _line_of(node, tuple(problem["loc"]))
        field = ".".join(str(part) for part in problem["loc"]) or "file"
        where = f"{path}:{line}" if line else str(path)
        raise SafetyContentError(f"{where}: {field}: {problem['msg']}") from None


@cache
def country_codes() -> frozenset[str]:
    """Return the ISO 3166-1 alpha-2 codes the time zone database knows."""
    text = resources.files("tzdata").joinpath("zoneinfo", "iso3166.tab").read_text("utf-8")
    return frozenset(line.split("\t")[0] for line in text.splitlines() if line[:1].isalpha())


@cache
def _zone_countries() -> dict[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line[:1].isalpha())
    return {row[2]: row[0] for row in rows if len(row) >= 3}


def country_of_zone(zone: str | None) -> str | None:
    """Return the country an IANA time zone belongs to, if it names one."""
    return _zone_countries().get(zone) if zone else None


@cache
def load_crisis_lines(content_dir: Path) -> CrisisLines:
    """Load and validate the crisis lines (once per content folder)."""
    lines: CrisisLines = _load(content_dir / CRISIS_LINES, CrisisLines)
    unknown = sorted(code for code in lines.countries if code not in country_codes())
    if unknown:
        raise SafetyContentError(
            f"{content_dir / CRISIS_LINES}: unknown ISO 3166-1 country code(s) {unknown}"
        )
    return lines


def crisis_wording_path(content_dir: Path, locale: str) -> Path:
    """Return where a locale words the crisis lines' names and notes."""
    return content_dir / "locales" / locale / CRISIS_LINES


@cache
def load_crisis_wording(content_dir: Path, locale: str) -> CrisisWording | None:
    """Load a locale's wording of the crisis lines, if it has one."""
    path = crisis_wording_path(content_dir, locale)
    return _load(path, CrisisWording) if path.exists() else None


def _worded(line: CrisisLine, wording: CrisisWording) -> CrisisLine:
    name = wording.names.get(line.name, line.name)
    note = wording.notes.get(line.note, line.note) if line.note else None
    try:
        return CrisisLine(name=name, phone=line.phone, note=note)
    except ValidationError:
        return line  # the content check names the wording that does not fit


def resources_for(
    content_dir: Path, zone: str | None, locale: str | None = None, default_locale: str = "en"
) -> Resources:
    """Return the crisis lines for a person in this time zone, worded in their language."""
    lines = load_crisis_lines(content_dir)
    country = country_of_zone(zone)
    found = Resources(country, lines.countries.get(country or "", ()), lines.general)
    chosen = pick(locale, discover(content_dir), default_locale)
    try:
        wording = load_crisis_wording(content_dir, chosen) if chosen != default_locale else None
    except SafetyContentError:
        wording = None  # a broken translation shows the lines as written; the check says why
    if wording is None:
        return found
    return Resources(
        country,
        tuple(_worded(line, wording) for line in found.lines),
        tuple(_worded(line, wording) for line in found.general),
    )


def check_crisis_wording(content_dir: Path, locale: str) -> tuple[int, list[str], list[str]]:
    """Compare a locale's wording with the crisis lines: (texts, untranslated, problems)."""
    lines = load_crisis_lines(content_dir)
    every = [*lines.general, *(line for group in lines.countries.values() for line in group)]
    names = sorted({line.name for line in every})
    notes = sorted({line.note for line in every if line.note})
    try:
        wording = load_crisis_wording.__wrapped__(content_dir, locale)
    except SafetyContentError as error:
        return len(names) + len(notes), [*names, *notes], [str(error)]
    if wording is None:
        return len(names) + len(notes), [*names, *notes], []
    path = crisis_wording_path(content_dir, locale)
    problems = [
        f"{path}: {kind} {text!r} is not in {CRISIS_LINES}"
        for kind, known, given in (("name", names, wording.names), ("note", notes, wording.notes))
        for text in sorted(set(given) - set(known))
    ]
    problems += [
        f"{path}: {kind} {text!r} is too long for a crisis line ({len(text)} characters)"
        for kind, given, limit in (("name", wording.names, 80), ("note", wording.notes, 60))
        for text in given.values()
        if not 2 <= len(text) <= limit
    ]
    missing = [n for n in names if n not in wording.names] + [
        n for n in notes if n not in wording.notes
    ]
    return len(names) + len(notes), missing, problems


def _topics_path(content_dir: Path, locale: str) -> Path:
    return content_dir / "locales" / locale / TOPICS


def load_default_topics(content_dir: Path, default_locale: str) -> Topics:
    """Load the default locale's counsellor topics, refusing duplicate ids."""
    path = _topics_path(content_dir, default_locale)
    topics: Topics = _load(path, Topics)
    ids = [topic.id for topic in topics.topics]
    duplicates = sorted({topic_id for topic_id in ids if ids.count(topic_id) > 1})
    if duplicates:
        raise SafetyContentError(f"{path}: duplicate id(s) {duplicates}")
    return topics


@cache
def load_topics(content_dir: Path, locale: str | None, default_locale: str = "en") -> Topics:
    """Load the counsellor request topics, each label in `locale` where it is translated."""
    topics = load_default_topics(content_dir, default_locale)
    found = pick(locale, discover(content_dir), default_locale)
    if found == default_locale:
        return topics
    try:
        own = translations_of(_topics_path(content_dir, found), "topics")
    except ContentError:
        # A broken translation leaves the default labels; the content check names the line.
        return topics
    return Topics(topics=tuple(overlay(list(topics.topics), own, ("label",))))


def check_safety_content(content_dir: Path, locales: list[str], default_locale: str) -> list[str]:
    """Validate the crisis lines and every locale's counsellor topics; one line per problem."""
    problems: list[str] = []
    checks: list[Callable[[], object]] = [lambda: load_crisis_lines.__wrapped__(content_dir)]
    default_ids: set[str] = set()
    for locale in [default_locale, *[lc for lc in locales if lc != default_locale]]:
        if locale != default_locale and not (content_dir / "locales" / locale / TOPICS).exists():
            continue

        def check(locale: str = locale) -> None:
            if locale == default_locale:
                topics = load_default_topics(content_dir, default_locale)
                default_ids.update(topic.id for topic in topics.topics)
                return
            if not default_ids:
                return  # the default topics are broken: that is the one problem to name
            # Partial translations fall back label by label; unknown ids are mistakes.
            path = _topics_path(content_dir, locale)
            try:
                own = translations_of(path, "topics")
            except ContentError as error:
                raise SafetyContentError(str(error)) from None
            unknown = sorted(set(own) - default_ids)
            if unknown:
                raise SafetyContentError(
                    f"{path}: id(s) {unknown} are not among the {default_locale!r} topics"
                )

        checks.append(check)
    for run in checks:
        try:
            run()
        except SafetyContentError as error:
            problems.append(str(error))
    return problems
