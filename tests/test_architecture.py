"""Boundaries the codebase keeps: only bot/telegram (and the composition root) knows Telegram."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"
# The composition root and the command line wire Telegram in; bot/telegram is where it lives.
TELEGRAM_ALLOWED = {BOT / "app.py", BOT / "__main__.py"}
PURE = sorted(
    path
    for path in BOT.rglob("*.py")
    if path not in TELEGRAM_ALLOWED and (BOT / "telegram") not in path.parents
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_the_telegram_package_imports_telegram(path: Path) -> None:
    assert "telegram" not in _imports(path)


def test_the_check_sees_the_modules() -> None:
    assert len(PURE) >= 40
    assert BOT / "nudges" / "engine.py" in PURE


def _borrowed(source: str, package: tuple[str, ...]) -> set[str]:
    """Return the test modules (`test_*`) and conftest modules that `source` imports from."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # A relative import counts from the file's package: one dot is the package itself.
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = (*base, *(node.module.split(".") if node.module else ()))
            imported.add(".".join(module))
            # `from tests.e2e import test_partners` names a module, not an attribute.
            imported.update(".".join((*module, alias.name)) for alias in node.names)
    return {
        name
        for name in imported
        if name.split(".")[0] == "tests"
        and any(part.startswith("test_") or part == "conftest" for part in name.split(".")[1:])
    }


def test_test_code_borrows_helpers_from_tests_support_never_from_test_modules() -> None:
    # The check sees each way of borrowing, and lets tests/support and tests/fakes through.
    assert _borrowed("from tests.services.test_nudges import pair", ("tests", "handlers"))
    assert _borrowed("from tests.e2e import test_partners", ("tests",))
    assert _borrowed("import tests.test_cli", ("tests",))
    assert _borrowed("from .conftest import TOKEN", ("tests", "handlers"))
    assert _borrowed("from ..services.test_nudges import pair", ("tests", "handlers"))
    assert not _borrowed("from tests.support.factories import pair", ("tests", "services"))
    assert not _borrowed("from .botapi import FakeBotApi", ("tests", "fakes"))

    files = sorted((ROOT / "tests").rglob("*.py"))
    assert len(files) >= 50 and ROOT / "tests" / "support" / "app.py" in files
    borrowing: dict[str, set[str]] = {}
    for path in files:
        package = path.relative_to(ROOT).parent.parts
        if found := _borrowed(path.read_text(encoding="utf-8"), package):
            borrowing[str(path.relative_to(ROOT))] = found
    assert borrowing == {}, "import shared helpers from tests/support instead"


# Bot API methods (and Message shortcuts) that put something in a chat, change it or remove it.
_MESSAGE_CALL = re.compile(
    r"^(send_\w+|edit_message_\w+|delete_messages?|copy_messages?|forward_messages?"
    r"|create_invoice_link|edit_text|edit_caption|edit_media|edit_reply_markup|reply_\w+)$"
)
OUTBOX_CARRIER = BOT / "telegram" / "sender.py"


def _message_calls(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and _MESSAGE_CALL.match(node.func.attr)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()")
    return found


def test_only_the_outbox_sends_edits_or_deletes_messages() -> None:
    calls = [
        call
        for path in sorted(BOT.rglob("*.py"))
        if path != OUTBOX_CARRIER
        for call in _message_calls(path)
    ]
    assert calls == []


def test_the_outbox_check_finds_direct_calls() -> None:
    sample = ROOT / "bot" / "telegram" / "sender.py"
    assert len(_message_calls(sample)) >= 5  # the carrier itself makes every kind of call


def test_due_work_is_claimed_in_one_place() -> None:
    """Nudges, check-ins, billing notices and staff re-announcements share core/claims."""
    claims = BOT / "core" / "claims.py"
    lockers = [
        str(path.relative_to(ROOT))
        for path in sorted(BOT.rglob("*.py"))
        if "skip_locked" in path.read_text(encoding="utf-8")
    ]
    assert lockers == [str(claims.relative_to(ROOT))]
    users = {
        path.parent.name
        for path in BOT.rglob("*.py")
        if path != claims and "claim_rows(" in path.read_text(encoding="utf-8")
    }
    assert users == {"nudges", "checkins", "billing", "safety"}
