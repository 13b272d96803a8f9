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


# Bot API methods (and Message shortcuts) that put something in a chat, change it or remove
# it, and the Stars calls that move or read money.
_MESSAGE_CALL = re.compile(
    r"^(send_\w+|edit_message_\w+|delete_messages?|copy_messages?|forward_messages?"
    r"|create_invoice_link|edit_text|edit_caption|edit_media|edit_reply_markup|reply_\w+"
    r"|refund_star_payment|edit_user_star_subscription|get_star_transactions)$"
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
    found = {call.rsplit(".", 1)[-1] for call in _message_calls(sample)}
    # The carrier itself makes every kind of call, the Stars ones included.
    assert len(found) >= 8
    assert {
        "refund_star_payment()",
        "edit_user_star_subscription()",
        "get_star_transactions()",
    } <= found


def test_due_work_is_claimed_in_one_place() -> None:
    """Nudges, check-ins, closeness, billing notices, plans together, staff re-announcements and
    the inbox share core/claims."""
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
    assert users == {"nudges", "checkins", "closeness", "billing", "safety", "together", "inbox"}


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Return every import that runs, inside functions too, but not under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Map each module to the modules of `modules` it imports (a package's own name included).

    `from package import name` counts as importing `package.name` when that is a module.
    A module importing its sibling does not count as importing their package's __init__:
    that would make every package that lists its modules a cycle.
    """
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name.split(".") if is_package else name.split(".")[:-1]
        targets: set[str] = set()
        for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
                continue
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            for alias in node.names:
                child = f"{module}.{alias.name}"
                targets.add(child if child in modules else module)
        graph[name] = {target for target in targets if target in modules and target != name}
    return graph


def cycles_in(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return one cycle through each group of modules that import each other, as a path."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while (member := stack.pop()) != node:
                group.add(member)
            group.add(node)
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    found = []
    for group in groups:
        start = min(group)
        # The shortest way back to the start, within the group.
        paths = {start: [start]}
        frontier = [start]
        while start not in {t for n in frontier for t in graph[n]}:
            next_frontier = []
            for node in frontier:
                for target in sorted(graph[node] & group):
                    if target not in paths:
                        paths[target] = [*paths[node], target]
                        next_frontier.append(target)
            frontier = next_frontier
        last = min(n for n in frontier if start in graph[n])
        found.append([*paths[last], start])
    return found


def test_the_cycle_check_finds_cycles_through_lazy_imports_but_not_type_checking(
    tmp_path: Path,
) -> None:
    package = tmp_path / "bot"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "a.py": "from bot.sub import b\n",
        "sub/__init__.py": "from . import b\n",
        "sub/b.py": "def f():\n    from ..c import g\n",
        "c.py": "import bot.a\n",
        "d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot import e\n",
        "e.py": "from bot.d import x\n",
    }
    for name, source in files.items():
        (package / name).write_text(source)
    modules = {
        ".".join(p.relative_to(tmp_path).with_suffix("").parts).removesuffix(".__init__"): p
        for p in package.rglob("*.py")
    }
    graph = import_graph(modules)
    assert graph["bot.a"] == {"bot.sub.b"} and graph["bot.d"] == set()
    assert cycles_in(graph) == [["bot.a", "bot.sub.b", "bot.c", "bot.a"]]


def test_no_module_of_bot_imports_itself_through_others() -> None:
    modules = {_module_of(path): path for path in BOT.rglob("*.py")}
    graph = import_graph(modules)
    assert "bot.app" in graph["bot.__main__"]  # imported inside a function: it counts
    cycles = [" -> ".join(cycle) for cycle in cycles_in(graph)]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)
