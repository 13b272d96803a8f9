"""How far each locale follows the default one: what falls back, and what is wrong.

A locale may be partial: any template, prompt, article, video text, check-in text or
counsellor topic it lacks is shown in the default locale, item by item. Mistakes are not
partial: a translation whose placeholders differ from the default's, whose counted phrases
lack a plural form the language needs, or that names an id the default locale does not have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateSyntaxError, meta, nodes

from bot.content.checkins import QUESTION_TEXT, TOPIC_TEXT, checkins_path, load_checkins
from bot.content.closeness import (
    AREA_TEXT,
    EXPECTATIONS_DECK,
    STATEMENT_TEXT,
    VULNERABILITY_DECK,
    ClosenessDecks,
)
from bot.content.entries import (
    VIDEO_TEXT,
    ContentError,
    load_videos,
    locale_videos_path,
    translated,
    translations_of,
)
from bot.content.library import (
    DECK_MINIMUMS,
    PROMPT_TEXT,
    deck_path,
    load_articles,
    load_deck,
    parse_article,
)
from bot.content.locales import PLURAL_CATEGORIES, plural_categories
from bot.content.safety import (
    TOPICS,
    SafetyContentError,
    check_crisis_wording,
    load_default_topics,
)
from bot.content.texts import TEMPLATE_SUFFIX, Texts, key_of, template_name
from bot.content.together import IDEA_TEXT, load_together, together_path

# Names every template may use without being given them.
TEMPLATE_GLOBALS = frozenset({"plural", "locale"})


@dataclass
class Parity:
    """One locale's report: per kind of content, how many items it has and which fall back."""

    locale: str
    # kind -> (items in the default locale, ids or keys that fall back to it)
    coverage: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    plural_forms: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Tell whether nothing in this locale falls back to the default one."""
        return all(not missing for _, missing in self.coverage.values())

    def lines(self) -> list[str]:
        """Describe the locale in a few lines, naming up to ten fallbacks per kind."""
        out = [f"{self.locale}: plural forms {', '.join(self.plural_forms)}"]
        for kind, (total, missing) in self.coverage.items():
            line = f"{self.locale}: {kind} {total - len(missing)}/{total}"
            if missing:
                shown = ", ".join(missing[:10]) + (", …" if len(missing) > 10 else "")
                line += f"; {len(missing)} fall back to the default locale: {shown}"
            out.append(line)
        return out


def variables_of(env: Environment, source: str) -> set[str]:
    """Return the values a template expects to be given."""
    return set(meta.find_undeclared_variables(env.parse(source))) - TEMPLATE_GLOBALS


def plural_calls(env: Environment, source: str) -> list[tuple[int, set[str]]]:
    """Return the line and the forms given of each `plural(...)` call in a template."""
    calls = []
    for call in env.parse(source).find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "plural":
            calls.append((call.lineno, {kw.key for kw in call.kwargs}))
    return calls


def check_plurals(env: Environment, source: str, path: Path, locale: str) -> list[str]:
    """Name each counted phrase that lacks a form this language needs, or has a wrong one."""
    needed = plural_categories(locale)
    problems = []
    for line, forms in plural_calls(env, source):
        unknown = sorted(forms - set(PLURAL_CATEGORIES))
        missing = sorted(needed - forms)
        if unknown:
            problems.append(f"{path}:{line}: unknown plural form(s) {unknown}")
        if missing:
            problems.append(
                f"{path}:{line}: plural() needs the form(s) {missing} in {locale!r} "
                f"(it uses {sorted(needed)})"
            )
    return problems


def _templates(content_dir: Path, texts: Texts, locale: str, report: Parity) -> None:
    default = texts.default_locale
    root = content_dir / "locales"
    default_folder, folder = root / default / "templates", root / locale / "templates"
    default_keys = texts.keys(default)
    env = texts.environment(default)
    own: set[str] = set()
    for path in sorted(folder.rglob(f"*{TEMPLATE_SUFFIX}")) if folder.is_dir() else []:
        key = key_of(path.relative_to(folder).as_posix())
        own.add(key)
        english = default_folder / template_name(key)
        if not english.exists():
            continue  # the template check names templates the default locale lacks
        try:
            source = path.read_text(encoding="utf-8")
            theirs = variables_of(env, source)
            ours = variables_of(env, english.read_text(encoding="utf-8"))
        except TemplateSyntaxError:
            continue  # the template check names the line
        if theirs != ours:
            extra, lacking = sorted(theirs - ours), sorted(ours - theirs)
            detail = "; ".join(
                part
                for part in (
                    f"uses {extra} that {default!r} does not" if extra else "",
                    f"leaves out {lacking}" if lacking else "",
                )
                if part
            )
            report.problems.append(f"{path}: placeholders differ from {default!r}: {detail}")
        report.problems += check_plurals(env, source, path, locale)
    report.coverage["templates"] = (
        len(default_keys),
        [key for key in default_keys if key not in own],
    )


def _translated_list(
    report: Parity,
    kind: str,
    path: Path,
    list_key: str,
    base: Iterable[Any],
    fields: tuple[str, ...],
) -> None:
    """Compare a locale's list of translations by id with the default locale's entries."""
    items = list(base)
    try:
        own = translations_of(path, list_key)
    except ContentError as error:
        report.problems.append(str(error))
        own = {}
    ids = [item.id for item in items]
    unknown = sorted(set(own) - set(ids))
    if unknown:
        report.problems.append(f"{path}: id(s) not in the default locale: {unknown}")
    for item in items:
        raw = own.get(item.id)
        if raw is not None and translated(item, raw, fields) is None:
            report.problems.append(
                f"{path}: the translation of {item.id!r} is not valid (check the length and "
                f"the fields {list(fields)})"
            )
    report.coverage[kind] = (len(items), [i for i in ids if i not in own])


def _articles(content_dir: Path, locale: str, default: str, report: Parity) -> None:
    base = [article.meta.id for article in load_articles(content_dir, default)]
    folder = content_dir / "locales" / locale / "articles"
    own: set[str] = set()
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        try:
            article = parse_article(path)
        except ContentError as error:
            report.problems.append(str(error))
            continue
        if article.meta.id not in base:
            report.problems.append(f"{path}: {article.meta.id!r} is no article id in {default!r}")
        own.add(article.meta.id)
    report.coverage["articles"] = (len(base), [a for a in base if a not in own])


def locale_parity(content_dir: Path, texts: Texts, locale: str) -> Parity:
    """Compare one locale with the default: what falls back, and what is wrong."""
    default = texts.default_locale
    report = Parity(locale, plural_forms=tuple(sorted(plural_categories(locale))))
    _templates(content_dir, texts, locale, report)
    if locale == default:
        # The default locale falls back to nothing; only its counted phrases are checked.
        return report
    root = content_dir / "locales" / locale
    try:
        for deck in DECK_MINIMUMS:
            _translated_list(
                report,
                f"deck {deck}",
                deck_path(content_dir, locale, deck),
                "items",
                load_deck(content_dir, default, deck),
                PROMPT_TEXT,
            )
        _articles(content_dir, locale, default, report)
        _translated_list(
            report,
            "deck together",
            together_path(content_dir, locale),
            "items",
            load_together(content_dir, default).ideas,
            IDEA_TEXT,
        )
        expectations = deck_path(content_dir, locale, EXPECTATIONS_DECK)
        decks = ClosenessDecks(content_dir, default_locale=default)
        _translated_list(
            report,
            "deck expectations (areas)",
            expectations,
            "areas",
            decks.expectations().areas,
            AREA_TEXT,
        )
        _translated_list(
            report,
            "deck expectations",
            expectations,
            "items",
            decks.expectations().statements,
            STATEMENT_TEXT,
        )
        _translated_list(
            report,
            "deck vulnerability",
            deck_path(content_dir, locale, VULNERABILITY_DECK),
            "items",
            decks.vulnerability(),
            PROMPT_TEXT,
        )
        _translated_list(
            report,
            "video texts",
            locale_videos_path(content_dir, locale),
            "videos",
            load_videos(content_dir),
            VIDEO_TEXT,
        )
        checkins = load_checkins(content_dir, default)
        path = checkins_path(content_dir, locale)
        _translated_list(
            report, "check-in questions", path, "questions", checkins.questions, QUESTION_TEXT
        )
        _translated_list(report, "check-in topics", path, "topics", checkins.topics, TOPIC_TEXT)
        _translated_list(
            report,
            "counsellor topics",
            root / TOPICS,
            "topics",
            load_default_topics(content_dir, default).topics,
            ("label",),
        )
        total, missing, problems = check_crisis_wording(content_dir, locale)
        report.coverage["crisis-line names and notes"] = (total, missing)
        report.problems += problems
    except (ContentError, SafetyContentError):
        # The default locale's own checks name this problem; nothing to compare against.
        pass
    return report


def parity(content_dir: Path, *, default_locale: str = "en") -> list[Parity]:
    """Report every locale, the default first."""
    texts = Texts(content_dir, default_locale=default_locale)
    ordered = [default_locale, *[lc for lc in texts.locales() if lc != default_locale]]
    return [locale_parity(content_dir, texts, locale) for locale in ordered]
