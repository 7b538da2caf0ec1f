"""Training in the background: after every N new labels, ``tasuki train TASK`` in a separate process.

A round (``python -m tasuki_label.trainer ROUND_DIR ...``) trains on a snapshot of the labels so far with the
defaults tasuki picks for that data, into ``ROUND_DIR/model`` (an ordinary tasuki model directory), then
estimates its accuracy by k-fold cross-validation on the same labels (each fold another ``tasuki train``,
scored on the texts it did not see; a text whose label the fold never saw counts as wrong). It ends by
writing ``ROUND_DIR/round.json``; the page polls for it and never waits on the round.
"""

from __future__ import annotations

import json
import random
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROUND_FILE = "round.json"
DEFAULT_EVERY = 16
"""Labels between rounds: the issue's starting set, and a few-shot size where each round still moves the model.
Measured on 2 shared CPU cores (load 8): a round on 16 tweets with MiniLM and tasuki's defaults took 201 s (the
model and 4 folds, 16 steps each), about as long as a person takes for 16-40 answers; a round starts only when
the last one is done, so rounds never queue, and each takes every label given so far."""
DEFAULT_FOLDS = 4
"""Cross-validation folds: each fold trains on 3/4 of the labels; 4 keeps a round at 5 trainings."""


class Trainer:
    """Starts rounds from the page's process and collects the finished ones (``ROUND_DIR/round.json``)."""

    def __init__(self, store: Any, directory: str | Path, *, every: int = DEFAULT_EVERY, folds: int = DEFAULT_FOLDS,
                 train_args: Sequence[str] = (), task: str = "classify") -> None:
        self.store, self.directory, self.task = store, Path(directory), task
        self.every, self.folds, self.train_args = every, folds, list(train_args)
        self.rounds = finished_rounds(self.directory)
        self.process: subprocess.Popen | None = None
        self.running: Path | None = None
        self.started_at = self.rounds[-1]["labels"] if self.rounds else 0
        self.error: str | None = None

    @property
    def latest_model(self) -> Path | None:
        """The model of the last round that trained one."""
        done = [r for r in self.rounds if r.get("model")]
        return self.directory / done[-1]["round_dir"] / done[-1]["model"] if done else None

    def after_answer(self) -> bool:
        """Start a round when ``every`` labels have come since the last one and none is running; True if started."""
        rows = self.store.rows
        if not self.every or self.process is not None or len(rows) - self.started_at < self.every:
            return False
        if len({json.dumps(r["label"]) for r in rows}) < 2:  # one class so far: nothing to learn yet
            return False
        number = max([r["round"] for r in self.rounds] + [_last_number(self.directory)]) + 1
        round_dir = self.directory / f"round-{number:04d}"
        round_dir.mkdir(parents=True, exist_ok=True)
        count = self.store.snapshot(round_dir / "labels.jsonl")
        command = [sys.executable, "-m", "tasuki_label.trainer", str(round_dir), "--round", str(number),
                   "--folds", str(self.folds), "--task", self.task, f"--train-args={shlex.join(self.train_args)}"]
        with (round_dir / "round.log").open("w", encoding="utf-8") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.running, self.started_at = round_dir, count
        return True

    def poll(self) -> Path | None:
        """The new model's directory when the running round has just finished with one, else None."""
        if self.process is None or self.process.poll() is None:
            return None
        code, round_dir = self.process.returncode, self.running
        self.process, self.running = None, None
        found = _read_round(round_dir)
        if found is None:
            self.error = f"round {round_dir.name} stopped (exit {code}) without a result; see {round_dir / 'round.log'}"
            return None
        self.rounds.append(found)
        self.error = found.get("error")
        return round_dir / found["model"] if found.get("model") else None

    def status(self) -> dict[str, Any]:
        """What the page shows: the running round, the learning curve (labels, cross-validated accuracy), the last error."""
        return {"every": self.every, "running": self.running is not None,
                "running_labels": self.started_at if self.running is not None else None, "error": self.error,
                "rounds": [{key: r.get(key) for key in ("round", "labels", "cv_accuracy", "seconds", "model")}
                           | {"directory": str(self.directory / r["round_dir"] / r["model"]) if r.get("model") else None}
                           for r in self.rounds]}

    def stop(self) -> None:
        """End a running round (the page is closing); its directory stays without a result and is never read."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def finished_rounds(directory: Path) -> list[dict[str, Any]]:
    """The rounds in ``directory`` that wrote their result, oldest first."""
    found = [_read_round(path) for path in sorted(directory.glob("round-*")) if path.is_dir()]
    return [r for r in found if r is not None]


def _read_round(round_dir: Path | None) -> dict[str, Any] | None:
    path = None if round_dir is None else round_dir / ROUND_FILE
    if path is None or not path.is_file():
        return None
    return {**json.loads(path.read_text(encoding="utf-8")), "round_dir": round_dir.name}


def _last_number(directory: Path) -> int:
    numbers = [int(p.name.split("-")[1]) for p in directory.glob("round-*") if p.name.split("-")[1].isdigit()]
    return max(numbers, default=0)


# --- the round itself, in its own process ----------------------------------------------------------------


def tasuki_train(data: Path, output: Path, train_args: Sequence[str], *extra: str, task: str = "classify") -> None:
    """``tasuki train TASK --data DATA --output OUTPUT``: a child process, its messages in the round's log."""
    command = [sys.executable, "-m", "tasuki", "train", task, "--data", str(data), "--output", str(output),
               "--no-progress", *extra, *train_args]
    print("$", shlex.join(command), flush=True)
    done = subprocess.run(command, stdout=sys.stdout, stderr=subprocess.PIPE, text=True)
    sys.stdout.write(done.stderr)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise RuntimeError(lines[-1] if lines else f"tasuki train exited with {done.returncode}")


