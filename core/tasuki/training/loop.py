"""The training loop: prepare -> resume -> epochs (train, evaluate) -> finish, for every task.

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

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from tqdm.auto import tqdm

from tasuki.args import TrainingArgs
from tasuki.features import encode, make_loader
from tasuki.prediction.predict import predict_outputs
from tasuki.training import checkpoint as ckpt
from tasuki.training.result import TrainingRun
from tasuki.training.setup import SeededCollate, auto_epochs, make_accelerator, make_optimizer, report, run_fingerprint
from tasuki.training.step import main_metric, train_step, windows
from tasuki.training.stream_batches import StreamedBatches, should_stream

if TYPE_CHECKING:
    from accelerate import Accelerator
    from datasets import Dataset

    from tasuki.backbone import Backbone
    from tasuki.task import Outputs, Task


@dataclass
class Best:
    """The best evaluation so far (saved in checkpoints as a dict of these fields)."""

    value: float | None = None
    step: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    bad: int = 0
    """Evaluations since the best one that did not improve on it (early stopping counts these)."""


@dataclass
class _Run:
    """What :func:`_prepare` builds: the prepared model and loaders, and the run's schedule."""

    accelerator: Accelerator
    model: torch.nn.Module
    optimizer: Any
    train_loader: Any
    sampler: Any
    eval_loader: Any
    eval_examples: Dataset | None
    eval_features: Dataset | None
    streaming: bool
    accumulation: int = 1
    total_steps: int = 0
    epochs: int = 0
    patience: int = 0
    scheduler: Any = None
    fingerprint: dict[str, Any] = field(default_factory=dict)
    root: Path = Path()
    best_weights: Any = None
    keeps_best: bool = True
    """Whether the model keeps the best evaluation's weights (else the last: ``TrainingArgs.keep_weights``)."""


@dataclass
class _State:
    """Where the run is: what a checkpoint saves, and what the loop carries from step to step."""

    global_step: int = 0
    epoch: int = 0
    skip_batches: int = 0
    """Batches of ``epoch`` a resumed run already trained on."""
    history: list[dict[str, float]] = field(default_factory=list)
    log: list[dict[str, float]] = field(default_factory=list)
    best: Best = field(default_factory=Best)
    stopped_early: bool = False
    # the loss is summed on the device and read at logging steps only: .item() every step would
    # make the host wait for the GPU each batch
    running_loss: Any = None
    running_steps: int = 0
    last_outputs: Outputs | None = None


def run_training(
    task: Task,
    backbone: Backbone,
    train_examples: Dataset,
    eval_examples: Dataset | None,
    args: TrainingArgs,
    *,
    checkpoint_root: Path | None = None,
    description: str | None = None,
) -> TrainingRun:
    """Fine-tune ``task`` on ``backbone`` (see :class:`~tasuki.training.result.TrainingRun` for what comes back).

    ``max_steps`` and the schedule count optimizer steps, whatever the number of processes and
    the accumulation; with an evaluation set the best evaluation's weights are kept, and training
    stops early when the task's main metric has not improved for ``early_stopping_patience``
    evaluations (on by default when the epochs are chosen automatically). ``checkpoint_root`` (default
    ``OUTPUT/checkpoints``) and ``description`` (the progress bar's) are set by a stage's run
    (:mod:`tasuki.training.stages`).
    """
    root = checkpoint_root or Path(args.output_dir) / ckpt.CHECKPOINTS_DIR
    run = _prepare(task, backbone, train_examples, eval_examples, args, root)
    state = _resume(run, args)
    progress = tqdm(total=run.total_steps, initial=state.global_step, desc=description or f"training {task.name}",
                    disable=not (args.progress and run.accelerator.is_local_main_process))
    for epoch in range(state.epoch, run.epochs):
        if state.stopped_early or state.global_step >= run.total_steps:
            break  # resumed from the last checkpoint of a run that had finished training
        _train_epoch(task, run, state, args, epoch, progress)
        record: dict[str, float] = {"epoch": epoch + 1, "step": state.global_step}
        if run.eval_loader is not None:
            _evaluate(task, run, state, record, epoch)
        state.history.append(record)
        if state.stopped_early:
            report(run.accelerator, f"early stop: {task.main_metric} has not improved for {run.patience} evaluations; "
                                    f"the best was at step {state.best.step}")
        if args.checkpoints:
            _checkpoint(run, state, args, epoch + 1, 0)
        if state.stopped_early or state.global_step >= run.total_steps:
            break
    progress.close()
    return _finish(task, run, state)


