"""Export and erasure on real databases: everything about a person, and nothing left after."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import BigInteger, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel
from sqlmodel import select as sqlmodel_select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.checkins import appreciations
from bot.core.clock import FixedClock
from bot.core.errors import StaleAction
from bot.db.checkins import Appreciation
from bot.db.engine import Sessions, create_engine, create_sessions
from bot.db.models import Couple, CoupleQuestion, User
from bot.db.safety import PostKind
from bot.nudges import questions
from bot.people import data_rights
from bot.safety import counsellor
from bot.safety import signals as safety
from tests.support.factories import RHYTHM, counsellor_request, nudge_engine, onboard, pair
from tests.support.senders import FakeSender
from tests.support.waiting import run_until

T = TypeVar("T")
# Ids no counter in the schema reaches, so a scan of every integer column can look for them.
ME, PARTNER = 7_700_000_002, 7_700_000_001


async def _in(sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions.begin() as session:
        return await work(session)


@pytest.fixture
async def lived_in(sessions: Sessions, clock: FixedClock) -> int:
    """A couple who used most of the bot for a day; return their couple id."""
    await onboard(sessions, clock, PARTNER, "Robin", "Europe/Lisbon")
    await onboard(sessions, clock, ME, "Sam", "Europe/London")
    couple_id = await pair(sessions, clock, PARTNER, ME)
    await run_until(
        nudge_engine(sessions, clock, FakeSender()), clock, datetime(2026, 3, 2, 21, 1, tzinfo=UTC)
    )
    async with sessions() as session:
        question = (await session.exec(sqlmodel_select(CoupleQuestion))).one()
    assert question.id is not None
    question_id = question.id
    now = clock.now()
    await _in(sessions, lambda s: questions.save_answer(s, ME, question_id, "Mine", now=now))
    await _in(sessions, lambda s: questions.save_answer(s, PARTNER, question_id, "Theirs", now=now))
    await _in(sessions, lambda s: safety.signal(s, ME, now=now))
    await _in(sessions, lambda s: safety.set_discreet(s, ME, on=True, now=now))
    await _in(sessions, lambda s: safety.record_sent(s, ME, 41, now=now))
    await _in(sessions, lambda s: safety.record_sent(s, PARTNER, 42, now=now))
    await _in(sessions, lambda s: safety.hold(s, ME, "held", [[("Show", "x")]], now=now))
    request_id = (await counsellor_request(sessions, clock, ME, for_whom="me")).request_id
    await _in(
        sessions,
        lambda s: counsellor.record_post(
            s, request_id, PostKind.CARD, chat_id=-100123, message_id=43, now=now
        ),
    )
    await _in(sessions, lambda s: counsellor.begin_intake(s, ME, now=now))
    return couple_id


async def test_export_holds_everything_about_the_person_and_nothing_of_the_partner(
    sessions: Sessions, clock: FixedClock, lived_in: int
) -> None:
    data = await _in(sessions, lambda s: data_rights.export(s, ME, now=clock.now()))
    document = json.loads(data_rights.export_json(data))
    assert document["person"]["id"] == ME and document["person"]["telegram_name"] == "Sam"
    tables = document["tables"]
    assert [row["text"] for row in tables["answers"]] == ["Mine"]
    assert {row["kind"] for row in tables["deliveries"]} >= {"evening"}
    assert tables["safety_signals"][0]["user_id"] == ME
    assert tables["counsellor_requests"][0]["topic"] == "trust"
    assert [row["message_id"] for row in tables["sent_messages"]] == [41]
    assert tables["conversations"][0]["state"] == counsellor.INTAKE
    [couple] = tables["couples"]
    assert couple["partner_b_id"] == ME and couple["partner_a_id"] is None
    [invite] = tables["invites"]
    assert invite["invitee_id"] == ME and invite["inviter_id"] is None
    text = data_rights.export_json(data).decode()
    assert "Theirs" not in text and str(PARTNER) not in text and "Robin" not in text


async def test_erasing_needs_the_confirmation_step(
    sessions: Sessions, clock: FixedClock, lived_in: int
) -> None:
    with pytest.raises(StaleAction):
        await _in(sessions, lambda s: data_rights.erase(s, ME, now=clock.now(), rhythm=RHYTHM))
    await _in(sessions, lambda s: data_rights.ask_to_erase(s, ME, now=clock.now()))
    await _in(sessions, lambda s: data_rights.keep(s, ME))
    with pytest.raises(StaleAction):
        await _in(sessions, lambda s: data_rights.erase(s, ME, now=clock.now(), rhythm=RHYTHM))
    async with sessions() as session:
        assert await session.get(User, ME) is not None


async def _rows_naming(session: AsyncSession, person: int) -> list[tuple[str, str, Any]]:
    """Find `person` in every column of every table that can hold a Telegram id."""
    found = []
    connection = await session.connection()
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, BigInteger):
                continue
            result = await connection.execute(select(column).where(column == person))
            found += [(table.name, column.name, value) for value in result.scalars()]
    return found


async def test_after_erasing_nothing_names_the_person_anywhere(
    sessions: Sessions, clock: FixedClock, lived_in: int
) -> None:
    async with sessions() as session:
        before = await _rows_naming(session, ME)
    # The scan sees the person in many places before, so an empty scan after means something.
    assert {table for table, _, _ in before} >= {
        "users",
        "answers",
        "deliveries",
        "nudge_schedules",
        "couples",
        "invites",
        "safety_signals",
        "counsellor_requests",
        "sent_messages",
        "held_messages",
        "conversations",
    }
    await _in(sessions, lambda s: data_rights.ask_to_erase(s, ME, now=clock.now()))
    erased = await _in(sessions, lambda s: data_rights.erase(s, ME, now=clock.now(), rhythm=RHYTHM))
    assert erased.partner is not None and erased.partner.user_id == PARTNER

    async with sessions() as session:
        assert await _rows_naming(session, ME) == []
        for table, columns in data_rights.person_columns():
            for column in columns:
                result = await (await session.connection()).execute(
                    select(column).where(column == ME)
                )
                assert result.first() is None, f"{table.name}.{column.name}"
        # The partner keeps their own data, unpaired; the couple record stays, anonymised.
        partner = await session.get(User, PARTNER)
        assert partner is not None and partner.couple_id is None
        couple = await session.get(Couple, lived_in)
        assert couple is not None and couple.ended_at is not None
        assert (couple.partner_a_id, couple.partner_b_id, couple.ended_by_id) == (
            PARTNER,
            None,
            None,
        )
        assert not await safety.exercises_paused(session, lived_in)
    data = await _in(sessions, lambda s: data_rights.export(s, PARTNER, now=clock.now()))
    assert [row["text"] for row in data["tables"]["answers"]] == ["Theirs"]
    assert [row["message_id"] for row in data["tables"]["sent_messages"]] == [42]


def _sqlite_files_hold(path: Path, data: bytes) -> bool:
    """Tell whether the raw bytes of a SQLite database or its WAL contain `data`."""
    wal = path.with_name(path.name + "-wal")
    return any(data in file.read_bytes() for file in (path, wal) if file.exists())


async def test_erased_words_leave_the_sqlite_file(sqlite_url: str, clock: FixedClock) -> None:
    # Some SQLite builds turn secure delete on by default; the engine must not rely on it.
    secret = "Zanzibar-kept-in-my-held-message-7731"
    engine = create_engine(sqlite_url)
    sessions = create_sessions(engine)
    try:
        await onboard(sessions, clock, ME, "Sam", "Europe/London")
        now = clock.now()
        await _in(sessions, lambda s: safety.hold(s, ME, secret, [[("Show", "x")]], now=now))
        async with engine.connect() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        path = Path(str(make_url(sqlite_url).database))
        # The words reached the file, so their absence afterwards means something.
        assert _sqlite_files_hold(path, secret.encode())
        await _in(sessions, lambda s: data_rights.ask_to_erase(s, ME, now=now))
        await _in(sessions, lambda s: data_rights.erase(s, ME, now=now, rhythm=RHYTHM))
        async with engine.connect() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        await engine.dispose()
    assert not _sqlite_files_hold(path, secret.encode())


async def test_an_erased_persons_ids_are_never_given_to_the_next_person(
    sessions: Sessions, clock: FixedClock
) -> None:
    """A stale staff card or Show button names an id: it must never reach someone else's row."""
    alice, carol = 7_700_000_011, 7_700_000_012
    await onboard(sessions, clock, alice, "Alice", "Europe/London")
    await onboard(sessions, clock, carol, "Carol", "Europe/London")
    now = clock.now()
    first_request = (await counsellor_request(sessions, clock, alice)).request_id
    first_held = await _in(sessions, lambda s: safety.hold(s, alice, "x", [], now=now))
    await _in(sessions, lambda s: data_rights.ask_to_erase(s, alice, now=now))
    await _in(sessions, lambda s: data_rights.erase(s, alice, now=now, rhythm=RHYTHM))

    second_request = (await counsellor_request(sessions, clock, carol)).request_id
    second_held = await _in(sessions, lambda s: safety.hold(s, carol, "y", [], now=now))
    assert second_request > first_request
    assert second_held > first_held


