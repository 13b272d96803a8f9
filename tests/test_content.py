"""The content check passes on the real library and points at broken files and lines."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.content.check import check_content
from bot.content.entries import load_videos
from bot.content.library import DECK_MINIMUMS, TOPICS, load_articles, load_deck
from bot.content.texts import Texts

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def test_the_real_content_is_valid() -> None:
    assert check_content(CONTENT) == []


def test_decks_meet_their_counts_over_every_topic() -> None:
    for deck, minimum in DECK_MINIMUMS.items():
        prompts = load_deck(CONTENT, "en", deck)
        assert len(prompts) >= minimum
        assert {p.topic for p in prompts} == set(TOPICS)
        assert {p.depth for p in prompts} == {"light", "medium", "deep"}
    assert len(load_articles(CONTENT, "en")) >= 6
    assert len(load_videos(CONTENT)) >= 24


def test_every_template_renders_and_escapes_values() -> None:
    texts = Texts(CONTENT)
    assert len(texts.keys()) > 50
    rendered = texts.render("pairing.paired", partner="<Sam & co>", ready=True)
    assert "&lt;Sam &amp; co&gt;" in rendered
    # Button labels are plain text for Telegram, so they are not escaped.
    assert texts.render("buttons.time", time="<7>") == "<7>"


def test_missing_values_and_keys_fail_loudly() -> None:
    texts = Texts(CONTENT)
    with pytest.raises(KeyError):
        texts.render("no.such.key")
    with pytest.raises(Exception, match="partner"):
        texts.render("pairing.paired")


def test_a_new_locale_falls_back_to_english(copy: Path) -> None:
    french = copy / "locales" / "fr" / "templates" / "pairing"
    french.mkdir(parents=True)
    (french / "paired.j2").write_text(
        "Vous êtes maintenant en couple, {{ partner }} !"
        "{% if not ready %} Encore un instant.{% endif %}\n"
    )
    texts = Texts(copy)
    assert (
        texts.render("pairing.paired", locale="fr", partner="Sam", ready=True)
        == "Vous êtes maintenant en couple, Sam !"
    )
    assert "Your partner has ended" in texts.render("pairing.unpaired_notice", locale="fr")
    assert check_content(copy) == []


def _edit(path: Path, change: Callable[[str], str]) -> None:
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def test_broken_template_syntax_names_file_and_line(copy: Path) -> None:
    _edit(copy / "locales/en/templates/pairing/paired.j2", lambda s: s + "\n{% if %}\n")
    problems = check_content(copy)
    assert any("pairing/paired.j2:" in p for p in problems), problems


def test_template_needing_values_without_samples_is_reported(copy: Path) -> None:
    _edit(copy / "locales/en/templates/help/privacy.j2", lambda s: s + "{{ mystery }}")
    problems = check_content(copy)
    assert any("help/privacy.j2" in p and "mystery" in p for p in problems), problems


def test_duplicate_ids_and_bad_fields_name_the_line(copy: Path) -> None:
    deck = copy / "locales/en/decks/curiosity.yaml"
    lines = deck.read_text(encoding="utf-8").splitlines()
    second = next(i for i, line in enumerate(lines) if "id: cur-0002" in line)
    lines[second] = lines[second].replace("cur-0002", "cur-0001")
    third = next(i for i, line in enumerate(lines) if "id: cur-0003" in line)
    topic = next(i for i in range(third, len(lines)) if "topic:" in lines[i])
    lines[topic] = "    topic: astrology"
    deck.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = check_content(copy)
    assert any(f"curiosity.yaml:{second + 1}: duplicate id 'cur-0001'" in p for p in problems), (
        problems
    )
    assert any(f"curiosity.yaml:{third + 1}: topic" in p for p in problems), problems


def test_short_deck_and_broken_yaml_are_reported(copy: Path) -> None:
    deck = copy / "locales/en/decks/affirmations.yaml"
    _edit(deck, lambda s: s[: len(s) // 3].rsplit("\n  - id:", 1)[0] + "\n")
    problems = check_content(copy)
    assert any("affirmations.yaml" in p and "the deck needs 120" in p for p in problems), problems
    (copy / "videos.yaml").write_text("videos: [\n  - broken: {\n", encoding="utf-8")
    problems = check_content(copy)
    assert any("videos.yaml:" in p and "not valid YAML" in p for p in problems), problems


def test_bad_video_link_and_article_shape(copy: Path) -> None:
    _edit(copy / "videos.yaml", lambda s: s.replace("path: ", "path: Bad Path/", 1))
    article = sorted((copy / "locales/en/articles").glob("*.md"))[0]
    _edit(article, lambda s: s.replace("\n## ", "\nIntro text\n## ", 1))
    problems = check_content(copy)
    assert any("videos.yaml:" in p and "path" in p for p in problems), problems
    assert any(article.name in p and "before the first '## ' heading" in p for p in problems), (
        problems
    )
