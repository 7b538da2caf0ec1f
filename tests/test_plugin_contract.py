"""Plugins use the core through one module, :mod:`tasuki.plugin`, and the public API of ``tasuki``.

A plugin source file that imports another ``tasuki.*`` module (``tasuki.errors``, ``tasuki.task``...)
reaches into the core's internals; this test names each such import. It also checks that every name
of the contract resolves, and that ``from tasuki.plugin import hookimpl`` keeps torch out of the CLI's
start-up (plugin discovery imports every plugin module).
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import tasuki
import tasuki.plugin

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SOURCES = sorted(ROOT.glob("plugins/*/src/tasuki_*/**/*.py"))
ALLOWED = {"tasuki", "tasuki.plugin"}
HEAVY = ("torch", "transformers", "datasets", "sklearn", "matplotlib")


def core_imports(path: Path) -> list[str]:
    """``FILE:LINE MODULE`` for each import of a tasuki module a plugin may not use.

    ``from tasuki import NAME`` is allowed for the public API (``tasuki.__all__``), not for a module
    (``from tasuki import plots``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "tasuki":
            modules = [f"tasuki.{alias.name}" for alias in node.names if alias.name not in tasuki.__all__]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {module}" for module in modules
                  if module.split(".")[0] == "tasuki" and module not in ALLOWED]
    return found


def test_the_plugin_sources_are_found() -> None:
    assert len(PLUGIN_SOURCES) > 20
    assert any(path.match("plugins/_template/src/tasuki_template/*.py") for path in PLUGIN_SOURCES)


def test_plugins_import_the_core_only_through_tasuki_plugin() -> None:
    assert [found for path in PLUGIN_SOURCES for found in core_imports(path)] == []


def test_every_name_of_the_contract_resolves() -> None:
    assert sorted(tasuki.plugin.__all__) == sorted(tasuki.plugin._SOURCES)
    for name, source in tasuki.plugin._SOURCES.items():
        module, _, attribute = source.partition(":")
        assert getattr(tasuki.plugin, name) is getattr(importlib.import_module(module), attribute or name), name
    assert set(tasuki.plugin.__all__) <= set(dir(tasuki.plugin))
    with pytest.raises(AttributeError, match="no_such_name"):
        tasuki.plugin.no_such_name  # noqa: B018


def test_the_typed_imports_are_the_contract() -> None:
    """The ``if TYPE_CHECKING:`` imports, which give type checkers the names, match the lazy ones."""
    tree = ast.parse(Path(tasuki.plugin.__file__).read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If))
    typed = {alias.asname or alias.name: f"{node.module}:{alias.name}" if alias.asname else node.module
             for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert {**typed, "lazy_getattr": "tasuki.lazy"} == tasuki.plugin._SOURCES


def test_the_hook_marker_imports_no_heavy_library() -> None:
    code = ("import sys\nfrom tasuki.plugin import hookimpl\n"
            f"print(','.join(name for name in {HEAVY!r} if name in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
