"""The whole-content check: every template, deck, article, video, check-in and safety file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError

from bot.content.checkins import check_checkins
from bot.content.closeness import check_closeness
from bot.content.entries import ContentError, Video, load_list, load_yaml
from bot.content.library import (
    DECK_MINIMUMS,
    DEPTHS,
    MIN_ARTICLES,
    MIN_VIDEOS,
    TOPICS,
    Prompt,
    deck_path,
    parse_article,
)
from bot.content.parity import parity
from bot.content.safety import check_safety_content
from bot.content.texts import TEMPLATE_SUFFIX, Texts, key_of
from bot.content.together import check_together


def load_samples(content_dir: Path) -> dict[str, dict[str, Any]]:
    """Load the sample values each template is rendered with by the check."""
    data, _ = load_yaml(content_dir / "samples.yaml")
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
                except (TemplateError, TypeError, ValueError, ArithmeticError) as error:
                    # A filter or plural() given the wrong kind of value fails outside Jinja.
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
        prompts, found = load_list(path, "items", Prompt)
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
    videos, problems = load_list(path, "videos", Video)
    paths = Counter(video.path for video in videos)
    problems.extend(f"{path}: the path {p!r} is used {n} times" for p, n in paths.items() if n > 1)
    if len(videos) < MIN_VIDEOS:
        problems.append(f"{path}: {len(videos)} valid videos; the catalogue needs {MIN_VIDEOS}")
    return problems


def check_content(content_dir: Path, *, default_locale: str = "en") -> list[str]:
    """Validate everything under content/; return one line per problem (empty when valid)."""
    if not (content_dir / "locales" / default_locale / "templates").is_dir():
        return [f"{content_dir}: no templates for the default locale {default_locale!r}"]
    texts = Texts(content_dir, default_locale=default_locale)
    checks: list[Callable[[], list[str]]] = [
        lambda: _check_templates(content_dir, texts),
        lambda: _check_decks(content_dir, default_locale),
        lambda: _check_articles(content_dir, default_locale),
        lambda: _check_videos(content_dir),
        lambda: check_checkins(content_dir, default_locale),
        lambda: check_together(content_dir, default_locale),
        lambda: check_closeness(content_dir, default_locale),
        lambda: check_safety_content(content_dir, texts.locales(), default_locale),
        lambda: [
            problem
            for report in parity(content_dir, default_locale=default_locale)
            for problem in report.problems
        ],
    ]
    problems: list[str] = []
    for check in checks:
        try:
            problems += check()
        except ContentError as error:
            problems.append(str(error))
    return problems
