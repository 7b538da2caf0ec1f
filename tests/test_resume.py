"""Exact resume after ``kill -9``, and ``--resume`` that refuses another run's checkpoints.

The killed run is a real subprocess that SIGKILLs itself in the middle of a batch, between two
checkpoints (no Python clean-up runs); the resumed run must end on the very weights of a run
that was never interrupted. Dropout is on (the tiny BERT's 0.1), so the RNG state, the data
order of the following epochs and the collation all have to come back exactly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file

from conftest import NEGATIVE, POSITIVE
from tasuki.testing import sigkill_script
from tasuki.training.checkpoint import complete_checkpoints, read_state

# The child SIGKILLs itself at the KILL_AT-th batch of this process, before the forward pass; streamed runs
# use shuffle buffers of two batches, so that a run crosses several.
KILLER = sigkill_script("tasuki_template.plugin:TemplateClassificationTask.training_loss",
                        prelude="import tasuki.training.stream_batches\ntasuki.training.stream_batches.GROUP_SIZE = 2")


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    rows = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE]
    return {"train": write_jsonl(tmp_path / "train.jsonl", rows * 4),  # 48 rows: 12 batches of 4
            "eval": write_jsonl(tmp_path / "eval.jsonl", rows)}


def train(tmp_path: Path, backbone_dir: str, data: dict[str, Path], out: Path, *extra: str, processes: int = 1,
          kill_at: int = 0) -> subprocess.CompletedProcess:
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    launcher = [sys.executable, str(script)]
    if processes > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                    "--master_port", str(free_port()), str(script)]
    command = [*launcher, "train", "template-classify", "--data", str(data["train"]), "--eval-data", str(data["eval"]),
               "--output", str(out), "--backbone", backbone_dir, "--batch-size", "4", "--learning-rate", "3e-3",
               "--save-steps", "2", "--save-total-limit", "0", "--cpu", "--no-progress", "--seed", "3", *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TASUKI_PLUGINS": "template", "HF_HUB_OFFLINE": "1",
           "KILL_AT": str(kill_at)}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def max_difference(a: Path, b: Path) -> float:
    first, second = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert first.keys() == second.keys()
    return max(float((first[k] - second[k]).abs().max()) for k in first)


def final_weights(out: Path) -> Path:
    """The last step's checkpoint (the model directory holds the best evaluation's weights)."""
    return complete_checkpoints(out / "checkpoints")[0]


CASES = [
    pytest.param(1, 1, False, id="one-process"),
    pytest.param(1, 2, False, id="accumulation-2", marks=pytest.mark.slow),
    pytest.param(2, 1, False, id="two-processes", marks=pytest.mark.slow),
    pytest.param(1, 1, True, id="streaming"),
    pytest.param(2, 1, True, id="streaming-two-processes", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("processes", "accumulation", "streaming"), CASES)
def test_sigkill_between_checkpoints_then_resume_gives_the_uninterrupted_weights(
        backbone_dir: str, data: dict[str, Path], tmp_path: Path, processes: int, accumulation: int,
        streaming: bool) -> None:
    per_epoch = 12 // processes // accumulation  # optimizer steps per epoch
    steps = 3 * per_epoch - 1  # three epochs, the last one cut short by --max-steps
    # killed in the first epoch, one step after a checkpoint: the resumed run has to finish that epoch
    # and replay the order of the next two
    kill_step = 2 * max(1, per_epoch // 4) + 1
    kill_at = (kill_step - 1) * accumulation + 1
    extra = ("--max-steps", str(steps), "--gradient-accumulation-steps", str(accumulation),
             "--keep-checkpoints", "--logging-steps", "1", "--streaming" if streaming else "--no-streaming")
    full = train(tmp_path, backbone_dir, data, tmp_path / "full", *extra, processes=processes)
    assert full.returncode == 0, full.stderr[-3000:]

    cut = tmp_path / "cut"
    killed = train(tmp_path, backbone_dir, data, cut, *extra, processes=processes, kill_at=kill_at)
    assert killed.returncode != 0
    if processes == 1:
        assert killed.returncode == -signal.SIGKILL
    saved = [read_state(c)["global_step"] for c in complete_checkpoints(cut / "checkpoints")]
    assert max(saved) == kill_step - 1, saved  # killed between that checkpoint and the next
    assert not (cut / "tasuki.json").exists()

    resumed = train(tmp_path, backbone_dir, data, cut, *extra, "--resume", processes=processes)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr
    assert read_state(final_weights(cut))["global_step"] == steps
    difference = max_difference(final_weights(tmp_path / "full"), final_weights(cut))
    print(f"kill -9 at step {kill_step} of {steps}, resumed: largest weight difference {difference:.3g}")
    assert difference <= 1e-7
    assert max_difference(tmp_path / "full", cut) <= 1e-7  # the best evaluation's, delivered

    # the logged losses and learning rates of the resumed run are those of the uninterrupted one
    def log(out: Path) -> list[dict]:
        return read_state(complete_checkpoints(out / "checkpoints")[0])["log"]

    assert [e["step"] for e in log(cut)] == list(range(1, steps + 1))
    for a, b in zip(log(tmp_path / "full"), log(cut)):
        assert a["lr"] == b["lr"]
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-6)


def test_resume_refuses_a_run_with_other_arguments(toy_registry, backbone_dir: str, toy_rows: list[dict],
                                                   tmp_path: Path) -> None:
    import tasuki
    from tasuki.errors import CheckpointError

    out = tmp_path / "run"
    args = {"batch_size": 4, "learning_rate": 3e-3, "progress": False, "eval_split": 0.0, "seed": 3, "max_steps": 4,
            "save_steps": 2}
    tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, keep_checkpoints=True, **args)
    with pytest.raises(CheckpointError, match="differs in seed: 3 -> 4"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, resume=True, **{**args, "seed": 4})
    with pytest.raises(CheckpointError, match=r"batch_size: 4 -> 2; .*learning_rate: 0.003 -> 0.001"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, resume=True,
                     **{**args, "batch_size": 2, "learning_rate": 1e-3})
    with pytest.raises(CheckpointError, match="train_data"):  # other data, same arguments
        tasuki.train("template-classify", toy_rows[:40], backbone=backbone_dir, output_dir=out, resume=True, **args)


def test_resume_without_a_checkpoint_is_an_error(backbone_dir: str, data: dict[str, Path], tmp_path: Path) -> None:
    done = train(tmp_path, backbone_dir, data, tmp_path / "empty", "--max-steps", "2", "--resume")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "no checkpoint" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "empty" / "tasuki.json").exists()


def test_a_checkpoint_that_cannot_be_written_is_one_line_and_keeps_the_earlier_ones(
        toy_registry, backbone_dir: str, toy_rows: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk in the middle of a checkpoint: torch raises "iostream error"; the user gets one line, the
    staging directory is removed and the last whole checkpoint still resumes."""
    import accelerate

    import tasuki
    from tasuki.errors import CheckpointError

    save_state, calls = accelerate.Accelerator.save_state, []

    def disk_full_at_the_second(self, output_dir=None, **kwargs):
        calls.append(output_dir)
        if len(calls) == 2:
            (Path(output_dir) / "optimizer.bin").parent.mkdir(parents=True, exist_ok=True)
            (Path(output_dir) / "optimizer.bin").write_bytes(b"half")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 46720 vs 46612")
        return save_state(self, output_dir, **kwargs)

    monkeypatch.setattr(accelerate.Accelerator, "save_state", disk_full_at_the_second)
    out = tmp_path / "run"
    args = {"batch_size": 4, "learning_rate": 3e-3, "progress": False, "eval_split": 0.0, "seed": 3, "max_steps": 6,
            "save_steps": 2}
    with pytest.raises(CheckpointError, match=r"could not write the checkpoint of step 4 into .* GB free .*unexpected "
                                              r"pos.* earlier checkpoints are kept: free some space and run again with"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, **args)
    assert [c.name for c in complete_checkpoints(out / "checkpoints")] == ["step-00000002"]
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".tmp")]
    monkeypatch.setattr(accelerate.Accelerator, "save_state", save_state)
    result = tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, resume=True, **args)
    assert result.global_step == 6


