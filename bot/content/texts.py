"""Jinja2 over `content/`: every word the bot says, addressed by a stable key."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    TemplateNotFound,
)
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.content import locales as formats

TEMPLATE_SUFFIX = ".j2"
# Button labels and command descriptions are plain text for Telegram, not HTML.
PLAIN_AREAS = ("buttons", "commands")


def template_name(key: str) -> str:
    """Map a key such as `pairing.invite_created` to its file inside a locale."""
    return key.replace(".", "/") + TEMPLATE_SUFFIX


def key_of(name: str) -> str:
    """Map a template file name inside a locale back to its key."""
    return name.removesuffix(TEMPLATE_SUFFIX).replace("/", ".")


def _autoescape(name: str | None) -> bool:
    return name is None or not name.startswith(tuple(f"{area}/" for area in PLAIN_AREAS))


class Texts:
    """Render message templates by key and locale, falling back to the default locale."""

    def __init__(self, content_dir: Path, *, default_locale: str = "en") -> None:
        self.content_dir = content_dir
        self.default_locale = default_locale
        self._environments: dict[str, Environment] = {}
        self._locales: list[str] | None = None
        # Templates never reload (auto_reload is off), so each is looked up once per key and
        # locale: Jinja's own look-up cost a nudge about as much as rendering it.
        self._loaded: dict[tuple[str | None, str], Template] = {}

    def locales(self) -> list[str]:
        """List the locales that have a folder under `content/locales` (looked at once)."""
        if self._locales is None:
            self._locales = formats.discover(self.content_dir)
        return list(self._locales)

    def pick(self, language_code: str | None) -> str:
        """Return the supported locale for Telegram's `language_code`, else the default."""
        return formats.pick(language_code, self.locales(), self.default_locale)

    def environment(self, locale: str | None = None) -> Environment:
        """Return the Jinja2 environment for a locale (created once, found once per locale)."""
        requested = locale or self.default_locale
        env = self._environments.get(requested)
        if env is None:
            # A locale without a folder of its own uses the default locale's environment.
            resolved = self.pick(requested)
            env = self._environments.get(resolved) or self._build(resolved)
            self._environments[resolved] = self._environments[requested] = env
        return env

    def _build(self, locale: str) -> Environment:
        folders = [self._templates(locale)]
        if locale != self.default_locale:
            folders.append(self._templates(self.default_locale))
        env = Environment(
            loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
            autoescape=_autoescape,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        # Samples in content/samples.yaml give times as "HH:MM" text; the bot passes `time`s.
        env.filters["hhmm"] = lambda value: formats.format_clock(value, locale)
        env.filters["date"] = lambda value, pattern="d MMMM y": formats.format_when(
            value, pattern, locale
        )
        env.filters["number"] = lambda value: formats.format_number(value, locale)
        env.globals["plural"] = lambda count, **forms: formats.plural(count, locale, **forms)
        env.globals["locale"] = locale
        return env

    def _templates(self, locale: str) -> Path:
        return self.content_dir / "locales" / locale / "templates"

    def render(self, key: str, *, locale: str | None = None, **values: Any) -> str:
        """Render the template for `key`; unknown keys and missing values raise."""
        template = self._loaded.get((locale, key))
        if template is None:
            try:
                template = self.environment(locale).get_template(template_name(key))
            except TemplateNotFound:
                raise KeyError(f"no template for key {key!r}") from None
            self._loaded[(locale, key)] = template
        return template.render(**values).strip()

    def keys(self, locale: str | None = None) -> list[str]:
        """List every template key available in a locale."""
        names = self.environment(locale).list_templates(extensions=[TEMPLATE_SUFFIX[1:]])
        return sorted(key_of(name) for name in names)


_INLINE_TAGS = {
    "strong_open": "<b>",
    "strong_close": "</b>",
    "em_open": "<i>",
    "em_close": "</i>",
    "s_open": "<s>",
    "s_close": "</s>",
}


def markdown_to_telegram(text: str) -> str:
    """Render article Markdown as the small HTML subset Telegram messages support."""
    parser = MarkdownIt("commonmark").enable("strikethrough")
    blocks: list[str] = []
    bullet = ""
    for token in parser.parse(text):
        if token.type == "list_item_open":
            bullet = "• " if token.info == "" and token.markup in "-*+" else f"{token.info}. "
        elif token.type == "inline":
            blocks.append(bullet + _inline(token.children or []))
            bullet = ""
        elif token.type in ("bullet_list_close", "ordered_list_close", "paragraph_close"):
            if not token.hidden:
                blocks.append("")
        elif token.type in ("fence", "code_block"):
            blocks.append(f"<pre>{html.escape(token.content.rstrip())}</pre>")
            blocks.append("")
    return "\n".join(blocks).strip()


def _inline(children: list[Token]) -> str:
    out = []
    for child in children:
        if child.type == "text":
            out.append(html.escape(child.content, quote=False))
        elif child.type == "code_inline":
            out.append(f"<code>{html.escape(child.content, quote=False)}</code>")
        elif child.type in ("softbreak", "hardbreak"):
            out.append("\n" if child.type == "hardbreak" else " ")
        elif child.type in _INLINE_TAGS:
            out.append(_INLINE_TAGS[child.type])
        # Links and images are left out on purpose: reading stays inside Telegram.
    return "".join(out)
