"""The CLI starts without torch: ``tasuki --help``, ``plugins`` and ``tasks`` import no heavy library.

Plugin discovery imports every plugin's task module and command module; each must keep torch,
transformers, datasets, scikit-learn and matplotlib out of that path (``LazyAutoModel``, imports
inside the functions that need them). This is a test of imports, not of seconds: it reads the
module names of ``python -X importtime`` in a fresh interpreter, which load on the machine cannot
change.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

pytestmark = pytest.mark.integration

HEAVY = ("torch", "transformers", "datasets", "sklearn", "matplotlib")
PROJECT_PLUGINS = {"tasuki-sentiment", "tasuki-ner", "tasuki-qa", "tasuki-embedding", "tasuki-mlm", "tasuki-attention",
                   "tasuki-template"}
"""The plugin distributions of this repository."""


def installed_project_plugins() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="tasuki") if ep.dist and ep.dist.metadata["Name"] in PROJECT_PLUGINS)


def imported_modules(*args: str) -> tuple[set[str], str]:
    """Top-level names of every module ``python -X importtime -m tasuki ARGS`` imported, and its stdout."""
    plugins = installed_project_plugins()
    if not plugins:
        pytest.skip("no tasuki plugin distribution is installed")
    env = {**os.environ, "TASUKI_PLUGINS": ",".join(plugins), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "tasuki", *args], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    assert "tasuki" in modules  # the output was what we think it is
    return modules, done.stdout


@pytest.mark.parametrize("args", [("--help",), ("plugins",), ("tasks",)], ids=["help", "plugins", "tasks"])
def test_cli_starts_without_heavy_libraries(args: tuple[str, ...]) -> None:
    modules, out = imported_modules(*args)
    assert out.strip()
    assert sorted(m for m in HEAVY if m in modules) == []