def _prepare(task: Task, backbone: Backbone, train_examples: Dataset, eval_examples: Dataset | None,
             args: TrainingArgs, root: Path) -> _Run:
    """Tokenize (unless streaming), build the model and optimizer, prepare the loaders, plan the schedule."""
    from accelerate.utils import set_seed

    accelerator = make_accelerator(args)
    set_seed(args.seed)
    tokenizer = backbone.tokenizer
    args.max_length = args.max_length or backbone.max_length
    streaming = should_stream(train_examples, args.streaming)
    if streaming and args.streaming is None:
        report(accelerator, f"streaming: the training data is {train_examples.data.nbytes / 2**20:,.0f} MiB, so it "
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
    optimizer = make_optimizer(model, args)
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
        eval_loader = accelerator.prepare(eval_loader)
    run = _Run(accelerator, model, optimizer, train_loader, sampler, eval_loader, eval_examples, eval_features,
               streaming)
    _schedule(run, task, backbone, train_examples, args, root)
    return run


def _schedule(run: _Run, task: Task, backbone: Backbone, train_examples: Dataset, args: TrainingArgs,
              root: Path) -> None:
    """Steps, epochs, warm-up, patience, the scheduler and the run's fingerprint, on the prepared loader."""
    from transformers import get_linear_schedule_with_warmup

    accelerator = run.accelerator
    # Steps from the *prepared* loader: under N processes each sees 1/N of the batches.
    run.accumulation = args.gradient_accumulation_steps
    steps_per_epoch = math.ceil(len(run.train_loader) / run.accumulation)
    automatic_epochs = args.epochs is None
    if automatic_epochs:
        args.epochs = auto_epochs(steps_per_epoch, args.min_steps)
    run.total_steps = args.max_steps or steps_per_epoch * args.epochs
    run.epochs = math.ceil(run.total_steps / steps_per_epoch)
    warmup_steps = int(args.warmup_ratio * run.total_steps)
    run.keeps_best = args.keep_weights != "last"  # unset: best (training.phases sets it from the held-out size)
    patience = args.early_stopping_patience
    run.patience = (2 if automatic_epochs and run.keeps_best else 0) if patience is None else patience
    # The scheduler stays outside ``prepare``: Accelerate's wrapper steps it once per process
    # (it assumes a schedule counted in single-process steps); this one steps once per optimizer step.
    run.scheduler = get_linear_schedule_with_warmup(run.optimizer.optimizer, warmup_steps, run.total_steps)
    accelerator.register_for_checkpointing(run.scheduler)
    if accelerator.log_with:
        accelerator.init_trackers("tasuki", config={k: v for k, v in asdict(args).items() if v is not None})
    run.fingerprint = run_fingerprint(task, backbone, train_examples, run.eval_examples, args,
                                      accelerator.num_processes, run.total_steps, warmup_steps)
    run.root = root
    run.best_weights = ckpt.BestWeights(run.root if args.checkpoints or args.resume else None)


def _resume(run: _Run, args: TrainingArgs) -> _State:
    """A fresh state, or (``--resume``) the last checkpoint's, with the model, optimizer and RNGs it saved."""
    state = _State()
    if args.resume:
        saved = ckpt.load_resume_point(run.accelerator, run.root, run.fingerprint,
                                       report=lambda m: report(run.accelerator, m))
        state = _State(saved["global_step"], saved["epoch"], saved["batches_in_epoch"], saved["history"],
                       saved["log"], Best(**saved["best"]))
        if run.streaming:  # the loader starts at the saved buffer and batch: nothing to skip
            run.train_loader.resume_at(saved.get("stream") if state.skip_batches else None)
    state.stopped_early = bool(run.patience) and state.best.bad >= run.patience  # killed after deciding to stop
    state.running_loss = torch.zeros((), device=run.accelerator.device)
    return state


def _train_epoch(task: Task, run: _Run, state: _State, args: TrainingArgs, epoch: int, progress: Any) -> None:
    """The optimizer steps of one epoch (from where a resumed run stopped), logging and checkpointing."""
    accelerator, optimizer = run.accelerator, run.optimizer
    run.model.train()
    # The prepared loader sets the sampler's epoch to its own iteration count, which starts at 0
    # in a resumed process: set both, or a resumed run would replay epoch 0's order.
    run.train_loader.set_epoch(epoch)
    run.sampler.set_epoch(epoch)
    skip_batches, state.skip_batches = state.skip_batches, 0
    skip = skip_batches and not run.streaming
    loader = accelerator.skip_first_batches(run.train_loader, skip_batches) if skip else run.train_loader
    batches_done = skip_batches
    for window in windows(loader, run.accumulation):
        state.running_loss += train_step(task, run.model, window, accelerator)
        if args.max_grad_norm:
            accelerator.clip_grad_norm_(run.model.parameters(), args.max_grad_norm)
        optimizer.step()
        if not accelerator.optimizer_step_was_skipped:  # fp16 overflow: the step did not happen
            run.scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        batches_done += len(window)
        state.global_step += 1
        state.running_steps += 1
        progress.update(1)
        if state.global_step % args.logging_steps == 0 or state.global_step == run.total_steps:
            _log_loss(run, state, progress)
        if args.checkpoints and args.save_steps and state.global_step % args.save_steps == 0 \
                and state.global_step < run.total_steps and batches_done < len(run.train_loader):
            _checkpoint(run, state, args, epoch, batches_done)
        if state.global_step >= run.total_steps:
            break


def _log_loss(run: _Run, state: _State, progress: Any) -> None:
    """Log the mean training loss (over all processes) since the last logging step, and the learning rate."""
    accelerator = run.accelerator
    total = accelerator.reduce(state.running_loss, reduction="sum") if accelerator.num_processes > 1 \
        else state.running_loss
    entry = {"step": state.global_step, "loss": total.item() / state.running_steps,
             "lr": run.scheduler.get_last_lr()[0]}
    state.log.append(entry)
    progress.set_postfix(loss=f"{entry['loss']:.4f}")
    accelerator.log({"train/loss": entry["loss"], "train/lr": entry["lr"]}, step=state.global_step)
    state.running_loss.zero_()
    state.running_steps = 0


def _evaluate(task: Task, run: _Run, state: _State, record: dict[str, float], epoch: int) -> None:
    """Score the evaluation set into ``record``; keep the best weights, count evaluations without progress."""
    accelerator = run.accelerator
    state.last_outputs = predict_outputs(task, run.model, run.eval_loader, len(run.eval_features), accelerator)
    record.update(task.compute_metrics(state.last_outputs, run.eval_features, run.eval_examples))
    accelerator.log({f"eval/{k}": v for k, v in record.items() if isinstance(v, (int, float))},
                    step=state.global_step)
    report(accelerator, f"epoch {epoch + 1}: " + ", ".join(
        f"{k}={v:.4f}" for k, v in record.items() if isinstance(v, float)))
    value = main_metric(task, record)
    if value is None:
        return
    best = state.best
    if best.value is None or (value > best.value if task.greater_is_better else value < best.value):
        state.best = Best(value, state.global_step, record, 0)
        if run.keeps_best:
            run.best_weights.save(accelerator, run.model)
    else:
        best.bad += 1
        # at the schedule's last evaluation nothing is left to stop: it was no early stop, and is not said so
        state.stopped_early = bool(run.patience) and best.bad >= run.patience and state.global_step < run.total_steps


def _checkpoint(run: _Run, state: _State, args: TrainingArgs, epoch: int, batches_done: int) -> None:
    """Save a resume point: after ``batches_done`` batches of ``epoch`` (0: at its start)."""
    saved = {"global_step": state.global_step, "epoch": epoch, "batches_in_epoch": batches_done,
             "history": state.history, "log": state.log, "best": asdict(state.best), "fingerprint": run.fingerprint}
    if run.streaming:
        saved["stream"] = list(run.train_loader.position) if batches_done else None
    ckpt.save_checkpoint(run.accelerator, run.root, saved, args.save_total_limit)


def _finish(task: Task, run: _Run, state: _State) -> TrainingRun:
    """End the trackers, load the best evaluation's weights back, and gather what the run learnt."""
    accelerator = run.accelerator
    if accelerator.log_with:
        accelerator.end_training()
    final = state.history[-1] if state.history else {}
    last_outputs = state.last_outputs
    # the step whose weights the model keeps (None without evaluations); the last evaluation is at the last step
    kept_step = state.best.step if run.keeps_best or state.best.step is None else state.global_step
    if kept_step is not None and kept_step != state.global_step:
        run.best_weights.load(accelerator, run.model)
        last_outputs = None
    if run.eval_loader is not None and last_outputs is None:
        # the kept weights' outputs, for the figures, and scored again: a task's last look at the held-out data
        # (what it tunes on it, e.g. thresholds) is then at the weights it ships with
        last_outputs = predict_outputs(task, run.model, run.eval_loader, len(run.eval_features), accelerator)
        final = task.compute_metrics(last_outputs, run.eval_features, run.eval_examples)
    metrics = {k: v for k, v in final.items() if k not in ("epoch", "step")}
    return TrainingRun(accelerator, run.model, metrics, state.history, state.global_step, last_outputs,
                       run.eval_features, best_step=kept_step, stopped_early=state.stopped_early, log=state.log)
