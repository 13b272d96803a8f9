"""The buttons of pairing, onboarding, /settings and /deleteme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Annotated, Literal

from bot.core.callbacks import CallbackData, Matching, OneOf, RowId

# An IANA zone name such as "America/Argentina/Buenos_Aires" or "Etc/GMT+5".
Zone = Annotated[str, Matching(r"[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,2}")]


@dataclass(frozen=True)
class NewInvite(CallbackData, prefix="pair:invite"):
    """Make an invite link."""


@dataclass(frozen=True)
class RevokeInvite(CallbackData, prefix="pair:revoke"):
    """Cancel the open invite."""


@dataclass(frozen=True)
class InviteAnswer(CallbackData, prefix="inv"):
    """Accept or decline an invite."""

    answer: Literal["acc", "dec"]
    invite_id: RowId


@dataclass(frozen=True)
class UnpairConfirm(CallbackData, prefix="unpair:yes"):
    """Yes, end this couple."""

    couple_id: RowId


@dataclass(frozen=True)
class UnpairKeep(CallbackData, prefix="unpair:no"):
    """No, stay together."""


@dataclass(frozen=True)
class DeleteAnswer(CallbackData, prefix="del"):
    """Erase everything about me, or keep it."""

    answer: Literal["yes", "no"]


@dataclass(frozen=True)
class SettingsChoice(CallbackData, prefix="set"):
    """Open /settings, or change one of its values."""

    step: Literal["open", "name", "language", "timezone", "morning", "evening"]


@dataclass(frozen=True)
class LanguageChoice(CallbackData, prefix="lang"):
    """Read everything in this language (a folder under content/locales)."""

    locale: Annotated[str, Matching(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?")]


@dataclass(frozen=True)
class UseTelegramName(CallbackData, prefix="name:tg"):
    """Go by the name Telegram shows."""


@dataclass(frozen=True)
class ZoneChoice(CallbackData, prefix="tz"):
    """Live in this time zone."""

    zone: Zone


@dataclass(frozen=True)
class TimeChoice(CallbackData, prefix="tm"):
    """Get the morning or evening nudge at this time."""

    step: Annotated[str, OneOf(("morning", "evening"))]
    at: time
