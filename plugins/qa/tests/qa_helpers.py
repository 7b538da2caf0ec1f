"""A mini prediction loop for tests: what the runner hands to ``postprocess``, without the runner."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def run_outputs(task: Any, model: torch.nn.Module, tokenizer: Any, rows: list[dict], max_length: int,
                batch_size: int = 3, pad_to: int | None = None) -> tuple[list[dict], Any, Any]:
    """What the runner hands to ``compute_metrics``/``postprocess``, without the runner.

    Encodes in small ``map`` batches (so windows of one call never see the others') and pads
    every output row to ``pad_to`` with a large value, as gathering across processes would,
    so that a task that forgets to trim its rows picks padding as an answer.
    """
    from datasets import Dataset

    examples = Dataset.from_list(rows)
    features = examples.map(task.encode, batched=True, batch_size=batch_size,
                            fn_kwargs={"tokenizer": tokenizer, "max_length": max_length},
                            remove_columns=examples.column_names)
    outputs: list[dict] = []
    model.eval()
    for i in range(0, len(features), 4):
        chunk = [features[j] for j in range(i, min(i + 4, len(features)))]
        batch = task.collate(chunk, tokenizer)
        with torch.inference_mode():
            kept = task.predict_step(model, batch)
        for j in range(len(chunk)):
            row = {k: v[j].numpy() for k, v in kept.items()}
            if pad_to is not None:
                row = {k: np.pad(v, (0, pad_to - len(v)), constant_values=1e4) for k, v in row.items()}
            outputs.append(row)
    return outputs, features, examples
