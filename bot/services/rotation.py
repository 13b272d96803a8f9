"""Which prompt comes next: no repeats until a deck is used up, light first, deeper over time."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from typing import Protocol, TypeVar

DEPTH_ORDER = ("light", "medium", "deep")
# How many prompts of a cycle pass before medium, then deep, prompts join the rotation.
MEDIUM_FROM, DEEP_FROM = 10, 30


class Rotatable(Protocol):
    """A prompt as far as the rotation cares."""

    @property
    def id(self) -> str: ...

    @property
    def topic(self) -> str: ...

    @property
    def depth(self) -> str: ...


P = TypeVar("P", bound=Rotatable)


def current_cycle(history: Sequence[str], deck_ids: set[str]) -> list[str]:
    """Return the prompts used since the deck was last used up, oldest first."""
    cycle: list[str] = []
    seen: set[str] = set()
    for prompt_id in history:
        if prompt_id not in deck_ids:
            continue  # removed from the deck by an editor
        cycle.append(prompt_id)
        seen.add(prompt_id)
        if seen >= deck_ids:
            cycle, seen = [], set()
    return cycle


def preferred_depths(step: int) -> tuple[str, ...]:
    """Return the depths to try, best first, for the `step`-th prompt of a cycle."""
    if step < MEDIUM_FROM:
        return DEPTH_ORDER
    if step < DEEP_FROM:
        # Mostly medium now, with a light one every third day to keep it easy.
        return ("light", "medium", "deep") if step % 3 == 2 else ("medium", "light", "deep")
    return (("deep", "medium", "light"), ("medium", "deep", "light"), ("light", "medium", "deep"))[
        step % 3
    ]


def _shuffle_key(salt: str, prompt_id: str) -> str:
    # A stable per-couple order, so two couples don't walk the deck in the same order.
    return hashlib.blake2s(f"{salt}:{prompt_id}".encode(), digest_size=8).hexdigest()


def choose(deck: Sequence[P], history: Sequence[str], *, salt: str) -> P:
    """Pick the next prompt of a deck given the ids used so far (oldest first)."""
    if not deck:
        raise ValueError("cannot choose from an empty deck")
    deck_ids = {prompt.id for prompt in deck}
    cycle = current_cycle(history, deck_ids)
    used = set(cycle)
    unused = [prompt for prompt in deck if prompt.id not in used]
    recent = set(cycle[-8:])
    recent_topics = Counter(prompt.topic for prompt in deck if prompt.id in recent)
    for depth in preferred_depths(len(cycle)):
        candidates = [prompt for prompt in unused if prompt.depth == depth]
        if candidates:
            return min(
                candidates,
                key=lambda p: (recent_topics[p.topic], _shuffle_key(salt, p.id)),
            )
    # Depths outside DEPTH_ORDER still get their turn rather than being skipped forever.
    return min(unused, key=lambda p: _shuffle_key(salt, p.id))
