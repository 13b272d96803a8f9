"""`python -m bot inbox` and `web` as an operator meets them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.core.clock import SystemClock
from bot.db.engine import create_engine, create_sessions
from bot.db.inbox import InboxLane
from bot.inbox.store import InboxStore, Policy, arrival_of
from tests.support.process import run_cli


async def park_one(url: str) -> int:
    """Store an update with a secret in it and let it fail its only attempt."""
    engine = create_engine(url)
    store = InboxStore(create_sessions(engine), SystemClock(), Policy(max_attempts=1))
    raw = {"update_id": 5, "message": {"chat": {"id": 42}, "text": "a very private secret"}}
    await store.add([arrival_of(raw, chat_key=42)])
    [claimed] = await store.claim(InboxLane.NORMAL, 1)
    await store.fail(claimed, "OperationalError")
    await engine.dispose()
    return claimed.id


def test_operators_list_retry_and_drop_parked_updates(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    assert run_cli("migrate", cwd=tmp_path, DATABASE_URL=url).returncode == 0
    row = asyncio.run(park_one(url))
    listed = run_cli("inbox", "list", cwd=tmp_path, DATABASE_URL=url)
    assert listed.returncode == 0, listed.stderr
    assert "0 update(s) waiting to be handled, 1 parked." in listed.stdout
    assert f"#{row}  update 5  message  chat 42" in listed.stdout
    assert "OperationalError" in listed.stdout and "secret" not in listed.stdout
    retried = run_cli("inbox", "retry", str(row), cwd=tmp_path, DATABASE_URL=url)
    assert retried.returncode == 0 and "back in line" in retried.stdout
    assert "1 update(s) waiting" in run_cli("inbox", "list", cwd=tmp_path, DATABASE_URL=url).stdout
    missing = run_cli("inbox", "drop", str(row), cwd=tmp_path, DATABASE_URL=url)
    assert missing.returncode == 1 and "no parked update" in missing.stdout


def test_web_without_its_url_and_secret_says_what_is_missing(tmp_path: Path) -> None:
    result = run_cli(
        "web",
        cwd=tmp_path,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db",
        TELEGRAM_BOT_TOKEN="1:abc",
    )
    assert result.returncode == 1
    assert "WEBHOOK_URL" in result.stderr and "WEBHOOK_SECRET" in result.stderr


def test_a_short_webhook_secret_is_refused(tmp_path: Path) -> None:
    result = run_cli("web", cwd=tmp_path, WEBHOOK_SECRET="short")
    assert result.returncode == 2
    assert result.stderr.startswith("Invalid setting WEBHOOK_SECRET:")
