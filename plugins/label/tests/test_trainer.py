"""Background rounds: ``tasuki train classify`` on a snapshot in another process, cross-validated, then collected."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import tasuki
from conftest import LABELLED
from tasuki_label.store import LabelStore
from tasuki_label.trainer import Trainer, correct, folds_of

LABELS = ["sport", "politics", "weather"]


def test_folds_spread_every_label() -> None:
    rows = [{"label": "a"}] * 4 + [{"label": "b"}] * 3 + [{"label": ["a", "b"]}] * 2
    assigned = folds_of(rows, 2, seed=0)
    by_fold = {f: [json.dumps(r["label"]) for r, g in zip(rows, assigned) if g == f] for f in (0, 1)}
    assert sorted(len(v) for v in by_fold.values()) == [4, 5]
    for key, count in (('"a"', 4), ('"b"', 3), ('["a", "b"]', 2)):
        assert sorted(v.count(key) for v in by_fold.values()) == [count // 2, count - count // 2]
    assert folds_of(rows, 2, seed=0) == assigned


def test_correct_single_and_multi_label() -> None:
    assert correct([{"label": "a"}, {"label": "b"}], [{"label": "a"}, {"label": "a"}]) == [True, False]
    predicted = [{"labels": [{"label": "b"}, {"label": "a"}]}, {"labels": []}, {"labels": [{"label": "a"}]}]
    gold = [{"label": ["a", "b"]}, {"label": []}, {"label": ["a", "b"]}]
    assert correct(predicted, gold) == [True, True, False]


def _wait(trainer: Trainer, timeout: float = 600) -> Path | None:
    start = time.monotonic()
    while trainer.running is not None and time.monotonic() - start < timeout:
        found = trainer.poll()
        if found is not None or trainer.running is None:
            return found
        time.sleep(0.5)
    raise AssertionError(f"the round did not finish in {timeout} s")


def test_a_round_trains_a_model_and_estimates_its_accuracy(tmp_path: Path, backbone: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=False)
    fast = ["--backbone", str(backbone), "--max-steps", "20", "--learning-rate", "3e-3", "--batch-size", "8"]
    trainer = Trainer(store, tmp_path / "rounds", every=12, folds=2, train_args=fast)
    for row in LABELLED[:7]:  # one class only: nothing to learn yet
        store.append(row["text"], row["label"])
    assert not trainer.after_answer()
    rows = [r for i, r in enumerate(LABELLED) if i % 7 < 4]  # 4 per class
    for row in rows[4:]:
        store.append(row["text"], row["label"])
    assert len(store.rows) == 15 and trainer.after_answer()
    assert not trainer.after_answer()  # one round at a time
    store.append("a new goal", "sport")  # labelling goes on: the round trains on its snapshot
    model_dir = _wait(trainer)
    assert model_dir == tmp_path / "rounds" / "round-0001" / "model", trainer.error
    found = json.loads((model_dir.parent / "round.json").read_text(encoding="utf-8"))
    assert found["labels"] == 15 and found["error"] is None and len(found["cv_folds"]) == 2
    assert all(0.0 <= s <= 1.0 for s in found["cv_folds"])
    assert found["cv_accuracy"] == pytest.approx(sum(found["cv_folds"]) / 2)
    assert tasuki.load(model_dir).predict("a vote")["label"] in LABELS  # an ordinary tasuki model
    assert not (model_dir.parent / "cv" / "fold-0" / "model").exists()  # folds are measurements only
    status = trainer.status()
    assert status["running"] is False and [r["labels"] for r in status["rounds"]] == [15]
    again = Trainer(store, tmp_path / "rounds", every=12, folds=2, train_args=fast)  # a restart finds it
    assert again.latest_model == model_dir and again.started_at == 15


def test_a_failed_round_is_one_line_on_the_page(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", LABELS, multi_label=False)
    for row in LABELLED[5:9]:
        store.append(row["text"], row["label"])
    trainer = Trainer(store, tmp_path / "rounds", every=2, folds=0, train_args=["--no-such-option"])
    assert trainer.after_answer()
    assert _wait(trainer, 300) is None
    assert "No such option '--no-such-option'" in trainer.status()["error"]
    assert trainer.latest_model is None