def folds_of(rows: Sequence[dict[str, Any]], folds: int, seed: int = 0) -> list[int]:
    """Each row's fold: rows shuffled within each label, then dealt round-robin (every label spread over the folds)."""
    rng = random.Random(seed)
    by_label: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_label.setdefault(json.dumps(row["label"]), []).append(i)
    assigned, turn = [0] * len(rows), 0
    for key in sorted(by_label):
        members = by_label[key]
        rng.shuffle(members)
        for i in members:
            assigned[i], turn = turn % folds, turn + 1
    return assigned


def correct(predictions: Sequence[Any], rows: Sequence[dict[str, Any]]) -> list[bool]:
    """Whether each prediction is the row's answer: the label, or (multi-label) exactly the set of labels."""
    hits = []
    for prediction, row in zip(predictions, rows):
        if isinstance(row["label"], list):
            hits.append(sorted(p["label"] for p in prediction["labels"]) == sorted(row["label"]))
        else:
            hits.append(prediction["label"] == row["label"])
    return hits


def cross_validate(rows: list[dict[str, Any]], folds: int, round_dir: Path, train_args: Sequence[str],
                   task: str = "classify") -> list[float]:
    """The accuracy of each fold's model on the fold's own held-out texts (or pairs)."""
    import tasuki

    assigned, scores = folds_of(rows, folds), []
    for fold in range(folds):
        held = [r for r, f in zip(rows, assigned) if f == fold]
        kept = [r for r, f in zip(rows, assigned) if f != fold]
        fold_dir = round_dir / "cv" / f"fold-{fold}"
        fold_dir.mkdir(parents=True, exist_ok=True)
        data = fold_dir / "train.jsonl"
        data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8")
        tasuki_train(data, fold_dir / "model", train_args, "--no-checkpoints", task=task)
        inputs = [r["text"] if "text_pair" not in r else (r["text"], r["text_pair"]) for r in held]
        predictions = tasuki.load(fold_dir / "model", device="cpu").predict(inputs)
        scores.append(sum(correct(predictions, held)) / len(held))
        shutil.rmtree(fold_dir / "model")  # a fold's model is only a measurement
    return scores


def run_round(round_dir: Path, number: int, folds: int, train_args: Sequence[str],
              task: str = "classify") -> dict[str, Any]:
    """Train the round's model, cross-validate, and write ``round.json``; returns what it wrote."""
    from tasuki.plugin import atomic_write_json

    start = time.perf_counter()
    data = round_dir / "labels.jsonl"
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    result: dict[str, Any] = {"round": number, "labels": len(rows), "model": None, "cv_accuracy": None,
                              "cv_folds": [], "error": None}
    try:
        tasuki_train(data, round_dir / "model", train_args, task=task)
        result["model"] = "model"
        if folds >= 2 and len(rows) >= 2 * folds:  # at least two held-out texts per fold
            result["cv_folds"] = cross_validate(rows, folds, round_dir, train_args, task)
            result["cv_accuracy"] = sum(result["cv_folds"]) / folds
    except Exception as exc:  # the page shows the one line; the log has the rest
        result["error"] = f"{type(exc).__name__}: {exc}" if not isinstance(exc, RuntimeError) else str(exc)
    result["seconds"] = round(time.perf_counter() - start, 1)
    atomic_write_json(round_dir / ROUND_FILE, result)
    return result


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m tasuki_label.trainer ROUND_DIR --round N --folds K --task TASK --train-args '...'``."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tasuki_label.trainer")
    parser.add_argument("round_dir", type=Path)
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    parser.add_argument("--task", default="classify")
    parser.add_argument("--train-args", default="")
    args = parser.parse_args(argv)
    result = run_round(args.round_dir, args.round, args.folds, shlex.split(args.train_args), args.task)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
