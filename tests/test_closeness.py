"""The closeness exercises' pure parts: comparing maps, leaning questions, and the decks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.closeness import leaning, mapping
from bot.content.check import check_content
from bot.content.closeness import ClosenessDecks, check_closeness
from bot.content.library import Prompt, load_deck
from bot.nudges import rotation

CONTENT = Path(__file__).resolve().parent.parent / "content"
AREAS = ("a", "b", "c", "d")
CURIOSITY = load_deck(CONTENT, "en", "curiosity")


@st.composite
def maps(draw: st.DrawFn) -> list[mapping.Point]:
    """Both partners' answers to up to sixteen statements over a few areas."""
    count = draw(st.integers(0, 16))
    scores = st.integers(min(mapping.SCALE), max(mapping.SCALE))
    return [
        mapping.Point(f"s{i}", draw(st.sampled_from(AREAS)), draw(scores), draw(scores))
        for i in range(count)
    ]


def swapped(points: list[mapping.Point]) -> list[mapping.Point]:
    return [mapping.Point(p.statement_id, p.area_id, p.theirs, p.mine) for p in points]


@given(maps())
def test_a_map_names_at_most_three_real_differences_widest_first(
    points: list[mapping.Point],
) -> None:
    found = mapping.compare(points)
    gaps = [point.gap for point in found.differences]
    assert len(gaps) <= mapping.MAX_DIFFERENCES
    assert all(gap >= mapping.DIFFER_GAP for gap in gaps) and gaps == sorted(gaps, reverse=True)
    wide = [point for point in points if point.gap >= mapping.DIFFER_GAP]
    assert len(found.differences) == min(len(wide), mapping.MAX_DIFFERENCES)
    for area in found.close_areas:
        assert all(p.gap <= mapping.CLOSE_GAP for p in points if p.area_id == area)
    assert not set(found.close_areas) & {p.area_id for p in found.differences}


@given(maps())
def test_both_partners_see_the_same_places(points: list[mapping.Point]) -> None:
    mine, theirs = mapping.compare(points), mapping.compare(swapped(points))
    assert mine.close_areas == theirs.close_areas
    assert [p.statement_id for p in mine.differences] == [
        p.statement_id for p in theirs.differences
    ]
    assert mapping.focus_areas(points) == mapping.focus_areas(swapped(points))


@given(maps(), maps())
def test_what_moved_is_only_real_change(
    before: list[mapping.Point], now: list[mapping.Point]
) -> None:
    moved = mapping.moved(before, now)
    assert all(m.now < m.before for m in moved.closer)
    assert all(m.now > m.before for m in moved.apart)
    assert len(moved.closer) <= 3 and len(moved.apart) <= 3
    assert mapping.moved(now, now) == mapping.Moved((), ())


def test_points_pair_only_statements_both_answered() -> None:
    found = mapping.points([("x", "a"), ("y", "a"), ("z", "b")], {"x": 1, "y": 5}, {"y": 1, "z": 2})
    assert found == [mapping.Point("y", "a", 5, 1)]


@given(
    st.lists(st.sampled_from([p.id for p in CURIOSITY]), max_size=80),
    st.frozensets(st.sampled_from(["feelings", "values", "fun", "dreams"]), max_size=2),
    st.integers(1, 10_000),
)
def test_leaning_keeps_the_rotations_promises(
    history: list[str], topics: frozenset[str], couple: int
) -> None:
    salt = f"couple-{couple}"
    usual = rotation.choose(CURIOSITY, history, salt=salt)
    picked = leaning.lean(CURIOSITY, history, salt=salt, topics=topics)
    used = set(rotation.current_cycle(history, frozenset(p.id for p in CURIOSITY)))
    assert picked.id not in used and picked.depth == usual.depth
    if not topics or len(history) % leaning.LEAN_EVERY:
        assert picked == usual


