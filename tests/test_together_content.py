"""The deck of ideas to do together is counted and checked, naming the file and line."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content.check import check_content
from bot.content.entries import ContentError
from bot.content.together import (
    CATEGORIES,
    IDEA_MAX_LENGTH,
    MIN_IDEAS,
    TogetherDeck,
    check_together,
    load_together,
    together_path,
)

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def _items(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["items"])


def _write(path: Path, items: list[dict[str, Any]]) -> None:
    path.write_text(yaml.safe_dump({"deck": "together", "items": items}), encoding="utf-8")


def test_the_real_deck_has_enough_ideas_in_every_category() -> None:
    ideas = load_together(CONTENT, "en").ideas
    assert len(ideas) >= MIN_IDEAS
    counts = Counter(name for idea in ideas for name in idea.categories)
    assert all(counts[name] >= 6 for name in CATEGORIES)
    assert len({idea.id for idea in ideas}) == len(ideas)
    assert all(len(idea.text) <= IDEA_MAX_LENGTH for idea in ideas)
    assert check_together(CONTENT, "en") == []


def test_duplicate_ids_unknown_names_and_long_texts_name_the_line(copy: Path) -> None:
    path = together_path(copy, "en")
    items = _items(path)
    items[1]["id"] = items[0]["id"]
    items[2]["categories"] = ["at_home", "skydiving"]
    items[3]["tags"] = ["romance"]
    items[4]["text"] = "x" * (IDEA_MAX_LENGTH + 1)
    items[5]["text"] = items[6]["text"]
    _write(path, items)
    problems = check_content(copy)
    lines = path.read_text(encoding="utf-8").splitlines()
    second = [i + 1 for i, line in enumerate(lines) if line.startswith("- ")][1]
    assert any(f"together.yaml:{second}: duplicate id" in p for p in problems), problems
    assert any("unknown categories ['skydiving']" in p for p in problems), problems
    assert any("unknown focus area(s) ['romance']" in p for p in problems), problems
    assert any("at most 160 characters" in p for p in problems), problems
    assert any("is there 2 times" in p for p in problems), problems
    with pytest.raises(ContentError):
        load_together(copy, "en")


def test_a_thin_deck_and_a_missing_one_are_reported(copy: Path) -> None:
    path = together_path(copy, "en")
    few = [item for item in _items(path) if "long_distance" not in item["categories"]][:20]
    _write(path, few)
    problems = check_together(copy, "en")
    assert any(f"20 valid ideas; the deck needs {MIN_IDEAS}" in p for p in problems), problems
    assert any("'long_distance'" in p for p in problems), problems
    path.unlink()
    assert any("missing deck of ideas" in p for p in check_content(copy))


def test_a_locale_without_its_own_deck_falls_back_to_english(copy: Path) -> None:
    (copy / "locales" / "fr" / "templates").mkdir(parents=True)
    deck = TogetherDeck(copy)
    assert deck.get("fr") == deck.get("en")
    assert deck.get(None).ideas[0].id == "tog-0001"


def test_a_partial_translation_falls_back_idea_by_idea(copy: Path) -> None:
    english = load_together(copy, "en").ideas
    path = together_path(copy, "fr")
    path.parent.mkdir(parents=True)
    translation = {"id": english[1].id, "text": "Une promenade sans but, juste tous les deux."}
    path.write_text(yaml.safe_dump({"items": [translation]}, allow_unicode=True))
    french = TogetherDeck(copy).get("fr").ideas
    assert [i.id for i in french] == [i.id for i in english]
    assert french[1].text == translation["text"]
    assert (french[1].categories, french[1].tags) == (english[1].categories, english[1].tags)
    assert french[0] == english[0] and french[2:] == english[2:]


def test_the_german_deck_offers_the_same_ideas_as_the_english_one() -> None:
    english, german = load_together(CONTENT, "en").ideas, load_together(CONTENT, "de").ideas
    assert [(i.id, i.categories, i.tags) for i in german] == [
        (i.id, i.categories, i.tags) for i in english
    ]
    assert all(g.text != e.text for g, e in zip(german, english, strict=True))
