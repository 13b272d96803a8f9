"""Settings load from the environment, and bad ones fail with one line naming the setting."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.app import build_application
from bot.billing.entitlements import Policy
from bot.billing.pair_trials import pair_key
from bot.billing.payments import signing_key
from bot.nudges.schedules import Rhythm
from bot.settings import SettingsError, load_settings
from bot.telegram.context import Services, services_of


def test_defaults_use_the_embedded_sqlite_file_and_telegram(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TELEGRAM_API_BASE_URL", raising=False)
    settings = load_settings(_env_file=None)
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.database_url.endswith("data/remainly.db")
    assert settings.bot_api_url == "https://api.telegram.org/bot"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:secret-value")
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("DEFAULT_TIMEZONE", "Asia/Kolkata")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings(_env_file=None)
    assert settings.bot_api_url == "http://127.0.0.1:8081/bot"
    assert settings.log_level == "DEBUG"
    assert settings.default_timezone == "Asia/Kolkata"
    # The token is a secret: it never shows up in a repr (and so in logs).
    assert "secret-value" not in repr(settings)
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == "42:secret-value"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://nope"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus"),
        ("LOG_LEVEL", "LOUD"),
        ("TELEGRAM_BOT_TOKEN", "not-a-token"),
        ("TELEGRAM_API_BASE_URL", "ftp://example"),
        ("INVITE_TTL_HOURS", "0"),
        ("NUDGE_LEASE_SECONDS", "5"),
    ],
)
def test_invalid_settings_fail_with_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    assert message.startswith(f"Invalid setting {name}:")
    assert "\n" not in message


def test_the_nudge_lease_reaches_the_engine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "42:secret-value")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("NUDGE_LEASE_SECONDS", "90")
    application = build_application(load_settings(_env_file=None))
    assert services_of(application).nudges.config.lease == timedelta(seconds=90)


def test_each_application_keeps_the_rhythm_and_policy_of_its_own_settings(
    tmp_path: Path,
) -> None:
    def built(**values: object) -> Services:
        settings = load_settings(
            _env_file=None,
            telegram_bot_token="42:secret-value",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}",
            **values,
        )
        return services_of(build_application(settings))

    early = built(article_days="mon", article_time="07:00", gated_features="checkins")
    late = built(article_days="sat", article_time="20:00", subscription_grace_hours=0)
    # Building the second application must leave the first one's configuration alone.
    assert early.rhythm == Rhythm(article_days=frozenset({0}), article_time=time(7, 0))
    assert late.rhythm == Rhythm(article_days=frozenset({5}), article_time=time(20, 0))
    # Without PAYMENT_SIGNING_SECRET, the key naming pairs comes from the bot token.
    key = pair_key(signing_key(None, "42:secret-value"))
    assert early.policy == Policy(
        gated=frozenset({"checkins"}), grace=timedelta(hours=24), pair_key=key
    )
    assert late.policy.grace == timedelta(0) and "nudges" in late.policy.gated
    for services in (early, late):
        assert services.nudges.rhythm is services.rhythm
        engines = (services.nudges, services.checkins, services.notices)
        assert all(engine.policy is services.policy for engine in engines)
        # One sender for every engine: they share one pace under Telegram's limits.
        assert services.checkins.sender is services.nudges.sender is services.notices.sender
