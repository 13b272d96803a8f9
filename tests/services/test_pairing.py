"""Pairing against real databases: invites, consent, one couple per person, unpairing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.core.clock import FixedClock
from bot.core.errors import DomainError, StaleAction
from bot.db.engine import Sessions
from bot.db.models import Couple, Invite, InviteStatus, User
from bot.people import conversation, pairing
from bot.people import profiles as people
from tests.support.factories import RHYTHM

TTL = timedelta(hours=48)
LIMIT, WINDOW = 3, timedelta(minutes=15)


async def _person(sessions: Sessions, clock: FixedClock, user_id: int, name: str) -> None:
    async with sessions.begin() as session:
        await people.register(
            session,
            user_id=user_id,
            chat_id=user_id,
            telegram_name=name,
            username=None,
            locale="en",
            now=clock.now(),
            rhythm=RHYTHM,
        )


@pytest.fixture
async def alex_and_sam(sessions: Sessions, clock: FixedClock) -> tuple[int, int]:
    await _person(sessions, clock, 1, "Alex")
    await _person(sessions, clock, 2, "Sam")
    return 1, 2


async def _invite(sessions: Sessions, clock: FixedClock, user_id: int) -> pairing.NewInvite:
    async with sessions.begin() as session:
        return await pairing.create_invite(session, user_id, now=clock.now(), ttl=TTL)


async def _open(
    sessions: Sessions, clock: FixedClock, user_id: int, payload: str
) -> pairing.InvitePreview:
    async with sessions.begin() as session:
        return await pairing.open_invite(
            session,
            user_id,
            payload,
            now=clock.now(),
            bad_code_limit=LIMIT,
            bad_code_window=WINDOW,
        )


async def _open_error(sessions: Sessions, clock: FixedClock, user_id: int, payload: str) -> str:
    """Open an invite that must fail, committing the bad-code count as the handler does."""
    async with sessions.begin() as session:
        with pytest.raises(DomainError) as caught:
            await pairing.open_invite(
                session,
                user_id,
                payload,
                now=clock.now(),
                bad_code_limit=LIMIT,
                bad_code_window=WINDOW,
            )
    return caught.value.key


async def _pair(sessions: Sessions, clock: FixedClock, inviter: int, invitee: int) -> int:
    made = await _invite(sessions, clock, inviter)
    preview = await _open(sessions, clock, invitee, made.payload)
    async with sessions.begin() as session:
        return (
            await pairing.accept(
                session, invitee, preview.invite_id, now=clock.now(), rhythm=RHYTHM
            )
        ).couple_id


async def test_invite_code_is_random_long_and_stored_only_as_hash(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    made = await _invite(sessions, clock, 1)
    code = made.payload.removeprefix(pairing.INVITE_PREFIX)
    assert len(code) * 6 >= 128  # base64url: six bits per character
    assert made.expires_at == clock.now() + TTL
    async with sessions() as session:
        invite = (await session.exec(select(Invite))).one()
    assert invite.code_hash == pairing.hash_code(code)
    assert code not in invite.code_hash


async def test_accepting_pairs_both_and_kills_other_invites(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    await _invite(sessions, clock, 2)  # Sam had made an invite of their own
    made = await _invite(sessions, clock, 1)
    preview = await _open(sessions, clock, 2, made.payload)
    assert preview.inviter_name == "Alex"
    async with sessions.begin() as session:
        paired = await pairing.accept(session, 2, preview.invite_id, now=clock.now(), rhythm=RHYTHM)
    assert paired.inviter.couple_id == paired.invitee.couple_id == paired.couple_id
    async with sessions() as session:
        statuses = sorted((await session.exec(select(Invite.status))).all())
        assert statuses == [InviteStatus.ACCEPTED, InviteStatus.REVOKED]
        couple = await session.get(Couple, paired.couple_id)
        assert couple is not None and (couple.partner_a_id, couple.partner_b_id) == (1, 2)
        assert await conversation.awaiting(session, 2) is None


async def test_one_active_invite_per_person(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    first = await _invite(sessions, clock, 1)
    await _invite(sessions, clock, 1)
    assert await _open_error(sessions, clock, 2, first.payload) == "pairing.invite_revoked"
    async with sessions() as session:
        active = await session.exec(
            select(func.count()).where(col(Invite.status) == InviteStatus.ACTIVE)
        )
        assert active.one() == 1


async def test_each_bad_invite_gets_its_own_kind_reason(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    await _person(sessions, clock, 3, "Kim")
    own = await _invite(sessions, clock, 1)
    assert await _open_error(sessions, clock, 1, own.payload) == "pairing.invite_self"
    assert await _open_error(sessions, clock, 2, "inv_garbage!") == "pairing.invite_unknown"
    async with sessions.begin() as session:
        assert await pairing.revoke_invite(session, 1, now=clock.now())
    assert await _open_error(sessions, clock, 2, own.payload) == "pairing.invite_revoked"

    expiring = await _invite(sessions, clock, 1)
    clock.advance(TTL + timedelta(seconds=1))
    assert await _open_error(sessions, clock, 3, expiring.payload) == "pairing.invite_expired"

    used = await _invite(sessions, clock, 1)
    preview = await _open(sessions, clock, 2, used.payload)
    async with sessions.begin() as session:
        await pairing.accept(session, 2, preview.invite_id, now=clock.now(), rhythm=RHYTHM)
    assert await _open_error(sessions, clock, 3, used.payload) == "pairing.invite_used"


async def test_repeated_bad_codes_are_throttled_then_allowed_again(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    good = await _invite(sessions, clock, 1)
    for _ in range(LIMIT):
        assert await _open_error(sessions, clock, 2, "inv_" + "x" * 32) == "pairing.invite_unknown"
    # Even the right code is refused while throttled: guessing stays pointless.
    assert await _open_error(sessions, clock, 2, good.payload) == "pairing.too_many_tries"
    clock.advance(WINDOW)
    preview = await _open(sessions, clock, 2, good.payload)
    assert preview.inviter_name == "Alex"


async def test_accept_needs_the_invite_this_person_opened(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    await _person(sessions, clock, 3, "Kim")
    made = await _invite(sessions, clock, 1)
    preview = await _open(sessions, clock, 2, made.payload)
    # Kim never opened the link: forging its button changes nothing.
    async with sessions.begin() as session:
        with pytest.raises(StaleAction):
            await pairing.accept(session, 3, preview.invite_id, now=clock.now(), rhythm=RHYTHM)
    async with sessions.begin() as session:
        with pytest.raises(StaleAction):
            await pairing.accept(session, 2, preview.invite_id + 1, now=clock.now(), rhythm=RHYTHM)
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Couple))).one() == 0


async def test_a_person_is_in_at_most_one_couple(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    await _person(sessions, clock, 3, "Kim")
    kim_invite = await _invite(sessions, clock, 3)
    preview = await _open(sessions, clock, 2, kim_invite.payload)
    await _pair(sessions, clock, 1, 2)  # meanwhile Sam pairs with Alex
    # The old Accept button is stale, and opening Kim's link again says why it can't work.
    async with sessions.begin() as session:
        with pytest.raises(StaleAction):
            await pairing.accept(session, 2, preview.invite_id, now=clock.now(), rhythm=RHYTHM)
    assert await _open_error(sessions, clock, 2, kim_invite.payload) == "pairing.already_paired"
    async with sessions.begin() as session:
        with pytest.raises(DomainError, match=r"pairing\.already_paired"):
            await pairing.create_invite(session, 1, now=clock.now(), ttl=TTL)
    async with sessions() as session:
        kim = await session.get(User, 3)
        assert kim is not None and kim.couple_id is None


async def test_decline_tells_who_invited_and_uses_up_the_invite(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    made = await _invite(sessions, clock, 1)
    preview = await _open(sessions, clock, 2, made.payload)
    async with sessions.begin() as session:
        declined = await pairing.decline(session, 2, preview.invite_id, now=clock.now())
    assert declined.inviter.id == 1
    assert await _open_error(sessions, clock, 2, made.payload) == "pairing.invite_used"


async def test_unpair_ends_the_couple_for_both_and_rejects_stale_confirmations(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    couple_id = await _pair(sessions, clock, 1, 2)
    async with sessions.begin() as session:
        with pytest.raises(StaleAction):
            await pairing.unpair(session, 1, couple_id + 1, now=clock.now(), rhythm=RHYTHM)
    async with sessions.begin() as session:
        partner = await pairing.unpair(session, 1, couple_id, now=clock.now(), rhythm=RHYTHM)
    assert partner is not None and partner.id == 2 and partner.couple_id is None
    async with sessions.begin() as session:
        with pytest.raises(StaleAction):
            await pairing.unpair(session, 2, couple_id, now=clock.now(), rhythm=RHYTHM)
    async with sessions() as session:
        couple = await session.get(Couple, couple_id)
        assert couple is not None and couple.ended_at == clock.now() and couple.ended_by_id == 1
    # Both are free again; pairing with each other within 30 days reopens the same couple.
    assert await _pair(sessions, clock, 2, 1) == couple_id


async def test_shared_history_is_erased_30_days_after_unpairing(
    sessions: Sessions, clock: FixedClock, alex_and_sam: tuple[int, int]
) -> None:
    from datetime import date

    from bot.db.models import CoupleQuestion

    couple_id = await _pair(sessions, clock, 1, 2)
    async with sessions.begin() as session:
        session.add(
            CoupleQuestion(
                couple_id=couple_id,
                question_date=date(2026, 3, 2),
                prompt_id="cur-0001",
                created_at=clock.now(),
            )
        )
    async with sessions.begin() as session:
        await pairing.unpair(session, 2, couple_id, now=clock.now(), rhythm=RHYTHM)
    clock.advance(timedelta(days=29))
    async with sessions.begin() as session:
        assert await pairing.purge_ended_history(session, now=clock.now()) == 0
    clock.advance(timedelta(days=1))
    async with sessions.begin() as session:
        assert await pairing.purge_ended_history(session, now=clock.now()) == 1
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CoupleQuestion))).one() == 0
    # Too late to reopen: the same two people start a new couple.
    assert await _pair(sessions, clock, 1, 2) != couple_id
