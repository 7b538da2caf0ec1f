"""Entities from a token-classification model, through the core's one prediction path.

``tasuki ner show``, the benchmark and the tests that compare the task with
``transformers.pipeline`` on the same weights call :func:`tasuki.prediction.predict.predict`, the function
that evaluation and ``TrainedModel.predict`` use: there is no second loop to keep in step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tasuki.plugin import DataError, PredictionContext
from tasuki_ner.task import NerTask


def run_model(
    task: NerTask, model: Any, tokenizer: Any, rows: list[dict[str, Any]], *, max_length: int = 512, batch_size: int = 32
) -> tuple[list[dict[str, np.ndarray]], Any, Any]:
    """``(outputs, features, examples)`` as the runner gives them to ``postprocess``/``compute_metrics``."""
    from datasets import Dataset

    from tasuki.plugin import predict

    done = predict(task, model, tokenizer, Dataset.from_list(rows), max_length=max_length, batch_size=batch_size)
    return done.outputs, done.features, done.examples


def load_directory(directory: str | Path) -> Any:
    """The :class:`tasuki.api.TrainedModel` of a directory saved by ``tasuki train ner``."""
    import tasuki

    model = tasuki.load(directory)
    if not isinstance(model.task, NerTask):
        raise DataError(f"{directory} holds a {model.task.name!r} model, not an 'ner' one")
    return model


def predict_entities(
    task: NerTask, model: Any, tokenizer: Any, texts: list[str], *, max_length: int = 512, batch_size: int = 32
) -> list[list[dict[str, Any]]]:
    """Entities per text, through the task's own ``encode``/``collate``/``predict_step``/``postprocess``."""
    rows = task.examples_from_inputs(texts)
    outputs, features, examples = run_model(task, model, tokenizer, rows, max_length=max_length, batch_size=batch_size)
    context = PredictionContext(tokenizer=tokenizer, max_length=max_length)
    return task.postprocess(outputs, features, examples, context=context)
