"""Each person in their own language, through the real Application."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from markupsafe import escape
from sqlmodel import select

from bot.app import BotApplication
from bot.content.safety import load_topics
from bot.core.clock import FixedClock
from bot.db.models import Answer, CoupleQuestion
from bot.settings import Settings
from bot.telegram.context import services_of
from bot.telegram.handlers.help import publish_commands
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import (
    MakePerson,
    handler_settings,
    invite_payload,
    onboard,
    running_application,
    stored_user,
)

STAFF_CHAT = -100555


async def onboard_in_german(person: Person, *, invited: bool = False) -> None:
    """Answer the onboarding the way someone reading it in German would."""
    if not invited:
        await person.send("/start")
    await person.press("nehmen")  # „Name“ nehmen: go by the Telegram name
    await person.send("Europe/Berlin")
    await person.press("08:00")
    await person.send("21:15")
    await person.press("Erst mal überspringen")


async def test_a_newcomer_gets_the_language_telegram_reports(person: MakePerson) -> None:
    kai = person(1, "Kai")
    kai.language_code = "de-AT"
    await kai.send("/start")
    assert "willkommen bei <b>Remainly</b>" in kai.inbox()[0]
    assert "Wie sollen wir dich nennen?" in kai.last()
    assert (await stored_user(kai.application, 1)).locale == "de"

    ivan = person(2, "Ivan")
    ivan.language_code = "ru"  # no folder for it: English
    await ivan.send("/start")
    assert "welcome to <b>Remainly</b>" in ivan.inbox()[0]
    assert (await stored_user(ivan.application, 2)).locale == "en"


async def test_the_language_is_changed_in_settings(
    person: MakePerson, transport: RecordingTransport
) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    await alex.send("/settings")
    assert "Language: <b>English</b>" in alex.last()
    await alex.press("Language")
    labels = [b["text"] for row in _keyboard(transport, alex) for b in row]
    assert "✓ English" in labels and "Deutsch" in labels
    await alex.press("Deutsch")
    assert "ab jetzt sprechen wir <b>Deutsch</b>" in alex.inbox()[-2]
    assert "<b>Deine Einstellungen</b>" in alex.last() and "Sprache: <b>Deutsch</b>" in alex.last()
    assert (await stored_user(alex.application, 1)).locale == "de"
    # Telegram still says English; the choice wins from now on.
    await alex.send("/help")
    assert "<b>Was Remainly kann</b>" in alex.last()
    await alex.press("Sicherheit und Hilfe")
    assert "<b>Sicherheit und Hilfe</b>" in alex.last()


async def test_a_language_without_a_folder_is_refused(person: MakePerson) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    await alex.press_data("lang:fr")
    assert alex.alerts()[-1] == "That button is no longer active. Nothing was changed."
    assert (await stored_user(alex.application, 1)).locale == "en"


def _keyboard(transport: RecordingTransport, person: Person) -> list[list[dict[str, str]]]:
    markup = transport.sent_to(person.id)[-1].params["reply_markup"]
    parsed = json.loads(markup) if isinstance(markup, str) else markup
    return list(parsed["inline_keyboard"])


async def test_each_partner_reads_the_shared_question_in_their_own_language(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    sam = person(2, "Sam")
    sam.language_code = "de"
    await alex.send("/invite")
    await sam.send(f"/start {invite_payload(alex)}")
    assert "<b>Alex</b> lädt dich ein" in sam.last()
    await sam.press("Annehmen")
    await onboard_in_german(sam, invited=True)
    assert any("Du und <b>Alex</b> seid jetzt ein Paar" in text for text in sam.inbox())
    assert any("You and <b>Sam</b> are now a couple" in text for text in alex.inbox())

    clock.set(datetime(2026, 3, 2, 21, 20, tzinfo=UTC))
    await services_of(application).nudges.tick()
    assert "Tonight's question for you and Sam" in alex.last()
    assert "Die Frage für dich und Alex heute Abend" in sam.last()
    async with services_of(application).sessions() as session:
        question = (await session.exec(select(CoupleQuestion))).one()
    library = services_of(application).library
    english = library.prompt("curiosity", question.prompt_id, "en")
    german = library.prompt("curiosity", question.prompt_id, "de")
    assert english is not None and german is not None
    # The same question for both, each in their own language (English where not translated).
    assert str(escape(english.text)) in alex.last()
    assert str(escape(german.text)) in sam.last()

    await alex.press("Answer")
    await alex.send("A picnic by the lake")
    await alex.press("Share when")
    assert "Alex hat die heutige Frage beantwortet" in sam.last()
    await sam.press("Antworten")
    await sam.send("Ein Picknick am See")
    await sam.press("Teilen, wenn")
    assert "You've both answered" in alex.last()
    assert "Ein Picknick am See <i>(written in German)</i>" in alex.last()
    assert "Ihr habt beide geantwortet" in sam.last()
    assert "A picnic by the lake <i>(auf Englisch geschrieben)</i>" in sam.last()
    async with services_of(application).sessions() as session:
        answers = {a.user_id: a.locale for a in (await session.exec(select(Answer))).all()}
    assert answers == {1: "en", 2: "de"}


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings with a staff chat whose team reads English."""
    return handler_settings(
        database_url,
        counsellor_chat_id=STAFF_CHAT,
        counsellor_staff_ids="900",
        staff_locale="en",
    )


