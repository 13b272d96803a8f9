"""Check-ins, /history with its chart, /appreciate and /topics through the real Application."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import pytest
from PIL import Image
from sqlmodel import select
from telegram.request import RequestData

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.checkins import Checkin
from bot.settings import Settings
from bot.telegram.context import services_of
from tests.fakes.inprocess import BOT_ID, Person, RecordingTransport
from tests.support.app import MakePerson, handler_settings, invite, onboard, onboard_invited

ALEX, SAM, KIM, LEE = 1, 2, 3, 4


@dataclass
class PhotoTransport(RecordingTransport):
    """The recording Bot API, also answering sendPhoto and keeping the uploaded bytes."""

    photos: list[tuple[int, bytes, str]] = field(default_factory=list)

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if url.endswith("/sendPhoto") and request_data is not None:
            params = request_data.parameters
            for _name, content, _mime in request_data.multipart_data.values():
                assert isinstance(content, bytes)
                self.photos.append((int(str(params["chat_id"])), content, str(params["caption"])))
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name != "sendPhoto":
            return super()._result(name, params)
        return {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Remainly"},
            "photo": [{"file_id": "f", "file_unique_id": "u", "width": 960, "height": 1280}],
        }


@pytest.fixture
def settings(database_url: str) -> Settings:
    """These flows span weeks, past the free week: leave check-ins out of the paid features."""
    return handler_settings(database_url, gated_features="nudges,articles,paid_videos")


@pytest.fixture
def transport() -> PhotoTransport:
    """Replace the shared transport with one that understands photos."""
    return PhotoTransport()


async def pair_up(
    person: MakePerson, a: int, b: int, names: tuple[str, str]
) -> tuple[Person, Person]:
    first, second = person(a, names[0]), person(b, names[1])
    await onboard(first)
    await invite(first, second)
    await onboard_invited(second, city="Tokyo", skip_safety_check=False)
    return first, second


async def answer_through(person: Person, scores: list[int], words: list[str | None]) -> None:
    """Answer the five questions with buttons and typed words (None skips), then send them."""
    for score in scores:
        await person.press(str(score))
    for word in words:
        if word is None:
            await person.press("Skip")
        else:
            await person.send(word)
    assert "Your answers" in person.last()
    await person.press("Send my answers")


def buttons_of(person: Person) -> list[str]:
    call = person.transport.sent_to(person.id)[-1]
    markup = call.params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


async def open_checkin_id(application: BotApplication) -> int:
    async with services_of(application).sessions() as session:
        checkin = (await session.exec(select(Checkin).where(Checkin.status == "open"))).one()
    assert checkin.id is not None
    return checkin.id


async def test_answers_stay_private_until_both_send_then_both_see_both(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/checkin")
    intro, first = alex.new_messages()[-2:]
    assert "A check-in for you and Sam" in intro and "1 of 5" in first
    assert "Alex opened a check-in" in sam.last()

    await alex.press("4")
    assert "2 of 5" in alex.last()
    await alex.press("Skip")
    assert "3 of 5" in alex.last()
    await alex.press("Back")
    assert "2 of 5" in alex.last() and "skipped this one so far" in alex.last()
    await alex.press("5")
    await alex.press("2")
    assert "4 of 5" in alex.last()
    await alex.send("x" * 301)
    assert "fits in 300 characters" in alex.last() and "301" in alex.last()
    await alex.send("Our walk <by the sea>")
    assert "5 of 5" in alex.last()
    await alex.send("More slow mornings")
    review = alex.last()
    assert "Close: <b>4</b>" in review and "Heard: <b>5</b>" in review
    assert "Our walk &lt;by the sea&gt;" in review
    await alex.press("Send my answers")
    assert "Your answers stay private until Sam" in alex.last()
    nudge = sam.last()
    assert "Alex has sent their check-in answers" in nudge
    assert not any("walk" in text or "mornings" in text for text in sam.inbox())

    assert buttons_of(sam) == [f"ci:go:{await open_checkin_id(application)}"]
    await sam.press("Let's begin")
    assert "1 of 5" in sam.last()
    await answer_through(sam, [2, 5, 4], ["Sunday pancakes", None])
    alex_summary, sam_summary = alex.last(), sam.last()
    for summary in (alex_summary, sam_summary):
        assert "Your check-in together" in summary
    assert "Sunday pancakes" in alex_summary and "Our walk &lt;by the sea&gt;" in sam_summary
    assert "You: ●●●●○ 4" in alex_summary and "Sam: ●●○○○ 2" in alex_summary
    # Close differs by 2: a gentle curiosity question, not a verdict.
    assert "a little differently (4 and 2)" in alex_summary and "Not a verdict" in alex_summary
    assert "first check-in together" in sam_summary


async def test_forged_and_stale_check_in_buttons_change_nothing(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/checkin")
    cid = await open_checkin_id(application)
    kim, _ = await pair_up(person, KIM, LEE, ("Kim", "Lee"))
    for forged in (f"ci:s:{cid}:0:4", f"ci:go:{cid}", f"ci:sub:{cid}", f"ci:past:{cid}"):
        await kim.press_data(forged)
    assert kim.alerts() == ["That button is no longer active. Nothing was changed."] * 4
    for forged in (f"ci:s:{cid}:0:9", f"ci:s:{cid}:99:3", f"ci:s:{cid}:3:3", "ci:s:1:x"):
        await alex.press_data(forged)
    assert alex.alerts() == ["That button is no longer active. Nothing was changed."] * 4
    await answer_through(alex, [3, 3, 3], ["Fine", "Fine"])
    await alex.press_data(f"ci:s:{cid}:0:4")
    assert alex.alerts()[-1] == "You've already sent your answers for this check-in."
    await alex.send("/checkin")
    assert "as soon as Sam has sent theirs" in alex.last()
    assert not any("Fine" in text for text in sam.inbox())
    await alex.send("/unpair")
    await alex.press("Yes, unpair")
    await sam.press_data(f"ci:go:{cid}")
    assert sam.alerts()[-1] == "That button is no longer active. Nothing was changed."


async def test_history_lists_past_weeks_and_sends_the_chart_as_a_photo(
    person: MakePerson,
    application: BotApplication,
    clock: FixedClock,
    transport: PhotoTransport,
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/history")
    assert "No check-ins together yet" in alex.last()
    for week, (mine, theirs) in enumerate((([4, 3, 5], [3, 3, 4]), ([5, 4, 5], [4, 4, 5]))):
        clock.set(datetime(2026, 3, 2 + 7 * week, 18, 0, tzinfo=UTC))
        await alex.send("/checkin")
        await answer_through(alex, mine, ["Walk", None])
        await sam.send("/checkin")
        await answer_through(sam, theirs, [None, "Tea"])
    await sam.send("/history")
    listing = sam.last()
    assert "Week of 9 March" in listing and "Week of 2 March" in listing
    assert "Close: you 4 · Alex 5" in listing and "2 weeks in a row" in listing
    assert len(transport.photos) == 1
    chat_id, png, caption = transport.photos[0]
    assert chat_id == SAM and "<b>Alex</b>" in caption
    image = Image.open(BytesIO(png))
    assert png.startswith(b"\x89PNG") and image.size == (960, 1280)
    await sam.press("Week of 2 Mar")
    assert "week of 2 March" in sam.last() and "Walk" in sam.last()


async def test_appreciations_wait_for_the_partners_morning(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/appreciate")
    assert "What would you like to thank Sam for?" in alex.last()
    await alex.send("   ")
    assert "looks empty" in alex.last()
    await alex.send("Thanks for the soup <3")
    # Sam lives in Tokyo with mornings at 08:00: Tuesday 08:00 there.
    assert "Sam gets it Tuesday at 08:00, their time" in alex.last()
    await alex.send("/appreciate And for listening")
    assert "Sealed" in alex.last()
    before = len(sam.inbox())
    clock.set(datetime(2026, 3, 2, 22, 59, tzinfo=UTC))
    await services_of(application).checkins.tick()
    assert len(sam.inbox()) == before
    clock.set(datetime(2026, 3, 2, 23, 0, 30, tzinfo=UTC))
    await services_of(application).checkins.tick()
    note = sam.last()
    assert "Notes from Alex" in note and "soup &lt;3" in note and "listening" in note
    await services_of(application).checkins.tick()
    assert sam.inbox().count(note) == 1


async def test_topics_show_up_only_when_both_pick_them(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/topics")
    await alex.press("Money")
    edits = alex.transport.calls_to("editMessageReplyMarkup")
    assert "✅ Money" in json.dumps(edits[-1].params["reply_markup"], ensure_ascii=False)
    await sam.send("/topics")
    listing = json.dumps(sam.transport.sent_to(SAM)[-1].params["reply_markup"], ensure_ascii=False)
    assert "▫️ Money" in listing and "✅" not in listing, "Sam learns nothing from Alex's pick"
    before = len(alex.inbox())
    await sam.press("Time with our families")
    assert len(alex.inbox()) == before
    await sam.press("Money")
    assert "both picked <b>Money and how we plan for it</b>" in sam.last()
    assert "You and Sam both picked" in alex.last()
    await alex.press_data("tp:not-a-topic")
    assert alex.alerts()[-1] == "That button is no longer active. Nothing was changed."


async def test_the_couple_chooses_its_check_in_day_and_time(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/checkin")
    assert "Sundays at 19:00" in alex.inbox()[-2]
    await alex.press("Change our day or time")
    assert "Right now it's Sunday at 19:00" in alex.last()
    await alex.press("Wed")
    await alex.press("20:30")
    assert "now comes on Wednesdays at 20:30" in alex.last()
    assert "Alex moved your weekly check-in to Wednesdays at 20:30" in sam.last()
    await alex.press_data("ci:pt:9:2030")
    await alex.press_data("ci:pt:2:2575")
    assert alex.alerts() == ["That button is no longer active. Nothing was changed."] * 2


async def test_check_ins_need_a_partner(person: MakePerson, application: BotApplication) -> None:
    kim = person(KIM, "Kim")
    await onboard(kim)
    for command in ("/checkin", "/history", "/appreciate", "/topics"):
        await kim.send(command)
        assert "invite your partner with /invite" in kim.last()
