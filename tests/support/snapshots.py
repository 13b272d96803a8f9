"""Every row of every table, to show that something changed nothing."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlmodel import SQLModel

from bot.app import BotApplication
from bot.telegram.context import services_of

# What the bot said (ids kept for /hide): a reply changes it, though it changes nothing else.
REPLIES = frozenset({"sent_messages"})


async def snapshot(
    application: BotApplication, *, skip: Collection[str] = ()
) -> dict[str, list[str]]:
    """Read every row of every table (but those in `skip`)."""
    tables: dict[str, list[str]] = {}
    async with services_of(application).sessions() as session:
        connection = await session.connection()
        for table in SQLModel.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = (await connection.execute(select(table))).all()
            tables[table.name] = sorted(repr(tuple(row)) for row in rows)
    return tables
