"""The check-in questions and topics in content/ are checked, naming the file and line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.content.check import check_content
from bot.content.checkins import CheckinDeck, check_checkins, load_checkins
from bot.content.entries import ContentError
from bot.settings import SettingsError, load_settings

CONTENT = Path(__file__).resolve().parent.parent / "content"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


def test_the_real_check_in_is_three_to_five_questions_with_one_or_two_reflections() -> None:
    content = load_checkins(CONTENT, "en")
    kinds = [question.kind for question in content.questions]
    assert 3 <= len(kinds) <= 5 and 1 <= kinds.count("reflection") <= 2
    assert all(q.talk and q.low and q.high for q in content.questions if q.is_scale)
    assert len(content.topics) >= 4
    assert check_checkins(CONTENT, "en") == []


def test_broken_questions_name_the_file_and_line(copy: Path) -> None:
    path = copy / "locales/en/checkins.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if "id: close" in line)
    kind = next(i for i in range(first, len(lines)) if "kind:" in lines[i])
    lines[kind] = "    kind: slider"
    talk = next(i for i, line in enumerate(lines) if "talk:" in line and i > kind + 8)
    del lines[talk]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = check_content(copy)
    assert any(f"checkins.yaml:{first + 1}: kind" in p for p in problems), problems
    assert any("needs low, high and talk" in p for p in problems), problems
    with pytest.raises(ContentError):
        load_checkins(copy, "en")


def test_too_many_reflections_and_a_missing_file_are_reported(copy: Path) -> None:
    path = copy / "locales/en/checkins.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("kind: scale", "kind: reflection"),
        encoding="utf-8",
    )
    assert any("5 reflection(s)" in p for p in check_checkins(copy, "en"))
    path.unlink()
    assert any("missing check-in questions" in p for p in check_content(copy))


def test_a_second_language_falls_back_to_english(copy: Path) -> None:
    (copy / "locales/fr/templates").mkdir(parents=True)
    deck = CheckinDeck(copy)
    assert deck.get("fr") == deck.get("en") == deck.get()
    assert deck.get().question("heard") is not None and deck.get().topic("money") is not None
    assert deck.get().question("nope") is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CHECKIN_DAY", "someday"),
        ("CHECKIN_TIME", "25:00"),
        ("CHECKIN_REMINDER_HOURS", "48"),
        ("CHECKIN_WINDOW_HOURS", "12"),
    ],
)
def test_check_in_settings_are_validated(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^Invalid setting {name}:"):
        load_settings(_env_file=None)


def test_check_in_day_accepts_a_weekday_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHECKIN_DAY", "Wednesday")
    assert load_settings(_env_file=None).checkin_weekday == 2
