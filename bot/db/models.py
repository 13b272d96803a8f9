"""SQLModel tables: people, couples, invites and what the bot is waiting for from each person."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, String, Time, text
from sqlmodel import Field, SQLModel

from bot.db.types import UTCDateTime

# Named constraints make migrations reproducible and batch mode on SQLite possible.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _when(*, nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class User(SQLModel, table=True):
    """A person who talks to the bot; their id is their Telegram user id."""

    __tablename__ = "users"

    id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    telegram_name: str = Field(sa_column=Column(String(128), nullable=False))
    username: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    display_name: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    locale: str = Field(default="en", sa_column=Column(String(16), nullable=False))
    timezone: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    morning_time: time | None = Field(default=None, sa_column=Column(Time(), nullable=True))
    evening_time: time | None = Field(default=None, sa_column=Column(Time(), nullable=True))
    couple_id: int | None = Field(
        default=None,
        sa_column=Column(
            # use_alter breaks the users <-> couples cycle when creating tables.
            ForeignKey("couples.id", ondelete="SET NULL", use_alter=True),
            nullable=True,
            index=True,
        ),
    )
    onboarded_at: datetime | None = _when(nullable=True)
    bad_code_count: int = Field(default=0, nullable=False)
    bad_code_window_start: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Couple(SQLModel, table=True):
    """Two partners who both agreed to pair; `ended_at` is set when either unpairs."""

    __tablename__ = "couples"

    id: int | None = Field(default=None, primary_key=True)
    # Stored lowest id first, so the same two people are always the same (a, b) pair.
    partner_a_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    partner_b_id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    )
    created_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)
    ended_by_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class InviteStatus:
    """The states an invite moves through; only `ACTIVE` can still be accepted."""

    ACTIVE = "active"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REVOKED = "revoked"


class Invite(SQLModel, table=True):
    """A single-use invite link; only the SHA-256 of its code is kept."""

    __tablename__ = "invites"
    __table_args__ = (
        # One active invite per person, enforced by the database itself.
        Index(
            "uq_invites_one_active_per_inviter",
            "inviter_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    inviter_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    code_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    status: str = Field(default=InviteStatus.ACTIVE, sa_column=Column(String(16), nullable=False))
    created_at: datetime = _when()
    expires_at: datetime = _when()
    resolved_at: datetime | None = _when(nullable=True)
    invitee_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Conversation(SQLModel, table=True):
    """What the bot is waiting for from a person, so any process can take their next message."""

    __tablename__ = "conversations"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    state: str = Field(sa_column=Column(String(48), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _when()
