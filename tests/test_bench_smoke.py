"""The benchmark harness runs end to end (not its numbers), and its table/ratio logic is right."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import CLOSING, Row, table, write_results  # noqa: E402


def test_ratio_direction_and_goal() -> None:
    faster = Row("t", "step", 0.8, 1.0, "s", "lower", goal=0.9)
    slower = Row("t", "tokens", 90.0, 100.0, "tokens/s", "higher", goal=1.0)
    assert faster.ratio == pytest.approx(0.8) and faster.goal_met and faster.favours_tasuki
    assert slower.ratio == pytest.approx(0.9) and slower.goal_met is False and slower.favours_tasuki is False
    assert Row("t", "x", None, 1.0, "s", "lower").ratio is None
    assert Row("t", "x", 1.0, 0.0, "s", "lower").goal_met is None


def test_results_files_keep_the_closing_note(tmp_path: Path) -> None:
    rows = [Row("t", "step", 0.8, 1.0, "s/step", "lower", "Trainer", goal=0.9)]
    info = {"cpu": "test", "load_average": [1.0]}
    _, md = write_results(rows, info, {"qa": "absent"}, tmp_path, ["a note"], ["python -m bench"])
    assert "0.800" in md.read_text() and "≤ 0.9 met" in table(rows)
    md.write_text(md.read_text() + f"\n{CLOSING}\nhand-written analysis\n")
    json_path, md = write_results(rows, info, {}, tmp_path, [], ["python -m bench"])
    assert "hand-written analysis" in md.read_text()
    data = json.loads(json_path.read_text())
    assert data["rows"][0]["ratio"] == pytest.approx(0.8) and data["rows"][0]["goal_met"] is True


@pytest.mark.slow
def test_quick_harness_runs(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "roofline", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert not data["failures"], data["failures"]
    (row,) = data["rows"]
    assert row["benchmark"] == "roofline" and row["tasuki"] > 0 and row["reference"] > 0
    assert "roofline" in (tmp_path / "RESULTS.md").read_text()
