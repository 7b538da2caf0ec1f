"""Size limits that keep the code readable: a reader should meet one idea per module and per function.

- a module in ``core/`` is at most 400 lines;
- a function (or method) in ``core/`` is at most 80 lines, counted from its ``def`` line to its last line
  (``end_lineno - lineno + 1``; decorators are excluded, since ``ast`` puts ``lineno`` on the ``def``);
  a nested function is measured on its own and also counts towards the function around it;
- a plugin's ``task.py`` is at most 300 lines: the task class is the plugin's table of contents, its heavy
  internals live in sibling modules of the same plugin (spaCy's ``_parser_internals`` pattern).

Each failure names every offender with its size, so a split can start from the message.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core"
PLUGINS = ROOT / "plugins"

MAX_CORE_MODULE = 400
MAX_CORE_FUNCTION = 80
MAX_PLUGIN_TASK = 300


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def _core_files() -> list[Path]:
    return sorted(path for path in CORE.rglob("*.py") if "__pycache__" not in path.parts)


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_core_modules_are_at_most_400_lines():
    offenders = [f"{_name(path)} ({n} lines)" for path in _core_files() if (n := _lines(path)) > MAX_CORE_MODULE]
    assert not offenders, f"core modules over {MAX_CORE_MODULE} lines: " + ", ".join(offenders)


def _long_functions(path: Path) -> list[str]:
    """``path:Class.function (n lines)`` for each function of ``path`` over the limit, nested ones included."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualified = f"{prefix}.{child.name}" if prefix else child.name
                if not isinstance(child, ast.ClassDef):
                    size = child.end_lineno - child.lineno + 1
                    if size > MAX_CORE_FUNCTION:
                        found.append(f"{_name(path)}:{qualified} ({size} lines)")
                visit(child, qualified)
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), "")
    return found


def test_core_functions_are_at_most_80_lines():
    offenders = [entry for path in _core_files() for entry in _long_functions(path)]
    assert not offenders, f"core functions over {MAX_CORE_FUNCTION} lines: " + ", ".join(offenders)


def test_plugin_task_modules_are_at_most_300_lines():
    tasks = sorted(PLUGINS.glob("*/src/*/task.py"))
    assert tasks, "no plugin task.py found"
    offenders = [f"{_name(path)} ({n} lines)" for path in tasks if (n := _lines(path)) > MAX_PLUGIN_TASK]
    assert not offenders, f"plugin task.py modules over {MAX_PLUGIN_TASK} lines: " + ", ".join(offenders)
