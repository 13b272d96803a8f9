"""Counsellor requests on real databases: intake, staff checks, announcements, the thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.core.clock import FixedClock
from bot.core.errors import DomainError, StaleAction
from bot.db.engine import Sessions
from bot.db.safety import CounsellorRequest, PostKind, RequestStatus
from bot.people import conversation
from bot.safety import counsellor
from tests.support.factories import (
    ALEX,
    COUNSELLOR_TOPICS,
    SAM,
    START,
    counsellor_choice,
    counsellor_request,
    onboard,
)

T = TypeVar("T")
ROBIN, PAT = 900, 901
STAFF = frozenset({ROBIN})
EVERY = timedelta(minutes=60)
ANNOUNCING = counsellor.Announcing(every=EVERY)
CHAT = -100123


async def _in(sessions: Sessions, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async with sessions.begin() as session:
        return await work(session)


async def _stored(sessions: Sessions, request_id: int) -> CounsellorRequest:
    async with sessions() as session:
        request = await session.get(CounsellorRequest, request_id)
    assert request is not None
    return request


async def test_the_intake_asks_its_questions_in_order_and_stores_thecounsellor_request(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    step = await _in(sessions, lambda s: counsellor.begin_intake(s, SAM, now=clock.now()))
    assert step.step == "topic"
    assert (await counsellor_choice(sessions, clock, SAM, "topic", "trust")).step == "for"
    step = await counsellor_choice(sessions, clock, SAM, "for", "us")
    assert step.step == "tell" and step.partner_name == "Alex"
    assert (await counsellor_choice(sessions, clock, SAM, "tell", "yes")).step == "urgency"
    assert (await counsellor_choice(sessions, clock, SAM, "urgency", "weeks")).step == "way"
    assert (await counsellor_choice(sessions, clock, SAM, "way", "call")).step == "time"
    assert (await counsellor_choice(sessions, clock, SAM, "time", "any")).step == "message"
    with pytest.raises(DomainError) as too_long:
        await _in(sessions, lambda s: counsellor.set_message(s, SAM, "x" * 1001, now=clock.now()))
    assert too_long.value.key == "counsellor.too_long"
    step = await _in(
        sessions, lambda s: counsellor.set_message(s, SAM, "  A hard week  ", now=clock.now())
    )
    assert step.step == "review" and step.answers["message"] == "A hard week"

    submitted = await _in(
        sessions,
        lambda s: counsellor.submit(
            s,
            SAM,
            share_identity=True,
            topics=COUNSELLOR_TOPICS,
            now=clock.now(),
            announce_at=clock.now(),
        ),
    )
    assert submitted.tell is not None and submitted.tell.user_id == ALEX
    stored = await _stored(sessions, submitted.request_id)
    assert (stored.topic, stored.for_whom, stored.urgency) == ("trust", "us", "weeks")
    assert (stored.contact_way, stored.contact_time) == ("call", "any")
    assert stored.tell_partner and stored.identity_shared_at == clock.now()
    assert stored.status == RequestStatus.OPEN
    assert await _in(sessions, lambda s: conversation.awaiting(s, SAM)) is None


async def test_a_request_for_me_skips_telling_and_never_tells_the_partner(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    submitted = await counsellor_request(sessions, clock, for_whom="me", share=False)
    assert submitted.tell is None
    stored = await _stored(sessions, submitted.request_id)
    assert not stored.tell_partner and stored.identity_shared_at is None
    card = await _in(sessions, lambda s: counsellor.card(s, submitted.request_id))
    assert card is not None and card.name is None and card.username is None


async def test_us_without_telling_or_without_a_partner_tells_nobody(
    sessions: Sessions, clock: FixedClock
) -> None:
    await onboard(sessions, clock, SAM, "Sam", "Asia/Tokyo")
    # No tell step when unpaired.
    submitted = await counsellor_request(sessions, clock, for_whom="us")
    assert submitted.tell is None


@pytest.mark.parametrize(
    ("step", "value"),
    [("topic", "not-a-topic"), ("for", "them"), ("urgency", "trust"), ("tell", "yes")],
)
async def test_forged_or_out_of_turn_answers_are_stale(
    sessions: Sessions, clock: FixedClock, couple: int, step: str, value: str
) -> None:
    await _in(sessions, lambda s: counsellor.begin_intake(s, SAM, now=clock.now()))
    with pytest.raises(StaleAction):
        await counsellor_choice(sessions, clock, SAM, step, value)
    # Nothing moved: the intake still waits for the topic.
    assert (await counsellor_choice(sessions, clock, SAM, "topic", "trust")).step == "for"


async def test_submitting_without_a_finished_intake_is_stale(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    await _in(sessions, lambda s: counsellor.begin_intake(s, SAM, now=clock.now()))
    with pytest.raises(StaleAction):
        await _in(
            sessions,
            lambda s: counsellor.submit(
                s,
                SAM,
                share_identity=True,
                topics=COUNSELLOR_TOPICS,
                now=clock.now(),
                announce_at=clock.now(),
            ),
        )


def _staff(
    action: Callable[..., Awaitable[counsellor.Changed]],
    request_id: int,
    staff_id: int,
    clock: FixedClock,
) -> Callable[[AsyncSession], Awaitable[counsellor.Changed]]:

    async def act(s: AsyncSession) -> counsellor.Changed:
        # Claim and Resolve act only on the request their card shows: they carry its stamp.
        marked: dict[str, int] = {}
        if action is not counsellor.staff_reply:
            request = await s.get(CounsellorRequest, request_id)
            marked["stamp"] = counsellor.stamp_of(request.created_at) if request else 0
        return await action(
            s,
            request_id,
            staff_id=staff_id,
            staff_name="Robin",
            staff=STAFF,
            now=clock.now(),
            **marked,
        )

    return act


async def test_only_configured_staff_can_claim_and_resolve(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    request_id = (await counsellor_request(sessions, clock)).request_id
    for action in (counsellor.claim, counsellor.resolve, counsellor.staff_reply):
        with pytest.raises(DomainError) as refused:
            await _in(sessions, _staff(action, request_id, PAT, clock))
        assert refused.value.key == "counsellor.staff_only"
    assert (await _stored(sessions, request_id)).status == RequestStatus.OPEN

    changed = await _in(sessions, _staff(counsellor.claim, request_id, ROBIN, clock))
    assert changed.newly_claimed and changed.requester.user_id == SAM
    assert changed.card.status == RequestStatus.CLAIMED and changed.card.claimed_by == "Robin"
    stored = await _stored(sessions, request_id)
    assert stored.claimed_by_id == ROBIN and stored.next_announce_at is None
    with pytest.raises(DomainError) as again:
        await _in(sessions, _staff(counsellor.claim, request_id, ROBIN, clock))
    assert again.value.key == "counsellor.already_claimed"

    resolved = await _in(sessions, _staff(counsellor.resolve, request_id, ROBIN, clock))
    assert resolved.card.status == RequestStatus.RESOLVED
    with pytest.raises(DomainError) as closed:
        await _in(sessions, _staff(counsellor.resolve, request_id, ROBIN, clock))
    assert closed.value.key == "counsellor.already_resolved"
    with pytest.raises(DomainError) as gone:
        await _in(sessions, _staff(counsellor.claim, request_id + 1000, ROBIN, clock))
    assert gone.value.key == "counsellor.stale_card"


async def test_a_button_with_another_requests_stamp_changes_nothing(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    request = await _stored(sessions, (await counsellor_request(sessions, clock)).request_id)
    assert request.id is not None
    with pytest.raises(DomainError) as stale:
        await _in(
            sessions,
            lambda s: counsellor.resolve(
                s,
                request.id or 0,
                stamp=counsellor.stamp_of(request.created_at) - 60,
                staff_id=ROBIN,
                staff_name="Robin",
                staff=STAFF,
                now=clock.now(),
            ),
        )
    assert stale.value.key == "counsellor.stale_card"
    assert (await _stored(sessions, request.id)).status == RequestStatus.OPEN


async def test_unclaimed_requests_are_announced_then_reannounced_until_claimed(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    request_id = (await counsellor_request(sessions, clock)).request_id

    async def due() -> list[counsellor.Due]:
        return await _in(
            sessions,
            lambda s: counsellor.claim_due(s, chat_id=CHAT, now=clock.now(), announcing=ANNOUNCING),
        )

    [first] = await due()
    assert first.card.request_id == request_id and not first.posted_here
    assert await due() == []  # taken: a second worker finds nothing
    await _in(
        sessions,
        lambda s: counsellor.mark_announced(
            s, first, chat_id=CHAT, message_id=77, now=clock.now(), announcing=ANNOUNCING
        ),
    )
    assert await _in(sessions, lambda s: counsellor.request_of_post(s, CHAT, 77)) == request_id
    clock.advance(EVERY - timedelta(seconds=1))
    assert await due() == []
    clock.advance(timedelta(seconds=1))
    [again] = await due()
    assert again.posted_here and again.card.staff_message_id == 77
    assert again.waited_minutes == 60

    await _in(sessions, _staff(counsellor.claim, request_id, ROBIN, clock))
    clock.advance(EVERY * 3)
    assert await due() == []


def test_a_new_request_waits_for_its_own_post_only_when_there_is_a_staff_chat() -> None:
    now = START
    assert ANNOUNCING.first_at(now, staff_chat=True) == now + ANNOUNCING.post_grace
    assert ANNOUNCING.first_at(now, staff_chat=False) == now


async def test_the_job_steps_in_when_posting_a_new_request_failed_and_retries_a_failure(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    request_id = (await counsellor_request(sessions, clock, staff_chat=True)).request_id

    async def due() -> list[counsellor.Due]:
        return await _in(
            sessions,
            lambda s: counsellor.claim_due(s, chat_id=CHAT, now=clock.now(), announcing=ANNOUNCING),
        )

    assert await due() == [], "the submitting handler posts it itself"
    clock.advance(ANNOUNCING.post_grace)
    [first] = await due()  # that post never happened: the job posts the card
    assert first.card.request_id == request_id and not first.posted_here
    await _in(
        sessions,
        lambda s: counsellor.announce_later(s, request_id, now=clock.now(), announcing=ANNOUNCING),
    )
    clock.advance(ANNOUNCING.retry - timedelta(seconds=1))
    assert await due() == []
    clock.advance(timedelta(seconds=1))
    [retried] = await due()
    assert not retried.posted_here, "still no card in the staff chat: the card again"


async def test_a_reminder_keeps_the_card_it_replies_to(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    request_id = (await counsellor_request(sessions, clock)).request_id
    card = await _in(sessions, lambda s: counsellor.card(s, request_id))
    assert card is not None
    async with sessions.begin() as session:
        for message_id, posted_here in ((77, False), (78, True)):
            await counsellor.mark_announced(
                session,
                counsellor.Due(card, posted_here=posted_here),
                chat_id=CHAT,
                message_id=message_id,
                now=clock.now(),
                announcing=ANNOUNCING,
            )
    async with sessions() as session:
        stored = await session.get(CounsellorRequest, request_id)
        assert stored is not None
        assert stored.staff_message_id == 77 and stored.announcements == 2
        assert stored.next_announce_at == clock.now() + EVERY
        # Replies to either message belong to the request's thread.
        for message_id in (77, 78):
            assert await counsellor.request_of_post(session, CHAT, message_id) == request_id


async def test_a_new_staff_chat_gets_the_full_card(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    request_id = (await counsellor_request(sessions, clock)).request_id
    card = await _in(sessions, lambda s: counsellor.card(s, request_id))
    assert card is not None
    await _in(
        sessions,
        lambda s: counsellor.mark_announced(
            s,
            counsellor.Due(card, posted_here=False),
            chat_id=CHAT,
            message_id=77,
            now=clock.now(),
            announcing=ANNOUNCING,
        ),
    )
    clock.advance(EVERY)
    [moved] = await _in(
        sessions,
        lambda s: counsellor.claim_due(s, chat_id=-100999, now=clock.now(), announcing=ANNOUNCING),
    )
    assert not moved.posted_here


async def test_a_counsellor_reply_claims_and_the_requester_replies_in_the_thread(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    request_id = (await counsellor_request(sessions, clock)).request_id
    with pytest.raises(StaleAction):  # nobody has written yet
        await _in(sessions, lambda s: counsellor.begin_reply(s, SAM, request_id, now=clock.now()))
    changed = await _in(sessions, _staff(counsellor.staff_reply, request_id, ROBIN, clock))
    assert changed.newly_claimed and changed.requester.chat_id == SAM
    again = await _in(sessions, _staff(counsellor.staff_reply, request_id, ROBIN, clock))
    assert not again.newly_claimed

    with pytest.raises(StaleAction):  # not Alex's request
        await _in(sessions, lambda s: counsellor.begin_reply(s, ALEX, request_id, now=clock.now()))
    await _in(sessions, lambda s: counsellor.begin_reply(s, SAM, request_id, now=clock.now()))
    with pytest.raises(DomainError) as too_long:
        await _in(sessions, lambda s: counsellor.take_reply(s, SAM, "y" * 2001, now=clock.now()))
    assert too_long.value.key == "counsellor.too_long"
    thread = await _in(
        sessions, lambda s: counsellor.take_reply(s, SAM, " Thursday works ", now=clock.now())
    )
    assert thread.request_id == request_id
    with pytest.raises(StaleAction):  # one reply per press
        await _in(sessions, lambda s: counsellor.take_reply(s, SAM, "again", now=clock.now()))

    await _in(sessions, _staff(counsellor.resolve, request_id, ROBIN, clock))
    with pytest.raises(DomainError) as closed:
        await _in(sessions, lambda s: counsellor.begin_reply(s, SAM, request_id, now=clock.now()))
    assert closed.value.key == "counsellor.request_closed"
    with pytest.raises(DomainError) as no_more:
        await _in(sessions, _staff(counsellor.staff_reply, request_id, ROBIN, clock))
    assert no_more.value.key == "counsellor.already_resolved"


async def test_posts_belong_to_their_request_and_people_see_only_their_own(
    sessions: Sessions, clock: FixedClock, couple: int
) -> None:
    mine = (await counsellor_request(sessions, clock, SAM)).request_id
    clock.advance(timedelta(minutes=5))
    theirs = (await counsellor_request(sessions, clock, ALEX)).request_id
    await _in(
        sessions,
        lambda s: counsellor.record_post(
            s, mine, PostKind.FROM_REQUESTER, chat_id=CHAT, message_id=5, now=clock.now()
        ),
    )
    assert await _in(sessions, lambda s: counsellor.request_of_post(s, CHAT, 5)) == mine
    assert await _in(sessions, lambda s: counsellor.request_of_post(s, CHAT, 6)) is None
    listed = await _in(sessions, lambda s: counsellor.requests_of(s, SAM))
    assert [item.request_id for item in listed] == [mine]
    listed = await _in(sessions, lambda s: counsellor.requests_of(s, ALEX))
    assert [item.request_id for item in listed] == [theirs]
    async with sessions() as session:
        assert len((await session.exec(select(CounsellorRequest))).all()) == 2
