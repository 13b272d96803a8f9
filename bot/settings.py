"""Typed settings read from the environment and `.env`, validated once and passed down."""

from __future__ import annotations

import logging
from datetime import time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'data' / 'remainly.db'}"
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What GATED_FEATURES may name: the parts of Remainly that need an active trial or subscription.
GATEABLE_FEATURES = (
    "nudges",
    "checkins",
    "articles",
    "paid_videos",
    "together",
    "expectations",
    "vulnerability",
)


class Settings(BaseSettings):
    """Everything an operator can configure; see `.env.example` for the documentation."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    # The HTTP client under python-telegram-bot: aiohttp (bot/telegram/transport.py), which
    # costs a third of the CPU per message, or python-telegram-bot's own (httpx).
    telegram_http_transport: Literal["httpx", "aiohttp"] = "aiohttp"
    # How long to wait for the Bot API's answer. A message whose answer doesn't come in time
    # may have arrived all the same, so it is never sent again: wait long enough for a slow
    # Telegram rather than give up early.
    telegram_read_timeout_seconds: float = Field(default=30, ge=1, le=120)
    database_url: str = DEFAULT_DATABASE_URL
    default_timezone: str = "Europe/London"
    log_level: str = "INFO"
    content_dir: Path = PROJECT_ROOT / "content"
    default_locale: str = "en"
    # The counsellors' staff chat reads every card and reply in the team's language.
    staff_locale: str = "en"
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
    # How long a worker owns the rows it claimed; after that another worker (or the restarted
    # one) may take them over. Keep it well above the time one batch takes to send.
    nudge_lease_seconds: float = Field(default=600, ge=10, le=24 * 3600)
    video_base_url: str = "https://videos.remainly.example"
    article_days: str = "tue,fri"
    article_time: time = time(12, 30)
    video_days: str = "sun"
    video_time: time = time(18, 0)
    checkin_day: str = "sun"
    checkin_time: time = time(19, 0)
    checkin_reminder_hours: int = Field(default=24, ge=1, le=47)
    checkin_window_hours: int = Field(default=72, ge=48, le=24 * 14)
    # Something meaningful together: the weekly ideas' default day and local time, and the
    # local time each partner is reminded on the chosen day (and asked the day after).
    together_day: str = "thu"
    together_time: time = time(18, 30)
    together_reminder_time: time = time(10, 0)
    # The inbox: how many chats' updates one process handles at once, how often a failing
    # update is tried before it is parked, how long a claim holds, and how often a process
    # looks for updates that another process stored (PostgreSQL).
    inbox_concurrency: int = Field(default=16, ge=1, le=512)
    inbox_max_attempts: int = Field(default=8, ge=1, le=100)
    inbox_lease_seconds: float = Field(default=120, ge=5, le=3600)
    inbox_poll_seconds: float = Field(default=0.5, gt=0, le=60)
    inbox_keep_parked_days: int = Field(default=7, ge=1, le=90)
    # Webhook mode (`python -m bot web`): where this process listens, the public HTTPS URL
    # Telegram posts to, and the secret Telegram sends back in every request's header.
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=1, le=65535)
    webhook_path: str = "/telegram"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=50 * 1024 * 1024)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        bot_id, _, secret = value.get_secret_value().strip().partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("expected the form 123456789:AA... as given by @BotFather")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("webhook_path")
    @classmethod
    def _webhook_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c.isspace() for c in value):
            raise ValueError("must be a URL path such as /telegram")
        return value

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip() or None
        if isinstance(value, str) and not value.startswith("https://"):
            raise ValueError("must be the public https:// URL Telegram posts updates to")
        return value

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _webhook_secret(cls, value: object) -> object:
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str):
            raw = raw.strip()
            if not raw:
                return None
            if not 16 <= len(raw) <= 256 or not all(c.isalnum() or c in "_-" for c in raw):
                raise ValueError(
                    "must be 16 to 256 characters of A-Z, a-z, 0-9, _ and - "
                    "(e.g. from `openssl rand -hex 32`)"
                )
        return raw

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

    @field_validator("checkin_day", "together_day")
    @classmethod
    def _checkin_day(cls, value: str) -> str:
        name = value.strip().lower()[:3]
        if name not in WEEKDAYS:
            raise ValueError("expected one weekday name, like sun")
        return name

    @property
    def checkin_weekday(self) -> int:
        """Return the default weekday (Monday = 0) of a couple's weekly check-in."""
        return WEEKDAYS.index(self.checkin_day)

    @property
    def together_weekday(self) -> int:
        """Return the weekday (Monday = 0) a couple's weekly ideas arrive on."""
        return WEEKDAYS.index(self.together_day)

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

    # Billing: what needs an active trial or subscription, the monthly price in Telegram Stars,
    # the grace while a renewal is on its way, and the secret that signs invoice payloads.
    gated_features: str = ",".join(GATEABLE_FEATURES)
    subscription_price_stars: int = Field(default=250, ge=1, le=10_000)
    subscription_grace_hours: int = Field(default=24, ge=0, le=72)
    payment_signing_secret: SecretStr | None = None
    # How often Telegram's Stars ledger is checked for charges the bot never heard of
    # (also once at start); 0 checks only at start.
    stars_reconcile_seconds: int = Field(default=3600, ge=0, le=7 * 24 * 3600)

    @field_validator("gated_features")
    @classmethod
    def _gated_features(cls, value: str) -> str:
        names = [part.strip().lower() for part in value.split(",") if part.strip()]
        unknown = [name for name in names if name not in GATEABLE_FEATURES]
        if unknown:
            choices = ", ".join(GATEABLE_FEATURES)
            raise ValueError(f"unknown feature {unknown[0]!r}; choose from {choices}")
        return ",".join(dict.fromkeys(names))

    @field_validator("payment_signing_secret")
    @classmethod
    def _signing_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().strip()) < 32:
            raise ValueError("use at least 32 random characters (openssl rand -hex 32)")
        return SecretStr(value.get_secret_value().strip())

    @property
    def gated_feature_set(self) -> frozenset[str]:
        """Return the features that need an active trial or subscription."""
        return frozenset(name for name in self.gated_features.split(",") if name)

    # Counsellor contact: the staff chat requests are posted to, who may act on them there,
    # what to show when no staff chat is set, and when an unclaimed request is posted again.
    counsellor_chat_id: int | None = None
    counsellor_staff_ids: str = ""
    remainly_contact: str = Field(default="", max_length=300)
    counsellor_reannounce_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)

    @field_validator("counsellor_chat_id", mode="before")
    @classmethod
    def _counsellor_chat_id(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if value == 0 or (isinstance(value, str) and value.strip() == "0"):
            raise ValueError("must be a chat id such as -1001234567890 (leave empty for none)")
        return value

    @field_validator("counsellor_staff_ids")
    @classmethod
    def _counsellor_staff_ids(cls, value: str) -> str:
        ids = [part for part in value.replace(",", " ").split() if part]
        if any(not part.isdigit() or len(part) > 19 for part in ids):
            raise ValueError("expected Telegram user ids separated by commas, like 1234,5678")
        return ",".join(dict.fromkeys(ids))

    @field_validator("remainly_contact")
    @classmethod
    def _remainly_contact(cls, value: str) -> str:
        return " ".join(value.split())

    @property
    def counsellor_staff(self) -> frozenset[int]:
        """Return the Telegram user ids allowed to claim, resolve and answer requests."""
        return frozenset(int(part) for part in self.counsellor_staff_ids.split(",") if part)


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
