"""Which prompt comes next: no repeats until a deck is used up, light first, deeper over time."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

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
# A prompt with what choosing reads of it: the bytes its digest hashes, its id and its topic.
_Entry = tuple[P, bytes, str, str]


def current_cycle(history: Sequence[str], deck_ids: AbstractSet[str]) -> list[str]:
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


@dataclass(frozen=True)
class _Index(Generic[P]):
    """What `choose` needs of a deck, worked out once per loaded deck."""

    deck: Sequence[P]
    ids: frozenset[str]
    topics: dict[str, str]
    by_depth: dict[str, list[_Entry[P]]]
    keyed: list[_Entry[P]]


# Decks are loaded once and kept, so their index is too (keyed by identity, checked on use).
_indexes: dict[int, _Index[Any]] = {}


def _index(deck: Sequence[P]) -> _Index[P]:
    index = _indexes.get(id(deck))
    if index is None or index.deck is not deck:
        keyed = [(prompt, prompt.id.encode(), prompt.id, prompt.topic) for prompt in deck]
        by_depth: dict[str, list[_Entry[P]]] = {}
        for entry in keyed:
            by_depth.setdefault(entry[0].depth, []).append(entry)
        index = _Index(
            deck=deck,
            ids=frozenset(prompt.id for prompt in deck),
            topics={prompt.id: prompt.topic for prompt in deck},
            by_depth=by_depth,
            keyed=keyed,
        )
        if len(_indexes) > 64:
            _indexes.clear()
        _indexes[id(deck)] = index
    return index


def _first_in_order(salt: str, prompts: Sequence[_Entry[P]]) -> P:
    """Return the prompt that comes first in this couple's own stable order of the deck."""
    # A stable per-couple order, so two couples don't walk the deck in the same order. Digests
    # compare like their hex forms, so the order is the one the bot always used.
    # Each digest continues a copy of the salted state: the same bytes as hashing
    # salt + ":" + id afresh, at a fraction of the cost of setting up a new hash per prompt.
    salted = hashlib.blake2s(f"{salt}:".encode(), digest_size=8)

    def digest(entry: _Entry[P], copy: Callable[[], hashlib.blake2s] = salted.copy) -> bytes:
        state = copy()
        state.update(entry[1])
        return state.digest()

    return min(prompts, key=digest)[0]


def choose(deck: Sequence[P], history: Sequence[str], *, salt: str) -> P:
    """Pick the next prompt of a deck given the ids used so far (oldest first)."""
    if not deck:
        raise ValueError("cannot choose from an empty deck")
    index = _index(deck)
    cycle = current_cycle(history, index.ids)
    used = set(cycle)
    recent_topics = Counter(index.topics[prompt_id] for prompt_id in set(cycle[-8:]))
    for depth in preferred_depths(len(cycle)):
        entries = index.by_depth.get(depth, [])
        candidates = [e for e in entries if e[2] not in used] if used else entries
        if candidates:
            # Topics not seen lately first; among those, the couple's own order. (A fresh
            # cycle has seen no topic lately: every candidate is among the fewest.)
            if recent_topics:
                counts = [recent_topics[e[3]] for e in candidates]
                fewest = min(counts)
                candidates = [e for e, n in zip(candidates, counts, strict=True) if n == fewest]
            return _first_in_order(salt, candidates)
    # Depths outside DEPTH_ORDER still get their turn rather than being skipped forever.
    return _first_in_order(salt, [e for e in index.keyed if e[2] not in used])
