"""Tables of the closeness exercises: expectations maps, vulnerability rounds, their schedule."""

from __future__ import annotations

import enum
from datetime import date, datetime
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
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from bot.db.models import NEVER_REUSED_IDS, _when

VULNERABILITY_MAX_LENGTH = 1000


def _person() -> Any:
    return Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )


def _couple() -> Any:
    return Field(
        sa_column=Column(Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=False)
    )


class ExpectationMap(SQLModel, table=True):
    """One round of a couple's expectations map; the statements are fixed when it opens."""

    __tablename__ = "expectation_maps"
    __table_args__ = (
        # At most one unrevealed map per couple, enforced by the database itself.
        Index(
            "uq_expectation_maps_one_open_per_couple",
            "couple_id",
            unique=True,
            sqlite_where=text("revealed_at IS NULL"),
            postgresql_where=text("revealed_at IS NULL"),
        ),
        Index("ix_expectation_maps_couple_id_opened_at", "couple_id", "opened_at"),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = _couple()
    statement_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    opened_at: datetime = _when()
    revealed_at: datetime | None = _when(nullable=True)
    # Worked out once both finished, from the deck as it was: the map areas the two see
    # differently, and the library focus areas and question topics those point picks at.
    focus_areas: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    focus: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    topics: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ExpectationAnswer(SQLModel, table=True):
    """One partner's place on the scale for one statement of a map."""

    __tablename__ = "expectation_answers"
    __table_args__ = (
        UniqueConstraint(
            "map_id",
            "user_id",
            "statement_id",
            name="uq_expectation_answers_map_id_user_id_statement_id",
        ),
        CheckConstraint("score >= 1 AND score <= 5", name="score_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    map_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("expectation_maps.id", ondelete="CASCADE"), nullable=False
        )
    )
    user_id: int = _person()
    statement_id: str = Field(sa_column=Column(String(48), nullable=False))
    score: int = Field(sa_column=Column(SmallInteger, nullable=False))
    answered_at: datetime = _when()


class VulnerabilityOptIn(SQLModel, table=True):
    """A person who said yes to the weekly vulnerability prompt (no row: not opted in)."""

    __tablename__ = "vulnerability_opt_ins"

    user_id: int = Field(
        sa_column=Column(
            BigInteger,
            ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        )
    )
    opted_in_at: datetime = _when()


class VulnerabilityRound(SQLModel, table=True):
    """One week's prompt for a couple; revealed once both partners wrote an answer."""

    __tablename__ = "vulnerability_rounds"
    __table_args__ = (
        Index("ix_vulnerability_rounds_couple_id_opened_at", "couple_id", "opened_at"),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    couple_id: int = _couple()
    prompt_id: str = Field(sa_column=Column(String(48), nullable=False))
    opened_at: datetime = _when()
    closes_at: datetime = _when()
    revealed_at: datetime | None = _when(nullable=True)


class VulnerabilityAnswer(SQLModel, table=True):
    """One partner's answer to a round, or their private "not ready" (text empty)."""

    __tablename__ = "vulnerability_answers"
    __table_args__ = (
        UniqueConstraint("round_id", "user_id", name="uq_vulnerability_answers_round_id_user_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    round_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("vulnerability_rounds.id", ondelete="CASCADE"), nullable=False
        )
    )
    user_id: int = _person()
    text: str | None = Field(
        default=None, sa_column=Column(String(VULNERABILITY_MAX_LENGTH), nullable=True)
    )
    not_ready: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    answered_at: datetime = _when()


class ClosenessJob(enum.StrEnum):
    """The kinds of closeness work the tick finds by time."""

    MAP_OFFER = "ex_offer"  # offer the expectations map: after pairing, then every 3 months
    PROMPT = "vu_prompt"  # the weekly vulnerability prompt, when both partners opted in


class ClosenessSchedule(SQLModel, table=True):
    """When a person's next piece of closeness work is due; the tick claims due rows."""

    __tablename__ = "closeness_schedules"
    __table_args__ = (
        UniqueConstraint("user_id", "kind", name="uq_closeness_schedules_user_id_kind"),
        Index("ix_closeness_schedules_next_run_at", "next_run_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = _person()
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    next_run_at: datetime = _when()
    # The person's local date of the run: the delivery ledger is keyed on it.
    local_date: date = Field(sa_column=Column(Date(), nullable=False))
    claim_token: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    claimed_until: datetime | None = _when(nullable=True)
