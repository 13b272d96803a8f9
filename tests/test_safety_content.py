"""Crisis lines and counsellor topics in content/, and the counsellor settings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content.check import check_content
from bot.content.safety import country_of_zone, load_topics, resources_for
from bot.settings import SettingsError, load_settings

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.mark.parametrize(
    ("zone", "country"),
    [("Europe/London", "GB"), ("America/New_York", "US"), ("Asia/Tokyo", "JP"), ("UTC", None)],
)
def test_a_time_zone_names_its_country(zone: str, country: str | None) -> None:
    assert country_of_zone(zone) == country


def test_people_get_their_countrys_lines_and_everyone_the_general_ones() -> None:
    london = resources_for(CONTENT, "Europe/London")
    assert london.country == "GB" and london.lines[0].phone == "999"
    nowhere = resources_for(CONTENT, None)
    assert nowhere.country is None and nowhere.lines == ()
    assert nowhere.general and nowhere.general == london.general
    # Norway's code is "NO", which YAML would read as false unless quoted.
    assert resources_for(CONTENT, "Europe/Oslo").lines


def test_topics_load_with_their_labels() -> None:
    topics = load_topics(CONTENT, "en")
    assert topics.topics[0].id == "communication"
    assert load_topics(CONTENT, "xx").topics == topics.topics  # falls back to English


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A copy of content/ a test may break."""
    copy = tmp_path / "content"
    shutil.copytree(CONTENT, copy)
    return copy


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('  "GB":', '  "XX":', "unknown ISO 3166-1 country code(s) ['XX']"),
        ('phone: "999"', 'phone: "call 999"', "countries.GB.0.phone"),
        ("general:\n", "general: []\nunused:\n", "yaml:5: general: Tuple should have at least 1"),
    ],
)
def test_the_content_check_names_a_broken_crisis_line(
    content: Path, old: str, new: str, problem: str
) -> None:
    path = content / "safety" / "crisis_lines.yaml"
    path.write_text(path.read_text().replace(old, new, 1))
    problems = check_content(content)
    assert len(problems) == 1 and str(path) in problems[0] and problem in problems[0]


def test_the_content_check_names_a_duplicate_topic(content: Path) -> None:
    path = content / "locales" / "en" / "counsellor" / "topics.yaml"
    path.write_text(path.read_text().replace("id: trust", "id: conflict"))
    [problem] = check_content(content)
    assert "duplicate id(s) ['conflict']" in problem


def test_counsellor_settings_are_validated() -> None:
    settings = load_settings(counsellor_chat_id="", counsellor_staff_ids="12, 34 12")
    assert settings.counsellor_chat_id is None and settings.counsellor_staff == {12, 34}
    assert load_settings(counsellor_chat_id="-100123").counsellor_chat_id == -100123
    with pytest.raises(SettingsError, match="COUNSELLOR_STAFF_IDS"):
        load_settings(counsellor_staff_ids="12,robin")
    with pytest.raises(SettingsError, match="COUNSELLOR_CHAT_ID"):
        load_settings(counsellor_chat_id="0")
    with pytest.raises(SettingsError, match="COUNSELLOR_REANNOUNCE_MINUTES"):
        load_settings(counsellor_reannounce_minutes=0)
