"""Tables of check-ins together: weekly check-ins, appreciations, mutual topics, their schedule."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from bot.db.models import NEVER_REUSED_IDS, _when


def _person(*, nullable: bool = False) -> Any:
    return Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=nullable)
    )


def _couple() -> Any:
    return Field(
        sa_column=Column(Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=False)
    )


class CheckinPlan(SQLModel, table=True):
    """The weekday and local time a couple chose for its weekly check-in."""

    __tablename__ = "checkin_plans"

    couple_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("couples.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )
    weekday: int = Field(sa_column=Column(SmallInteger, nullable=False))
    at: time = Field(sa_column=Column(Time(), nullable=False))
    updated_at: datetime = _when()


class CheckinStatus(enum.StrEnum):
    """A check-in is open until both submit (revealed) or its window ends (closed)."""

    OPEN = "open"
    REVEALED = "revealed"
    CLOSED = "closed"


class Checkin(SQLModel, table=True):
    """One check-in of a couple; the questions are fixed when it opens."""

    __tablename__ = "checkins"
    __table_args__ = (
        # At most one open check-in per couple, enforced by the database itself.
        Index(
            "uq_checkins_one_open_per_couple",
            "couple_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_checkins_couple_id_opened_at", "couple_id", "opened_at"),
        Index("ix_checkins_status_closes_at", "status", "closes_at"),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = _couple()
    status: str = Field(default=CheckinStatus.OPEN, sa_column=Column(String(16), nullable=False))
    question_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # The opener's local date: what "the week of" means in history and in the rhythm count.
    week_of: date = Field(sa_column=Column(Date(), nullable=False))
    opened_at: datetime = _when()
    closes_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)


class CheckinEntry(SQLModel, table=True):
    """One partner's side of a check-in: where they are, and whether they submitted."""

    __tablename__ = "checkin_entries"
    __table_args__ = (
        UniqueConstraint("checkin_id", "user_id", name="uq_checkin_entries_checkin_id_user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int = Field(
        sa_column=Column(Integer, ForeignKey("checkins.id", ondelete="CASCADE"), nullable=False)
    )
    user_id: int = _person()
    step: int = Field(default=0, sa_column=Column(SmallInteger, nullable=False))
    invited_at: datetime | None = _when(nullable=True)
    submitted_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()


class CheckinAnswer(SQLModel, table=True):
    """One answer of one partner: a score from 1 to 5, a short text, or skipped."""

    __tablename__ = "checkin_answers"
    __table_args__ = (
        UniqueConstraint("entry_id", "question_id", name="uq_checkin_answers_entry_id_question_id"),
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("checkin_entries.id", ondelete="CASCADE"), nullable=False
        )
    )
    # Also on the entry; kept here so a person's export and erasure find their words directly.
    user_id: int = _person()
    question_id: str = Field(sa_column=Column(String(48), nullable=False))
    score: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    text: str | None = Field(default=None, sa_column=Column(String(500), nullable=True))
    skipped: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    answered_at: datetime = _when()


class Appreciation(SQLModel, table=True):
    """A short thank-you one partner wrote, delivered at the other's next morning time."""

    __tablename__ = "appreciations"
    __table_args__ = (Index("ix_appreciations_recipient_id", "recipient_id"),)

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = _couple()
    author_id: int = _person()
    recipient_id: int = _person()
    text: str = Field(sa_column=Column(String(500), nullable=False))
    created_at: datetime = _when()
    delivered_at: datetime | None = _when(nullable=True)


class TopicFlag(SQLModel, table=True):
    """A topic one partner privately wants to talk about; shown to both only if both flag it."""

    __tablename__ = "topic_flags"
    __table_args__ = (
        UniqueConstraint(
            "couple_id", "user_id", "topic_id", name="uq_topic_flags_couple_id_user_id_topic_id"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = _couple()
    user_id: int = _person()
    topic_id: str = Field(sa_column=Column(String(48), nullable=False))
    created_at: datetime = _when()
    revealed_at: datetime | None = _when(nullable=True)


class CheckinJob(enum.StrEnum):
    """The kinds of check-in work the tick finds by time."""

    OPEN = "ci_open"  # the weekly check-in, at the couple's day and each partner's local time
    REMIND = "ci_remind"  # the one gentle reminder for a partner who has not submitted
    CLOSED = "ci_closed"  # tell a lone submitter the check-in closed and nothing was shared
    COURIER = "ci_courier"  # appreciations, at the recipient's next morning time


class CheckinSchedule(SQLModel, table=True):
    """When a person's next piece of check-in work is due; the check-in tick claims due rows."""

    __tablename__ = "checkin_schedules"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", name="uq_checkin_schedules_user_id_kind"),
        Index("ix_checkin_schedules_next_run_at", "next_run_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _person()
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    next_run_at: datetime = _when()
    # The person's local date of the run: the delivery ledger is keyed on it.
    local_date: date = Field(sa_column=Column(Date(), nullable=False))
    checkin_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("checkins.id", ondelete="CASCADE"), nullable=True),
    )
    claim_token: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    claimed_until: datetime | None = _when(nullable=True)
