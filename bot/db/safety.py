"""Tables for safety: the private safety signal, counsellor requests and their staff-chat thread,
and what discreet mode needs (recent message ids, nudges held back behind a Show button)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from bot.db.models import NEVER_REUSED_IDS, _when


class SafetySignal(SQLModel, table=True):
    """A person told us they do not always feel safe; the row goes when they say they do."""

    __tablename__ = "safety_signals"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    signalled_at: datetime = _when()


class RequestStatus(enum.StrEnum):
    """The states a counsellor request moves through."""

    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class CounsellorRequest(SQLModel, table=True):
    """A private request to be contacted by Remainly's counsellor team."""

    __tablename__ = "counsellor_requests"
    __table_args__ = (
        Index("ix_counsellor_requests_status_next_announce_at", "status", "next_announce_at"),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    topic: str = Field(sa_column=Column(String(32), nullable=False))
    for_whom: str = Field(sa_column=Column(String(8), nullable=False))
    tell_partner: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    urgency: str = Field(sa_column=Column(String(16), nullable=False))
    contact_way: str = Field(sa_column=Column(String(16), nullable=False))
    contact_time: str = Field(sa_column=Column(String(16), nullable=False))
    message: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    # Set only when the person agreed to show their Telegram name and username to the team.
    identity_shared_at: datetime | None = _when(nullable=True)
    status: str = Field(default=RequestStatus.OPEN, sa_column=Column(String(16), nullable=False))
    created_at: datetime = _when()
    # Staff are Telegram accounts named in settings, not people using the bot: no foreign key.
    claimed_by_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    claimed_by_name: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    claimed_at: datetime | None = _when(nullable=True)
    resolved_by_name: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    resolved_at: datetime | None = _when(nullable=True)
    # Where the request's card is in the staff chat (None until it was posted there).
    staff_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    staff_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    # When the staff chat should hear about it (again); None once someone took it.
    next_announce_at: datetime | None = _when(nullable=True)
    announcements: int = Field(default=0, sa_column=Column(Integer, nullable=False))


class PostKind(enum.StrEnum):
    """The bot's messages that belong to a request's thread (in the staff chat, or the
    requester's chat, where a reply to one of them goes to the team)."""

    CARD = "card"
    REMINDER = "reminder"
    FROM_REQUESTER = "from_requester"
    NOTE = "note"
    TO_REQUESTER = "to_requester"


class CounsellorPost(SQLModel, table=True):
    """A bot message that belongs to a request, so replies to it find it.

    Only ids are kept: the words live in the staff chat and the requester's chat, not here.
    """

    __tablename__ = "counsellor_posts"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id", name="uq_counsellor_posts_chat_id_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("counsellor_requests.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = _when()


class SentMessage(SQLModel, table=True):
    """A message the bot sent to a person recently; /hide deletes these (Telegram allows 48 h)."""

    __tablename__ = "sent_messages"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "message_id", name="pk_sent_messages"),
        Index("ix_sent_messages_sent_at", "sent_at"),
    )

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    sent_at: datetime = _when()


class HeldMessage(SQLModel, table=True):
    """A message shown to a person in discreet mode only when they tap Show."""

    __tablename__ = "held_messages"
    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    text: str = Field(sa_column=Column(Text, nullable=False))
    # Rows of [label, callback data], as the message would have carried them.
    buttons: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _when()
    # Whose words the message carries (a partner's answer, say): they go when that person
    # unpairs or is erased, so nobody can Show them afterwards.
    about_user_id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
        ),
    )
    # Words that live in another chat (a counsellor's reply): only where, copied on Show.
    copy_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    copy_message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
