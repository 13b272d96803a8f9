"""Boundaries the codebase keeps: only bot/telegram (and the composition root) knows Telegram."""

from __future__ import annotations

import ast
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
