"""Fuzz every button kind's data and every typed step through the real Application.

Garbage, over-long, right-to-left, zero-width and HTML input: what is invalid changes nothing
in the database, every input gets a friendly answer Telegram would take, and nothing is
logged as an error. Each property builds its world once and runs its examples in it; an
example puts the person back in the step it probes first.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import BotApplication
from bot.checkins.appreciations import APPRECIATION_MAX_LENGTH
from bot.checkins.weekly import REFLECTION_MAX_LENGTH
from bot.core.callbacks import MAX_BYTES, parse_any
from bot.core.clock import FixedClock
from bot.nudges.questions import ANSWER_MAX_LENGTH
from bot.people import conversation
from bot.people.conversation import Awaiting
from bot.people.profiles import BIDI_CONTROLS, NAME_MAX_LENGTH
from bot.people.timezones import parse_time_of_day, resolve_timezone
from bot.safety.counsellor import MESSAGE_MAX_LENGTH
from bot.settings import Settings
from bot.telegram.context import services_of
from tests.fakes.inprocess import Call, Person, RecordingTransport
from tests.support.app import MakePerson, handler_settings, invited_couple
from tests.support.buttons import KINDS, buttons_of
from tests.support.snapshots import REPLIES, snapshot

# Modest, so the suite stays quick: every property below tries up to this many inputs.
EXAMPLES = 50
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # The world (application, database, people) is built once per property, on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
UNEXPECTED = "Sorry, something went wrong"
EXPIRED = "That button is no longer active. Nothing was changed."
UNKNOWN = "We don't know each other yet — send /start to begin."
MESSAGE_LIMIT, ALERT_LIMIT = 4096, 200
# Kinds anyone may press (help, support lines, the staff chat's buttons).
OPEN_TO_ANYONE = {"help:open", "sf:open", "cr"}

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u3164\u2800\u115f"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
RTL_LETTERS = "אבגדהוזחטיכלמנסעפצקרשת" + "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
HTML_BITS = (
    "<b>",
    "</b>",
    "<i>x</i>",
    "<script>alert(1)</script>",
    "</blockquote>",
    "<a href='javascript:x'>",
    "&amp;",
    "&lt;",
    "&#x202e;",
    "<",
    ">",
    "&",
    '"',
    "{{ name }}",
    "{% if %}",
)


@st.composite
def long_texts(draw: st.DrawFn) -> str:
    """Text from a few hundred characters up to Telegram's 4096, by repeating a piece."""
    piece = draw(st.text(min_size=1, max_size=12))
    # The edges most of all: just over each step's limit, and Telegram's own.
    size = draw(st.sampled_from([401, 1001, 2001, 4000, MESSAGE_LIMIT]) | st.integers(300, 4096))
    return (piece * (size // len(piece) + 1))[:size]


def _mixed(alphabet: str) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet + "abc 12", min_size=1, max_size=40)


# What a person could type: Telegram delivers no empty message, and "/" starts a command.
TYPED = st.one_of(
    st.text(min_size=1, max_size=60),
    long_texts(),
    _mixed(ZERO_WIDTH),
    st.text(alphabet=ZERO_WIDTH, min_size=1, max_size=12),
    _mixed(BIDI + RTL_LETTERS),
    st.lists(st.sampled_from(HTML_BITS), min_size=1, max_size=8).map("".join),
    st.lists(st.sampled_from([*HTML_BITS, ZERO_WIDTH[0], BIDI[4], "Ann", " "]), min_size=1).map(
        "".join
    ),
).filter(lambda text: text.strip() != "" and not text.startswith("/"))


@st.composite
def mangled_data(draw: st.DrawFn) -> str:
    """Valid data of some kind, then cut, stretched or with one character changed."""
    kind = draw(st.sampled_from(KINDS))
    button = draw(buttons_of(kind))
    try:
        encoded = button.encode()
    except ValueError:
        encoded = kind.prefix
    at = draw(st.integers(0, len(encoded)))
    extra = draw(st.sampled_from([":", "0", "9", "a", "-", " ", "é", ":0", "\u200b", "<b>"]))
    change = draw(st.sampled_from(["cut", "insert", "replace"]))
    if change == "cut":
        return encoded[:at]
    if change == "insert":
        return encoded[:at] + extra + encoded[at:]
    return encoded[:at] + extra + encoded[at + 1 :]


# Anything no kind takes: what a forged or outdated client could send.
GARBAGE_DATA = st.one_of(
    mangled_data(), st.text(max_size=80), long_texts().map(lambda text: text[: MAX_BYTES * 2])
).filter(lambda data: parse_any(data) is None)


@pytest.fixture(name="settings")
def sqlite_settings(sqlite_url: str) -> Settings:
    """Use SQLite alone: fuzzing on PostgreSQL too would double the time, not the coverage."""
    return handler_settings(sqlite_url)


@dataclass(repr=False)
class World:
    """Alex (1) and Sam (2), a couple with tonight's question out, and the tools to probe."""

    application: BotApplication
    transport: RecordingTransport
    caplog: pytest.LogCaptureFixture
    alex: Person
    sam: Person
    stranger: Person  # never started the bot
    newcomer: Person  # started, still onboarding
    make: MakePerson
    tried: int = 0

    def __repr__(self) -> str:
        return "World(Alex, Sam)"

    async def restore(self, person: Person, waiting: Awaiting | None) -> None:
        """Put a person back in the step an example probes."""
        async with services_of(self.application).sessions.begin() as session:
            if waiting is None:
                await conversation.forget(session, person.id)
            else:
                await conversation.expect(
                    session, person.id, waiting.state, data=dict(waiting.data), now=_now()
                )

    async def awaiting(self, person: Person) -> Awaiting | None:
        """Return the step a person is in."""
        async with services_of(self.application).sessions() as session:
            return await conversation.awaiting(session, person.id)

    async def state(self) -> dict[str, list[str]]:
        """Read the whole database but the record of what the bot said."""
        return await snapshot(self.application, skip=REPLIES)

    def begin(self) -> int:
        """Start an example: forget earlier log records; return where its calls start."""
        self.caplog.clear()
        self.tried += 1
        return len(self.transport.calls)

    def check_answers(self, start: int) -> list[Call]:
        """Check what an example made the bot do: deliverable, friendly, no error logged."""
        made = self.transport.calls[start:]
        for call in made:
            text = str(call.params.get("text") or call.params.get("caption") or "")
            limit = ALERT_LIMIT if call.method == "answerCallbackQuery" else MESSAGE_LIMIT
            assert len(text) <= limit, (call.method, len(text))
            assert UNEXPECTED not in text, text
        errors = [r.getMessage() for r in self.caplog.records if r.levelno >= logging.ERROR]
        assert errors == []
        return made


def _now() -> datetime:
    return datetime(2026, 3, 2, 21, 20, tzinfo=UTC)


@pytest.fixture
async def world(
    application: BotApplication,
    transport: RecordingTransport,
    person: MakePerson,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[World]:
    """Build the couple once per property; capture INFO and up."""
    alex, sam = await invited_couple(person)
    clock.set(_now())
    await services_of(application).nudges.tick()
    assert "Tonight's question" in alex.last()
    with caplog.at_level(logging.INFO):
        yield World(
            application,
            transport,
            caplog,
            alex,
            sam,
            person(77, "Stranger"),
            person(5, "Nova"),
            person,
        )


# Buttons ---------------------------------------------------------------------------------


@FUZZ
@given(data=GARBAGE_DATA)
async def test_garbage_button_data_gets_the_expired_alert_and_changes_nothing(
    world: World, data: str
) -> None:
    before, start = await world.state(), world.begin()
    await world.alex.press_data(data)
    made = world.check_answers(start)
    assert [(c.method, c.params.get("text")) for c in made] == [("answerCallbackQuery", EXPIRED)]
    assert await world.state() == before


@FUZZ
@given(data=st.sampled_from(KINDS).flatmap(buttons_of).map(lambda button: button.encode()))
async def test_any_button_pressed_by_someone_unknown_changes_nothing(
    world: World, data: str
) -> None:
    before, start = await world.state(), world.begin()
    await world.stranger.press_data(data)
    made = world.check_answers(start)
    answers = [c for c in made if c.method == "answerCallbackQuery"]
    assert len(answers) == 1, made
    kind = parse_any(data)
    assert kind is not None
    if kind.prefix not in OPEN_TO_ANYONE:
        assert [c.params.get("text") for c in made] == [UNKNOWN]
    assert await world.state() == before


@FUZZ
@given(data=st.sampled_from(KINDS).flatmap(buttons_of).map(lambda button: button.encode()))
async def test_any_button_pressed_by_a_partner_is_answered_once_and_logs_no_error(
    world: World, data: str
) -> None:
    # Valid shapes with made-up ids: most are stale, some act; none may fail or spin.
    start = world.begin()
    await world.sam.press_data(data)
    made = world.check_answers(start)
    assert len([c for c in made if c.method == "answerCallbackQuery"]) == 1, made


# Typed steps -----------------------------------------------------------------------------


def _blank_or_over(limit: int) -> Callable[[str], bool]:
    """Refuse what is empty once trimmed, or longer than `limit` characters."""
    return lambda text: not text.strip() or len(text.strip()) > limit


def _not_a_name(text: str) -> bool:
    """Tell, independently of the bot's own check, whether a name must be refused."""
    name = " ".join(text.split())
    invisible = all(
        c.isspace() or unicodedata.category(c) in ("Cc", "Cf") or c in ZERO_WIDTH for c in name
    )
    return invisible or any(c in BIDI_CONTROLS for c in name) or len(name) > NAME_MAX_LENGTH


def _not_a_time(text: str) -> bool:
    """Refuse what has no digit and is no named time: no reading of it could be a time."""
    return not any(c.isdigit() for c in text) and parse_time_of_day(text) is None


async def _settings_step(world: World, label: str) -> None:
    await world.alex.send("/settings")
    await world.alex.press(label)


async def _evening_answer(world: World) -> None:
    await world.alex.press("Answer")


async def _confirming(world: World) -> None:
    await world.alex.press("Answer")
    await world.alex.send("A picnic by the lake")


async def _appreciation(world: World) -> None:
    await world.alex.send("/appreciate")


async def _reflection(world: World) -> None:
    await world.alex.send("/checkin")
    for score in ("4", "4", "4"):  # the scales come first, then the typed reflections
        await world.alex.press(score)
    assert "4 of 5" in world.alex.last()


async def _counsellor(world: World) -> None:
    await world.alex.send("/counsellor")
    for label in ("Trust", "Mostly me", "In the next few days", "Messages here", "Evenings"):
        await world.alex.press(label)
    assert "Anything you'd like the counsellor to know" in world.alex.last()


async def _nothing(world: World) -> None:
    await world.alex.send("/cancel")


async def _new_name(world: World) -> None:
    await world.newcomer.send("/start")


@dataclass(frozen=True)
class Step:
    """A typed step: how to reach it, who types, and which input it must refuse."""

    name: str
    reach: Callable[[World], Any]
    refused: Callable[[str], bool]
    typist: int = 1


STEPS = [
    Step("name", lambda w: _settings_step(w, "Name"), _not_a_name),
    Step("onboarding name", _new_name, _not_a_name, typist=5),
    # Several matches ask which one, which changes nothing either; no match must refuse.
    Step("time zone", lambda w: _settings_step(w, "Time zone"), lambda t: not resolve_timezone(t)),
    Step("morning time", lambda w: _settings_step(w, "Morning"), _not_a_time),
    Step("evening time", lambda w: _settings_step(w, "Evening"), _not_a_time),
    Step("evening answer", _evening_answer, _blank_or_over(ANSWER_MAX_LENGTH)),
    Step("answer waiting to be shared", _confirming, _blank_or_over(ANSWER_MAX_LENGTH)),
    Step("appreciation", _appreciation, _blank_or_over(APPRECIATION_MAX_LENGTH)),
    Step("check-in reflection", _reflection, _blank_or_over(REFLECTION_MAX_LENGTH)),
    Step("counsellor message", _counsellor, _blank_or_over(MESSAGE_MAX_LENGTH)),
    Step("no step at all", _nothing, lambda _: True),
]


@pytest.fixture(params=STEPS, ids=lambda step: step.name)
async def step(request: pytest.FixtureRequest, world: World) -> tuple[Step, Person, Awaiting]:
    """Reach one typed step through the bot; return it, who types, and what it waits for."""
    chosen: Step = request.param
    await chosen.reach(world)
    typist = world.alex if chosen.typist == 1 else world.newcomer
    waiting = await world.awaiting(typist)
    if chosen.name == "no step at all":
        assert waiting is None
        return chosen, typist, Awaiting("")
    assert waiting is not None, chosen.name
    return chosen, typist, waiting


@FUZZ
@given(typed=TYPED)
async def test_typed_input_is_answered_kindly_and_invalid_input_changes_nothing(
    world: World, step: tuple[Step, Person, Awaiting], typed: str
) -> None:
    chosen, typist, waiting = step
    await world.restore(typist, waiting if waiting.state else None)
    before, start = await world.state(), world.begin()
    await typist.send(typed)
    made = world.check_answers(start)
    assert any(c.method == "sendMessage" and int(c.params["chat_id"]) == typist.id for c in made)
    if chosen.refused(typed):
        assert await world.state() == before, chosen.name


@FUZZ
@given(payload=st.one_of(TYPED, st.text(alphabet="abcxyz_-019", min_size=1, max_size=64)))
async def test_any_start_payload_that_is_no_invite_says_so_and_changes_nothing_else(
    world: World, payload: str
) -> None:
    await world.restore(world.alex, None)
    before, start = await world.state(), world.begin()
    await world.alex.send(f"/start {payload}")
    made = world.check_answers(start)
    said = [str(c.params.get("text")) for c in made if c.method == "sendMessage"]
    assert said and ("doesn't work" in said[0] or "short break" in said[0]), said
    after = await world.state()
    # Only the throttle on wrong codes counts it, in Alex's own row.
    assert {t: rows for t, rows in after.items() if t != "users"} == {
        t: rows for t, rows in before.items() if t != "users"
    }
    changed = set(after["users"]) ^ set(before["users"])
    assert all(row.startswith("(1,") for row in changed), changed