async def test_the_staff_chat_reads_the_teams_language(
    person: MakePerson, transport: RecordingTransport
) -> None:
    kai = person(1, "Kai")
    kai.language_code = "de"
    await onboard_in_german(kai)
    await kai.send("/counsellor")
    assert "Worüber möchtest du sprechen?" in kai.last()
    # The topic's label as German has it (English where it is not translated).
    settings = services_of(kai.application).settings
    topics = load_topics(settings.content_dir, "de", settings.default_locale).topics
    await kai.press(next(topic.label for topic in topics if topic.id == "trust"))
    await kai.press("Vor allem ich")
    await kai.press("In den nächsten Tagen")
    await kai.press("Nachrichten hier")
    await kai.press("Abends")
    await kai.send("Wir streiten oft")
    assert "<b>Das ist deine Anfrage</b>" in kai.last()
    await kai.press("Ja, mit meinem Namen senden")
    assert "deine Anfrage <b>#1</b> ist bei uns angekommen" in kai.last()
    [card] = [call.params["text"] for call in transport.sent_to(STAFF_CHAT)]
    assert "<b>Request #1</b>" in card and "How soon: In the next few days" in card


async def test_the_staff_chat_can_read_german(
    database_url: str, transport: RecordingTransport, clock: FixedClock
) -> None:
    settings = handler_settings(
        database_url, counsellor_chat_id=STAFF_CHAT, counsellor_staff_ids="900", staff_locale="de"
    )
    async with running_application(settings, transport, clock) as app:
        alex = Person(app, transport, 1, "Alex")
        await onboard(alex)
        await alex.send("/counsellor")
        await alex.press("Trust")
        await alex.press("Mostly me")
        await alex.press("In the next few days")
        await alex.press("Messages here")
        await alex.press("Evenings")
        await alex.press("Skip")
        await alex.press("Yes, share my name and send")
        assert "request <b>#1</b> is with us" in alex.last()
        [card] = [call.params["text"] for call in transport.sent_to(STAFF_CHAT)]
        assert "<b>Anfrage #1</b>" in card and "Wie bald: In den nächsten Tagen" in card


async def test_the_command_menu_is_published_in_every_language(
    application: BotApplication, transport: RecordingTransport
) -> None:
    await publish_commands(application)
    menus = {
        call.params.get("language_code"): {
            c["command"]: c["description"] for c in call.params["commands"]
        }
        for call in transport.calls_to("setMyCommands")
    }
    assert set(menus) == {None, "de"}
    assert menus[None]["settings"] == "Name, language, time zone and nudge times"
    assert menus["de"]["settings"] == "Name, Sprache, Zeitzone, Zeiten"
    assert list(menus[None]) == list(menus["de"])


async def test_switching_language_during_onboarding_carries_on_in_it(person: MakePerson) -> None:
    kai = person(1, "Kai")
    kai.language_code = "de"
    await kai.send("/start")
    assert "In /settings kannst du sie jederzeit ändern" in kai.inbox()[0]
    await kai.send("/settings")
    await kai.press("Sprache")
    await kai.press("English")
    assert "from now on we'll talk in <b>English</b>" in kai.inbox()[-2]
    assert "What should we call you?" in kai.last()
    await onboard_rest_in_english(kai)
    assert "you're all set" in kai.last()


async def onboard_rest_in_english(person: Person) -> None:
    """Answer the onboarding questions from the name on, in English."""
    await person.press("Use “")
    await person.send("Lisbon")
    await person.press("08:00")
    await person.send("21:15")
    await person.press("Skip for now")
