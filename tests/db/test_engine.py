"""What the engine promises on both databases: errors that never repeat what people wrote."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

PRIVATE = "I still think about what you said at the lake"


async def test_a_database_error_never_shows_the_statement_parameters(
    engine: AsyncEngine,
) -> None:
    insert = text(
        "INSERT INTO users (id, chat_id, telegram_name, locale, bad_code_count, nudge_days,"
        " created_at, updated_at) VALUES (:id, :id, :name, 'en', 0, 127, :now, :now)"
    )
    values = {"id": 5_500_000_001, "name": PRIVATE, "now": datetime(2026, 3, 2, 9, tzinfo=UTC)}
    async with engine.begin() as connection:
        await connection.execute(insert, values)
    with pytest.raises(IntegrityError) as caught:
        async with engine.begin() as connection:
            await connection.execute(insert, values)
    assert PRIVATE not in str(caught.value)
    assert PRIVATE not in repr(caught.value)
