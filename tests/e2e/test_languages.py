"""A couple in two languages against the real bot process, end to end: each partner reads
everything in their own language, and they still share the same question."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.content.checkins import CheckinDeck
from bot.content.library import Library
from tests.fakes.botapi import FakeMessage, FakeUser
from tests.support.process import RunningBot, onboard
from tests.support.waiting import wait_for_text

pytestmark = pytest.mark.e2e

CONTENT = Path(__file__).resolve().parents[2] / "content"
# Words that only English templates use; a German reader must never see them outside content
# (prompts, check-in questions) that the German locale may not have translated yet.
ENGLISH_ONLY = re.compile(r"\b(you|your|you're|the|and|with|this)\b", re.IGNORECASE)
GERMAN_ONLY = re.compile(r"\b(du|dich|dein|deine|ihr|euch|und|nicht)\b", re.IGNORECASE)


@pytest.fixture(autouse=True)
def ungated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing here is about paying: every feature is open."""
    monkeypatch.setenv("GATED_FEATURES", "")


async def onboard_in_german(user: FakeUser) -> None:
    """Answer every onboarding question from the German texts."""
    await wait_for_text(user, "Wie sollen wir dich nennen?")
    await user.press_button("nehmen")
    await wait_for_text(user, "Wo auf der Welt bist du gerade?")
    await user.send_text("Lisbon")
    await wait_for_text(user, "Morgenimpuls")
    await user.send_text("08:00")
    await wait_for_text(user, "Abendfrage")
    await user.send_text("21:00")
    await wait_for_text(user, "Hast du manchmal Angst")
    await user.press_button("Erst mal überspringen")
    await wait_for_text(user, "alles ist bereit")


def _without(text: str, contents: list[str]) -> str:
    """Take the content items (which may still fall back to English) out of a message."""
    for item in sorted(contents, key=len, reverse=True):
        text = text.replace(item, "")
    return text


def _prompt_id(message: FakeMessage, deck: str, locale: str) -> str:
    """Find which prompt of a deck a message shows, by its text in that locale."""
    text = message.text or ""
    found = [p.id for p in Library(CONTENT).deck(deck, locale) if p.text in text]
    assert len(found) == 1, (found, text)
    return found[0]


