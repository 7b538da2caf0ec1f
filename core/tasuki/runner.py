"""One Accelerate loop that trains, evaluates and predicts for every task.

It reads like Accelerate's own ``complete_nlp_example.py``: ``prepare``, ``backward``,
gathering for metrics, ``save_state``/``load_state`` with ``skip_first_batches`` for an exact
resume. Everything task-specific goes through the :class:`~tasuki.task.Task` methods; the same
code runs on one CPU, one GPU, or several processes and machines (``accelerate launch`` /
``torchrun``), with three rules that make those equal:

- steps are optimizer steps, counted on the *prepared* loader (each process sees 1/N of the
  batches), and the scheduler steps once per optimizer step;
- an optimizer step's gradient is that of the combined batch (all accumulated batches on all
  processes), each loss weighted by its items (:meth:`~tasuki.task.Task.loss_items`);
- a resumed run replays exactly: checkpoints carry RNG states, scheduler and the run's
  fingerprint, the prepared loader is told the epoch, and collation draws from a per-batch seed.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from tasuki import checkpoint as ckpt
from tasuki.args import TrainingArgs
from tasuki.features import INDEX, encode, make_loader
from tasuki.prediction.predict import predict_outputs
from tasuki.settings import SettingError
from tasuki.stream_batches import StreamedBatches, should_stream

if TYPE_CHECKING:
    from accelerate import Accelerator
    from datasets import Dataset

    from tasuki.backbone import Backbone
    from tasuki.task import Outputs, Task

logger = logging.getLogger(__name__)


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


# --- training ----------------------------------------------------------------------------------


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
    # Accumulation is done by the loop itself (see ``_train_step``): Accelerate's would divide
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


def auto_epochs(steps_per_epoch: int, min_steps: int, bounds: tuple[int, int] = (3, 20)) -> int:
    """Epochs for at least ``min_steps`` optimizer steps, clipped to ``bounds``.

    Three epochs suit tens of thousands of examples; on a few hundred they stop long before the
    model has learnt (Japanese NER on 400 sentences: entity F1 0.34 after 8 epochs, 0.72 after
    20). Few-sample fine-tuning needs more updates, not a larger learning rate (Mosbach
    et al., "On the Stability of Fine-tuning BERT", ICLR 2021), so small data gets more epochs.
    """
    low, high = bounds
    return max(low, min(high, math.ceil(min_steps / max(steps_per_epoch, 1))))


def _optimizer(model: torch.nn.Module, args: TrainingArgs) -> torch.optim.Optimizer:
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


def _report(accelerator: Accelerator, message: str) -> None:
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


def _windows(loader: Iterable[dict[str, torch.Tensor]], size: int) -> Iterator[list[dict[str, torch.Tensor]]]:
    """The batches of each optimizer step: ``size`` of them, fewer at the end of an epoch."""
    window: list[dict[str, torch.Tensor]] = []
    for batch in loader:
        batch.pop(INDEX)
        window.append(batch)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def _train_step(task: Task, model: torch.nn.Module, window: list[dict[str, torch.Tensor]],
                accelerator: Accelerator) -> torch.Tensor:
    """Backpropagate the loss of the combined batch (all of ``window``, on all processes).

    ``training_loss`` is a mean over ``loss_items(batch)`` items (tokens for token tasks);
    weighting it by the items over the whole window and all processes gives the gradient of
    one big batch, as transformers does with ``num_items_in_batch``. DDP averages gradients
    over processes, hence the factor ``num_processes``. Returns this process's share of the
    combined loss (the shares of all processes sum to it).
    """
    counts = [torch.as_tensor(task.loss_items(batch), device=accelerator.device, dtype=torch.float32)
              for batch in window]
    total = torch.stack(counts).sum()
    if accelerator.num_processes > 1:
        total = accelerator.reduce(total, reduction="sum")
    total = total.clamp(min=1.0)
    share = torch.zeros((), device=accelerator.device)
    for i, (batch, count) in enumerate(zip(window, counts)):
        last = i == len(window) - 1
        # gradients are all-reduced once per optimizer step, on the last micro-batch
        context = accelerator.no_sync(model) if not last else contextlib.nullcontext()
        with context:
            loss = task.training_loss(model, batch)
            weight = count / total
            accelerator.backward(loss * weight * accelerator.num_processes)
        # a batch without items (all labels ignored) has a NaN mean: weight 0 keeps it out of the
        # gradient, and this keeps it out of the logged loss
        share += torch.where(count > 0, loss.detach().float() * weight, 0.0)
    return share


def _main_metric(task: Task, metrics: dict[str, Any]) -> float | None:
    """The task's main metric in ``metrics`` (the first of its names present), or None."""
    names = (task.main_metric,) if isinstance(task.main_metric, str) else tuple(task.main_metric or ())
    for name in names:
        value = metrics.get(name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None


def run_training(
    task: Task,
    backbone: Backbone,
    train_examples: Dataset,
    eval_examples: Dataset | None,
    args: TrainingArgs,
) -> TrainingRun:
    """Fine-tune ``task`` on ``backbone`` (see :class:`TrainingRun` for what comes back).

    ``max_steps`` and the schedule count optimizer steps, whatever the number of processes and
    the accumulation; with an evaluation set the best evaluation's weights are kept, and training
    stops early when the task's main metric has not improved for ``early_stopping_patience``
    evaluations (on by default when the epochs are chosen automatically).
    """
    from accelerate.utils import set_seed
    from transformers import get_linear_schedule_with_warmup

    accelerator = make_accelerator(args)
    set_seed(args.seed)
    tokenizer = backbone.tokenizer
    args.max_length = args.max_length or backbone.max_length
    streaming = should_stream(train_examples, args.streaming)
    if streaming and args.streaming is None:
        _report(accelerator, f"streaming: the training data is {train_examples.data.nbytes / 2**20:,.0f} MiB, so it "
                             "is tokenized while training runs (--no-streaming tokenizes it all first, into a cache)")
    args.streaming = streaming
    with accelerator.main_process_first():
        train_features = (None if streaming else
                          encode(task, train_examples, tokenizer, args.max_length, num_proc=args.num_proc))
        eval_features = (encode(task, eval_examples, tokenizer, args.max_length, num_proc=args.num_proc)
                         if eval_examples is not None else None)

    model = task.build_model(backbone)
    if args.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    if args.torch_compile:
        model = torch.compile(model)
    optimizer = _optimizer(model, args)
    if streaming:  # tokenized on the fly; split across processes by the loader itself, not by prepare
        train_loader = sampler = StreamedBatches(
            task, train_examples, tokenizer, args.max_length, args.batch_size, seed=args.seed,
            group_by_length=args.group_by_length, rank=accelerator.process_index, world=accelerator.num_processes,
            device=accelerator.device)
        model, optimizer = accelerator.prepare(model, optimizer)
    else:
        train_loader, sampler = make_loader(
            task, train_features, tokenizer, args.batch_size, shuffle=True, seed=args.seed,
            group_by_length=args.group_by_length,
        )
        train_loader.collate_fn = SeededCollate(train_loader.collate_fn, args.seed, sampler)
        model, optimizer, train_loader = accelerator.prepare(model, optimizer, train_loader)
    eval_loader = None
    if eval_features is not None:
        eval_loader, _ = make_loader(task, eval_features, tokenizer, args.eval_batch_size or args.batch_size * 2,
                                     shuffle=False)
    if eval_loader is not None:
        eval_loader = accelerator.prepare(eval_loader)

    # Steps from the *prepared* loader: under N processes each sees 1/N of the batches.
    accumulation = args.gradient_accumulation_steps
    steps_per_epoch = math.ceil(len(train_loader) / accumulation)
    automatic_epochs = args.epochs is None
    if automatic_epochs:
        args.epochs = auto_epochs(steps_per_epoch, args.min_steps)
    total_steps = args.max_steps or steps_per_epoch * args.epochs
    epochs = math.ceil(total_steps / steps_per_epoch)
    warmup_steps = int(args.warmup_ratio * total_steps)
    patience = args.early_stopping_patience
    if patience is None:
        patience = 2 if automatic_epochs else 0
    # The scheduler stays outside ``prepare``: Accelerate's wrapper steps it once per process
    # (it assumes a schedule counted in single-process steps); this one steps once per optimizer step.
    scheduler = get_linear_schedule_with_warmup(optimizer.optimizer, warmup_steps, total_steps)
    accelerator.register_for_checkpointing(scheduler)
    if accelerator.log_with:
        accelerator.init_trackers("tasuki", config={k: v for k, v in asdict(args).items() if v is not None})
    fingerprint = run_fingerprint(task, backbone, train_examples, eval_examples, args, accelerator.num_processes,
                                  total_steps, warmup_steps)

    root = Path(args.output_dir) / ckpt.CHECKPOINTS_DIR
    best_weights = ckpt.BestWeights(root if args.checkpoints or args.resume else None)
    global_step, start_epoch, skip_batches = 0, 0, 0
    history: list[dict[str, float]] = []
    log: list[dict[str, float]] = []
    best: dict[str, Any] = {"value": None, "step": None, "metrics": {}, "bad": 0}
    if args.resume:
        state = ckpt.load_resume_point(accelerator, root, fingerprint, report=lambda m: _report(accelerator, m))
        global_step, start_epoch, skip_batches = state["global_step"], state["epoch"], state["batches_in_epoch"]
        history, log, best = state["history"], state["log"], state["best"]
        if streaming:  # the loader starts at the saved buffer and batch: nothing to skip
            train_loader.resume_at(state.get("stream") if skip_batches else None)
    has_eval = eval_loader is not None
    stopped_early = bool(patience) and best["bad"] >= patience  # killed after deciding to stop

    def checkpoint(epoch: int, batches_done: int) -> None:
        state = {"global_step": global_step, "epoch": epoch, "batches_in_epoch": batches_done, "history": history,
                 "log": log, "best": best, "fingerprint": fingerprint}
        if streaming:
            state["stream"] = list(train_loader.position) if batches_done else None
        ckpt.save_checkpoint(accelerator, root, state, args.save_total_limit)

    progress = tqdm(total=total_steps, initial=global_step, desc=f"training {task.name}",
                    disable=not (args.progress and accelerator.is_local_main_process))
    # the loss is summed on the device and read at logging steps only: .item() every step would
    # make the host wait for the GPU each batch
    running_loss, running_steps = torch.zeros((), device=accelerator.device), 0
    last_outputs = None
    for epoch in range(start_epoch, epochs):
        if stopped_early or global_step >= total_steps:
            break  # resumed from the last checkpoint of a run that had finished training
        model.train()
        # The prepared loader sets the sampler's epoch to its own iteration count, which starts at 0
        # in a resumed process: set both, or a resumed run would replay epoch 0's order.
        train_loader.set_epoch(epoch)
        sampler.set_epoch(epoch)
        skip = skip_batches and not streaming
        loader = accelerator.skip_first_batches(train_loader, skip_batches) if skip else train_loader
        batches_done = skip_batches
        skip_batches = 0
        for window in _windows(loader, accumulation):
            running_loss += _train_step(task, model, window, accelerator)
            if args.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
            optimizer.step()
            if not accelerator.optimizer_step_was_skipped:  # fp16 overflow: the step did not happen
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            batches_done += len(window)
            global_step += 1
            running_steps += 1
            progress.update(1)
            if global_step % args.logging_steps == 0 or global_step == total_steps:
                total = accelerator.reduce(running_loss, reduction="sum") if accelerator.num_processes > 1 else running_loss
                entry = {"step": global_step, "loss": total.item() / running_steps, "lr": scheduler.get_last_lr()[0]}
                log.append(entry)
                progress.set_postfix(loss=f"{entry['loss']:.4f}")
                accelerator.log({"train/loss": entry["loss"], "train/lr": entry["lr"]}, step=global_step)
                running_loss.zero_()
                running_steps = 0
            if args.checkpoints and args.save_steps and global_step % args.save_steps == 0 and global_step < total_steps \
                    and batches_done < len(train_loader):
                checkpoint(epoch, batches_done)
            if global_step >= total_steps:
                break
        record: dict[str, float] = {"epoch": epoch + 1, "step": global_step}
        if has_eval:
            last_outputs = predict_outputs(task, model, eval_loader, len(eval_features), accelerator)
            record.update(task.compute_metrics(last_outputs, eval_features, eval_examples))
            accelerator.log({f"eval/{k}": v for k, v in record.items() if isinstance(v, (int, float))},
                            step=global_step)
            _report(accelerator, f"epoch {epoch + 1}: " + ", ".join(
                f"{k}={v:.4f}" for k, v in record.items() if isinstance(v, float)))
            value = _main_metric(task, record)
            if value is not None:
                better = best["value"] is None or (value > best["value"] if task.greater_is_better
                                                   else value < best["value"])
                if better:
                    best = {"value": value, "step": global_step, "metrics": record, "bad": 0}
                    best_weights.save(accelerator, model)
                else:
                    best["bad"] += 1
                    stopped_early = bool(patience) and best["bad"] >= patience
        history.append(record)
        if stopped_early:
            _report(accelerator, f"early stop: {task.main_metric} has not improved for {patience} evaluations; "
                                 f"the best was at step {best['step']}")
        if args.checkpoints:
            checkpoint(epoch + 1, 0)
        if stopped_early or global_step >= total_steps:
            break
    progress.close()
    if accelerator.log_with:
        accelerator.end_training()
    final = history[-1] if history else {}
    if best["step"] is not None and best["step"] != global_step:
        best_weights.load(accelerator, model)
        final = best["metrics"]
        last_outputs = None
    if has_eval and last_outputs is None:  # the outputs of the weights kept, for the figures
        last_outputs = predict_outputs(task, model, eval_loader, len(eval_features), accelerator)
    metrics = {k: v for k, v in final.items() if k not in ("epoch", "step")}
    return TrainingRun(accelerator, model, metrics, history, global_step, last_outputs, eval_features,
                       best_step=best["step"], stopped_early=stopped_early, log=log)
