"""Tables for reading and watching: each partner's focus areas and article progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, String
from sqlmodel import Field, SQLModel

from bot.db.models import _when


class FocusChoice(SQLModel, table=True):
    """An area a partner wants to work on (up to three each)."""

    __tablename__ = "focus_choices"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    area: str = Field(sa_column=Column(String(32), primary_key=True))
    chosen_at: datetime = _when()


class ArticleProgress(SQLModel, table=True):
    """How far a partner has read an article: the next excerpt to show."""

    __tablename__ = "article_progress"

    user_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    article_id: str = Field(sa_column=Column(String(48), primary_key=True))
    next_excerpt: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    updated_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