async def test_a_couple_in_two_languages_from_onboarding_to_safety(
    running_bot: RunningBot,
) -> None:
    api = running_bot.api
    alex = api.user(801, "Alex", language_code="en")
    sam = api.user(802, "Sam", language_code="de")
    assert [c["command"] for c in api.commands(language_code="de")][:3] == [
        "start",
        "invite",
        "settings",
    ]
    german_menu = {c["command"]: c["description"] for c in api.commands(language_code="de")}
    english_menu = {c["command"]: c["description"] for c in api.commands()}
    assert german_menu["safety"] == "Hilfetelefone und Sicherheit"
    assert english_menu["safety"] == "Support lines and safety options"

    # Onboarding and pairing, each in their own language.
    await alex.start()
    await wait_for_text(alex, "welcome to Remainly")
    await onboard(alex, "Lisbon", "08:00", "21:00")
    await alex.press_button("Invite your partner")
    link = await wait_for_text(alex, "private invite link")
    payload = re.search(r"start=(inv_[\w-]+)", link.text or "")
    assert payload
    await sam.start(payload.group(1))
    await wait_for_text(sam, "Alex lädt dich ein, euch auf Remainly zu verbinden")
    await sam.press_button("Annehmen")
    await wait_for_text(sam, "Du und Alex seid jetzt ein Paar auf Remainly")
    await wait_for_text(alex, "You and Sam are now a couple on Remainly")
    await onboard_in_german(sam)

    # The evening question: the same prompt for both, each in their own language.
    running_bot.set_clock(datetime(2026, 3, 2, 21, 0, 30, tzinfo=UTC))
    alex_question = await wait_for_text(alex, "Tonight's question for you and Sam")
    sam_question = await wait_for_text(sam, "Die Frage für dich und Alex heute Abend")
    asked = _prompt_id(alex_question, "curiosity", "en")
    assert _prompt_id(sam_question, "curiosity", "de") == asked

    await alex.press_button("Answer")
    await wait_for_text(alex, "type your answer")
    await alex.send_text("Walking by the river")
    await wait_for_text(alex, "Here's your answer")
    await alex.press_button("Share when")
    await wait_for_text(alex, "Saved")
    await wait_for_text(sam, "Alex hat die heutige Frage beantwortet")
    await sam.press_button("Antworten")
    await wait_for_text(sam, "Schreib einfach deine Antwort")
    await sam.send_text("Der erste Schnee")
    await wait_for_text(sam, "Das ist deine Antwort")
    await sam.press_button("Teilen, wenn")
    alex_reveal = await wait_for_text(alex, "You've both answered")
    sam_reveal = await wait_for_text(sam, "Ihr habt beide geantwortet")
    assert "Der erste Schnee (written in German)" in (alex_reveal.text or "")
    assert "Walking by the river (auf Englisch geschrieben)" in (sam_reveal.text or "")

    # The morning nudge, next day.
    running_bot.set_clock(datetime(2026, 3, 3, 8, 0, 30, tzinfo=UTC))
    alex_morning = await wait_for_text(alex, "Good morning")
    sam_morning = await wait_for_text(sam, "Guten Morgen")
    assert "A little thing for you and Sam today" in (alex_morning.text or "")
    assert "Eine Kleinigkeit für dich und Alex heute" in (sam_morning.text or "")
    _prompt_id(alex_morning, "affirmations", "en")
    _prompt_id(sam_morning, "affirmations", "de")

    # A check-in Sam opens; each answers the questions in their own language.
    english_checkin, german_checkin = CheckinDeck(CONTENT).get("en"), CheckinDeck(CONTENT).get("de")
    await sam.send_text("/checkin")
    await wait_for_text(sam, "Ein Check-in für dich und Alex")
    await wait_for_text(alex, "Sam opened a check-in for the two of you")
    for number, question in enumerate(german_checkin.questions, start=1):
        shown = await wait_for_text(sam, f"{number} von 5")
        assert question.text in (shown.text or "")
        if question.is_scale:
            await sam.press_button("4")
        else:
            await sam.send_text(f"Antwort {number}")
    await wait_for_text(sam, "Deine Antworten")
    await sam.press_button("Antworten abschicken")
    await wait_for_text(sam, "Deine Antworten bleiben privat, bis Alex")
    await alex.press_button("Let's begin")
    for number, question in enumerate(english_checkin.questions, start=1):
        shown = await wait_for_text(alex, f"{number} of 5")
        assert question.text in (shown.text or "")
        if question.is_scale:
            await alex.press_button("3")
        else:
            await alex.send_text(f"Answer {number}")
    await wait_for_text(alex, "Your answers")
    await alex.press_button("Send my answers")
    alex_summary = await wait_for_text(alex, "Your check-in together")
    sam_summary = await wait_for_text(sam, "Euer gemeinsamer Check-in")
    assert "Antwort 4" in (alex_summary.text or "") and "Answer 4" in (sam_summary.text or "")

    # /safety, with the support lines worded for each.
    await alex.send_text("/safety")
    alex_safety = await wait_for_text(alex, "This bot isn't an emergency service")
    await sam.send_text("/safety")
    sam_safety = await wait_for_text(sam, "Dieser Bot ist kein Notdienst")
    assert "Emergency services: 112" in (alex_safety.text or "")
    assert "Notruf: 112" in (sam_safety.text or "")

    # Nothing either of them got was in the other's language (content that German may not
    # have translated yet aside).
    contents = [
        *(p.text for p in Library(CONTENT).deck("curiosity", "en")),
        *(p.text for p in Library(CONTENT).deck("affirmations", "en")),
        *(q.text for q in english_checkin.questions),
        *(q.label for q in english_checkin.questions),
        *(q.low or "" for q in english_checkin.questions),
        *(q.high or "" for q in english_checkin.questions),
        *(q.talk or "" for q in english_checkin.questions),
        "Walking by the river",
        "Answer 4",
        "Answer 5",
    ]
    assert len(sam.messages) > 15 and len(alex.messages) > 15
    for message in sam.messages:
        plain = _without(message.text or "", contents)
        assert not ENGLISH_ONLY.search(plain), plain
    for message in alex.messages:
        plain = _without(message.text or "", ["Der erste Schnee", "Antwort 4", "Antwort 5"])
        assert not GERMAN_ONLY.search(plain), plain
