"""Typed settings read from the environment and `.env`, validated once and passed down."""

from __future__ import annotations

import logging
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'data' / 'remainly.db'}"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Settings(BaseSettings):
    """Everything an operator can configure; see `.env.example` for the documentation."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    database_url: str = DEFAULT_DATABASE_URL
    default_timezone: str = "Europe/London"
    log_level: str = "INFO"
    content_dir: Path = PROJECT_ROOT / "content"
    default_locale: str = "en"
    invite_ttl_hours: int = Field(default=48, ge=1, le=24 * 14)
    bad_code_limit: int = Field(default=5, ge=1, le=100)
    bad_code_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    clock_file: Path | None = None
    polling_timeout_seconds: int = Field(default=30, ge=0, le=50)
    nudge_tick_seconds: float = Field(default=20, gt=0, le=300)
    send_rate_per_second: float = Field(default=30, gt=0, le=30)
    paid_broadcast: bool = False
    paid_broadcast_rate_per_second: float = Field(default=1000, gt=0, le=1000)
    per_chat_interval_seconds: float = Field(default=1.0, ge=0, le=60)
    answer_reminder_time: time = time(12, 0)
    nudge_batch_size: int = Field(default=500, ge=1, le=10_000)
    video_base_url: str = "https://videos.remainly.example"
    article_days: str = "tue,fri"
    article_time: time = time(12, 30)
    video_days: str = "sun"
    video_time: time = time(18, 0)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        bot_id, _, secret = value.get_secret_value().strip().partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("expected the form 123456789:AA... as given by @BotFather")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("article_days", "video_days")
    @classmethod
    def _days(cls, value: str) -> str:
        names = [part.strip().lower()[:3] for part in value.split(",") if part.strip()]
        if not names or any(name not in WEEKDAYS for name in names):
            raise ValueError("expected weekday names separated by commas, like tue,fri")
        return ",".join(dict.fromkeys(names))

    @property
    def article_weekdays(self) -> frozenset[int]:
        """Return the weekdays (Monday = 0) article excerpts arrive on."""
        return frozenset(WEEKDAYS.index(name) for name in self.article_days.split(","))

    @property
    def video_weekdays(self) -> frozenset[int]:
        """Return the weekdays (Monday = 0) the recommended video arrives on."""
        return frozenset(WEEKDAYS.index(name) for name in self.video_days.split(","))

    @field_validator("video_base_url")
    @classmethod
    def _video_base_url(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("must start with https://")
        return value.rstrip("/")

    @field_validator("telegram_api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        driver = value.split("://", 1)[0]
        if "://" not in value or driver not in SUPPORTED_DRIVERS:
            raise ValueError("must start with sqlite+aiosqlite:/// or postgresql+asyncpg://")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/London") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @property
    def overall_send_rate(self) -> float:
        """Return the overall messages per second the paced sender keeps under."""
        return (
            self.paid_broadcast_rate_per_second
            if self.paid_broadcast
            else self.send_rate_per_second
        )

    @property
    def bot_api_url(self) -> str:
        """Return the prefix python-telegram-bot puts before the token for API calls."""
        return f"{self.telegram_api_base_url}/bot"

    @property
    def bot_file_url(self) -> str:
        """Return the prefix python-telegram-bot puts before the token for file downloads."""
        return f"{self.telegram_api_base_url}/file/bot"


class SettingsError(Exception):
    """A setting is invalid; the message is one line naming it."""


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning validation failures into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"Invalid setting {name}: {message}") from None
