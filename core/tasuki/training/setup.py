"""A run's set-up: the accelerator, the optimizer, the epochs, collation under a seed, the fingerprint.

See :mod:`tasuki.training.loop` for the rules that make one CPU, one GPU and several processes equal.
"""

from __future__ import annotations

import math
import os
import sys
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from tasuki.args import TrainingArgs
from tasuki.features import INDEX
from tasuki.settings import SettingError

if TYPE_CHECKING:
    from accelerate import Accelerator
    from datasets import Dataset

    from tasuki.backbone import Backbone
    from tasuki.task import Task


def resolve_precision(args: TrainingArgs) -> str:
    """``mixed_precision`` for this machine: 'auto' is bf16 on a GPU that has it, else 'no'.

    'bf16' runs on CPUs too (autocast); 'fp16' needs a GPU and is refused on a CPU rather than
    silently trained in fp32.
    """
    on_gpu = torch.cuda.is_available() and not args.cpu
    precision = args.mixed_precision
    if precision == "auto":
        return "bf16" if on_gpu and torch.cuda.is_bf16_supported() else "no"
    if precision == "fp16" and not on_gpu:
        raise SettingError("training argument 'mixed_precision': 'fp16' needs a GPU; on a CPU use 'bf16' or 'no'")
    return precision


def make_accelerator(args: TrainingArgs) -> Accelerator:
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState
    from accelerate.utils import ProjectConfiguration

    from tasuki.devices import cpu_only

    log_with = None if args.report_to in ("none", "", None) else args.report_to
    if log_with == "wandb":
        os.environ.setdefault("WANDB_MODE", "offline")
    precision = resolve_precision(args)
    state = AcceleratorState._shared_state
    if state and state.get("_mixed_precision", precision) != precision:
        # a second train() in one Python process with another precision: Accelerate keeps one
        # process-wide state and would refuse; the process group (PartialState) is kept
        AcceleratorState._reset_state()
    # Accumulation is done by the loop itself (see :func:`tasuki.training.step.train_step`): Accelerate's would divide
    # every micro-batch's loss by the window length, which is wrong for token-level losses and
    # for a last, shorter window.
    return Accelerator(
        gradient_accumulation_steps=1,
        mixed_precision=precision,
        cpu=cpu_only(args.cpu),
        log_with=log_with,
        project_config=ProjectConfiguration(
            project_dir=args.output_dir, logging_dir=str(Path(args.output_dir) / "logs")
        ),
    )


AUTO_EPOCHS = (3, 20)
"""The fewest and most epochs of the automatic schedule (:func:`auto_epochs`)."""


def auto_epochs(steps_per_epoch: int, min_steps: int, bounds: tuple[int, int] = AUTO_EPOCHS) -> int:
    """Epochs for at least ``min_steps`` optimizer steps, clipped to ``bounds``.

    Three epochs suit tens of thousands of examples; on a few hundred they stop long before the
    model has learnt (Japanese NER on 400 sentences: entity F1 0.34 after 8 epochs, 0.72 after
    20). Few-sample fine-tuning needs more updates, not a larger learning rate (Mosbach
    et al., "On the Stability of Fine-tuning BERT", ICLR 2021), so small data gets more epochs.
    """
    low, high = bounds
    return max(low, min(high, math.ceil(min_steps / max(steps_per_epoch, 1))))


def make_optimizer(model: torch.nn.Module, args: TrainingArgs) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue  # frozen parts (e.g. a backbone under a head-only run) get no optimizer state
        (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameters")
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    try:  # the fused kernel: one pass over all parameters (per-parameter AdamW costs a third of a CPU step)
        return torch.optim.AdamW(groups, lr=args.learning_rate, fused=True)
    except (RuntimeError, TypeError):  # parameters on a device without the fused kernel
        return torch.optim.AdamW(groups, lr=args.learning_rate, foreach=True)


def report(accelerator: Accelerator, message: str) -> None:
    """Progress messages go to stderr (stdout stays clean for --json), once per machine."""
    if accelerator.is_local_main_process:
        tqdm.write(message, file=sys.stderr)


class SeededCollate:
    """Collation under a seed of its own: (run seed, epoch, the batch's feature positions).

    The prepared loader collates one batch ahead, so a task that draws random numbers while
    collating (MLM's masks) would draw from the global RNG *before* a checkpoint saves it, and a
    resumed run would mask differently from an uninterrupted one. With a per-batch seed the
    masks depend on the batch alone, and the global RNG is left to dropout.
    """

    def __init__(self, collate: Any, seed: int, sampler: Any) -> None:
        self.collate = collate
        self.seed = seed
        self.sampler = sampler

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        positions = np.asarray([f[INDEX] for f in features], dtype=np.int64)
        key = zlib.crc32(positions.tobytes(), zlib.crc32(f"{self.seed}:{self.sampler.epoch}".encode()))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(key)
            return self.collate(features)


def run_fingerprint(task: Task, backbone: Backbone, train_examples: Dataset, eval_examples: Dataset | None,
                    args: TrainingArgs, num_processes: int, total_steps: int, warmup_steps: int) -> dict[str, Any]:
    """What must be equal for ``--resume`` to continue the same run (saved in every checkpoint)."""

    def data(examples: Dataset | None) -> Any:
        if examples is None:
            return None
        return {"examples": len(examples), "fingerprint": getattr(examples, "_fingerprint", None)}

    return {
        "task": task.name, "task_state": task.state(), "backbone": backbone.describe(),
        "train_data": data(train_examples), "eval_data": data(eval_examples),
        "batch_size": args.batch_size, "gradient_accumulation_steps": args.gradient_accumulation_steps,
        "num_processes": num_processes, "max_length": args.max_length, "seed": args.seed,
        "learning_rate": args.learning_rate, "warmup_ratio": args.warmup_ratio, "weight_decay": args.weight_decay,
        "total_steps": total_steps, "warmup_steps": warmup_steps, "max_grad_norm": args.max_grad_norm,
        "group_by_length": args.group_by_length, "mixed_precision": args.mixed_precision, "streaming": args.streaming,
        "freeze_embeddings": args.freeze_embeddings, "early_stopping_patience": args.early_stopping_patience,
    }
