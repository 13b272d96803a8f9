"""Something meaningful together through the real Application: ideas, private marks, a day,
reminders at each partner's own time, and how it went."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from markupsafe import escape
from sqlmodel import col, select

from bot.app import BotApplication
from bot.core.clock import FixedClock
from bot.db.together import TogetherPlan
from bot.settings import Settings
from bot.telegram.context import services_of
from bot.telegram.handlers.help import publish_commands
from tests.fakes.inprocess import Person, RecordingTransport
from tests.support.app import (
    MakePerson,
    handler_settings,
    invite,
    onboard,
    onboard_invited,
    running_application,
)

ALEX, SAM, KIM, LEE = 1, 2, 3, 4
STALE = "That button is no longer active. Nothing was changed."


@pytest.fixture
def settings(database_url: str) -> Settings:
    """These flows run into the week after pairing; billing has tests of its own below."""
    return handler_settings(database_url, gated_features="nudges,articles,paid_videos")


async def pair_up(
    person: MakePerson, a: int, b: int, names: tuple[str, str]
) -> tuple[Person, Person]:
    """The first onboards in Lisbon and invites the second, who onboards in Tokyo."""
    first, second = person(a, names[0]), person(b, names[1])
    await onboard(first)
    await invite(first, second)
    await onboard_invited(second, city="Tokyo")
    return first, second


async def plans_of(application: BotApplication) -> list[TogetherPlan]:
    async with services_of(application).sessions() as session:
        return list((await session.exec(select(TogetherPlan).order_by(col(TogetherPlan.id)))).all())


async def idea_texts(application: BotApplication, plan: TogetherPlan) -> list[str]:
    deck = services_of(application).together.deck.get()
    found = [deck.idea(idea_id) for idea_id in plan.idea_ids]
    return [str(escape(idea.text)) for idea in found if idea]


async def tick_at(application: BotApplication, clock: FixedClock, at: datetime) -> None:
    clock.set(at)
    await services_of(application).together.tick()


async def test_a_full_plan_two_partners_two_time_zones(
    person: MakePerson, application: BotApplication, clock: FixedClock
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/together")
    assert "Three ideas for you and Sam" in alex.last()
    assert "Alex opened three ideas for you two" in sam.last()
    (plan,) = await plans_of(application)
    ideas = await idea_texts(application, plan)
    assert len(ideas) == 3 and all(text in alex.last() and text in sam.last() for text in ideas)

    # Alex would enjoy the first two; nobody else learns that.
    await alex.press_data(f"tog:m:{plan.id}:0")
    await alex.press_data(f"tog:m:{plan.id}:1")
    await alex.press_data(f"tog:m:{plan.id}:1")  # changed their mind
    await alex.press_data(f"tog:m:{plan.id}:1")
    await alex.press_data(f"tog:done:{plan.id}")
    assert "your picks are safely tucked away" in alex.last()
    assert "Alex has chosen from your three ideas" in sam.last()
    await alex.press_data(f"tog:m:{plan.id}:2")
    assert alex.alerts()[-1] == "You've already chosen from this round."

    # Sam would enjoy the second and the third: only the second is shown, to both.
    await sam.press_data(f"tog:m:{plan.id}:1")
    await sam.press_data(f"tog:m:{plan.id}:2")
    await sam.press_data(f"tog:done:{plan.id}")
    for partner in (alex, sam):
        shared = partner.last()
        assert "You'd both enjoy this" in shared
        assert ideas[1] in shared and ideas[0] not in shared and ideas[2] not in shared
    for text in alex.inbox() + sam.inbox():
        assert "didn" not in text.replace("didn't get round", "")

    # Sam (in Tokyo, where it is already Monday evening) picks Saturday 7 March.
    await sam.press("Sat 7")
    assert "it's a plan for" in sam.last()
    assert "Saturday 7 March" in sam.last()
    assert "Sam picked <b>Saturday 7 March</b>" in alex.last()

    # On the day each is reminded at 10:00 their own time: Tokyo first, Lisbon nine hours on.
    alex_seen, sam_seen = len(alex.inbox()), len(sam.inbox())
    await tick_at(application, clock, datetime(2026, 3, 7, 0, 59, tzinfo=UTC))
    assert len(sam.inbox()) == sam_seen
    await tick_at(application, clock, datetime(2026, 3, 7, 1, 0, 30, tzinfo=UTC))
    assert "Today's the day" in sam.last()
    assert len(alex.inbox()) == alex_seen
    await tick_at(application, clock, datetime(2026, 3, 7, 10, 0, 30, tzinfo=UTC))
    assert "the day</b> you and Sam planned" in alex.last()
    await tick_at(application, clock, datetime(2026, 3, 7, 12, 0, tzinfo=UTC))
    assert len(alex.inbox()) == alex_seen + 1 and len(sam.inbox()) == sam_seen + 1

    # The next day each is asked privately how it went.
    await tick_at(application, clock, datetime(2026, 3, 8, 1, 0, 30, tzinfo=UTC))
    assert "How did it go with Alex?" in sam.last()
    await sam.press_data(f"tog:s:{plan.id}:4")
    assert "Anything you'd like to add" in sam.last()
    await sam.send("x" * 301)
    assert "That's 301 characters; a note here fits in 300" in sam.last()
    await sam.send("Lovely <walk> by the river")
    assert "once Alex has said how it went" in sam.last()
    assert not any("river" in text for text in alex.inbox())
    await tick_at(application, clock, datetime(2026, 3, 8, 10, 0, 30, tzinfo=UTC))
    assert "How did it go with Sam?" in alex.last()
    await alex.press("5")
    await alex.press("Nothing to add")
    alex_view, sam_view = alex.last(), sam.last()
    await alex.press_data(f"tog:nw:{plan.id}")
    assert alex.alerts()[-1] == "You've already said how this one went."
    assert "How it went" in alex_view and "How it went" in sam_view
    assert "Lovely &lt;walk&gt; by the river" in alex_view and "●●●●○ 4" in alex_view
    assert "●●●●● 5" in sam_view and "<b>Alex:</b>" in sam_view

    await alex.send("/history")
    history = alex.last()
    assert "Things you've done together" in history
    assert ideas[1] in history and "you 5/5 · Sam 4/5" in history


async def test_nothing_in_common_offers_three_more_and_tells_nobody_why(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/together")
    (first,) = await plans_of(application)
    await alex.press_data(f"tog:m:{first.id}:0")
    await alex.press_data(f"tog:done:{first.id}")
    await sam.press_data(f"tog:m:{first.id}:2")
    await sam.press_data(f"tog:done:{first.id}")
    first, second = await plans_of(application)
    assert first.status == "unmatched" and second.status == "marking"
    assert not set(first.idea_ids) & set(second.idea_ids)
    fresh = await idea_texts(application, second)
    for partner in (alex, sam):
        assert "didn't quite fit you both" in partner.last()
        assert all(text in partner.last() for text in fresh)
    old = await idea_texts(application, first)
    assert old[0] not in sam.last() and old[2] not in alex.last()
    await sam.send("/together")
    assert "Tap the ones you'd enjoy" in sam.last() and fresh[0] in sam.last()


async def test_forged_stale_and_other_couples_buttons_change_nothing(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/together")
    (plan,) = await plans_of(application)
    kim, _ = await pair_up(person, KIM, LEE, ("Kim", "Lee"))
    for forged in (f"tog:m:{plan.id}:0", f"tog:done:{plan.id}", f"tog:day:{plan.id}:20260307"):
        await kim.press_data(forged)
    for forged in (f"tog:m:{plan.id}:7", f"tog:day:{plan.id}:20260230", f"tog:s:{plan.id}:9"):
        await alex.press_data(forged)
    await alex.press_data(f"tog:s:{plan.id}:3")  # no day yet: nothing to say how it went
    assert kim.alerts() == [STALE] * 3 and alex.alerts() == [STALE] * 4
    (after,) = await plans_of(application)
    assert after.status == "marking"
    await sam.send("/unpair")
    await sam.press("Yes, unpair")
    await alex.press_data(f"tog:done:{plan.id}")
    assert "for two" in alex.alerts()[-1]
    await alex.send("/together")
    assert "invite your partner with /invite first" in alex.last()


async def test_a_safety_pause_rests_plans_and_says_nothing_of_why(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await alex.send("/together")
    (plan,) = await plans_of(application)
    await sam.send("/safety")
    await sam.press("I don't always feel safe")
    await alex.send("/together")
    assert "paused for now" in alex.last()
    await alex.press_data(f"tog:done:{plan.id}")
    assert "paused for now" in alex.alerts()[-1]


async def test_discreet_partner_gets_a_neutral_notice(
    person: MakePerson, application: BotApplication
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await sam.send("/hide")
    await alex.send("/together")
    assert "You have a new message" in sam.last()
    assert "ideas" not in sam.last()
    await sam.press("Show")
    shown = sam.transport.calls_to("editMessageText")[-1].params
    assert "Alex opened three ideas for you two" in shown["text"]
    assert "tog:m:" in str(shown["reply_markup"])


async def test_after_the_free_week_plans_rest_until_someone_subscribes(
    database_url: str, clock: FixedClock
) -> None:
    transport = RecordingTransport()
    settings = handler_settings(database_url)
    async with running_application(settings, transport, clock) as app:
        alex, sam = Person(app, transport, ALEX, "Alex"), Person(app, transport, SAM, "Sam")
        await onboard(alex)
        await invite(alex, sam)
        await onboard_invited(sam)
        await alex.send("/together")
        assert "Three ideas for you and Sam" in alex.last()
        clock.set(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
        await alex.send("/together")
        assert "Plans together are resting for now" in alex.last()


async def test_two_shared_ideas_one_to_choose_then_another_day(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex, sam = await pair_up(person, ALEX, SAM, ("Alex", "Sam"))
    await sam.send("/together")
    (plan,) = await plans_of(application)
    ideas = await idea_texts(application, plan)
    for who in (alex, sam):
        await who.press_data(f"tog:m:{plan.id}:0")
        await who.press_data(f"tog:m:{plan.id}:2")
        await who.press_data(f"tog:done:{plan.id}")
    assert "You'd both enjoy these" in alex.last()
    assert ideas[0] in alex.last() and ideas[2] in alex.last() and ideas[1] not in alex.last()
    await alex.press("Idea 2")
    assert ideas[2] in alex.last() and "When shall it be?" in alex.last()
    await alex.press("Tomorrow")
    assert "Tuesday 3 March" in alex.last() and ideas[2] in sam.last()
    await sam.send("/together")
    assert "Your plan together" in sam.last() and ideas[2] in sam.last()
    await sam.press("Choose another day")
    await sam.press("Wed 4")
    assert "Moved to <b>Wednesday 4 March" in sam.last()
    assert "Sam moved your plan to <b>Wednesday 4 March" in alex.last()
    await sam.press_data(f"tog:day:{plan.id}:20260304")
    assert sam.alerts()[-1] == "That's already the day you've planned."
    await alex.send("/history")
    assert "No check-ins together yet" in alex.last()


async def test_help_and_the_menu_list_together(
    person: MakePerson, application: BotApplication, transport: RecordingTransport
) -> None:
    alex = person(ALEX, "Alex")
    await alex.send("/help")
    assert "/together — ideas for something to do together" in alex.last()
    await publish_commands(application)  # what start-up does
    # The menu for everyone without one of their own language (the default locale's).
    [default_menu] = [
        call for call in transport.calls_to("setMyCommands") if not call.params.get("language_code")
    ]
    menu = default_menu.params["commands"]
    described = {c["command"]: c["description"] for c in menu}
    assert described["together"] == "Something to do together"
