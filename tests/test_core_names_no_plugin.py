"""The core names no plugin: no task name, plugin module or distribution of a plugin appears in ``core/tasuki``.

What a plugin's task needs from the core (how it is served, shown, described) it declares on its
``Task``; routes it adds come through the ``register_routes`` hook. So the core's code (Python
names, imports and string literals; every word of its JavaScript and HTML) never names a task or
distribution it does not register itself. Python comments and docstrings are prose and not
checked ("embedding tables" is English, not a plugin).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "core" / "tasuki"
PLUGINS = Path(__file__).resolve().parents[1] / "plugins"
ALLOWED = {
    # `tasuki doctor` suggests distributions to install: it names what is *not* installed, which no
    # plugin can declare for itself.
    ("cli/doctor.py", "PLUGINS"),
}


def plugin_names() -> set[str]:
    """Tasks, modules and distributions of this repository's plugins (read from their sources, so
    that the check holds whatever is installed) and those of the installed plugins."""
    names = {"sentiment", "ner", "qa", "embedding", "mlm", "attention", "template-classify"}
    for package in PLUGINS.glob("*/src/tasuki_*/"):
        if package.name.endswith(".egg-info"):
            continue
        names |= {package.name, package.name.replace("_", "-")}
        for match in re.finditer(r"""^\s+name(?::[^=]+)?\s*=\s*["']([\w-]+)["']""",
                                 (package / "task.py").read_text(encoding="utf-8") if (package / "task.py").is_file()
                                 else "", re.M):
            names.add(match.group(1))
    from tasuki.registry import Registry

    registry = Registry()
    own = [p for p in registry.plugins.values() if p.distribution == "tasuki"]
    for info in registry.plugins.values():
        if info.distribution != "tasuki":
            names |= set(info.tasks) | {info.distribution, info.distribution.replace("-", "_"),
                                        info.module.partition(".")[0].partition(":")[0]}
    return names - {"", "tasuki"} - {task for p in own for task in p.tasks}


NAMES = plugin_names()
MODULES = re.compile(r"\b(" + "|".join(sorted(re.escape(n) for n in NAMES if n.startswith("tasuki")))
                     + r")\b")
WORDS = re.compile(r"(?<![\w-])(" + "|".join(sorted(map(re.escape, NAMES), key=len, reverse=True)) + r")(?![\w-])")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for statement in body:  # module, class and function docstrings, and attribute docstrings
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    found.add(id(statement.value))
    return found


def _allowed(relative: str, tree: ast.AST) -> set[int]:
    """The nodes inside an allowed top-level assignment."""
    nodes: set[int] = set()
    for statement in getattr(tree, "body", []):
        targets = statement.targets if isinstance(statement, ast.Assign) else (
            [statement.target] if isinstance(statement, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and (relative, t.id) in ALLOWED for t in targets):
            nodes |= {id(n) for n in ast.walk(statement)}
    return nodes


def python_findings(path: Path) -> list[str]:
    relative = path.relative_to(CORE).as_posix()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree) | _allowed(relative, tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text.strip() in NAMES or (MODULES.pattern != r"\b()\b" and MODULES.search(text)):
                found.append(f"{relative}:{node.lineno}: string {text[:60]!r}")
        elif isinstance(node, ast.Name) and node.id in NAMES:
            found.append(f"{relative}:{node.lineno}: name {node.id}")
        elif isinstance(node, ast.Attribute) and node.attr in NAMES:
            found.append(f"{relative}:{node.lineno}: attribute .{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                                                      else [])
            found += [f"{relative}:{node.lineno}: import {m}" for m in modules if m.partition(".")[0] in NAMES]
    return found


def text_findings(path: Path) -> list[str]:
    relative = path.relative_to(CORE).as_posix()
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        found += [f"{relative}:{number}: {m.group(1)!r} in {line.strip()[:70]!r}" for m in WORDS.finditer(line)]
    return found


def test_the_names_are_known() -> None:
    assert {"sentiment", "ner", "qa", "embedding", "mlm", "tasuki_embedding", "tasuki-ner"} <= NAMES
    assert WORDS.search('model.task === "ner"') and not WORDS.search("a banner, an answer, tasuki_requests")


@pytest.mark.parametrize("suffix", ["py", "js", "html"])
def test_the_core_names_no_plugin_task_or_distribution(suffix: str) -> None:
    files = sorted(CORE.rglob(f"*.{suffix}"))
    assert files
    check = python_findings if suffix == "py" else text_findings
    found = [finding for path in files for finding in check(path)]
    assert not found, "the core names plugins (declare it on the Task or register a route instead):\n" + "\n".join(found)
