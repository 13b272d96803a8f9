"""What every kind of content shares: focus areas, lists of entries named by id loaded from
YAML with the line of each problem, and the video catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

FOCUS_AREAS = (
    "intimacy",
    "meaningful_time",
    "vulnerability",
    "curiosity",
    "appreciation",
    "professional_help",
    "conflict",
    "trust",
    "busy_lives",
    "long_distance",
)
# Ids of prompts, articles and videos; buttons carry them, so they stay short.
ID_PATTERN = r"[a-z0-9][a-z0-9-]{1,47}"
_ID = rf"^{ID_PATTERN}$"


class Entry(BaseModel):
    """An entry of a content list, named by a unique id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)


E = TypeVar("E", bound=Entry)


class ContentError(Exception):
    """Content that cannot be loaded; the message names the file and line."""


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML file, also returning its node tree so problems can name lines."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ContentError(f"{path}: cannot be read ({error.strerror})") from None
    try:
        return yaml.safe_load(raw), yaml.compose(raw, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ContentError(f"{_where(path, line)}: not valid YAML ({error})") from None


def _item_lines(node: yaml.Node | None, list_key: str) -> list[int]:
    """Return the line of each item of the top-level list `list_key`."""
    if not isinstance(node, yaml.MappingNode):
        return []
    for key, value in node.value:
        if key.value == list_key and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def describe(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        field = ".".join(str(p) for p in problem["loc"]) or "item"
        parts.append(f"{field}: {problem['msg']}")
    return "; ".join(parts)


def load_list(path: Path, list_key: str, model: type[E]) -> tuple[list[E], list[str]]:
    data, node = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get(list_key), list):
        return [], [f"{path}: expected a mapping with a list under {list_key!r}"]
    lines = _item_lines(node, list_key)
    items: list[E] = []
    problems: list[str] = []
    seen: dict[str, int | None] = {}
    for index, raw in enumerate(data[list_key]):
        line = lines[index] if index < len(lines) else None
        try:
            item = model.model_validate(raw)
        except ValidationError as error:
            problems.append(f"{_where(path, line)}: {describe(error)}")
            continue
        item_id = item.id
        if item_id in seen:
            problems.append(
                f"{_where(path, line)}: duplicate id {item_id!r} (first at line {seen[item_id]})"
            )
            continue
        seen[item_id] = line
        items.append(item)
    return items, problems


class Video(Entry):
    """One entry of the video catalogue."""

    title: str = Field(min_length=3, max_length=100)
    description: str = Field(min_length=10, max_length=160)
    duration_minutes: int = Field(ge=1, le=180)
    topics: tuple[str, ...] = Field(min_length=1, max_length=3)
    level: Literal["beginner", "intermediate", "advanced"]
    path: str = Field(pattern=r"^[a-z0-9]+(?:[/-][a-z0-9]+)*$", max_length=120)
    paid: bool

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [topic for topic in value if topic not in FOCUS_AREAS]
        if unknown:
            raise ValueError(f"unknown focus area(s) {unknown}; use one of {list(FOCUS_AREAS)}")
        return value


def load_videos(content_dir: Path) -> list[Video]:
    """Load the video catalogue, refusing a broken one."""
    videos, problems = load_list(content_dir / "videos.yaml", "videos", Video)
    if problems:
        raise ContentError(problems[0])
    return videos


M = TypeVar("M", bound=BaseModel)


def translations_of(path: Path, list_key: str) -> dict[str, dict[str, Any]]:
    """Read a locale's translated entries by id; a missing file translates nothing."""
    if not path.exists():
        return {}
    data, _ = load_yaml(path)
    items = data.get(list_key) if isinstance(data, dict) else None
    if not isinstance(items, list):
        return {}
    return {
        raw["id"]: raw for raw in items if isinstance(raw, dict) and isinstance(raw.get("id"), str)
    }


def translated(item: M, raw: dict[str, Any] | None, fields: tuple[str, ...]) -> M | None:
    """Return `item` with its text fields from `raw`; None when the translation is unusable."""
    if raw is None:
        return None
    values = {**item.model_dump(), **{f: raw[f] for f in fields if f in raw}}
    try:
        return type(item).model_validate(values)
    except ValidationError:
        return None


def overlay(
    base: list[M], translations: dict[str, dict[str, Any]], fields: tuple[str, ...]
) -> list[M]:
    """Translate each entry that has a usable translation; the rest stay in the default locale."""
    return [
        translated(item, translations.get(getattr(item, "id")), fields) or item  # noqa: B009
        for item in base
    ]


VIDEO_TEXT = ("title", "description")


def locale_videos_path(content_dir: Path, locale: str) -> Path:
    """Return where a locale's video titles and descriptions live."""
    return content_dir / "locales" / locale / "videos.yaml"


def load_localised_videos(content_dir: Path, locale: str, default_locale: str) -> list[Video]:
    """Load the catalogue with each video's title and description in `locale` where written."""
    videos = load_videos(content_dir)
    if locale == default_locale:
        return videos
    own = translations_of(locale_videos_path(content_dir, locale), "videos")
    return overlay(videos, own, VIDEO_TEXT)
