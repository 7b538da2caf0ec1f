"""Stages: runs a task asks the runner for before its own (``Task.stages``), and ``Task.recipe_defaults``.

The toy task gets a warm-up stage that trains a copy of itself on the same rows; its ``done`` callback
receives the stage's model. A second run with ``--resume`` after a finished stage skips its training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tasuki
from tasuki.plugin import Stage
from tasuki.training.checkpoint import complete_checkpoints, read_state
from tasuki_template.task import TemplateClassificationTask

FAST = {"batch_size": 8, "learning_rate": 3e-3, "progress": False, "eval_split": 0.0, "seed": 7, "max_steps": 2}


class Staged(TemplateClassificationTask):
    """The toy task with a warm-up stage of 3 steps, and its own defaults chosen after fit()."""

    handed: list[Any] = []

    def recipe_defaults(self) -> dict[str, Any]:
        return {"weight_decay": 0.0}

    def stages(self, train: Any, args: Any) -> list[Stage]:
        return [Stage("warmup", TemplateClassificationTask(lang=self.lang, labels=self.labels), train,
                      {"max_steps": 3, "learning_rate": 1e-3}, done=self.handed.append)]


def test_a_stage_runs_before_the_task_and_hands_over_its_model(toy_registry, backbone_dir, toy_rows,
                                                                tmp_path: Path) -> None:
    Staged.handed = []
    out = tmp_path / "m"
    result = tasuki.train(Staged(), toy_rows, backbone=backbone_dir, output_dir=out, keep_checkpoints=True, **FAST)
    assert result.global_step == 2  # the task's own run keeps its own max_steps
    assert len(Staged.handed) == 1 and hasattr(Staged.handed[0], "config")
    stage = complete_checkpoints(out / "checkpoints" / "warmup")
    assert stage and read_state(stage[0])["global_step"] == 3  # the stage's settings, not the run's
    assert read_state(stage[0])["fingerprint"]["learning_rate"] == 1e-3
    own = read_state(complete_checkpoints(out / "checkpoints")[0])["fingerprint"]
    assert own["weight_decay"] == 0.0  # recipe_defaults reached the task's own run


def test_a_user_value_beats_recipe_defaults(toy_registry, backbone_dir, toy_rows, tmp_path: Path) -> None:
    Staged.handed = []
    tasuki.train(Staged(), toy_rows, backbone=backbone_dir, output_dir=tmp_path / "m", keep_checkpoints=True,
                 weight_decay=0.05, **FAST)
    own = read_state(complete_checkpoints(tmp_path / "m" / "checkpoints")[0])["fingerprint"]
    assert own["weight_decay"] == 0.05


def test_resume_skips_a_finished_stage_and_starts_the_task_afresh(toy_registry, backbone_dir, toy_rows,
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Killed after the stage finished, before the task's first checkpoint: --resume does not train the stage again."""
    Staged.handed = []
    out = tmp_path / "m"
    calls: list[str] = []
    original = TemplateClassificationTask.training_loss

    stop = [True]

    def counting(self, model, batch):
        calls.append(type(self).__name__)
        if type(self) is Staged and stop:
            stop.pop()
            raise KeyboardInterrupt  # stopped once, in the task's own run, before its first checkpoint
        return original(self, model, batch)

    monkeypatch.setattr(TemplateClassificationTask, "training_loss", counting)
    with pytest.raises(KeyboardInterrupt):
        tasuki.train(Staged(), toy_rows, backbone=backbone_dir, output_dir=out, **FAST)
    assert calls.count("TemplateClassificationTask") == 3
    calls.clear()
    with caplog.at_level("INFO"):
        result = tasuki.train(Staged(), toy_rows, backbone=backbone_dir, output_dir=out, resume=True, **FAST)
    assert calls == ["Staged", "Staged"]  # the stage trained no step again; the task's own run started afresh
    assert "stage 1 of 1: warmup (48 examples), resuming" in caplog.text
    assert result.global_step == 2 and len(Staged.handed) == 2
    assert (out / "tasuki.json").is_file()
