"""Seed many couples with bulk inserts, and hand out fresh copies of a seeded database.

Users are onboarded, paired and due for one scheduled kind of message: their morning nudge (the
default), their weekly check-in invitation, an appreciation their partner wrote (the courier)
or the notice that their trial started. Going through the services for tens of thousands of
people would take longer than the benchmarks themselves.
"""

from __future__ import annotations

import asyncio
import itertools
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
from bot.billing.entitlements import TRIAL
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

# What a population's due people are due for at DUE_AT.
MORNING = "morning"  # the morning nudge (nudge engine)
CHECKIN = "checkin"  # the weekly check-in invitation (check-in engine)
COURIER = "courier"  # an appreciation from the partner (check-in engine)
TRIAL_NOTICE = "trial_notice"  # "your trial started" (billing notices)
KINDS = (MORNING, CHECKIN, COURIER, TRIAL_NOTICE)
# Zones where DUE_AT is local daytime (09:00 to 21:00, when billing notices may go out) on the
# same weekday. Partners share one for the kinds other than morning nudges, because a couple's
# check-in comes at one local day and time for both.
DAYTIME_ZONES = ("Europe/Berlin", "Europe/Athens", "Asia/Dubai", "Asia/Kolkata")
# Couples on a trial paired an hour before the round; the others two months before, and pay.
TRIAL_CREATED = DUE_AT - timedelta(hours=1)

PG_HOST, PG_PORT, PG_USER, PG_ADMIN_DB = "127.0.0.1", 5432, "postgres", "postgres"


@dataclass(frozen=True)
class Population:
    """How many couples exist, how many of their people are due at `DUE_AT`, and for what."""

    couples: int
    due_users: int
    kind: str = MORNING

    def __post_init__(self) -> None:
        if not 0 < self.due_users <= 2 * self.couples:
            raise ValueError("due_users must be between 1 and two per couple")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if self.kind != MORNING and self.due_users % 2:
            raise ValueError("check-ins, appreciations and trials come to both partners")

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
    kind = population.kind
    created = TRIAL_CREATED if kind == TRIAL_NOTICE else CREATED
    for couple in range(first, last):
        couple_due = 2 * couple < population.due_users
        yield "couples", {"id": couple + 1, "created_at": created}
        if kind != TRIAL_NOTICE:
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
        couple_zone = DAYTIME_ZONES[couple % len(DAYTIME_ZONES)]
        if kind == CHECKIN and couple_due:
            # The couple chose the weekday and local time of DUE_AT for its check-in.
            day, at = _local(DUE_AT, couple_zone)
            plan = {"couple_id": couple + 1, "weekday": day.weekday(), "at": at}
            yield "checkin_plans", plan | {"updated_at": CREATED}
        for partner in (0, 1):
            index = 2 * couple + partner
            zone = ZONES[index % len(ZONES)] if kind == MORNING else couple_zone
            due = index < population.due_users
            # People not due now are due later today (1 to 11 hours on), spread over minutes.
            later = DUE_AT + timedelta(minutes=60 + index % 600)
            run_at = DUE_AT if due and kind == MORNING else later
            local_date, morning = _local(run_at, zone)
            if due and kind != MORNING:
                yield from _due_rows(kind, index, couple, zone, created)
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
                    "onboarded_at": created,
                    "bad_code_count": 0,
                    "bad_code_window_start": None,
                    "nudge_days": 127,
                    "paused_until": None,
                    "skip_date": None,
                    "unreachable_since": None,
                    "created_at": created,
                    "updated_at": created,
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


def _due_rows(
    kind: str, index: int, couple: int, zone: str, created: datetime
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield what makes one person due at DUE_AT for a kind other than the morning nudge."""
    local_date, _ = _local(DUE_AT, zone)
    if kind in (CHECKIN, COURIER):
        job = "ci_open" if kind == CHECKIN else "ci_courier"
        yield (
            "checkin_schedules",
            {
                "user_id": user_id(index),
                "kind": job,
                "next_run_at": DUE_AT,
                "local_date": local_date,
                "checkin_id": None,
                "claim_token": None,
                "claimed_until": None,
            },
        )
    if kind == COURIER:
        yield (
            "appreciations",
            {
                "couple_id": couple + 1,
                "author_id": user_id(index ^ 1),
                "recipient_id": user_id(index),
                "text": f"Thanks for last night, {NAMES[index % len(NAMES)]} ({index}).",
                "created_at": DUE_AT - timedelta(hours=12),
                "delivered_at": None,
            },
        )
    if kind == TRIAL_NOTICE:
        yield (
            "billing_notices",
            {
                "user_id": user_id(index),
                "couple_id": couple + 1,
                "kind": "trial_started",
                "about": created + TRIAL,
                "next_run_at": DUE_AT,
                "status": "pending",
                "attempts": 0,
                "claim_token": None,
                "claimed_until": None,
                "created_at": created,
                "sent_at": None,
            },
        )


# Couples first (partners unknown yet), then people, their schedules and what is due.
SEEDED = (
    "couples",
    "users",
    "nudge_schedules",
    "subscriptions",
    "checkin_plans",
    "checkin_schedules",
    "appreciations",
    "billing_notices",
)


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
            serial = itertools.count()  # numbers the rows, for placeholders unique in a table
            for first in range(0, population.couples, per_chunk):
                last = min(population.couples, first + per_chunk)
                batches: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
                for name, row in _rows(population, first, last):
                    if name in tables:
                        batches[name].append(_known(tables[name], row, next(serial)))
                for name in order:
                    if batches[name]:  # an empty list would insert one row of defaults
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
        name = f"{self._prefix}_tpl_{population.kind}_{population.couples}_{population.due_users}"
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
    """Count the ledgers by status, and schedule rows still claimed or still due at `at`.

    Deliveries (nudges, check-ins, appreciations) and billing notices, each by status; the
    in-doubt ones: deliveries composed (an attempt counted) but with no result recorded, and
    notices claimed but not settled; nudge and check-in schedule rows claimed or due.
    """
    tables = SQLModel.metadata.tables
    deliveries, notices = tables["deliveries"], tables["billing_notices"]
    nudges, checkins = tables["nudge_schedules"], tables["checkin_schedules"]
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            async def count(table: Table, *where: Any) -> int:
                statement = select(func.count()).select_from(table).where(*where)
                return int((await connection.execute(statement)).scalar_one())

            counts: dict[str, int] = {}
            for name, table in (("deliveries", deliveries), ("notices", notices)):
                by_status = await connection.execute(
                    select(table.c.status, func.count()).group_by(table.c.status)
                )
                counts |= {f"{name}_{status}": int(number) for status, number in by_status.all()}
            counts["deliveries_pending_attempted"] = await count(
                deliveries, deliveries.c.status == "pending", deliveries.c.attempts > 0
            )
            counts["notices_pending_claimed"] = await count(
                notices, notices.c.status == "pending", notices.c.claim_token.is_not(None)
            )
            for name, table in (("schedules", nudges), ("checkin_schedules", checkins)):
                counts[f"{name}_claimed"] = await count(table, table.c.claim_token.is_not(None))
                counts[f"{name}_due"] = await count(table, table.c.next_run_at <= at)
    finally:
        await engine.dispose()
    return counts
