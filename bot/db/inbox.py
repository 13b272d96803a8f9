"""The inbox table: every update from Telegram, stored before Telegram hears it arrived."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Text, false
from sqlmodel import Field, SQLModel

from bot.db.models import NEVER_REUSED_IDS, _when


class InboxLane(enum.StrEnum):
    """Which workers take an update: time-critical ones never wait behind a backlog."""

    FAST = "fast"
    NORMAL = "normal"


class InboxStatus(enum.StrEnum):
    """An update waits (or is being handled), was handled, or was parked after its retries."""

    PENDING = "pending"
    DONE = "done"
    PARKED = "parked"


class InboxUpdate(SQLModel, table=True):
    """One update from Telegram; its raw JSON is erased once it is handled."""

    __tablename__ = "inbox_updates"
    __table_args__ = (
        Index("ix_inbox_updates_status_lane_id", "status", "lane", "id"),
        Index("ix_inbox_updates_chat_key_id", "chat_key", "id"),
        Index("ix_inbox_updates_finished_at", "finished_at"),
        NEVER_REUSED_IDS,
    )

    # Operators name an update by this id (`python -m bot inbox retry ID`).
    id: int | None = Field(default=None, primary_key=True)
    # Telegram's own id: a second delivery of the same update is ignored.
    update_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    # The chat (or, without one, the person) whose updates are handled one at a time, in order;
    # None for updates that need no order (a checkout query).
    chat_key: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    lane: str = Field(default=InboxLane.NORMAL, sa_column=Column(String(8), nullable=False))
    status: str = Field(default=InboxStatus.PENDING, sa_column=Column(String(8), nullable=False))
    # The update as Telegram sent it; None once handled, so no words outlive their handling.
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    # Set in the same transaction as the first change a handling of it saved: after a crash
    # (or an error) past that point, a handler that is not safe to repeat is not run again.
    saved_changes: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
    next_attempt_at: datetime = _when()
    claim_token: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    claimed_until: datetime | None = _when(nullable=True)
    # Why the last attempt failed (an exception's type, never its text).
    reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    received_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
