"""Choose the ideas a couple is offered: pure, so it can be tested with generated inputs."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Collection, Mapping, Sequence

from bot.content.together import LONG_DISTANCE, Idea

PER_ROUND = 3


def weight_of(idea: Idea, weigh: Callable[[str], int]) -> int:
    """Return how well an idea fits the couple: its best-fitting tag."""
    return max(weigh(tag) for tag in idea.tags)


def eligible(ideas: Sequence[Idea], *, previous: Collection[str], apart: bool) -> list[Idea]:
    """Return the ideas a round may offer: none of the last round's, far-apart ones if apart."""
    return [
        idea
        for idea in ideas
        if idea.id not in previous and (apart or LONG_DISTANCE not in idea.categories)
    ]


def pick(
    ideas: Sequence[Idea],
    *,
    weigh: Callable[[str], int],
    previous: Collection[str],
    done: Collection[str] = (),
    offered: Mapping[str, int] | None = None,
    apart: bool = False,
    seed: int = 0,
    count: int = PER_ROUND,
) -> list[Idea]:
    """Return up to `count` ideas for the next round.

    Never one of the last round's (`previous`). Ideas the couple has not done come first, then
    those that fit their focus areas best, then those offered least often; a seeded shuffle
    breaks ties so rounds vary. Among equals, the three spread over different categories.
    """
    offered = offered or {}
    shuffle = random.Random(seed)
    pool = eligible(ideas, previous=previous, apart=apart)
    jitter = {idea.id: shuffle.random() for idea in pool}
    ranked = sorted(
        pool,
        key=lambda idea: (
            idea.id in done,
            -weight_of(idea, weigh),
            offered.get(idea.id, 0),
            jitter[idea.id],
        ),
    )
    chosen: list[Idea] = []
    for _, group in itertools.groupby(ranked, key=lambda idea: _rank(idea, weigh, done)):
        members = list(group)
        # Among equals, first those that add a category the round lacks so far.
        for idea in members:
            used = {name for picked in chosen for name in picked.categories}
            if len(chosen) < count and set(idea.categories) - used:
                chosen.append(idea)
        for idea in members:
            if len(chosen) < count and idea not in chosen:
                chosen.append(idea)
        if len(chosen) == count:
            break
    return chosen


def _rank(idea: Idea, weigh: Callable[[str], int], done: Collection[str]) -> tuple[bool, int]:
    return idea.id in done, -weight_of(idea, weigh)