async def test_an_appreciation_reaches_the_export_of_its_recipient_only_once_delivered(
    sessions: Sessions, clock: FixedClock
) -> None:
    await onboard(sessions, clock, PARTNER, "Robin", "Europe/Lisbon")
    await onboard(sessions, clock, ME, "Sam", "Europe/London")
    await pair(sessions, clock, PARTNER, ME)
    now = clock.now()

    async def write(author: int, words: str) -> None:
        await _in(
            sessions,
            lambda s: appreciations.write(
                s, author, words, now=now, default_morning=time(8), default_zone="Europe/London"
            ),
        )

    await write(PARTNER, "Your laugh this morning")
    await write(ME, "Thank you for the tea")

    async def texts() -> list[str]:
        data = await _in(sessions, lambda s: data_rights.export(s, ME, now=clock.now()))
        return sorted(row["text"] for row in data["tables"].get("appreciations", []))

    # Until it is delivered, Robin's note is Robin's: Sam's export holds only Sam's own.
    assert await texts() == ["Thank you for the tea"]
    async with sessions() as session:
        ids = (
            await session.exec(
                sqlmodel_select(Appreciation.id).where(Appreciation.recipient_id == ME)
            )
        ).all()
    await _in(sessions, lambda s: appreciations.mark_delivered(s, [i for i in ids if i], now=now))
    assert await texts() == ["Thank you for the tea", "Your laugh this morning"]
