"""Counsellor requests through the real Application, with a simulated staff chat."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import pytest
from sqlmodel import select
from telegram import Update

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.safety import CounsellorPost, CounsellorRequest, HeldMessage, PostKind, RequestStatus
from bot.safety.buttons import IntakeCancel, IntakeChoice, StaffAction
from bot.safety.counsellor import stamp_of
from bot.settings import Settings
from bot.telegram.context import BotContext, services_of
from bot.telegram.handlers import counsellor as counsellor_handlers
from tests.fakes.inprocess import BOT_ID, Person, RecordingTransport
from tests.support.app import (
    MakePerson,
    handler_settings,
    onboard,
    onboarded_couple,
    running_application,
)

STAFF_CHAT = -100777
ROBIN, PAT = 900, 901
GROUP = {"id": STAFF_CHAT, "type": "supergroup", "title": "Counsellors"}
BOT = {"id": BOT_ID, "is_bot": True, "first_name": "Remainly"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings with a staff chat and one counsellor (Robin)."""
    return handler_settings(
        database_url,
        counsellor_chat_id=STAFF_CHAT,
        counsellor_staff_ids=str(ROBIN),
        remainly_contact="care@remainly.example",
    )


@dataclass
class Member:
    """Someone in the staff chat, pressing buttons and replying to the bot's messages there."""

    application: BotApplication
    transport: RecordingTransport
    id: int
    first_name: str
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _user(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": False, "first_name": self.first_name}

    async def _process(self, payload: dict[str, Any]) -> None:
        update_id = self.id * 10_000 + next(self._ids)
        update = Update.de_json({"update_id": update_id, **payload}, self.application.bot)
        await self.application.process_update(update)

    def _bot_message(self, message_id: int) -> dict[str, Any]:
        return {"message_id": message_id, "date": int(time.time()), "chat": GROUP, "from": BOT}

    async def press(self, data: str, message_id: int) -> None:
        """Press a button with this data on the bot's message `message_id` in the staff chat."""
        query = {
            "id": f"{self.id}-{next(self._ids)}",
            "from": self._user(),
            "chat_instance": "staff",
            "data": data,
            "message": {**self._bot_message(message_id), "text": "card"},
        }
        await self._process({"callback_query": query})

    async def reply(self, text: str, to: int) -> int:
        """Reply in the staff chat to the bot's message `to`; return the reply's message id."""
        message_id = 5000 + next(self._ids)
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": GROUP,
            "from": self._user(),
            "text": text,
            "reply_to_message": {**self._bot_message(to), "text": "card"},
        }
        await self._process({"message": message})
        return message_id

    def alerts(self) -> list[str]:
        return [
            str(call.params.get("text"))
            for call in self.transport.calls_to("answerCallbackQuery")
            if str(call.params["callback_query_id"]).startswith(f"{self.id}-")
            and call.params.get("text")
        ]


def staff_posts(transport: RecordingTransport) -> list[dict[str, Any]]:
    return [call.params for call in transport.sent_to(STAFF_CHAT)]


def reply_to(params: dict[str, Any]) -> int | None:
    raw = params.get("reply_parameters")
    if raw is None:
        return None
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    return int(parsed["message_id"])


async def _intake(sam: Person, *, us: bool = False, tell: bool = False) -> None:
    await sam.send("/counsellor")
    await sam.press("Trust")
    await sam.press("The two of us" if us else "Mostly me")
    if us:
        await sam.press("Yes, let them know" if tell else "No, keep it private")
    await sam.press("In the next few days")
    await sam.press("Messages here")
    await sam.press("Evenings")
    await sam.send("We keep <arguing>")


async def _request(application: BotApplication) -> CounsellorRequest:
    async with services_of(application).sessions() as session:
        return (await session.exec(select(CounsellorRequest))).one()


def staff_data(action: Literal["claim", "resolve"], request: CounsellorRequest) -> str:
    """Return the data of a staff button on this request's card."""
    assert request.id is not None
    return StaffAction(action, request.id, stamp_of(request.created_at)).encode()


