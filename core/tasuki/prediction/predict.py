"""The one prediction path: examples -> features -> batches -> ``task.predict_step`` outputs, in order.

Evaluation during training, ``TrainedModel.predict``, prediction over files
(:mod:`tasuki.prediction.files`), the figures, the ONNX runtime (:mod:`tasuki.prediction.runtimes`)
and the server all come through :func:`predict` / :func:`predict_outputs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from tasuki.features import INDEX, encode, make_loader

if TYPE_CHECKING:
    from accelerate import Accelerator
    from datasets import Dataset

    from tasuki.task import Outputs, Task


def predict_outputs(
    task: Task,
    model: torch.nn.Module,
    loader: Iterable[dict[str, torch.Tensor]],
    num_features: int,
    accelerator: Accelerator | None = None,
    progress: bool = False,
) -> Outputs:
    """Run ``task.predict_step`` over every batch; return one dict of arrays per feature, in order."""
    if getattr(model, "training", False):  # eval() walks every module: a millisecond per server batch
        model.eval()
    device = accelerator.device if accelerator else next(model.parameters()).device
    rows: dict[int, dict[str, np.ndarray]] = {}
    show = progress and (accelerator is None or accelerator.is_local_main_process)
    for batch in tqdm(loader, desc="predicting", disable=not show, leave=False):
        index = batch.pop(INDEX)
        if accelerator is None:
            batch = {k: v.to(device) for k, v in batch.items()}
        with torch.inference_mode():
            kept = task.predict_step(model, batch)
        if accelerator is not None:
            kept = {k: accelerator.pad_across_processes(v, dim=1) if v.ndim > 1 else v for k, v in kept.items()}
            index, kept = accelerator.gather((index.to(device), kept))
        arrays = {k: v.float().cpu().numpy() if v.is_floating_point() else v.cpu().numpy() for k, v in kept.items()}
        for j, position in enumerate(index.tolist()):
            rows[position] = {k: v[j] for k, v in arrays.items()}  # duplicates (even batches) overwrite
    missing = num_features - len(rows)
    if missing:
        raise RuntimeError(f"prediction lost {missing} of {num_features} features")
    return [rows[i] for i in range(num_features)]


@dataclass
class Predictions:
    """What :func:`predict` returns: model outputs per feature, the features, and the examples they came from."""

    outputs: Outputs
    features: Dataset
    examples: Dataset


def predict(
    task: Task,
    model: Any,
    tokenizer: Any,
    examples: Dataset,
    *,
    max_length: int,
    batch_size: int = 32,
    accelerator: Accelerator | None = None,
    progress: bool = False,
    cache: bool | None = None,
) -> Predictions:
    """THE prediction path: examples -> features -> batches -> ``task.predict_step`` outputs, in order.

    Evaluation, ``TrainedModel.predict``, the figures, mlm's adaptation report, ``ner show``, the
    ONNX runtime (``model`` is then an ONNX Runtime session behind the torch call signature) and
    the server all come through here; ``task.postprocess`` / ``task.compute_metrics`` take the result.
    """
    features = encode(task, examples, tokenizer, max_length, cache=cache)
    loader, _ = make_loader(task, features, tokenizer, batch_size, shuffle=False)
    if accelerator is not None:
        loader = accelerator.prepare(loader)
    outputs = predict_outputs(task, model, loader, len(features), accelerator, progress=progress)
    return Predictions(outputs, features, examples)
