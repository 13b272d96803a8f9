"""Seed many couples with bulk inserts, and hand out fresh copies of a seeded database.

Users are onboarded, paired and due for their morning nudge; going through the services for
tens of thousands of people would take longer than the benchmarks themselves.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import Table, func, select, text, update
from sqlmodel import SQLModel

import bot.db.tables  # noqa: F401  (registers every table on the metadata)
from bot.db.engine import create_engine
from bot.db.migrate import upgrade

# Monday 2 March 2026, 08:00 UTC: every due row is due at this minute.
DUE_AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# The bot's clock during a round: half a minute after the rows fell due.
NOW = DUE_AT + timedelta(seconds=30)
# Couples paired two months ago and pay (a subscription covers them until PAID_UNTIL), so every
# gated nudge is admitted and no trial notice is due: billing stays quiet during the round.
CREATED = DUE_AT - timedelta(days=60)
PAID_UNTIL = DUE_AT + timedelta(days=20)
FIRST_USER_ID = 700_000_000
# Zones with different offsets (and local dates), so local times are really per person.
ZONES = (
    "Europe/London",
    "Europe/Berlin",
    "Europe/Athens",
    "Atlantic/Azores",
    "America/Noronha",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Pacific/Auckland",
)
NAMES = ("Alex", "Sam", "Kim", "Noor", "Jo", "Ravi", "Mia", "Tomás", "Aiko", "Lena")
CHUNK = 2_000

PG_HOST, PG_PORT, PG_USER, PG_ADMIN_DB = "127.0.0.1", 5432, "postgres", "postgres"


@dataclass(frozen=True)
class Population:
    """How many couples exist and how many of their people are due at `DUE_AT`."""

    couples: int
    due_users: int

    def __post_init__(self) -> None:
        if not 0 < self.due_users <= 2 * self.couples:
            raise ValueError("due_users must be between 1 and two per couple")

    def due_user_ids(self) -> list[int]:
        """Return the Telegram ids (and chat ids) of the people due at `DUE_AT`."""
        return [FIRST_USER_ID + index for index in range(self.due_users)]


def user_id(index: int) -> int:
    """Return the Telegram id of the person with this running index (partners are 2c, 2c+1)."""
    return FIRST_USER_ID + index


def _local(at: datetime, zone: str) -> tuple[date, time]:
    local = at.astimezone(ZoneInfo(zone))
    return local.date(), local.time().replace(second=0, microsecond=0, tzinfo=None)


def _rows(population: Population, first: int, last: int) -> Iterator[tuple[str, dict[str, Any]]]:
    for couple in range(first, last):
        yield "couples", {"id": couple + 1, "created_at": CREATED}
        yield (
            "subscriptions",
            {
                "payer_id": user_id(2 * couple),
                "nonce": f"bench{couple:019d}",
                "charge_id": f"bench-charge-{couple}",
                "couple_id": couple + 1,
                "amount": 250,
                "paid_until": PAID_UNTIL,
                "renewal_canceled_at": None,
                "ended_at": None,
                "created_at": CREATED,
                "updated_at": CREATED,
            },
        )
        for partner in (0, 1):
            index = 2 * couple + partner
            zone = ZONES[index % len(ZONES)]
            due = index < population.due_users
            # People not due now are due later today (1 to 11 hours on), spread over minutes.
            run_at = DUE_AT if due else DUE_AT + timedelta(minutes=60 + index % 600)
            local_date, morning = _local(run_at, zone)
            yield (
                "users",
                {
                    "id": user_id(index),
                    "chat_id": user_id(index),
                    "telegram_name": f"{NAMES[index % len(NAMES)]} {index}",
                    "username": None,
                    "display_name": NAMES[index % len(NAMES)],
                    "locale": "en",
                    "timezone": zone,
                    "morning_time": morning,
                    "evening_time": time(21, 0),
                    "couple_id": couple + 1,
                    "onboarded_at": CREATED,
                    "bad_code_count": 0,
                    "bad_code_window_start": None,
                    "nudge_days": 127,
                    "paused_until": None,
                    "skip_date": None,
                    "unreachable_since": None,
                    "created_at": CREATED,
                    "updated_at": CREATED,
                },
            )
            yield (
                "nudge_schedules",
                {
                    "user_id": user_id(index),
                    "kind": "morning",
                    "next_run_at": run_at,
                    "local_date": local_date,
                    "claim_token": None,
                    "claimed_until": None,
                },
            )


# Couples first (partners unknown yet), then people, their schedules and subscriptions.
SEEDED = ("couples", "users", "nudge_schedules", "subscriptions")


def _known(table: Table, row: dict[str, Any], number: int) -> dict[str, Any]:
    """Keep the values of columns the table has, filling required columns added since.

    Billing and other features grow their tables; a placeholder (unique per row, so unique
    constraints hold) keeps seeding working as long as the nudge path doesn't read it.
    """
    values = {name: value for name, value in row.items() if name in table.columns}
    for column in table.columns:
        if column.name in values or column.nullable or column.primary_key:
            continue
        if column.default is not None or column.server_default is not None:
            continue
        python_type = column.type.python_type
        if python_type is str:
            length = getattr(column.type, "length", None) or 64
            values[column.name] = f"b{number}{column.name}"[:length]
        elif python_type is bool:
            values[column.name] = False
        elif python_type is int:
            values[column.name] = 0
        elif python_type is datetime:
            values[column.name] = CREATED
        else:
            raise RuntimeError(f"bench seeding can't fill {table.name}.{column.name}; update it")
    return values


async def seed(url: str, population: Population) -> None:
    """Insert the population into a migrated, empty database."""
    # Subscriptions only where billing exists in this version of the schema.
    order = [name for name in SEEDED if name in SQLModel.metadata.tables]
    tables: dict[str, Table] = {name: SQLModel.metadata.tables[name] for name in order}
    couples = tables["couples"]
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            per_chunk = CHUNK // 2
            for first in range(0, population.couples, per_chunk):
                last = min(population.couples, first + per_chunk)
                batches: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
                for number, (name, row) in enumerate(_rows(population, first, last)):
                    if name in tables:
                        batches[name].append(_known(tables[name], row, first * 8 + number))
                for name in order:
                    await connection.execute(tables[name].insert(), batches[name])
            await connection.execute(
                update(couples).values(
                    partner_a_id=FIRST_USER_ID + 2 * (couples.c.id - 1),
                    partner_b_id=FIRST_USER_ID + 2 * (couples.c.id - 1) + 1,
                )
            )
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT setval(pg_get_serial_sequence('couples', 'id'), :last)"),
                    {"last": population.couples},
                )
            seeded = (await connection.execute(select(func.count()).select_from(couples))).one()
            if seeded[0] != population.couples:
                raise RuntimeError(f"seeded {seeded[0]} couples, wanted {population.couples}")
    finally:
        await engine.dispose()


async def pg_admin(sql: str) -> None:
    """Run one statement on the PostgreSQL server's admin database."""
    connection = await asyncpg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB, timeout=10
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def pg_url(database: str) -> str:
    """Return the SQLAlchemy URL of a database on the local PostgreSQL server."""
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def _remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


