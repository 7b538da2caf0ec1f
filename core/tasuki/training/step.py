"""One optimizer step: the batches of a step, and the gradient of their combined batch on all processes."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch

from tasuki.features import INDEX

if TYPE_CHECKING:
    from accelerate import Accelerator

    from tasuki.task import Task


def windows(loader: Iterable[dict[str, torch.Tensor]], size: int) -> Iterator[list[dict[str, torch.Tensor]]]:
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


def train_step(task: Task, model: torch.nn.Module, window: list[dict[str, torch.Tensor]],
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


def main_metric(task: Task, metrics: dict[str, Any]) -> float | None:
    """The task's main metric in ``metrics`` (the first of its names present), or None."""
    names = (task.main_metric,) if isinstance(task.main_metric, str) else tuple(task.main_metric or ())
    for name in names:
        value = metrics.get(name)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    return None
