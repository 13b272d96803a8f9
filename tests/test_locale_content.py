"""A partial locale falls back to English item by item; the check says what, and refuses
real mistakes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.content.check import check_content
from bot.content.checkins import CheckinDeck
from bot.content.library import Library
from bot.content.parity import Parity, parity
from bot.content.safety import load_topics, resources_for
from bot.content.texts import Texts

CONTENT = Path(__file__).resolve().parent.parent / "content"
ROOT = CONTENT.parent


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """The real content with a small French locale instead of the German one."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target, ignore=shutil.ignore_patterns("de"))
    french = target / "locales" / "fr"
    _write(
        french / "templates/pairing/paired.j2",
        "Vous êtes en couple, {{ partner }} 💛{% if not ready %} Encore un instant.{% endif %}\n",
    )
    _write(
        french / "templates/buttons/pause_days.j2",
        '{{ plural(days, one="{n} jour", many="{n} de jours", other="{n} jours") }}\n',
    )
    _write(
        french / "decks/curiosity.yaml",
        "deck: curiosity\nitems:\n  - id: cur-0002\n    topic: dreams\n    depth: light\n"
        '    text: "Où aimeriez-vous vivre pendant un mois ?"\n',
    )
    _write(
        french / "videos.yaml",
        'videos:\n  - id: vid-0001\n    title: "Le petit merci"\n'
        '    description: "Pourquoi les mercis de tous les jours comptent autant."\n',
    )
    _write(
        french / "checkins.yaml",
        'questions:\n  - id: close\n    label: "Proches"\n'
        '    text: "À quel point vous êtes-vous sentis proches cette semaine ?"\n'
        "topics:\n  - id: money\n    text: Argent\n",
    )
    _write(french / "counsellor/topics.yaml", "topics:\n  - {id: trust, label: Confiance}\n")
    _write(
        french / "safety/crisis_lines.yaml",
        'names:\n  "Emergency services": "Urgences"\n'
        'notes:\n  "free, any time": "gratuit, 24h/24"\n',
    )
    article = next((target / "locales/en/articles").glob("*.md"))
    _write(
        french / "articles" / article.name, article.read_text().replace("title: ", "title: FR ", 1)
    )
    return target


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _french(content: Path) -> Parity:
    return next(report for report in parity(content) if report.locale == "fr")


def test_a_partial_locale_is_valid_and_the_report_names_what_falls_back(content: Path) -> None:
    assert check_content(content) == []
    report = _french(content)
    assert report.problems == [] and not report.complete
    total, missing = report.coverage["templates"]
    assert total - len(missing) == 2 and "pairing.paired" not in missing
    assert "pairing.unpaired" in missing
    total, missing = report.coverage["deck curiosity"]
    assert len(missing) == total - 1 and "cur-0002" not in missing
    assert report.coverage["video texts"][1][:1] == ["vid-0002"]
    assert report.coverage["check-in questions"][1] == [
        "heard",
        "appreciated",
        "went-well",
        "more-of",
    ]
    assert len(report.coverage["articles"][1]) == report.coverage["articles"][0] - 1
    assert report.plural_forms == ("many", "one", "other")
    lines = report.lines()
    assert lines[0] == "fr: plural forms many, one, other"
    assert any(line.startswith("fr: templates 2/") and "fall back" in line for line in lines)


