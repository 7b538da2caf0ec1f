"""What a training run gives back: :class:`TrainResult` (public, what :func:`tasuki.train` returns) and
:class:`TrainingRun` (what :func:`tasuki.training.loop.run_training` hands to the saving code: the model too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from accelerate import Accelerator
    from datasets import Dataset

    from tasuki.task import Outputs


@dataclass
class TrainResult:
    """What :func:`train` returns: where the model is and how it scored."""

    output_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)
    global_step: int = 0
    best_step: int | None = None
    """The step of the evaluation whose weights were saved (None without an evaluation set)."""
    stopped_early: bool = False
    log: list[dict[str, float]] = field(default_factory=list)
    """Training loss (mean over processes) and learning rate at each logging step."""


@dataclass
class TrainingRun:
    """What :func:`run_training` returns: the trained model and everything learnt about the run.

    ``eval_outputs`` / ``eval_features`` are those of the evaluation whose weights the model
    holds (the best one when an evaluation set was given), so figures need no second prediction
    pass. ``log`` holds the training loss (mean over all processes) and learning rate at each
    logging step.
    """

    accelerator: Accelerator
    model: torch.nn.Module
    metrics: dict[str, float]
    history: list[dict[str, float]]
    global_step: int
    eval_outputs: Outputs | None = None
    eval_features: Dataset | None = None
    best_step: int | None = None
    stopped_early: bool = False
    log: list[dict[str, float]] = field(default_factory=list)

    def result(self, output_dir: Path, figures: list[Path]) -> TrainResult:
        """The public :class:`TrainResult` of this run, once saved into ``output_dir`` with ``figures``.

        The one place where a run becomes a result: the model, the accelerator and the evaluation outputs
        stay here, so a returned result holds no weights and no device memory.
        """
        return TrainResult(output_dir, self.metrics, self.history, figures, self.global_step, best_step=self.best_step,
                           stopped_early=self.stopped_early, log=self.log)