def test_leaning_prefers_the_maps_topics_every_other_day() -> None:
    deck = [
        Prompt(id="p-fun", topic="fun", depth="light", text="A question about fun"),
        Prompt(id="p-values", topic="values", depth="light", text="A question of values"),
    ]
    usual = rotation.choose(deck, [], salt="s")
    other = "values" if usual.topic == "fun" else "fun"
    assert leaning.lean(deck, [], salt="s", topics={other}).topic == other
    assert leaning.lean(deck, ["x"], salt="s", topics={other}) == rotation.choose(
        deck, ["x"], salt="s"
    )


def test_the_real_decks_are_valid_and_big_enough() -> None:
    assert check_closeness(CONTENT, "en") == []
    decks = ClosenessDecks(CONTENT)
    assert 10 <= len(decks.expectations().statements) <= 14
    assert {s.area for s in decks.expectations().statements} == {
        a.id for a in decks.expectations().areas
    }
    assert len(decks.vulnerability()) >= 20


def test_the_german_decks_keep_the_english_ids_areas_and_topics() -> None:
    assert check_closeness(CONTENT, "de") == []
    decks = ClosenessDecks(CONTENT)
    german, english = decks.expectations("de"), decks.expectations()
    assert [(a.id, a.focus, a.topic) for a in german.areas] == [
        (a.id, a.focus, a.topic) for a in english.areas
    ]
    assert [(s.id, s.area) for s in german.statements] == [
        (s.id, s.area) for s in english.statements
    ]
    assert german.statements[0].text != english.statements[0].text
    shared = [(p.id, p.topic, p.depth) for p in decks.vulnerability("de")]
    assert shared == [(p.id, p.topic, p.depth) for p in decks.vulnerability()]
    assert decks.vulnerability("de")[0].text != decks.vulnerability()[0].text


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def test_broken_decks_are_named_by_the_check(copy: Path) -> None:
    expectations = copy / "locales/en/decks/expectations.yaml"
    text = expectations.read_text(encoding="utf-8")
    expectations.write_text(
        text.replace("area: plans", "area: dreams").replace("focus: conflict", "focus: chores"),
        encoding="utf-8",
    )
    vulnerability = copy / "locales/en/decks/vulnerability.yaml"
    lines = vulnerability.read_text(encoding="utf-8").splitlines()
    vulnerability.write_text("\n".join(lines[:60]) + "\n", encoding="utf-8")
    problems = check_content(copy)
    assert any("unknown focus area 'chores'" in p for p in problems)
    assert any("names the unknown area 'dreams'" in p for p in problems)
    assert any("no statements for area(s) ['plans']" in p for p in problems)
    assert any("valid prompts; the deck needs 20" in p for p in problems)


def test_a_partial_translation_falls_back_item_by_item(copy: Path) -> None:
    english = ClosenessDecks(copy)
    statement = english.expectations().statements[0]
    prompt = english.vulnerability()[3]
    folder = copy / "locales" / "fr" / "decks"
    folder.mkdir(parents=True)
    (folder / "expectations.yaml").write_text(
        f'items:\n  - id: {statement.id}\n    text: "Du temps à deux compte beaucoup pour moi."\n'
    )
    asked = "Qu'est-ce que tu gardes d'habitude pour toi ?"
    (folder / "vulnerability.yaml").write_text(
        f'items:\n  - id: {prompt.id}\n    text: "{asked}"\n'
    )
    french = ClosenessDecks(copy)
    mapped = french.expectations("fr")
    assert mapped.statements[0].text == "Du temps à deux compte beaucoup pour moi."
    # The question, area and order stay the default's where the translation says nothing.
    assert mapped.statements[0].question == statement.question
    assert mapped.statements[0].area == statement.area
    assert mapped.statements[1:] == english.expectations().statements[1:]
    assert mapped.areas == english.expectations().areas
    prompts = french.vulnerability("fr")
    assert prompts[3].text == asked
    assert (prompts[3].id, prompts[3].topic, prompts[3].depth) == (
        prompt.id,
        prompt.topic,
        prompt.depth,
    )
    assert prompts[:3] == english.vulnerability()[:3]
