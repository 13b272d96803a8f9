"""The buttons of /subscription and the subscription notices."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.callbacks import CallbackData, RowId


@dataclass(frozen=True)
class Subscribe(CallbackData, prefix="bill:sub"):
    """Offer the Stars invoice."""


@dataclass(frozen=True)
class StopRenewal(CallbackData, prefix="bill:stop"):
    """Ask before stopping a subscription renewing."""

    subscription_id: RowId


@dataclass(frozen=True)
class ConfirmStop(CallbackData, prefix="bill:stopyes"):
    """Yes, stop it renewing."""

    subscription_id: RowId


@dataclass(frozen=True)
class KeepRenewal(CallbackData, prefix="bill:keep"):
    """Keep it renewing."""
