"""The rotation never repeats before a deck is used up, and deepens over time."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nudges.rotation import (
    DEEP_FROM,
    MEDIUM_FROM,
    choose,
    current_cycle,
    preferred_depths,
)


@dataclass(frozen=True)
class P:
    id: str
    topic: str
    depth: str


def deck_of(spec: list[tuple[str, str]]) -> list[P]:
    return [P(f"p{i}", topic, depth) for i, (topic, depth) in enumerate(spec)]


decks = st.lists(
    st.tuples(
        st.sampled_from(["fun", "dreams", "family"]), st.sampled_from(["light", "medium", "deep"])
    ),
    min_size=1,
    max_size=40,
).map(deck_of)


@given(deck=decks, salt=st.text(max_size=8), rounds=st.integers(1, 3))
@settings(max_examples=150, deadline=None)
def test_no_repeat_until_the_deck_is_used_up(deck: list[P], salt: str, rounds: int) -> None:
    history: list[str] = []
    for _ in range(rounds):
        cycle = []
        for _ in range(len(deck)):
            picked = choose(deck, history, salt=salt).id
            history.append(picked)
            cycle.append(picked)
        assert sorted(cycle) == sorted(p.id for p in deck)  # every prompt exactly once


def test_light_first_then_deeper() -> None:
    deck = deck_of([("fun", "light")] * 40 + [("fun", "medium")] * 40 + [("fun", "deep")] * 40)
    history: list[str] = []
    depths = []
    for _ in range(60):
        prompt = choose(deck, history, salt="c1")
        history.append(prompt.id)
        depths.append(prompt.depth)
    assert set(depths[:MEDIUM_FROM]) == {"light"}
    assert "deep" not in depths[:DEEP_FROM]
    assert depths[MEDIUM_FROM:DEEP_FROM].count("medium") > depths[MEDIUM_FROM:DEEP_FROM].count(
        "light"
    )
    assert "deep" in depths[DEEP_FROM:]


def test_couples_walk_the_deck_in_different_orders() -> None:
    deck = deck_of([("fun", "light")] * 30)
    first = [choose(deck, [], salt=str(couple)).id for couple in range(10)]
    assert len(set(first)) > 3


@given(
    ids=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=70, unique=True),
    salt=st.text(max_size=10),
)
@settings(max_examples=150, deadline=None)
def test_each_couple_keeps_the_order_it_always_had(ids: list[str], salt: str) -> None:
    # Among equally fitting prompts, the smallest blake2s of "salt:id" comes first: the order
    # people have walked their decks in since the start, which faster hashing must not change.
    deck = [P(prompt_id, "fun", "light") for prompt_id in ids]
    expected = min(
        ids,
        key=lambda prompt_id: hashlib.blake2s(
            f"{salt}:{prompt_id}".encode(), digest_size=8
        ).hexdigest(),
    )
    assert choose(deck, [], salt=salt).id == expected


def _chosen_as_always(deck: list[P], history: list[str], salt: str) -> P:
    # The rule spelled out plainly: unused prompts of the preferred depth, topics not seen in
    # the last eight first, then the smallest digest of "salt:id".
    ids = {p.id for p in deck}
    cycle = current_cycle(history, ids)
    recent = Counter(next(p.topic for p in deck if p.id == i) for i in set(cycle[-8:]))

    def first(prompts: list[P]) -> P:
        return min(
            prompts,
            key=lambda p: hashlib.blake2s(f"{salt}:{p.id}".encode(), digest_size=8).hexdigest(),
        )

    for depth in preferred_depths(len(cycle)):
        candidates = [p for p in deck if p.depth == depth and p.id not in cycle]
        if candidates:
            fewest = min(recent[p.topic] for p in candidates)
            return first([p for p in candidates if recent[p.topic] == fewest])
    return first([p for p in deck if p.id not in cycle])


@given(
    deck=decks,
    salt=st.text(max_size=6),
    history=st.lists(st.integers(0, 45).map(lambda n: f"p{n}"), max_size=60),
)
@settings(max_examples=200, deadline=None)
def test_every_pick_is_the_one_the_rule_gives(deck: list[P], salt: str, history: list[str]) -> None:
    assert choose(deck, history, salt=salt) == _chosen_as_always(deck, history, salt)


def test_topics_are_spread() -> None:
    deck = deck_of([(t, "light") for t in ("fun", "dreams", "family", "values") for _ in range(10)])
    history: list[str] = []
    for _ in range(8):
        history.append(choose(deck, history, salt="x").id)
    topics = [next(p.topic for p in deck if p.id == i) for i in history]
    assert all(topics.count(t) == 2 for t in ("fun", "dreams", "family", "values"))


def test_removed_prompts_do_not_block_a_cycle() -> None:
    deck = deck_of([("fun", "light")] * 3)
    assert current_cycle(["gone", "p0", "p1", "p2", "p1"], {p.id for p in deck}) == ["p1"]