def test_a_model_that_cannot_be_written_keeps_the_checkpoints_it_carried(
        toy_registry, backbone_dir: str, toy_rows: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while the model is written (after the kept checkpoints moved into the staged directory): one
    line, the output directory as it was, the checkpoints back in it, and --resume ends the run."""
    import errno

    import tasuki
    from tasuki import saving
    from tasuki.output import OutputError

    write = saving.atomic_write_json

    def disk_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(saving, "atomic_write_json", disk_full)
    out = tmp_path / "run"
    args = {"batch_size": 4, "learning_rate": 3e-3, "progress": False, "eval_split": 0.0, "seed": 3, "max_steps": 4,
            "save_steps": 2, "keep_checkpoints": True}
    with pytest.raises(OutputError, match=r"could not write the model into .*run \(.* GB free on its disk\): .*No space "
                                          r"left on device.* is as it was"):
        tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, **args)
    assert [c.name for c in complete_checkpoints(out / "checkpoints")] == ["step-00000004", "step-00000002"]
    assert not (out / "tasuki.json").exists() and not [p for p in tmp_path.iterdir() if "staging" in p.name]
    monkeypatch.setattr(saving, "atomic_write_json", write)
    result = tasuki.train("template-classify", toy_rows, backbone=backbone_dir, output_dir=out, resume=True, **args)
    assert result.global_step == 4 and (out / "tasuki.json").is_file()


def test_fingerprint_lists_what_must_match() -> None:
    from tasuki.training.checkpoint import fingerprint_differences

    saved = {"seed": 1, "batch_size": 8, "task_state": {"labels": ["a", "b"]}}
    assert fingerprint_differences(saved, dict(saved)) == []
    assert fingerprint_differences(saved, {**saved, "task_state": {"labels": ["b", "a"]}}) == [
        "task_state: {'labels': ['a', 'b']} -> {'labels': ['b', 'a']}"]
