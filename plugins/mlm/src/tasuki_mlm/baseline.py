"""The head-only baseline of ``tasuki adapt``, run as a stage of the adaptation itself.

A stage is a run the core's runner does before the task's own (:class:`tasuki.plugin.Stage`):
its checkpoints live in the run's ``--output`` (``checkpoints/head-only``) and go with the others
when the model is saved, and ``--resume`` continues the stage that was running, or replays a
finished one to its last checkpoint, before resuming the adaptation. A separate run in a
temporary folder could do neither: a killed run left it behind, and ``--resume`` reached it
with nothing to resume.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from tasuki_mlm.task import MaskedLMTask

if TYPE_CHECKING:
    import torch
    from datasets import Dataset

    from tasuki.plugin import Stage

HEAD_ONLY = "head-only"
"""The stage's name: its checkpoints are under ``OUTPUT/checkpoints/head-only``."""


class HeadOnlyFirst(MaskedLMTask):
    """The ``mlm`` task, asking the runner first for the same budget spent on the head alone (encoder frozen).

    After training, :attr:`baseline` holds that run's held-out metrics, scored on ``held_out`` with
    ``tokenizer`` (the backbone's). The saved model is an ordinary ``mlm`` model (same name and state).
    """

    def __init__(self, lang: str, held_out: Dataset, tokenizer: Any, **options: Any) -> None:
        super().__init__(lang=lang, **options)
        self.held_out = held_out
        self.tokenizer = tokenizer
        self.baseline: dict[str, float] = {}

    def stages(self, train: Dataset, args: Any) -> list[Stage]:
        """One stage: the head-only run, with the run's own epochs and steps (a stage otherwise has its own)."""
        from tasuki.plugin import Stage

        head_only = MaskedLMTask(lang=self.lang, **{**asdict(self.options), "freeze_backbone": True})
        batch_size = args.eval_batch_size or 2 * args.batch_size

        def done(model: torch.nn.Module) -> None:  # also on --resume of a finished stage: the same scores again
            self.baseline.clear()
            self.baseline.update(scores(head_only, model, self.tokenizer, self.held_out, args.max_length, batch_size))

        settings = {"epochs": args.epochs, "max_steps": args.max_steps, "min_steps": args.min_steps}
        return [Stage(HEAD_ONLY, head_only, train, settings, done)]


def scores(
    task: MaskedLMTask, model: torch.nn.Module, tokenizer: Any, texts: Sequence[str] | Dataset, max_length: int,
    batch_size: int,
) -> dict[str, float]:
    """Held-out MLM metrics of ``model`` as it is now (no training); ``texts``: strings or a ``text`` dataset."""
    from datasets import Dataset

    from tasuki.plugin import predict

    examples = texts if isinstance(texts, Dataset) else Dataset.from_list([{"text": t} for t in texts])
    done = predict(task, model, tokenizer, examples, max_length=max_length, batch_size=batch_size)
    return task.compute_metrics(done.outputs, done.features, done.examples)


@contextmanager
def said_once(names: Iterable[str]) -> Iterator[None]:
    """Drop repeats of a message from the loggers ``names`` while the block runs.

    Each of adapt's model loads (the probe, the head-only stage, the adaptation) would say again
    that the backbone has no MLM head and which weights are new: once is the news.
    """
    seen: set[str] = set()

    def first_time(record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message in seen:
            return False
        seen.add(message)
        return True

    loggers = [logging.getLogger(name) for name in sorted(set(names))]
    for found in loggers:
        found.addFilter(first_time)
    try:
        yield
    finally:
        for found in loggers:
            found.removeFilter(first_time)
