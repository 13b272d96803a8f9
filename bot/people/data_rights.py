"""Data rights: export everything stored about a person, and erase it on request.

Both walk the table metadata, so a table added later is covered without changes here: any
column with a foreign key to users.id names a person.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Table, delete, or_, select, update
from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

import bot.db.tables  # noqa: F401  (registers every table on the metadata)
from bot.core.errors import StaleAction
from bot.db.inbox import InboxStatus, InboxUpdate
from bot.db.models import Couple, User
from bot.nudges.schedules import Rhythm
from bot.people import conversation, pairing
from bot.people.profiles import require
from bot.safety.signals import Recipient, recipient_of

ERASING = "data.deleting"
# Columns that name a person but carry no foreign key (so no cascade reaches them).
UNLINKED_PERSON_COLUMNS = (("couples", "ended_by_id"), ("invites", "invitee_id"))
# Rows addressed to a person that stay the writer's until delivered: (table, to, delivered).
UNTIL_DELIVERED = (("appreciations", "recipient_id", "delivered_at"),)
# Messages kept for one person that may name another (whose words they carry): (table, owner).
KEPT_FOR_OWNER = (("held_messages", "user_id"),)


@dataclass(frozen=True)
class Erased:
    """What erasing a person changed for others: the partner to tell, if they were paired."""

    partner: Recipient | None


def person_columns() -> Iterator[tuple[Table, list[Column[Any]]]]:
    """Yield every table with the columns in it that name a person."""
    unlinked = set(UNLINKED_PERSON_COLUMNS)
    for table in SQLModel.metadata.sorted_tables:
        columns = [
            column
            for column in table.columns
            if any(key.target_fullname == "users.id" for key in column.foreign_keys)
            or (table.name, column.name) in unlinked
        ]
        if columns and table.name != User.__tablename__:
            yield table, columns


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


async def export(session: AsyncSession, user_id: int, *, now: datetime) -> dict[str, Any]:
    """Collect every row about this person; other people's ids in those rows are left out."""
    user = await require(session, user_id)
    users = SQLModel.metadata.tables[User.__tablename__]
    # Core selects over plain tables, on the session's own connection and transaction.
    connection = await session.connection()
    person = (await connection.execute(select(users).where(users.c.id == user.id))).one()
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, columns in person_columns():
        result = await connection.execute(
            select(table).where(or_(*(column == user_id for column in columns)))
        )
        rows = []
        for row in result.mappings():
            if _not_yet_theirs(table.name, row, user_id, columns):
                continue
            plain = {key: _plain(value) for key, value in row.items()}
            for column in columns:
                if plain.get(column.name) not in (None, user_id):
                    plain[column.name] = None
            rows.append(plain)
        if rows:
            tables[table.name] = rows
    return {
        "exported_at": now.isoformat(),
        "person": {key: _plain(value) for key, value in person._mapping.items()},
        "tables": tables,
    }


def _not_yet_theirs(table_name: str, row: Any, user_id: int, columns: list[Column[Any]]) -> bool:
    """Tell whether a row only names the person as the addressee of something not yet sent,
    or is a message kept for someone else."""
    for name, owner in KEPT_FOR_OWNER:
        if name == table_name and row[owner] != user_id:
            return True
    for name, to, delivered in UNTIL_DELIVERED:
        if name != table_name or row[to] != user_id or row[delivered] is not None:
            continue
        # Addressed to them, undelivered: theirs only if they are also named another way.
        return not any(row[column.name] == user_id for column in columns if column.name != to)
    return False


def export_json(data: dict[str, Any]) -> bytes:
    """Serialise an export as readable UTF-8 JSON."""
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode()


async def ask_to_erase(session: AsyncSession, user_id: int, *, now: datetime) -> User:
    """Remember that this person was asked to confirm erasing their data."""
    user = await require(session, user_id)
    await conversation.expect(session, user_id, ERASING, now=now)
    return user


async def check_erasing(session: AsyncSession, user_id: int) -> None:
    """Raise StaleAction unless this person was asked to confirm erasing their data."""
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != ERASING:
        raise StaleAction()


async def keep(session: AsyncSession, user_id: int) -> None:
    """The person changed their mind: nothing is erased."""
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != ERASING:
        raise StaleAction()
    await conversation.forget(session, user_id)


async def erase(session: AsyncSession, user_id: int, *, now: datetime, rhythm: Rhythm) -> Erased:
    """Unpair this person, then erase them; records the law requires stay, anonymised.

    The users row goes last: foreign keys cascade to everything of theirs and set the
    person to NULL in records kept for others or for the law (a couple, a payment).
    """
    waiting = await conversation.awaiting(session, user_id)
    if waiting is None or waiting.state != ERASING:
        raise StaleAction()
    user = await require(session, user_id)
    partner = None
    if user.couple_id is not None:
        partner = await pairing.unpair(session, user_id, user.couple_id, now=now, rhythm=rhythm)
    erased = Erased(recipient_of(partner) if partner is not None else None)
    # A pause this person's safety signal caused says something about them: it goes too.
    await session.exec(
        update(Couple)
        .where(or_(col(Couple.partner_a_id) == user_id, col(Couple.partner_b_id) == user_id))
        .values(exercises_paused_at=None)
    )
    for table_name, column_name in UNLINKED_PERSON_COLUMNS:
        table = SQLModel.metadata.tables[table_name]
        await session.exec(
            update(table).where(table.c[column_name] == user_id).values({column_name: None})
        )
    # Updates from this person that wait for nothing more (parked ones keep their words);
    # handled ones keep no chat, and the ones still waiting are handled like new arrivals.
    await session.exec(
        delete(InboxUpdate).where(
            col(InboxUpdate.chat_key).in_({user_id, user.chat_id}),
            col(InboxUpdate.status) != InboxStatus.PENDING,
        )
    )
    await session.exec(delete(User).where(col(User.id) == user_id))
    # What the session still holds about this person is gone from the database.
    session.expunge_all()
    return erased