@dataclass
class Databases:
    """Seeded templates per population, and fresh copies of them for each run."""

    kind: str  # "sqlite" or "postgresql"
    folder: Path
    _templates: dict[Population, str] = field(default_factory=dict)
    _created: list[str] = field(default_factory=list)
    _prefix: str = field(default_factory=lambda: f"bench_{uuid.uuid4().hex[:8]}")

    def __post_init__(self) -> None:
        if self.kind not in ("sqlite", "postgresql"):
            raise ValueError(f"unknown database kind {self.kind!r}")

    async def fresh(self, population: Population) -> str:
        """Return the URL of a new database holding `population`, nothing sent yet."""
        template = self._templates.get(population)
        if template is None:
            template = await self._make_template(population)
            self._templates[population] = template
        name = f"{self._prefix}_{len(self._created)}"
        if self.kind == "sqlite":
            path = self.folder / f"{name}.db"
            shutil.copyfile(template, path)
            self._created.append(str(path))
            return f"sqlite+aiosqlite:///{path}"
        await pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self._created.append(name)
        return pg_url(name)

    async def _make_template(self, population: Population) -> str:
        name = f"{self._prefix}_tpl_{population.couples}_{population.due_users}"
        if self.kind == "sqlite":
            path = self.folder / f"{name}.db"
            url = f"sqlite+aiosqlite:///{path}"
        else:
            await pg_admin(f'CREATE DATABASE "{name}"')
            self._created.append(name)
            url = pg_url(name)
        # Alembic's env runs its own event loop, so it gets a thread of its own.
        await asyncio.to_thread(upgrade, url)
        await seed(url, population)
        if self.kind == "sqlite":
            self._created.append(str(path))
            return str(path)
        return name

    async def drop(self, url: str) -> None:
        """Remove one database made by `fresh` (to keep the disk small between runs)."""
        if self.kind == "sqlite":
            _remove_sqlite(url.removeprefix("sqlite+aiosqlite:///"))
            return
        name = url.rsplit("/", 1)[-1]
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    async def close(self) -> None:
        """Drop every database this object created."""
        for created in reversed(self._created):
            if self.kind == "sqlite":
                _remove_sqlite(created)
            else:
                await pg_admin(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')
        self._created.clear()
        self._templates.clear()


async def ledger(url: str, *, at: datetime = NOW) -> dict[str, int]:
    """Count deliveries by status, and schedule rows still claimed or still due at `at`."""
    deliveries = SQLModel.metadata.tables["deliveries"]
    schedules = SQLModel.metadata.tables["nudge_schedules"]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            by_status = await connection.execute(
                select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            )
            counts = {f"deliveries_{status}": int(count) for status, count in by_status.all()}
            pending_tried = await connection.execute(
                select(func.count())
                .select_from(deliveries)
                .where(deliveries.c.status == "pending", deliveries.c.attempts > 0)
            )
            counts["deliveries_pending_attempted"] = int(pending_tried.scalar_one())
            claimed = await connection.execute(
                select(func.count())
                .select_from(schedules)
                .where(schedules.c.claim_token.is_not(None))
            )
            counts["schedules_claimed"] = int(claimed.scalar_one())
            due = await connection.execute(
                select(func.count()).select_from(schedules).where(schedules.c.next_run_at <= at)
            )
            counts["schedules_due"] = int(due.scalar_one())
    finally:
        await engine.dispose()
    return counts
