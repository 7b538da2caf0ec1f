"""Two processes with torchrun (gloo on CPU): gathered metrics equal a one-process evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import NEGATIVE, POSITIVE

pytestmark = pytest.mark.slow


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_two_process_run_gathers_exactly_the_one_process_metrics(backbone_dir: str, tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl",
                        [{"text": t, "label": "pos"} for t in POSITIVE] * 3 + [{"text": t, "label": "neg"} for t in NEGATIVE] * 3)
    # 11 examples: an odd count, so the two processes get uneven shares
    held_out = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE[:5]]
    evaluation = write_jsonl(tmp_path / "eval.jsonl", held_out)
    out = tmp_path / "model"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TASUKI_PLUGINS": "toy", "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
        "-m", "tasuki", "train", "toy-classify", "--data", str(train), "--eval-data", str(evaluation),
        "--output", str(out), "--backbone", backbone_dir, "--epochs", "3", "--batch-size", "4",
        "--eval-batch-size", "3", "--learning-rate", "3e-3", "--cpu", "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    print(done.stdout[-2000:])
    two_process = json.loads(done.stdout[done.stdout.index("{"):])["metrics"]
    one = subprocess.run([sys.executable, "-m", "tasuki", "evaluate", str(out), "--data", str(evaluation), "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stderr[-3000:]
    one_process = json.loads(one.stdout[one.stdout.index("{"):])
    assert two_process["accuracy"] == one_process["accuracy"]
    assert two_process["mean_confidence"] == pytest.approx(one_process["mean_confidence"], abs=1e-6)