def test_each_item_falls_back_to_english_on_its_own(content: Path) -> None:
    library = Library(content)
    english, french = library.deck("curiosity", "en"), library.deck("curiosity", "fr")
    assert [p.id for p in french] == [p.id for p in english]
    assert library.prompt("curiosity", "cur-0002", "fr").text.startswith("Où aimeriez-vous")  # type: ignore[union-attr]
    assert library.prompt("curiosity", "cur-0003", "fr") == library.prompt("curiosity", "cur-0003")
    assert library.prompt("curiosity", "cur-0002", "fr-CA").text.startswith("Où")  # type: ignore[union-attr]
    videos = {v.id: v for v in library.videos("fr")}
    assert videos["vid-0001"].title == "Le petit merci"
    assert videos["vid-0001"].path == {v.id: v for v in library.videos()}["vid-0001"].path
    assert videos["vid-0002"].title == library.videos()[1].title
    titles = [a.meta.title for a in library.articles("fr")]
    assert sum(title.startswith("FR ") for title in titles) == 1
    assert len(titles) == len(library.articles("en"))
    checkins = CheckinDeck(content).get("fr")
    assert checkins.question("close").label == "Proches"  # type: ignore[union-attr]
    assert checkins.question("close").low == CheckinDeck(content).get().question("close").low  # type: ignore[union-attr]
    assert checkins.question("heard") == CheckinDeck(content).get().question("heard")
    assert checkins.topic("money").text == "Argent"  # type: ignore[union-attr]
    labels = {t.id: t.label for t in load_topics(content, "fr", "en").topics}
    assert labels["trust"] == "Confiance" and labels["conflict"] == "Arguments that go in circles"
    lines = resources_for(content, "Europe/London", "fr")
    assert [(line.name, line.note) for line in lines.lines[:2]] == [
        ("Urgences", None),
        ("Samaritans", "gratuit, 24h/24"),
    ]
    assert lines.general == resources_for(content, "Europe/London", "en").general
    texts = Texts(content)
    assert texts.render("buttons.pause_days", locale="fr", days=1) == "1 jour"
    assert texts.render("pairing.unpaired", locale="fr").startswith("You're unpaired")


def test_placeholders_that_differ_from_english_are_refused(content: Path) -> None:
    _write(
        content / "locales/fr/templates/pairing/paired.j2",
        "En couple avec {{ partenaire }}{% if ready %} !{% endif %}\n",
    )
    problems = check_content(content)
    assert any(
        "fr/templates/pairing/paired.j2: placeholders differ" in p
        and "['partenaire']" in p
        and "leaves out ['partner']" in p
        for p in problems
    ), problems


def test_a_counted_phrase_needs_every_form_of_its_language(content: Path) -> None:
    _write(
        content / "locales/fr/templates/buttons/pause_days.j2",
        '{{ plural(days, one="{n} jour", other="{n} jours") }}\n',
    )
    problems = check_content(content)
    assert any("pause_days.j2:1: plural() needs the form(s) ['many']" in p for p in problems)
    _write(
        content / "locales/fr/templates/buttons/pause_days.j2",
        '{{ plural(days, one="{n} jour", many="x", other="{n} jours", paucal="y") }}\n',
    )
    problems = check_content(content)
    assert any("unknown plural form(s) ['paucal']" in p for p in problems), problems


def test_unknown_ids_and_broken_translations_are_refused(content: Path) -> None:
    deck = content / "locales/fr/decks/curiosity.yaml"
    deck.write_text(
        deck.read_text()
        + '  - id: cur-9999\n    topic: fun\n    depth: light\n    text: "Nouveau ?"\n'
    )
    videos = content / "locales/fr/videos.yaml"
    videos.write_text(videos.read_text().replace("Le petit merci", "x"))
    problems = check_content(content)
    assert any(
        "curiosity.yaml: id(s) not in the default locale: ['cur-9999']" in p for p in problems
    )
    assert any("videos.yaml: the translation of 'vid-0001' is not valid" in p for p in problems)
    # A translation the check refuses is not shown: the English one is.
    assert Library(content).videos("fr")[0].title == Library(content).videos()[0].title


def test_a_template_english_does_not_have_is_refused(content: Path) -> None:
    _write(content / "locales/fr/templates/pairing/bonus.j2", "Bonus\n")
    assert any("bonus.j2: no template with this key in 'en'" in p for p in check_content(content))


def test_crisis_line_wording_must_match_the_lines(content: Path) -> None:
    path = content / "locales/fr/safety/crisis_lines.yaml"
    path.write_text('names:\n  "Emergency service": "Urgences"\n', encoding="utf-8")
    problems = check_content(content)
    assert any("name 'Emergency service' is not in safety/crisis_lines.yaml" in p for p in problems)
    report = _french(content)
    assert "Emergency services" in report.coverage["crisis-line names and notes"][1]


def test_the_german_locale_has_every_template() -> None:
    german = next(report for report in parity(CONTENT) if report.locale == "de")
    assert german.problems == []
    assert german.coverage["templates"][1] == []


def test_the_cli_prints_the_report_per_locale() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "content", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "en: templates" in done.stdout and "de: plural forms one, other" in done.stdout
    assert "is valid" in done.stdout
