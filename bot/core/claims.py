"""The one claim for due work: a lease taken with `FOR UPDATE SKIP LOCKED` on PostgreSQL.

Every scheduled kind (nudges, check-ins, billing notices, staff re-announcements) takes its
due rows here, so several workers share the rows without waiting on each other. On SQLite,
with one writer, the conditional update alone is enough. What a kind marks as taken (a claim
token and a lease end, or its next announcement) makes the row not due for the others until
the lease runs out, so a worker that died leaves nothing stuck.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy import select as core_select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession


def new_token() -> str:
    """Return a token that names one claim, so only its holder settles the rows."""
    return secrets.token_hex(8)


def lease_free(claimed_until: Any, now: datetime) -> ColumnElement[bool]:
    """Return the condition that nobody holds a row's lease right now."""
    return or_(col(claimed_until).is_(None), col(claimed_until) < now)


def due_at(next_run_at: Any, claimed_until: Any, now: datetime) -> ColumnElement[bool]:
    """Return the condition that a row's time has come and nobody holds it."""
    return and_(col(next_run_at) <= now, lease_free(claimed_until, now))


async def claim_rows(
    session: AsyncSession,
    table: type[SQLModel],
    *,
    due: ColumnElement[bool],
    order_by: Any,
    limit: int,
    take: Mapping[str, Any],
    returning: Sequence[Any],
) -> list[Any]:
    """Mark up to `limit` due rows as taken (`take`), oldest first; return `returning` of each."""
    key = col(table.id)  # type: ignore[attr-defined]
    ids = core_select(key).where(due).order_by(order_by).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Picked once, in a materialized CTE: as a plain IN subquery the planner may run the
        # locking subquery again for each row it updates, and every run skips the rows the
        # update already took, so far more than `limit` rows would be taken.
        picked = ids.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        chosen = key.in_(core_select(picked.c.id).scalar_subquery())
    else:
        chosen = key.in_(ids.scalar_subquery())
    statement = update(table).where(chosen, due).values(**take).returning(*returning)
    return list((await session.exec(statement)).all())
