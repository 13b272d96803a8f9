"""The command line as an operator meets it: help, a missing token, invalid settings."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.process import ROOT, run_cli


def test_help_lists_the_sub_commands(tmp_path: Path) -> None:
    result = run_cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "migrate", "content"):
        assert command in result.stdout
    content = run_cli("content", "--help", cwd=tmp_path)
    assert "check" in content.stdout


def test_run_without_a_token_explains_how_to_get_one(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert result.returncode == 1
    assert "@BotFather" in result.stderr and "TELEGRAM_BOT_TOKEN=" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_invalid_setting_is_one_line(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, LOG_LEVEL="SHOUTY")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Invalid setting LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    ]


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "bot.db"
    result = run_cli("migrate", cwd=tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    assert result.returncode == 0, result.stderr
    assert database.exists()


def test_run_refuses_invalid_content(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "content", tmp_path / "content")
    (tmp_path / "content/locales/en/templates/start/welcome.j2").write_text("Hello {{ name ")
    result = run_cli(
        "run", cwd=tmp_path, TELEGRAM_BOT_TOKEN="1:x", CONTENT_DIR=str(tmp_path / "content")
    )
    assert result.returncode == 1
    assert "will not start" in result.stderr and "welcome.j2:1" in result.stderr
