"""CLI start-up time: ``tasuki --help``, ``tasuki plugins`` and ``tasuki tasks`` against ``python -c pass``.

Each command runs in a fresh interpreter (``python -m tasuki ...``, the same interpreter as
this one, with every installed plugin of this repository discovered: ``TASUKI_PLUGINS`` leaves
out the plugin template, which no user installs), ``repeats`` times, interleaved with the
bare interpreter so that background load hits both alike. The row's value is the median
wall time; min and max go into ``extra``. Start-up of a Python program cannot be faster than
the interpreter itself, so ``python -c pass`` is the reference (the ratio is the cost of
tasuki's imports and plugin discovery on top of it).

``python bench/cli_startup.py [--quick]`` prints the table on its own.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Row, table

COMMANDS: dict[str, list[str]] = {
    "tasuki --help": ["-m", "tasuki", "--help"],
    "tasuki plugins": ["-m", "tasuki", "plugins"],
    "tasuki tasks": ["-m", "tasuki", "tasks"],
}
BARE = ["-c", "pass"]
PROJECT_PLUGINS = {"tasuki-sentiment", "tasuki-ner", "tasuki-qa", "tasuki-embedding", "tasuki-mlm", "tasuki-attention",
                   "tasuki-template"}


def project_plugins() -> list[str]:
    """Entry-point names of this repository's plugin distributions that are installed."""
    from importlib.metadata import entry_points

    return sorted(ep.name for ep in entry_points(group="tasuki") if ep.dist and ep.dist.metadata["Name"] in PROJECT_PLUGINS)


def _time(args: list[str]) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TASUKI_PLUGINS": ",".join(project_plugins())}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"python {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return elapsed


def run(quick: bool = False) -> list[Row]:
    """Median / min / max wall seconds of each command over 5 runs (3 with ``quick``), after one warm-up."""
    repeats = 3 if quick else 5
    contenders = {**COMMANDS, "python -c pass": BARE}
    for args in contenders.values():  # warm-up: file system cache, .pyc files
        _time(args)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, args in contenders.items():
            times[name].append(_time(args))
    bare = statistics.median(times["python -c pass"])
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    rows = []
    for name in COMMANDS:
        t = times[name]
        rows.append(Row(
            "cli_startup", f"{name} wall s (median of {repeats})", statistics.median(t), bare, "s", "lower",
            "python -c pass",
            note=f"min {min(t):.3f} s, max {max(t):.3f} s; load average {load}; plugins {','.join(project_plugins())}",
            extra={"min_s": min(t), "max_s": max(t), "runs_s": t, "bare_runs_s": times["python -c pass"],
                   "load_average": load},
        ))
    return rows


if __name__ == "__main__":
    print(table(run(quick="--quick" in sys.argv[1:])))
