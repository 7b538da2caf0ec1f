"""Stages: training runs a task asks for before its own, each through the one runner.

A task's recipe may need more than one run: classification's few-shot recipe first tunes the encoder
contrastively on batches of labelled texts, then trains its head. Each stage is an ordinary run of
:func:`~tasuki.training.loop.run_training` (progress bar, several processes, checkpoints) with its own
task (what it encodes and which loss it trains), data and settings, and checkpoints of its own under
``checkpoints/STAGE``; ``--resume`` continues the stage that was running and skips those that finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.training.checkpoint import CHECKPOINTS_DIR, complete_checkpoints

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

    from tasuki.args import TrainingArgs
    from tasuki.backbone import Backbone
    from tasuki.task import Task

logger = logging.getLogger(__name__)


@dataclass
class Stage:
    """One run before the task's own (:meth:`tasuki.task.Task.stages`).

    :param name: a short name (a folder name): checkpoints go to ``checkpoints/NAME``, the log says it.
    :param task: the task the runner trains in this stage: its ``build_model``, ``encode``, ``collate``
        and ``training_loss`` are used (no evaluation: stages have no held-out set).
    :param train: the stage's training data.
    :param settings: :class:`~tasuki.args.TrainingArgs` fields for this stage (``epochs``,
        ``learning_rate``...); the others are the run's.
    :param done: called with the stage's trained model (e.g. to keep its tuned encoder for the next stage).
    """

    name: str
    task: Task
    train: Dataset
    settings: dict[str, Any] = field(default_factory=dict)
    done: Callable[[torch.nn.Module], None] | None = None


def stage_root(args: TrainingArgs, name: str) -> Path:
    """Where stage ``name`` keeps its checkpoints."""
    return Path(args.output_dir) / CHECKPOINTS_DIR / name


def run_stages(stages: list[Stage], backbone: Backbone, args: TrainingArgs) -> bool:
    """Run ``stages`` in order; return whether the task's own run should resume (``--resume`` and it had begun).

    Under ``--resume`` a stage (and then the task's own run) resumes from its checkpoints when it has any,
    and starts afresh when it has none: the run was stopped before it began. A finished stage resumes to
    its last checkpoint at once. The run's ``epochs``, ``max_steps`` and ``min_steps`` are the task's own
    run's: a stage has its own in ``settings``.
    """
    from tasuki.training.loop import run_training

    for number, stage in enumerate(stages, start=1):
        root = stage_root(args, stage.name)
        resume = bool(args.resume and complete_checkpoints(root))
        stage_args = replace(args, **{"epochs": None, "max_steps": None, "min_steps": 0, **stage.settings},
                             resume=resume, early_stopping_patience=0)
        logger.info("stage %d of %d: %s (%d examples)%s", number, len(stages), stage.name, len(stage.train),
                    ", resuming" if resume else "")
        run = run_training(stage.task, backbone, stage.train, None, stage_args, checkpoint_root=root,
                           description=f"{stage.task.name}: {stage.name}")
        if stage.done is not None:
            stage.done(run.accelerator.unwrap_model(run.model))
    return bool(args.resume and complete_checkpoints(Path(args.output_dir) / CHECKPOINTS_DIR))
