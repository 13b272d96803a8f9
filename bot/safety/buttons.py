"""The buttons of /safety, discreet mode and the counsellor requests.

The counsellor intake has its own prefix: it once shared "ci" with the check-ins, and only
the order handlers were registered in kept its Skip and Cancel away from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from bot.core.callbacks import CallbackData, Matching, OneOf, Range, RowId
from bot.safety.counsellor import CHOICES, MAX_STAMP

IntakeValue = Annotated[str, Matching(r"[a-z0-9-]{1,32}")]


@dataclass(frozen=True)
class SafetyOpen(CallbackData, prefix="sf:open"):
    """Show /safety."""


@dataclass(frozen=True)
class SafetyChoice(CallbackData, prefix="sf"):
    """Say "I don't always feel safe", or take it back."""

    choice: Literal["signal", "safe"]


@dataclass(frozen=True)
class SafetyCheckAnswer(CallbackData, prefix="sfc"):
    """Answer the onboarding safety question, or confirm or take back a "yes"."""

    answer: Literal["yes", "no", "skip", "sure", "undo"]


@dataclass(frozen=True)
class DiscreetOff(CallbackData, prefix="dm:off"):
    """Switch discreet mode off."""


@dataclass(frozen=True)
class ShowHeld(CallbackData, prefix="dm:show"):
    """Show the message a neutral notification stands for."""

    held_id: RowId


@dataclass(frozen=True)
class CounsellorStart(CallbackData, prefix="cr:start"):
    """Begin a counsellor request."""


@dataclass(frozen=True)
class CounsellorStartForMe(CallbackData, prefix="cr:start:me"):
    """Begin a counsellor request about oneself (offered from /safety)."""


@dataclass(frozen=True)
class IntakeChoice(CallbackData, prefix="intake"):
    """Answer one intake question with a button."""

    step: Annotated[str, OneOf(("topic", *CHOICES))]
    value: IntakeValue


@dataclass(frozen=True)
class IntakeSkip(CallbackData, prefix="intake:skip"):
    """Send the request without a message."""


@dataclass(frozen=True)
class IntakeCancel(CallbackData, prefix="intake:cancel"):
    """Drop the request."""


@dataclass(frozen=True)
class IntakeSend(CallbackData, prefix="intake:send"):
    """Send the request, with one's name or anonymously."""

    identity: Literal["named", "anon"]


@dataclass(frozen=True)
class CounsellorReply(CallbackData, prefix="cr:reply"):
    """Write to the counsellor team about a request."""

    request_id: RowId


@dataclass(frozen=True)
class StaffAction(CallbackData, prefix="cr"):
    """Claim or resolve a request (staff only); `stamp` ties the button to that very request."""

    action: Literal["claim", "resolve"]
    request_id: RowId
    stamp: Annotated[int, Range(0, MAX_STAMP)]
