"""Run a token-classification model over rows in this process, driving the Task methods.

The core runner (:mod:`tasuki.runner`) is the way to train and evaluate; this small loop is
for the places that need predictions without it: ``tasuki ner show``, the benchmark, and
tests that check the task against ``transformers.pipeline`` on the same weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tasuki.errors import DataError
from tasuki_ner.task import NerTask


def run_model(
    task: NerTask, model: Any, tokenizer: Any, rows: list[dict[str, Any]], *, max_length: int = 512, batch_size: int = 32
) -> tuple[list[dict[str, np.ndarray]], Any, Any]:
    """``(outputs, features, examples)`` as the runner would give them to ``postprocess``/``compute_metrics``."""
    import torch
    from datasets import Dataset

    examples = Dataset.from_list(rows)
    features = examples.map(
        task.encode,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length},
        remove_columns=examples.column_names,
    )
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))  # less padding
    outputs: list[dict[str, np.ndarray]] = [{} for _ in range(len(features))]
    model.eval()
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            chunk = order[b : b + batch_size]
            batch = task.collate([features[i] for i in chunk], tokenizer)
            batch = {k: v.to(model.device) for k, v in batch.items()}
            step = task.predict_step(model, batch)
            for j, i in enumerate(chunk):
                outputs[i] = {k: v[j].float().cpu().numpy() for k, v in step.items()}
    return outputs, features, examples


def load_directory(directory: str | Path) -> tuple[NerTask, Any, Any]:
    """``(task, model, tokenizer)`` of a model directory saved by ``tasuki train ner``."""
    import tasuki

    model = tasuki.load(directory)
    if not isinstance(model.task, NerTask):
        raise DataError(f"{directory} holds a {model.task.name!r} model, not an 'ner' one")
    return model.task, model.model, model.tokenizer


def predict_entities(
    task: NerTask, model: Any, tokenizer: Any, texts: list[str], *, max_length: int = 512, batch_size: int = 32
) -> list[list[dict[str, Any]]]:
    """Entities per text, through the task's own ``encode``/``collate``/``predict_step``/``postprocess``."""
    rows = task.examples_from_inputs(texts)
    outputs, features, examples = run_model(task, model, tokenizer, rows, max_length=max_length, batch_size=batch_size)
    return task.postprocess(outputs, features, examples)
