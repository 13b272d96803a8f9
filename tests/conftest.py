"""Shared fixtures: migrated databases (SQLite always, PostgreSQL where reachable), a clock."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.clock import FixedClock
from bot.db.engine import Sessions, create_engine, create_sessions
from bot.db.migrate import upgrade
from tests.support.databases import pg_admin, pg_unreachable, pg_url
from tests.support.factories import START


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """Create one migrated PostgreSQL database per run; tests copy it (fast)."""
    problem = pg_unreachable()
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{problem}; CI requires PostgreSQL")
        pytest.skip(problem)
    name = f"remainly_tpl_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(pg_url(name))
        yield name
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def postgres_url(postgres_template: str) -> AsyncIterator[str]:
    """Return the URL of a fresh, migrated PostgreSQL database for one test."""
    name = f"remainly_t_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"')
    try:
        yield pg_url(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one SQLite file per run; tests copy it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """Return the URL of a fresh, migrated SQLite file for one test."""
    path = tmp_path / "bot.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run a test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Return an engine on a fresh, migrated database."""
    created = create_engine(database_url)
    yield created
    await created.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> Sessions:
    """Return a session factory on a fresh, migrated database."""
    return create_sessions(engine)


@pytest.fixture
def clock() -> FixedClock:
    """Return a clock the test moves by hand."""
    return FixedClock(START)
