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
    """The README's command as written: ``torchrun --nproc-per-node 2 -m tasuki train ...``, no ``--cpu``.

    On a machine without an accelerator the processes must still form one group (gloo): one lock
    holder, half the steps of one process, one report, metrics gathered over both.
    """
    train = write_jsonl(tmp_path / "train.jsonl",
                        [{"text": t, "label": "pos"} for t in POSITIVE] * 3 + [{"text": t, "label": "neg"} for t in NEGATIVE] * 3)
    # 11 examples: an odd count, so the two processes get uneven shares
    held_out = [{"text": t, "label": "pos"} for t in POSITIVE] + [{"text": t, "label": "neg"} for t in NEGATIVE[:5]]
    evaluation = write_jsonl(tmp_path / "eval.jsonl", held_out)
    out = tmp_path / "model"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TASUKI_PLUGINS": "template", "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port()),
        "-m", "tasuki", "train", "template-classify", "--data", str(train), "--eval-data", str(evaluation),
        "--output", str(out), "--backbone", backbone_dir, "--epochs", "3", "--batch-size", "4",
        "--eval-batch-size", "3", "--learning-rate", "3e-3", "--json",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "in use by another tasuki run" not in done.stderr
    print(done.stdout[-2000:])
    assert done.stdout.count('"output_dir"') == 1  # one report, from the main process
    assert done.stderr.count("training took only") == 1  # and each warning once, not once per process
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    # 2 x len(POSITIVE) x 3 rows in batches of 4 per process and 2 processes: 8 rows a step, 3 epochs
    assert summary["steps"] == 3 * -(-len(POSITIVE) * 6 // 8)
    two_process = summary["metrics"]
    one = subprocess.run([sys.executable, "-m", "tasuki", "evaluate", str(out), "--data", str(evaluation), "--json"],
                         env=env, capture_output=True, text=True, timeout=120)
    assert one.returncode == 0, one.stderr[-3000:]
    one_process = json.loads(one.stdout[one.stdout.index("{"):])
    assert two_process["accuracy"] == one_process["accuracy"]
    assert two_process["mean_confidence"] == pytest.approx(one_process["mean_confidence"], abs=1e-6)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def runs(backbone_dir: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One run each: one process, torchrun with two processes, and two one-process 'nodes'."""
    from tasuki.training.checkpoint import complete_checkpoints, read_state

    tmp = tmp_path_factory.mktemp("distributed")
    rows = [{"text": t, "label": "pos"} for t in POSITIVE] * 4 + [{"text": t, "label": "neg"} for t in NEGATIVE] * 4
    train = write_jsonl(tmp / "train.jsonl", rows)  # 48 rows: 12 batches of 4, 6 per process under two
    evaluation = write_jsonl(tmp / "eval.jsonl", [{"text": t, "label": "pos"} for t in POSITIVE]
                             + [{"text": t, "label": "neg"} for t in NEGATIVE[:5]])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TASUKI_PLUGINS": "template", "HF_HUB_OFFLINE": "1"}

    def args(out: Path) -> list[str]:
        return ["-m", "tasuki", "train", "template-classify", "--data", str(train), "--eval-data", str(evaluation),
                "--output", str(out), "--backbone", backbone_dir, "--max-steps", "10", "--batch-size", "4",
                "--learning-rate", "3e-3", "--logging-steps", "1", "--keep-checkpoints", "--cpu", "--json",
                "--no-progress"]

    def result(done: subprocess.CompletedProcess, out: Path) -> dict:
        assert done.returncode == 0, done.stderr[-3000:]
        state = read_state(complete_checkpoints(out / "checkpoints")[0])
        return {"summary": json.loads(done.stdout[done.stdout.index("{"):]), "log": state["log"],
                "steps": state["global_step"]}

    found = {}
    out = tmp / "one"
    found["one"] = result(subprocess.run([sys.executable, *args(out)], env=env, capture_output=True, text=True,
                                         timeout=300), out)
    out = tmp / "two"
    torchrun = [sys.executable, "-m", "torch.distributed.run"]
    found["two"] = result(subprocess.run([*torchrun, "--nproc_per_node", "2", "--master_port", str(free_port()),
                                          *args(out)], env=env, capture_output=True, text=True, timeout=300), out)
    out, port = tmp / "nodes", str(free_port())
    nodes = [subprocess.Popen([*torchrun, "--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(rank),
                               "--master-addr", "127.0.0.1", "--master-port", port, *args(out)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for rank in (0, 1)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, err) in zip(nodes, outputs):
        assert node.returncode == 0, err[-3000:]
    found["nodes"] = result(subprocess.CompletedProcess([], 0, outputs[0][0], outputs[0][1]), out)
    return found


def test_learning_rate_at_every_step_is_the_same_for_one_and_two_processes(runs: dict) -> None:
    one, two = runs["one"]["log"], runs["two"]["log"]
    assert runs["one"]["steps"] == runs["two"]["steps"] == 10
    assert [e["step"] for e in one] == [e["step"] for e in two] == list(range(1, 11))
    assert [e["lr"] for e in one] == [e["lr"] for e in two]
    assert all(e["lr"] > 0 for e in one[:-1]) and one[-1]["lr"] == 0.0  # decays to 0 at the last step, not before
    print("lr per step:", [f"{e['lr']:.2e}" for e in one])


def test_two_nodes_give_the_metrics_of_two_processes_on_one(runs: dict) -> None:
    two, nodes = runs["two"], runs["nodes"]
    assert nodes["steps"] == two["steps"] == 10
    assert nodes["summary"]["metrics"] == pytest.approx(two["summary"]["metrics"], abs=1e-6)
    # the logged training loss is the mean over both processes, the same on both set-ups
    assert [e["loss"] for e in nodes["log"]] == pytest.approx([e["loss"] for e in two["log"]], abs=1e-6)
