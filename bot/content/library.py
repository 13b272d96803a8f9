"""The content library: load prompt decks, articles and videos, and validate all of content/."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from jinja2 import TemplateError, TemplateSyntaxError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.content.safety import check_safety_content
from bot.content.texts import TEMPLATE_SUFFIX, Texts, key_of

TOPICS = ("memories", "dreams", "daily_life", "feelings", "values", "family", "fun", "relationship")
DEPTHS = ("light", "medium", "deep")
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
DECK_MINIMUMS = {"affirmations": 120, "curiosity": 240}
PROMPT_MAX_LENGTH = 280
ARTICLE_MIN_EXCERPTS, ARTICLE_MAX_EXCERPTS = 4, 8
MIN_ARTICLES, MIN_VIDEOS = 6, 24
# Ids of prompts, articles and videos; buttons carry them, so they stay short.
ID_PATTERN = r"[a-z0-9][a-z0-9-]{1,47}"
_ID = rf"^{ID_PATTERN}$"


class _Entry(BaseModel):
    """An entry of a content list, named by a unique id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)


class Prompt(_Entry):
    """One prompt of a deck: an affirmation to share or a question to answer."""

    topic: Literal[
        "memories", "dreams", "daily_life", "feelings", "values", "family", "fun", "relationship"
    ]
    depth: Literal["light", "medium", "deep"]
    text: str = Field(min_length=8, max_length=PROMPT_MAX_LENGTH)


class Video(_Entry):
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


