"""Onboarding, invites, consent, settings and unpairing through the real Application."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.models import Couple
from bot.telegram.context import services_of
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import MakePerson, invite_payload, onboard, stored_user


async def test_onboarding_asks_name_zone_and_times_then_offers_an_invite(
    person: MakePerson, application: BotApplication
) -> None:
    alex = person(1, "Alex")
    await alex.send("/start")
    welcome, ask_name = alex.new_messages()
    assert "welcome to <b>Remainly</b>" in welcome
    assert "What should we call you?" in ask_name and "<b>Alex</b>" in ask_name
    await alex.send("Lex")
    assert "Where in the world are you?" in alex.new_messages()[0]
    await alex.send("Atlantis-under-the-sea")
    assert "couldn't find" in alex.new_messages()[0]
    await alex.send("Lisbon")
    assert "morning nudge" in alex.new_messages()[0]
    await alex.send("25:99")
    assert "didn't catch a time" in alex.new_messages()[0]
    await alex.send("7:45")
    await alex.press("21:30")
    assert "Do you ever feel afraid of your partner" in alex.new_messages()[-1]
    await alex.press("No, I feel safe")
    done = alex.new_messages()[-1]
    assert "you're all set" in done and "07:45" in done and "21:30" in done
    await alex.press("Invite your partner")
    assert "private invite link" in alex.last()
    stored = await stored_user(application, 1)
    assert stored.display_name == "Lex" and stored.timezone == "Europe/Lisbon"
    assert stored.onboarded_at is not None


async def test_names_are_escaped_in_html(person: MakePerson) -> None:
    mallory = person(9, "<b>Mal</b>")
    await mallory.send("/start")
    assert "&lt;b&gt;Mal&lt;/b&gt;" in mallory.last()
    assert "<b>Mal</b>" not in mallory.last()


async def test_state_survives_a_restart(
    person: MakePerson, application: BotApplication, settings: object, clock: FixedClock
) -> None:
    """A new Application (another process) continues the conversation from the database."""
    from bot.app import build_application
    from bot.settings import Settings

    alex = person(1, "Alex")
    await alex.send("/start")
    await alex.send("Lex")
    assert isinstance(settings, Settings)
    transport = RecordingTransport()
    restarted = build_application(settings, request=transport, clock=clock)
    await restarted.initialize()
    try:
        again = Person(restarted, transport, 1, "Alex")
        await again.send("Lisbon")
        assert "morning nudge" in again.last()
    finally:
        await restarted.shutdown()


async def test_two_partners_pair_with_consent_then_unpair(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    payload = invite_payload(alex)
    share = alex.button_url("Share")
    assert share.startswith("https://t.me/share/url?url=https%3A%2F%2Ft.me%2F")

    await sam.send(f"/start {payload}")
    preview = sam.last()
    assert "<b>Alex</b> has invited you" in preview
    await sam.send("hello?")
    assert "Accept" in sam.last()
    await sam.press("Accept")
    assert "You and <b>Alex</b> are now a couple" in sam.inbox()[-2]
    assert "What should we call you?" in sam.last()  # Sam's onboarding continues
    assert "You and <b>Sam</b> are now a couple" in alex.last()
    assert (await stored_user(application, 1)).couple_id == (
        await stored_user(application, 2)
    ).couple_id

    # The used link tells a third person kindly that it is spent.
    kim = person(3, "Kim")
    await kim.send(f"/start {payload}")
    spent, welcome, *_ = kim.inbox()
    assert "already been used" in spent and "welcome to" in welcome

    await alex.send("/unpair")
    assert "unpair from <b>Sam</b>" in alex.last()
    await alex.press("No, stay paired")
    assert "nothing has changed" in alex.last()
    await alex.send("/unpair")
    await alex.press("Yes, unpair")
    assert "You're unpaired" in alex.last()
    assert "ended your pairing" in sam.last()
    assert (await stored_user(application, 1)).couple_id is None
    assert (await stored_user(application, 2)).couple_id is None


async def test_declining_tells_the_inviter_and_pairs_nobody(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    await sam.send(f"/start {invite_payload(alex)}")
    await sam.press("Decline")
    assert "invite is declined" in sam.last()
    assert "wasn't accepted" in alex.last()
    async with services_of(application).sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Couple))).one() == 0


@pytest.mark.parametrize(
    "data",
    ["inv:acc:1", "inv:acc:99999", "inv:dec:abc", "unpair:yes:1", "tz:Mars/Olympus", "nope"],
)
async def test_forged_or_stale_buttons_change_nothing(
    person: MakePerson, application: BotApplication, data: str
) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    await onboard(sam)
    before = await stored_user(application, 2)
    await sam.press_data(data)
    assert sam.alerts()[-1] == "That button is no longer active. Nothing was changed."
    after = await stored_user(application, 2)
    assert after.couple_id is None and after.timezone == before.timezone


async def test_a_used_accept_button_cannot_pair_twice(person: MakePerson) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    await sam.send(f"/start {invite_payload(alex)}")
    accept = next(
        c for c in reversed(sam.transport.sent_to(2)) if "invited you" in c.params["text"]
    )
    await sam.press("Accept")
    await sam.press_data("inv:acc:1", on=accept)
    assert sam.alerts()[-1] == "Good news: you and Alex are already paired 💛"


async def test_garbage_self_and_throttled_codes(person: MakePerson) -> None:
    alex, sam = person(1, "Alex"), person(2, "Sam")
    await onboard(alex)
    await alex.send("/invite")
    payload = invite_payload(alex)
    await alex.send(f"/start {payload}")
    assert "That's your own invite link" in alex.last()
    for _ in range(5):
        sam.new_messages()
        await sam.send("/start inv_not-a-real-code-at-all")
        assert "doesn't work" in sam.new_messages()[0]
    sam.new_messages()
    await sam.send(f"/start {payload}")
    assert "take a short break" in sam.new_messages()[0]


async def test_settings_change_each_value(person: MakePerson, application: BotApplication) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    await alex.send("/settings")
    assert "Your settings" in alex.last() and "Europe/Lisbon" in alex.last()
    await alex.press("Time zone")
    await alex.send("Tokyo")
    assert "Asia/Tokyo" in alex.inbox()[-2]
    await alex.press("Morning time")
    await alex.send("6.30am")
    await alex.press("Name")
    await alex.send("/cancel")
    assert "cancelled" in alex.last()
    stored = await stored_user(application, 1)
    assert stored.timezone == "Asia/Tokyo" and f"{stored.morning_time:%H:%M}" == "06:30"


async def test_help_privacy_and_unknown_input(person: MakePerson) -> None:
    alex = person(1, "Alex")
    await onboard(alex)
    await alex.send("/help")
    assert "/invite" in alex.last() and "/unpair" in alex.last()
    await alex.send("/privacy")
    assert "30 days" in alex.last()
    await alex.send("/dance")
    assert "We don't know that command" in alex.last()
    await alex.send("just saying hi")
    assert "/help" in alex.last()


async def test_command_menu_failure_is_logged_not_fatal(
    application: BotApplication, transport: RecordingTransport, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.telegram.handlers.help import publish_commands

    transport.failures["setMyCommands"] = (400, "Bad Request: something odd")
    await publish_commands(application)
    assert "could not register the command menu" in caplog.text
    transport.failures.clear()
    await publish_commands(application)
    commands = transport.calls_to("setMyCommands")[-1].params["commands"]
    assert [c["command"] for c in commands][:3] == ["start", "invite", "settings"]
