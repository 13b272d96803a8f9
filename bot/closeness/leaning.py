"""Lean the evening question towards what the couple's expectations map points at."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from collections.abc import Set as AbstractSet

from bot.nudges import rotation
from bot.nudges.rotation import P

# Every other question leans, so the map colours the rotation without taking it over.
LEAN_EVERY = 2


def lean(deck: Sequence[P], history: Sequence[str], *, salt: str, topics: AbstractSet[str]) -> P:
    """Pick the next prompt as the rotation would, preferring the map's topics every other day.

    A leaned pick keeps the rotation's promises: the same depth, and never a prompt already
    used in the current pass through the deck.
    """
    pick = rotation.choose(deck, history, salt=salt)
    if not topics or pick.topic in topics or len(history) % LEAN_EVERY:
        return pick
    used = set(rotation.current_cycle(history, frozenset(prompt.id for prompt in deck)))
    candidates = [
        prompt
        for prompt in deck
        if prompt.topic in topics and prompt.depth == pick.depth and prompt.id not in used
    ]
    if not candidates:
        return pick
    prefix = f"{salt}:lean:".encode()
    return min(
        candidates,
        key=lambda prompt: hashlib.blake2s(prefix + prompt.id.encode(), digest_size=8).digest(),
    )
