"""Billing settings are validated at start-up, and the refund command behaves for operators."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from tests.support.process import run_cli


def test_gated_features_default_to_the_paid_parts_and_can_be_narrowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATED_FEATURES", raising=False)
    default = load_settings(_env_file=None)
    assert default.gated_feature_set == {
        "nudges",
        "checkins",
        "articles",
        "paid_videos",
        "together",
        "expectations",
        "vulnerability",
    }
    assert default.payment_signing_secret is None and default.subscription_price_stars == 250
    monkeypatch.setenv("GATED_FEATURES", " Articles , paid_videos,articles")
    assert load_settings(_env_file=None).gated_feature_set == {"articles", "paid_videos"}
    monkeypatch.setenv("GATED_FEATURES", "")
    assert load_settings(_env_file=None).gated_feature_set == frozenset()


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("GATED_FEATURES", "nudges,welcome", "unknown feature 'welcome'"),
        ("PAYMENT_SIGNING_SECRET", "too-short", "at least 32"),
        ("SUBSCRIPTION_PRICE_STARS", "0", "greater than or equal to 1"),
        ("SUBSCRIPTION_GRACE_HOURS", "100", "less than or equal to 72"),
    ],
)
def test_bad_billing_settings_fail_with_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, hint: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value).startswith(f"Invalid setting {name}:")
    assert hint in str(caught.value) and "\n" not in str(caught.value)


def test_the_secret_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENT_SIGNING_SECRET", "s3cr3t-" * 6)
    settings = load_settings(_env_file=None)
    assert "s3cr3t" not in repr(settings)


def test_the_refund_command_is_listed_and_needs_a_token(tmp_path: Path) -> None:
    listed = run_cli("billing", "--help", cwd=tmp_path)
    assert listed.returncode == 0 and "refund" in listed.stdout
    result = run_cli(
        "billing",
        "refund",
        "stxCharge",
        cwd=tmp_path,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db",
    )
    assert result.returncode == 1 and "@BotFather" in result.stderr
