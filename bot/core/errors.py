"""Expected situations, each naming the template that explains it kindly."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An expected situation; `key` names the message template that explains it."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


class StaleAction(DomainError):
    """A button or step that no longer applies (old, forged, or from another conversation)."""

    def __init__(self) -> None:
        super().__init__("errors.stale_button")
