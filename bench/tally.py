"""Count what reached the chats, from the fake Bot API's side: duplicates and losses."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Tally:
    """What the due people received, as the fake Bot API saw it."""

    due: int
    reached: int  # due people who got at least one message
    duplicates: int  # the same text again in the same chat (a nudge sent twice)
    lost: int  # due people who got nothing at all
    others: int  # further distinct messages (billing, check-ins ...), not nudges twice
    strays: int  # chats that got messages although nobody there was due


def tally(texts: Mapping[str, Sequence[str]], due_ids: Iterable[int]) -> Tally:
    """Compare the fake's per-chat texts with the people who were due."""
    wanted = {str(chat) for chat in due_ids}
    duplicates = others = reached = 0
    for chat, sent in texts.items():
        if chat not in wanted or not sent:
            continue
        reached += 1
        counts = Counter(sent)
        duplicates += sum(count - 1 for count in counts.values())
        others += len(counts) - 1
    strays = sum(1 for chat, sent in texts.items() if chat not in wanted and sent)
    return Tally(
        due=len(wanted),
        reached=reached,
        duplicates=duplicates,
        lost=len(wanted) - reached,
        others=others,
        strays=strays,
    )