class ArticleMeta(BaseModel):
    """The front matter of an article."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)
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


E = TypeVar("E", bound=_Entry)


class ContentError(Exception):
    """Content that cannot be loaded; the message names the file and line."""


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


def _load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
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


def _describe(error: ValidationError) -> str:
    parts = []
    for problem in error.errors():
        field = ".".join(str(p) for p in problem["loc"]) or "item"
        parts.append(f"{field}: {problem['msg']}")
    return "; ".join(parts)


def _load_list(path: Path, list_key: str, model: type[E]) -> tuple[list[E], list[str]]:
    data, node = _load_yaml(path)
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
            problems.append(f"{_where(path, line)}: {_describe(error)}")
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


def deck_path(content_dir: Path, locale: str, deck: str) -> Path:
    """Return where a deck lives for a locale."""
    return content_dir / "locales" / locale / "decks" / f"{deck}.yaml"


def load_deck(content_dir: Path, locale: str, deck: str) -> list[Prompt]:
    """Load a prompt deck, refusing a broken one."""
    prompts, problems = _load_list(deck_path(content_dir, locale, deck), "items", Prompt)
    if problems:
        raise ContentError(problems[0])
    return prompts


def load_videos(content_dir: Path) -> list[Video]:
    """Load the video catalogue, refusing a broken one."""
    videos, problems = _load_list(content_dir / "videos.yaml", "videos", Video)
    if problems:
        raise ContentError(problems[0])
    return videos


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
        detail = _describe(error) if isinstance(error, ValidationError) else str(error)
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


def load_samples(content_dir: Path) -> dict[str, dict[str, Any]]:
    """Load the sample values each template is rendered with by the check."""
    data, _ = _load_yaml(content_dir / "samples.yaml")
    return data or {}


def _check_templates(content_dir: Path, texts: Texts) -> list[str]:
    problems: list[str] = []
    try:
        samples = load_samples(content_dir)
    except ContentError as error:
        problems.append(str(error))
        samples = {}
    default_keys = set(texts.keys(texts.default_locale))
    for locale in texts.locales():
        folder = content_dir / "locales" / locale / "templates"
        for path in sorted(folder.rglob(f"*{TEMPLATE_SUFFIX}")):
            key = key_of(path.relative_to(folder).as_posix())
            if locale != texts.default_locale and key not in default_keys:
                problems.append(f"{path}: no template with this key in {texts.default_locale!r}")
            for values in _sample_sets(samples.get(key)):
                try:
                    texts.render(key, locale=locale, **values)
                except TemplateSyntaxError as error:
                    problems.append(f"{path}:{error.lineno}: {error.message}")
                    break
                except TemplateError as error:
                    problems.append(
                        f"{path}: does not render with the samples for {key!r} in "
                        f"content/samples.yaml: {error}"
                    )
                    break
    unknown = sorted(set(samples) - default_keys)
    problems.extend(f"content/samples.yaml: samples for unknown key {key!r}" for key in unknown)
    return problems


def _sample_sets(raw: Any) -> list[dict[str, Any]]:
    """Samples are one mapping, or a list of mappings to render a template several ways."""
    if raw is None:
        return [{}]
    return [dict(item) for item in raw] if isinstance(raw, list) else [dict(raw)]


def _check_decks(content_dir: Path, locale: str) -> list[str]:
    problems: list[str] = []
    for deck, minimum in DECK_MINIMUMS.items():
        path = deck_path(content_dir, locale, deck)
        if not path.exists():
            problems.append(f"{path}: missing deck")
            continue
        prompts, found = _load_list(path, "items", Prompt)
        problems.extend(found)
        if len(prompts) < minimum:
            problems.append(f"{path}: {len(prompts)} valid prompts; the deck needs {minimum}")
        topics = Counter[str](p.topic for p in prompts)
        missing = [topic for topic in TOPICS if topics[topic] == 0]
        if missing:
            problems.append(f"{path}: no prompts for topic(s) {missing}")
        depths = Counter[str](p.depth for p in prompts)
        if any(depths[depth] == 0 for depth in DEPTHS):
            problems.append(f"{path}: every depth (light, medium, deep) needs prompts")
    return problems


def _check_articles(content_dir: Path, locale: str) -> list[str]:
    folder = content_dir / "locales" / locale / "articles"
    problems: list[str] = []
    ids: dict[str, Path] = {}
    paths = sorted(folder.glob("*.md"))
    for path in paths:
        try:
            article = parse_article(path)
        except ContentError as error:
            problems.append(str(error))
            continue
        if article.meta.id in ids:
            problems.append(
                f"{path}: duplicate article id {article.meta.id!r} (also {ids[article.meta.id]})"
            )
        ids[article.meta.id] = path
    if len(paths) < MIN_ARTICLES:
        problems.append(f"{folder}: {len(paths)} articles; the library needs {MIN_ARTICLES}")
    return problems


def _check_videos(content_dir: Path) -> list[str]:
    path = content_dir / "videos.yaml"
    if not path.exists():
        return [f"{path}: missing video catalogue"]
    videos, problems = _load_list(path, "videos", Video)
    paths = Counter(video.path for video in videos)
    problems.extend(f"{path}: the path {p!r} is used {n} times" for p, n in paths.items() if n > 1)
    if len(videos) < MIN_VIDEOS:
        problems.append(f"{path}: {len(videos)} valid videos; the catalogue needs {MIN_VIDEOS}")
    return problems


def check_content(content_dir: Path, *, default_locale: str = "en") -> list[str]:
    """Validate everything under content/; return one line per problem (empty when valid)."""
    if not (content_dir / "locales" / default_locale / "templates").is_dir():
        return [f"{content_dir}: no templates for the default locale {default_locale!r}"]
    # Imported here: the check-in content module builds on this one.
    from bot.content.checkins import check_checkins

    texts = Texts(content_dir, default_locale=default_locale)
    checks: list[Callable[[], list[str]]] = [
        lambda: _check_templates(content_dir, texts),
        lambda: _check_decks(content_dir, default_locale),
        lambda: _check_articles(content_dir, default_locale),
        lambda: _check_videos(content_dir),
        lambda: check_checkins(content_dir, default_locale),
        lambda: check_safety_content(content_dir, texts.locales(), default_locale),
    ]
    problems: list[str] = []
    for check in checks:
        try:
            problems += check()
        except ContentError as error:
            problems.append(str(error))
    return problems


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
        from bot.content.checkins import checkins_path, load_checkins

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
