"""SQLModel tables: people, couples, invites and what the bot is waiting for from each person."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    text,
)
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


# For tables whose ids reach buttons and staff cards: SQLite would otherwise hand a deleted
# row's id to the next row, and a stale button would act on someone else's row. PostgreSQL
# sequences never go back, so this changes nothing there.
NEVER_REUSED_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


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
    # Nudge preferences: weekdays as a bit mask (Monday = bit 0), a pause, a skipped day.
    nudge_days: int = Field(
        default=0b1111111, sa_column=Column(Integer, nullable=False, server_default=text("127"))
    )
    paused_until: datetime | None = _when(nullable=True)
    skip_date: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    # Set when Telegram says the person blocked the bot; nothing is scheduled meanwhile.
    unreachable_since: datetime | None = _when(nullable=True)
    # Discreet mode (/hide): nudges arrive as a neutral "You have a new message".
    discreet_since: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Couple(SQLModel, table=True):
    """Two partners who both agreed to pair; `ended_at` is set when either unpairs."""

    __tablename__ = "couples"
    # The trial belongs to a pair, not to one couple row: this finds a pair's earlier couples.
    __table_args__ = (
        Index("ix_couples_partner_a_id_partner_b_id", "partner_a_id", "partner_b_id"),
        NEVER_REUSED_IDS,
    )

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
    # Set while a partner's safety signal pauses the couple's shared exercises.
    exercises_paused_at: datetime | None = _when(nullable=True)


class InviteStatus(enum.StrEnum):
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
        NEVER_REUSED_IDS,
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


class NudgeKind(enum.StrEnum):
    """The scheduled messages a person can get."""

    MORNING = "morning"
    EVENING = "evening"
    REMINDER = "reminder"
    ARTICLE = "article"
    VIDEO = "video"


class NudgeSchedule(SQLModel, table=True):
    """When a person's next nudge of one kind is due; the tick claims due rows."""

    __tablename__ = "nudge_schedules"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", name="uq_nudge_schedules_user_id_kind"),
        Index("ix_nudge_schedules_next_run_at", "next_run_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    next_run_at: datetime = _when()
    # The person's local date the next run is for: the delivery ledger is keyed on it.
    local_date: date = Field(sa_column=Column(Date(), nullable=False))
    claim_token: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    claimed_until: datetime | None = _when(nullable=True)


class DeliveryStatus(enum.StrEnum):
    """A delivery is pending until Telegram accepts it."""

    PENDING = "pending"
    SENT = "sent"
    DROPPED = "dropped"


class Delivery(SQLModel, table=True):
    """The ledger of scheduled messages: one row per person, kind and local date, ever."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "kind", "local_date", name="uq_deliveries_user_id_kind_local_date"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    local_date: date = Field(sa_column=Column(Date(), nullable=False))
    status: str = Field(
        default=DeliveryStatus.PENDING, sa_column=Column(String(16), nullable=False)
    )
    prompt_id: str | None = Field(default=None, sa_column=Column(String(48), nullable=True))
    question_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class CoupleQuestion(SQLModel, table=True):
    """The curiosity question a couple shares for one local date."""

    __tablename__ = "couple_questions"
    __table_args__ = (
        UniqueConstraint(
            "couple_id", "question_date", name="uq_couple_questions_couple_id_question_date"
        ),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = Field(
        sa_column=Column(Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=False)
    )
    question_date: date = Field(sa_column=Column(Date(), nullable=False))
    prompt_id: str = Field(sa_column=Column(String(48), nullable=False))
    created_at: datetime = _when()
    revealed_at: datetime | None = _when(nullable=True)


class Answer(SQLModel, table=True):
    """One partner's answer to a shared question; shown to the other only after both answer."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("question_id", "user_id", name="uq_answers_question_id_user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    question_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("couple_questions.id", ondelete="CASCADE"), nullable=False
        )
    )
    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    text: str | None = Field(default=None, sa_column=Column(String(1000), nullable=True))
    skipped: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    private: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    # The writer's language when they answered; the reveal notes it for a partner reading
    # in another one (unknown for answers older than this column).
    locale: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    answered_at: datetime = _when()


class Worker(SQLModel, table=True):
    """A bot process sending to Telegram; the live ones share the bot's overall send rate."""

    __tablename__ = "workers"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    last_seen: datetime = _when()
