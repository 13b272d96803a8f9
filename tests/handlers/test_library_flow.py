"""Focus areas, articles and videos through the real Application."""

from __future__ import annotations

from tests.support.app import MakePerson, invited_couple


async def test_focus_picker_caps_at_three(person: MakePerson) -> None:
    alex, _ = await invited_couple(person)
    await alex.send("/focus")
    assert "Pick up to 3 areas" in alex.last()
    for label in ("Trust", "Curiosity", "Appreciation"):
        await alex.press(label)
    await alex.press("Disagreements")
    assert alex.alerts()[-1].startswith("That's already 3 areas")
    keyboard = alex.transport.calls_to("editMessageReplyMarkup")[-1].params["reply_markup"]
    chosen = [b["text"] for row in keyboard["inline_keyboard"] for b in row if "✅" in b["text"]]
    assert sorted(chosen) == ["✅ Appreciation", "✅ Curiosity", "✅ Trust"]
    await alex.press("Done")
    assert "focus areas are saved" in alex.last()


async def test_reading_an_article_part_by_part(person: MakePerson) -> None:
    alex, sam = await invited_couple(person)
    await sam.send("/focus")
    await sam.press("Appreciation")
    await alex.send("/articles")
    await alex.press("The small thanks")  # the appreciation article comes first
    first = alex.last()
    assert "part 1 of" in first and "your partner chose appreciation" in first
    assert "<b>" in first and "**" not in first  # Markdown became Telegram HTML
    parts = int(first.split("part 1 of ")[1].split("<")[0].split()[0])
    for part in range(2, parts + 1):
        await alex.press("Next part")
        assert f"part {part} of {parts}" in alex.last()
    assert "Next part" not in str(alex.transport.sent_to(1)[-1].params.get("reply_markup"))
    await alex.send("/articles")
    await alex.press("✓ The small thanks")  # finished articles can be read again
    assert "part 1 of" in alex.last()


async def test_videos_are_url_buttons_with_reasons_and_more_like_this(
    person: MakePerson,
) -> None:
    alex, _ = await invited_couple(person)
    await alex.send("/focus")
    await alex.press("Long distance")
    await alex.send("/videos")
    listing = alex.last()
    assert "Picked for you two" in listing and "you chose long distance" in listing
    url = alex.button_url("▶")
    assert url.startswith("https://videos.remainly.example/")
    await alex.press("More like this")
    assert "More like" in alex.last()
    await alex.press("Browse topics")
    await alex.press("Trust")
    assert "Videos on Trust" in alex.last()


async def test_forged_library_buttons_change_nothing(person: MakePerson) -> None:
    alex, _ = await invited_couple(person)
    for data in ("art:open:no-such-article", "vid:like:vid-9999", "vid:topic:astrology"):
        await alex.press_data(data)
    assert alex.alerts() == ["That button is no longer active. Nothing was changed."] * 3