async def test_a_request_goes_from_intake_to_claim_reply_and_resolve(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex, sam = await onboarded_couple(person)
    alex_before = len(alex.inbox())
    await _intake(sam)
    review = sam.last()
    assert "not an emergency service" in review and "We keep &lt;arguing&gt;" in review
    assert "Telegram name and username" in review
    await sam.press("Yes, share my name and send")
    assert "request <b>#1</b> is with us" in sam.last()

    [card] = staff_posts(transport)
    assert "Request #1" in card["text"] and "Sam" in card["text"]
    assert "We keep &lt;arguing&gt;" in card["text"]
    request = await _request(application)
    assert request.staff_chat_id == STAFF_CHAT and request.staff_message_id is not None
    card_id = request.staff_message_id

    robin = Member(application, transport, ROBIN, "Robin")
    pat = Member(application, transport, PAT, "Pat")
    # Someone in the staff chat who is not staff, pressing the real button or a forged one.
    await pat.press(staff_data("claim", request), card_id)
    await pat.press(staff_data("resolve", request), card_id)
    await pat.press(StaffAction("claim", 9999, 0).encode(), card_id)
    assert pat.alerts() == ["Only Remainly's counsellors can act on requests."] * 3
    assert (await _request(application)).status == RequestStatus.OPEN
    # A partner forging the staff button from their private chat changes nothing either.
    await alex.press_data(staff_data("resolve", request))
    assert (await _request(application)).status == RequestStatus.OPEN

    await robin.press(staff_data("claim", request), card_id)
    assert (await _request(application)).status == RequestStatus.CLAIMED
    [edited] = [
        c for c in transport.calls_to("editMessageText") if c.params["chat_id"] == STAFF_CHAT
    ]
    assert "Claimed by Robin" in edited.params["text"]
    assert "picked up your request <b>#1</b>" in sam.last()

    await robin.reply("Hi Sam, would Thursday <evening> suit you?", card_id)
    relayed = sam.last()
    assert "From Remainly's counsellor team" in relayed
    assert "Thursday &lt;evening&gt;" in relayed
    assert "Sent to the person behind request #1" in staff_posts(transport)[-1]["text"]

    await sam.press("Reply to the counsellor")
    assert "Type your reply" in sam.last()
    await sam.send("Thursday works & thank you")
    assert "Sent to the counsellor team" in sam.last()
    from_sam = staff_posts(transport)[-1]
    assert "Thursday works &amp; thank you" in from_sam["text"]
    assert reply_to(from_sam) == card_id

    await robin.press(staff_data("resolve", request), card_id)
    assert (await _request(application)).status == RequestStatus.RESOLVED
    assert "is now closed" in sam.last()
    await sam.press_data(f"cr:reply:{request.id}")
    assert "closed now" in sam.alerts()[-1]

    await sam.send("/requests")
    assert "#1 · Trust · for you" in sam.last() and "closed" in sam.last()
    # The partner heard nothing of any of it.
    assert len(alex.inbox()) == alex_before


async def test_a_request_for_us_tells_the_partner_only_when_chosen(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex, sam = await onboarded_couple(person)
    before = len(alex.inbox())
    await _intake(sam, us=True, tell=False)
    await sam.press("Send without my name")
    assert len(alex.inbox()) == before
    assert "name not shared" in staff_posts(transport)[-1]["text"]
    await _intake(sam, us=True, tell=True)
    await sam.press("Send without my name")
    assert len(alex.inbox()) == before + 1
    assert "Sam has asked Remainly's counsellor team" in alex.last()


async def test_typed_answers_out_of_turn_and_cancelling(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    _, sam = await onboarded_couple(person)
    await sam.send("/counsellor")
    await sam.send("trust please")
    assert "Tap one of the buttons" in sam.last()
    await sam.press("Trust")
    await sam.press_data(IntakeChoice("urgency", "days").encode())  # not the question asked
    assert sam.alerts()[-1] == "That button is no longer active. Nothing was changed."
    await sam.press("Cancel")
    assert "nothing was sent" in sam.last()
    await sam.press_data(IntakeCancel().encode())  # again, from the same message
    assert sam.alerts()[-1] == "That button is no longer active. Nothing was changed."
    assert staff_posts(transport) == []


async def test_unclaimed_requests_are_reannounced(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    _, sam = await onboarded_couple(person)
    await _intake(sam)
    await sam.press("Send without my name")
    card_id = (await _request(application)).staff_message_id
    context = BotContext(application)
    clock.advance(timedelta(minutes=59))
    await counsellor_handlers.announce(context)
    assert len(staff_posts(transport)) == 1
    clock.advance(timedelta(minutes=1))
    await counsellor_handlers.announce(context)
    reminder = staff_posts(transport)[-1]
    assert "still waiting" in reminder["text"] and "1 h 0 min" in reminder["text"]
    assert reply_to(reminder) == card_id
    robin = Member(application, transport, ROBIN, "Robin")
    await robin.press(staff_data("claim", await _request(application)), card_id or 0)
    clock.advance(timedelta(hours=5))
    await counsellor_handlers.announce(context)
    assert len(staff_posts(transport)) == 2


@pytest.fixture
async def no_staff_chat(
    database_url: str, transport: RecordingTransport, clock: FixedClock
) -> AsyncIterator[BotApplication]:
    """The same database, served by a bot with no staff chat configured."""
    settings = handler_settings(database_url, remainly_contact="care@remainly.example")
    async with running_application(settings, transport, clock) as app:
        yield app


async def test_without_a_staff_chat_requests_wait_and_are_posted_once_one_is_set(
    no_staff_chat: BotApplication, application: BotApplication, transport: RecordingTransport
) -> None:
    sam = Person(no_staff_chat, transport, 2, "Sam")
    await onboard(sam)
    await _intake(sam)
    await sam.press("Send without my name")
    said = sam.last()
    assert "chat isn't connected right now" in said and "care@remainly.example" in said
    assert staff_posts(transport) == []
    await counsellor_handlers.announce(BotContext(no_staff_chat))
    assert staff_posts(transport) == []
    # Later the operator sets COUNSELLOR_CHAT_ID: the waiting request is posted, once.
    await counsellor_handlers.announce(BotContext(application))
    await counsellor_handlers.announce(BotContext(application))
    [card] = staff_posts(transport)
    assert "Request #1" in card["text"]
    assert (await _request(application)).staff_chat_id == STAFF_CHAT


async def test_a_stale_card_acts_on_nobody_elses_request(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    _, alice = await onboarded_couple(person)
    await _intake(alice)
    await alice.press("Send without my name")
    alices = await _request(application)
    old_card = alices.staff_message_id or 0
    old_claim, old_resolve = staff_data("claim", alices), staff_data("resolve", alices)
    await alice.send("/deleteme")
    await alice.press("Yes, erase everything")

    clock.advance(timedelta(minutes=5))
    carol = person(3, "Carol")
    await onboard(carol)
    await _intake(carol)
    await carol.press("Send without my name")
    carols = await _request(application)
    assert carols.id != alices.id, "ids are never reused"
    carol_before = len(carol.inbox())

    robin = Member(application, transport, ROBIN, "Robin")
    await robin.press(old_resolve, old_card)
    await robin.press(old_claim, old_card)
    # Even a card whose number matched Carol's request would not act on it: the stamp differs.
    assert carols.id is not None and alices.id is not None
    reused = StaffAction("resolve", carols.id, stamp_of(alices.created_at)).encode()
    await robin.press(reused, old_card)
    assert robin.alerts() == [
        f"The request this card showed (#{alices.id}) is no longer there: its requester "
        "may have left. Nothing was changed.",
        f"The request this card showed (#{alices.id}) is no longer there: its requester "
        "may have left. Nothing was changed.",
        f"The request this card showed (#{carols.id}) is no longer there: its requester "
        "may have left. Nothing was changed.",
    ]
    assert (await _request(application)).status == RequestStatus.OPEN
    assert len(carol.inbox()) == carol_before, "Carol is told nothing"


async def test_a_counsellors_reply_in_discreet_mode_is_kept_as_a_reference_not_words(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    _, sam = await onboarded_couple(person)
    await _intake(sam)
    await sam.press("Send without my name")
    request = await _request(application)
    card_id = request.staff_message_id or 0
    await sam.send("/hide")
    robin = Member(application, transport, ROBIN, "Robin")
    await robin.press(staff_data("claim", request), card_id)
    staff_message = await robin.reply("Could we talk on Thursday about the move?", card_id)
    assert sam.last() == "You have a new message."
    async with services_of(application).sessions() as session:
        held = (await session.exec(select(HeldMessage))).all()
    [kept] = [row for row in held if row.copy_chat_id is not None]
    assert "Thursday" not in kept.text and "request #1" in kept.text
    assert (kept.copy_chat_id, kept.copy_message_id) == (STAFF_CHAT, staff_message)

    await sam.press("Show")
    shown = transport.calls_to("editMessageText")[-1].params
    assert "From Remainly's counsellor team" in shown["text"] and "Thursday" not in shown["text"]
    [copied] = transport.calls_to("copyMessage")
    assert copied.params["chat_id"] == 2
    assert (copied.params["from_chat_id"], copied.params["message_id"]) == (
        STAFF_CHAT,
        staff_message,
    )
    labels = [b["text"] for row in copied.params["reply_markup"]["inline_keyboard"] for b in row]
    assert any("Reply" in label for label in labels)


async def _post_id(application: BotApplication, kind: PostKind) -> int:
    async with services_of(application).sessions() as session:
        posts = (
            await session.exec(select(CounsellorPost).where(CounsellorPost.kind == kind))
        ).all()
    return posts[-1].message_id


async def test_a_requester_simply_writes_and_swipe_replies_to_the_team(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    _, sam = await onboarded_couple(person)
    await _intake(sam)
    await sam.press("Send without my name")
    request = await _request(application)
    card_id = request.staff_message_id or 0
    assert re.search(r"their time now \d\d:\d\d \(UTC\+?−?\d", staff_posts(transport)[-1]["text"])

    await sam.send("Weekends suit me better")
    assert "Sent to the counsellor team" in sam.last()
    written = staff_posts(transport)[-1]
    assert "Weekends suit me better" in written["text"] and reply_to(written) == card_id

    robin = Member(application, transport, ROBIN, "Robin")
    await robin.reply("Would Saturday morning work?", card_id)
    from_team = await _post_id(application, PostKind.TO_REQUESTER)
    await sam.send("Saturday is perfect", reply_to=from_team)
    assert "Saturday is perfect" in staff_posts(transport)[-1]["text"]
    assert "Sent to the counsellor team" in sam.last()

    await robin.press(staff_data("resolve", await _request(application)), card_id)
    before = len(staff_posts(transport))
    await sam.send("Thanks again")
    assert "not sure what to do" in sam.last()
    await sam.send("One more thing", reply_to=from_team)
    assert "closed now" in sam.last()
    assert len(staff_posts(transport)) == before


async def test_a_reply_to_someone_who_left_says_nothing_was_sent(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    _, sam = await onboarded_couple(person)
    await _intake(sam)
    await sam.press("Send without my name")
    card_id = (await _request(application)).staff_message_id or 0
    await sam.send("/deleteme")
    await sam.press("Yes, erase everything")
    before = len(sam.inbox())
    robin = Member(application, transport, ROBIN, "Robin")
    await robin.reply("Are you still there?", card_id)
    told = staff_posts(transport)[-1]
    assert "This person has left Remainly" in told["text"] and "nothing was sent" in told["text"]
    assert len(sam.inbox()) == before
    # Someone who is not staff hears nothing from the bot about it.
    pat = Member(application, transport, PAT, "Pat")
    await pat.reply("hello?", card_id)
    assert staff_posts(transport)[-1] == told


async def test_reminders_lose_their_buttons_once_someone_acts(
    person: MakePerson,
    application: BotApplication,
    transport: RecordingTransport,
    clock: FixedClock,
) -> None:
    _, sam = await onboarded_couple(person)
    await _intake(sam)
    await sam.press("Send without my name")
    card_id = (await _request(application)).staff_message_id or 0
    clock.advance(timedelta(hours=1))
    await counsellor_handlers.announce(BotContext(application))
    reminder = await _post_id(application, PostKind.REMINDER)
    assert "Claim" in str(staff_posts(transport)[-1]["reply_markup"])
    robin = Member(application, transport, ROBIN, "Robin")
    await robin.press(staff_data("claim", await _request(application)), reminder)
    cleared = [
        c.params
        for c in transport.calls_to("editMessageReplyMarkup")
        if c.params["chat_id"] == STAFF_CHAT and c.params["message_id"] == reminder
    ]
    assert cleared and not cleared[-1].get("reply_markup")
    [card_edit] = [
        c.params
        for c in transport.calls_to("editMessageText")
        if c.params["chat_id"] == STAFF_CHAT and c.params["message_id"] == card_id
    ]
    assert "Resolve" in str(card_edit["reply_markup"]) and "Claim" not in str(
        card_edit["reply_markup"]
    )
