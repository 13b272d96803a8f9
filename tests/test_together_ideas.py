"""Choosing a round's three ideas: a pure function, checked over generated decks and couples."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.content.entries import FOCUS_AREAS
from bot.content.together import CATEGORIES, Idea, load_together
from bot.together.ideas import PER_ROUND, pick, weight_of

CONTENT = Path(__file__).resolve().parents[1] / "content"
DECK = load_together(CONTENT, "en").ideas


@st.composite
def decks(draw: st.DrawFn) -> list[Idea]:
    size = draw(st.integers(0, 14))
    return [
        Idea(
            id=f"idea-{n:03d}",
            categories=tuple(
                draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))
            ),
            tags=tuple(draw(st.lists(st.sampled_from(FOCUS_AREAS), min_size=1, max_size=3))),
            text=f"An idea to do together, number {n}.",
        )
        for n in range(size)
    ]


weights = st.dictionaries(st.sampled_from(FOCUS_AREAS), st.integers(0, 7))


@settings(max_examples=300, deadline=None)
@given(
    deck=decks(),
    weight=weights,
    data=st.data(),
    apart=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_a_round_follows_every_rule(
    deck: list[Idea], weight: dict[str, int], data: st.DataObject, apart: bool, seed: int
) -> None:
    ids = [idea.id for idea in deck]
    previous = set(data.draw(st.lists(st.sampled_from(ids)) if ids else st.just([])))
    done = set(data.draw(st.lists(st.sampled_from(ids)) if ids else st.just([])))
    offered = data.draw(
        st.dictionaries(st.sampled_from(ids), st.integers(0, 9)) if ids else st.just({})
    )

    def weigh(area: str) -> int:
        return weight.get(area, 0)

    chosen = pick(
        deck, weigh=weigh, previous=previous, done=done, offered=offered, apart=apart, seed=seed
    )
    allowed = [
        idea
        for idea in deck
        if idea.id not in previous and (apart or "long_distance" not in idea.categories)
    ]
    assert len(chosen) == min(PER_ROUND, len(allowed))
    assert len({idea.id for idea in chosen}) == len(chosen)
    # Never an idea of the round before, never a far-apart idea for a couple who live together.
    assert all(idea in allowed for idea in chosen)
    # Ideas not done yet come before anything done before.
    fresh = [idea for idea in allowed if idea.id not in done]
    if any(idea.id in done for idea in chosen):
        assert all(idea in chosen for idea in fresh)
    # The best fit for the couple's focus areas is always among them.
    if fresh:
        best = max(weight_of(idea, weigh) for idea in fresh)
        assert max(weight_of(idea, weigh) for idea in chosen if idea in fresh) == best


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32), rounds=st.integers(2, 12))
def test_the_same_idea_never_comes_twice_in_a_row_on_the_real_deck(seed: int, rounds: int) -> None:
    previous: list[str] = []
    offered: dict[str, int] = {}
    for n in range(rounds):
        chosen = pick(
            DECK,
            weigh=lambda area: 2 * (area == "curiosity"),
            previous=previous,
            offered=offered,
            seed=seed + n,
        )
        ids = [idea.id for idea in chosen]
        assert len(ids) == PER_ROUND and not set(ids) & set(previous)
        for idea_id in ids:
            offered[idea_id] = offered.get(idea_id, 0) + 1
        previous = ids


def test_focus_areas_lead_and_a_round_spreads_over_categories() -> None:
    chosen = pick(DECK, weigh=lambda area: 4 if area == "conflict" else 0, previous=(), seed=1)
    assert all("conflict" in idea.tags for idea in chosen)
    wide = pick(DECK, weigh=lambda area: 0, previous=(), seed=3)
    assert (
        len({idea.categories[0] for idea in wide}) > 1
        or len({c for idea in wide for c in idea.categories}) >= 3
    )


def test_long_distance_ideas_only_for_couples_apart() -> None:
    together = pick(DECK, weigh=lambda area: 9 * (area == "long_distance"), previous=(), seed=5)
    apart = pick(
        DECK, weigh=lambda area: 9 * (area == "long_distance"), previous=(), apart=True, seed=5
    )
    assert not any(idea.far_apart for idea in together)
    assert all(idea.far_apart for idea in apart)


def test_the_same_inputs_give_the_same_round_and_another_seed_varies_it() -> None:
    def weigh(area: str) -> int:
        return 0

    first = pick(DECK, weigh=weigh, previous=(), seed=11)
    assert pick(DECK, weigh=weigh, previous=(), seed=11) == first
    assert any(pick(DECK, weigh=weigh, previous=(), seed=s) != first for s in range(12, 20))
