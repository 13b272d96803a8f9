"""Tables of plans together: the ideas offered, each partner's private side, their schedule."""

from __future__ import annotations

import enum
from datetime import date, datetime

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
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from bot.db.models import NEVER_REUSED_IDS, _when


class PlanStatus(enum.StrEnum):
    """Where a round of ideas stands."""

    MARKING = "marking"  # each partner privately marks the ideas they would enjoy
    MATCHED = "matched"  # both marked at least one same idea: one to choose and a day to pick
    PLANNED = "planned"  # an idea and a day are chosen
    UNMATCHED = "unmatched"  # nothing both marked: a fresh round followed
    LAPSED = "lapsed"  # left unfinished; quietly set aside, never mentioned
    DONE = "done"  # the day has passed; each may say how it went


# A couple has at most one round in these states at a time.
ACTIVE = (PlanStatus.MARKING, PlanStatus.MATCHED, PlanStatus.PLANNED)


class TogetherPlan(SQLModel, table=True):
    """One round of three ideas for a couple, and what became of it."""

    __tablename__ = "together_plans"
    __table_args__ = (
        Index(
            "uq_together_plans_one_active_per_couple",
            "couple_id",
            unique=True,
            sqlite_where=text("status IN ('marking', 'matched', 'planned')"),
            postgresql_where=text("status IN ('marking', 'matched', 'planned')"),
        ),
        Index("ix_together_plans_couple_id_created_at", "couple_id", "created_at"),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = Field(
        sa_column=Column(Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(default=PlanStatus.MARKING, sa_column=Column(String(16), nullable=False))
    idea_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    # What both marked, once both finished marking.
    matched_ids: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    idea_id: str | None = Field(default=None, sa_column=Column(String(48), nullable=True))
    # The chosen calendar day: each partner is reminded on it at their own local time.
    day: date | None = Field(default=None, sa_column=Column(Date(), nullable=True))
    created_at: datetime = _when()
    planned_at: datetime | None = _when(nullable=True)
    # When both had said how it went, and so both saw both.
    revealed_at: datetime | None = _when(nullable=True)


class TogetherEntry(SQLModel, table=True):
    """One partner's private side of a round: what they marked, and how it went for them."""

    __tablename__ = "together_entries"
    __table_args__ = (
        UniqueConstraint("plan_id", "user_id", name="uq_together_entries_plan_id_user_id"),
        CheckConstraint("score IS NULL OR (score >= 1 AND score <= 5)", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("together_plans.id", ondelete="CASCADE"), nullable=False
        )
    )
    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    liked: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # When this partner was shown the round, so a weekly run never shows it to them twice.
    shown_at: datetime | None = _when(nullable=True)
    marked_at: datetime | None = _when(nullable=True)
    score: int | None = Field(default=None, sa_column=Column(SmallInteger, nullable=True))
    # "We didn't get round to it" is an answer too, and never a reproach.
    not_done: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    words: str | None = Field(default=None, sa_column=Column(String(300), nullable=True))
    answered_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()


class TogetherJob(enum.StrEnum):
    """The kinds of together work the tick finds by time."""

    WEEKLY = "tg_weekly"  # three fresh ideas, on the couple's weekly rhythm
    REMIND = "tg_remind"  # the chosen day has come, at each partner's own local time
    ASK = "tg_ask"  # the next day: how did it go?


class TogetherSchedule(SQLModel, table=True):
    """When a person's next piece of together work is due; the tick claims due rows."""

    __tablename__ = "together_schedules"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", name="uq_together_schedules_user_id_kind"),
        Index("ix_together_schedules_next_run_at", "next_run_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    next_run_at: datetime = _when()
    local_date: date = Field(sa_column=Column(Date(), nullable=False))
    plan_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("together_plans.id", ondelete="CASCADE"), nullable=True
        ),
    )
    claim_token: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    claimed_until: datetime | None = _when(nullable=True)
