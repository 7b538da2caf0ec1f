"""What :func:`tasuki.train` does around the training loop, one function per phase, in the order it runs them:
load data -> choose the held-out set -> resolve the backbone -> run -> save.

Each phase reads what the earlier ones settled and nothing else, so ``train`` reads as its own outline.
Nothing here imports torch at import time (``tasuki tasks`` imports :mod:`tasuki.api`, which imports this):
the loop is imported when the run phase starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.backbone import Backbone
from tasuki.data import hold_out, japanese_share_of_rows, language_of, load_data
from tasuki.errors import ArgumentError, DataError
from tasuki.registry import get_registry, resolve_backbone
from tasuki.saving import save_trained
from tasuki.security import check_trainable

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.args import TrainingArgs
    from tasuki.task import Task
    from tasuki.training.result import TrainingRun

# the warnings below were always logged as tasuki.api's, and keep that name for anyone filtering on it
logger = logging.getLogger("tasuki.api")


@dataclass
class Sets:
    """The training data and the held-out set, each with where it came from (both end up in ``tasuki.json``)."""

    train: Dataset
    train_source: str
    eval: Dataset | None = None
    eval_source: str = "none"

    def described(self) -> dict[str, str]:
        """``tasuki.json``'s ``data``: each set's source and size."""
        return {"train": f"{self.train_source} ({len(self.train)} examples)",
                "eval": f"{self.eval_source} ({len(self.eval) if self.eval is not None else 0} examples)"}


def load_training_data(task: str | Task, task_cls: type[Task], data: Any, lang: str | None,
                       task_options: Mapping[str, Any] | None, args: TrainingArgs,
                       read: dict[str, Any]) -> tuple[Task, str, Sets]:
    """Load data: read the training data, settle the language (given, the task's, or detected), make the
    task and check and fit it on that data (``fit`` learns e.g. the label set before anything else runs)."""
    train_set, train_source = load_data(data, task_cls, **read, stream=bool(args.streaming))
    lang = _language(lang or (None if isinstance(task, str) else task.lang), train_set, train_source,
                     task_cls.input_columns)
    # task_cls is the registered class of a task name: calling it is tasuki.api.make_task (not imported: api imports this)
    task_obj = task_cls(lang=lang, **dict(task_options or {})) if isinstance(task, str) else task
    task_obj.validate(train_set, train_source, with_targets=True)
    _say_repeats(train_set, train_source, task_cls)
    task_obj.fit(train_set)
    return task_obj, lang, Sets(train_set, train_source)


def choose_held_out_set(sets: Sets, task: Task, task_cls: type[Task], eval_data: Any, args: TrainingArgs,
                        read: dict[str, Any]) -> None:
    """Choose the held-out set: ``eval_data`` (a Hub name reads its validation split), else ``eval_split`` of
    the training data (when there are at least 10 rows), else none; ``sets`` is updated in place."""
    if eval_data is not None:
        split = "validation" if isinstance(eval_data, str) and not Path(eval_data).exists() else None
        sets.eval, sets.eval_source = load_data(eval_data, task_cls, **read, split=split)
        task.validate(sets.eval, sets.eval_source, with_targets=True)
        args.eval_split = 0.0  # recorded as what ran: nothing of the training data was held out
    elif args.eval_split > 0 and len(sets.train) < 10:
        logger.warning("no held-out set: %d rows of %s are too few to hold %.0f%% out (10 or more; --eval-data to "
                       "score the model)", len(sets.train), sets.train_source, 100 * args.eval_split)
        args.eval_split = 0.0
    elif args.eval_split > 0:
        rows = len(sets.train)
        sets.train, held = hold_out(sets.train, args.eval_split, args.seed, task.strata(sets.train))
        if len(held):  # none when every class has one row, which training needs
            sets.eval, sets.eval_source = held, f"{len(held)} of {rows} rows held out of {sets.train_source}"
            if abs(len(held) / rows - args.eval_split) > 0.02:  # the strata, not the fraction, decided
                logger.info("held out %d of %d rows (%.0f%%, for --eval-split %.0f%%): each label keeps its share "
                            "and at least one row in training", len(held), rows, 100 * len(held) / rows,
                            100 * args.eval_split)
        else:
            logger.warning("no held-out set: every label of %s has one row, which training needs (--eval-data to "
                           "score the model)", sets.train_source)
            args.eval_split = 0.0


def resolve_training_backbone(backbone: str | Backbone | None, task_cls: type[Task], lang: str,
                              args: TrainingArgs) -> Backbone:
    """Resolve the backbone (given, else the task's default for ``lang``), refuse one that needs its own code,
    and cap ``args.max_length`` at what the backbone can read."""
    spec = backbone or task_cls.default_backbones.get(lang)
    if spec is None:
        raise DataError(f"task {task_cls.name!r} has no default backbone for {lang!r}; pass backbone=...")
    if backbone is None:
        logger.info("backbone: %s (the task's default for %s; --backbone to choose another)", spec, lang)
    backbone_obj = resolve_backbone(spec) if not isinstance(spec, Backbone) else spec
    check_trainable(backbone_obj)  # a model that needs its own code could not be loaded after training
    limit = backbone_obj.max_length
    if args.max_length is None or args.max_length > limit:
        if args.max_length is not None:
            logger.warning("--max-length %d is more than %s reads (%d tokens): %d is used", args.max_length,
                           backbone_obj.spec, limit, limit)
        args.max_length = limit
    return backbone_obj


def run(task: Task, backbone: Backbone, sets: Sets, args: TrainingArgs) -> TrainingRun:
    """Run: the task's stages (:meth:`~tasuki.task.Task.stages`, e.g. a few-shot recipe's contrastive tuning),
    then the training loop, with a warning before it when the held-out set is too small to trust and after
    it when the run is unlikely to have learnt."""
    from tasuki.training.loop import run_training

    automatic = args.epochs is None and args.max_steps is None  # before the runner settles them
    small = sets.eval is not None and len(sets.eval) < SMALL_EVAL
    if small:
        so = ""
        if args.keep_weights is None:
            stop = " and does not stop early" if args.early_stopping_patience is None else ""
            so = f", so the run keeps its last weights{stop} (--keep-weights best to choose on them anyway)"
        logger.warning("the evaluation set has only %d example%s (%s): its scores are too noisy to choose between "
                       "models%s; hold out at least %d (--eval-data, or a larger --eval-split)", len(sets.eval),
                       "" if len(sets.eval) == 1 else "s", sets.eval_source, so, SMALL_EVAL)
    if sets.eval is None and (args.keep_weights == "best" or args.early_stopping_patience):
        given = "--keep-weights best" if args.keep_weights == "best" else "--early-stopping-patience"
        raise ArgumentError(f"{given} chooses on held-out scores, and this run holds nothing out: give --eval-data "
                            f"or --eval-split, or leave {given.split()[0]} out")
    if args.keep_weights is None:  # a handful of held-out examples cannot tell a better model from luck
        args.keep_weights = "last" if small or sets.eval is None else "best"

    stages = task.stages(sets.train, args)
    if stages:
        from tasuki.training.stages import run_stages

        args.resume = run_stages(stages, backbone, args)
    done = run_training(task, backbone, sets.train, sets.eval, args)
    _warn_about_the_run(done, args, automatic)
    return done


def save(output_dir: Path, task: Task, backbone: Backbone, run: TrainingRun, sets: Sets, args: TrainingArgs,
         columns: Mapping[str, str] | None) -> list[Path]:
    """Save (main process only): the model directory with its metadata and, from the evaluation whose
    weights were kept, the task's figures; returns the figures' final paths."""
    entry = get_registry().tasks.get(task.name)
    figures: list[Path] = []

    def plots(staging: Path) -> list[Path]:  # from the evaluation the saved weights had: no second pass
        if run.eval_outputs is None:
            return []
        (staging / "plots").mkdir(exist_ok=True)
        written = task.plot(run.eval_outputs, run.eval_features, sets.eval, staging / "plots")
        figures.extend(output_dir / "plots" / p.name for p in written)
        return written

    save_trained(
        output_dir,
        task=task,
        model=run.accelerator.unwrap_model(run.model),
        tokenizer=backbone.tokenizer,
        backbone=backbone.describe(),
        plugin={"distribution": entry.plugin.distribution, "version": entry.plugin.version} if entry else {},
        args={k: v for k, v in asdict(args).items() if k not in ("resume", "progress")},
        metrics=run.metrics,
        data=sets.described(),
        extras=plots,
        columns=dict(columns or {}),
        carry=("logs", "checkpoints") if args.keep_checkpoints else ("logs",),
    )
    return figures


SMALL_EVAL = 50
"""Fewer held-out examples than this give scores too noisy to choose between models (one example: 2 points)."""


def _warn_about_the_run(run: TrainingRun, args: TrainingArgs, automatic: bool) -> None:
    """Say when a run is unlikely to have learnt: far too few steps, or one class predicted for everything."""
    if args.min_steps and run.global_step * 5 < args.min_steps:
        if run.stopped_early:
            advice = "it stopped early (--early-stopping-patience 0 runs the whole schedule), or give more data"
        elif automatic:
            from tasuki.training.setup import AUTO_EPOCHS

            advice = f"the automatic schedule ends at {AUTO_EPOCHS[1]} epochs: give more data, or more --epochs"
        else:
            advice = "leave --epochs/--max-steps unset for the automatic number, or give more data"
        logger.warning("training took only %d optimizer steps (under a fifth of --min-steps %d): the model may not "
                       "have learnt yet; %s", run.global_step, args.min_steps, advice)
    outputs = run.eval_outputs or []
    model = getattr(run.model, "module", run.model)  # unwrapped under DDP
    if getattr(getattr(model, "config", None), "problem_type", None) == "multi_label_classification":
        return  # independent labels: every text having the same top label says nothing about learning
    if len(outputs) >= 10 and all("logits" in row and row["logits"].ndim == 1 for row in outputs):
        predicted = {int(row["logits"].argmax()) for row in outputs}
        if len(predicted) == 1:
            features = run.eval_features
            windows = features is not None and "example_index" in features.column_names  # long texts: several a text
            count = len(set(features["example_index"])) if windows else len(outputs)
            logger.warning("the model predicts one class for all %d evaluation examples%s: it has not learnt to tell "
                           "the classes apart (more steps, a lower --learning-rate, or balanced data)", count,
                           f" ({len(outputs)} windows)" if windows and count != len(outputs) else "")


def _say_repeats(data: Dataset, source: str, task_cls: type[Task]) -> None:
    """One line when inputs repeat (with two targets, or not): nothing is dropped, but the user should know."""
    from tasuki.data.columns import repeated_inputs

    target = task_cls.target_columns[0] if task_cls.target_columns else None
    repeats, conflicts = repeated_inputs(data, task_cls.input_columns, target)
    if repeats:
        two = f", {conflicts} of them with another {target} than before" if conflicts else ""
        logger.warning("%d rows of %s repeat an earlier row's %s%s: each copy trains again, and copies may be "
                       "held out beside themselves (scores then read high)", repeats, source,
                       " and ".join(task_cls.input_columns), two)


def _language(given: str | None, data: Dataset, source: str, columns: Sequence[str]) -> str:
    """The language to train in: ``given``, else detected from the task's input ``columns``; a mismatch is worth a
    warning."""
    share = japanese_share_of_rows(data, columns=columns)
    detected = language_of(share)
    if given is None:
        logger.info("language: %s (detected from %s; --lang or lang= to override)", detected, source)
        if 0.1 <= share < 0.5:
            logger.warning("%.0f%% of the rows of %s are Japanese: with lang 'en' the English backbone reads them "
                           "poorly; --lang ja trains the multilingual backbone (with MeCab), which reads both",
                           100 * share, source)
        return detected
    if given != detected and given in ("en", "ja"):  # another value is refused by the task, in its own words
        logger.warning("lang=%r was given, but %s looks like %r text; training goes on in %r (check --lang: "
                       "Japanese text needs 'ja' for MeCab word splitting)", given, source, detected, given)
    return given
