"""Boundaries the codebase keeps: services and storage never know about Telegram."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = sorted((ROOT / "bot" / "services").rglob("*.py")) + sorted(
    (ROOT / "bot" / "db").rglob("*.py")
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(ROOT)))
def test_services_and_db_never_import_telegram(path: Path) -> None:
    assert "telegram" not in _imports(path)


def test_the_check_sees_the_modules() -> None:
    assert len(PURE) >= 8
