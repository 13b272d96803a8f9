"""Kinds and statuses are StrEnums whose values are the strings the database has always held."""

from __future__ import annotations

import enum

from sqlalchemy import text

from bot.core.clock import FixedClock
from bot.db.billing import NoticeKind, NoticeStatus
from bot.db.checkins import CheckinJob, CheckinStatus
from bot.db.closeness import ClosenessJob
from bot.db.engine import Sessions
from bot.db.models import DeliveryStatus, Invite, InviteStatus, NudgeKind
from bot.db.safety import PostKind, RequestStatus
from tests.support.factories import ALEX, onboard

# Stored in rows and named in migrations (the partial index on invites): never renamed.
STORED = {
    InviteStatus: ["active", "accepted", "declined", "revoked"],
    NudgeKind: ["morning", "evening", "reminder", "article", "video"],
    DeliveryStatus: ["pending", "sent", "dropped"],
    ClosenessJob: ["ex_offer", "vu_prompt"],
    NoticeKind: ["trial_started", "trial_ending", "trial_ended", "lapsed"],
    NoticeStatus: ["pending", "sent", "dropped"],
    CheckinStatus: ["open", "revealed", "closed"],
    CheckinJob: ["ci_open", "ci_remind", "ci_closed", "ci_courier"],
    RequestStatus: ["open", "claimed", "resolved"],
    PostKind: ["card", "reminder", "from_requester", "note", "to_requester"],
}


def test_the_stored_strings_stay_the_same() -> None:
    for kind, values in STORED.items():
        assert issubclass(kind, enum.StrEnum)
        assert [member.value for member in kind] == values, kind.__name__
        assert all(member == value for member, value in zip(kind, values, strict=True))


async def test_a_member_is_stored_as_its_string_and_reads_back_equal(
    sessions: Sessions, clock: FixedClock
) -> None:
    await onboard(sessions, clock, ALEX, "Alex", "Europe/Lisbon")
    now = clock.now()
    async with sessions.begin() as session:
        for number, status in enumerate((InviteStatus.REVOKED, InviteStatus.ACTIVE)):
            session.add(
                Invite(
                    inviter_id=ALEX,
                    code_hash=f"{number:064d}",
                    status=status,
                    created_at=now,
                    expires_at=now,
                )
            )
    async with sessions() as session:
        connection = await session.connection()
        ordered = text("SELECT status FROM invites ORDER BY code_hash")
        raw = (await connection.execute(ordered)).all()
        # The partial index names the plain string: the enum-bound row must match it.
        active = await connection.execute(
            text("SELECT count(*) FROM invites WHERE status = 'active'")
        )
        revoked = await connection.execute(text("SELECT id FROM invites WHERE status = 'revoked'"))
        loaded = await session.get(Invite, revoked.scalar_one())
    assert [row[0] for row in raw] == ["revoked", "active"]
    assert all(type(row[0]) is str for row in raw)
    assert active.scalar_one() == 1
    assert loaded is not None and loaded.status == InviteStatus.REVOKED
