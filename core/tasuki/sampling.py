"""Length-grouped batches: similar lengths share a batch, so dynamic padding wastes little.

Training order is a pure function of ``(seed, epoch)`` — no global RNG is touched — which
is what lets an interrupted run resume on exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from datasets import Dataset

    from tasuki.task import Task

LENGTH = "_length"  # feature length for length-grouped batches, written by the tokenizing map (tasuki.features)


class LengthGroupedBatchSampler:
    """Yields lists of indices; shuffled and length-grouped for training, sorted for evaluation.

    Training: shuffle, cut into mega-batches of ``batch_size * group_size`` examples, sort
    each mega-batch by length, cut into batches, shuffle the batches (so the epoch does not
    run from long to short). Evaluation (``shuffle=False``): sort everything by length.
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        *,
        shuffle: bool,
        seed: int = 0,
        group_size: int = 50,
        group_by_length: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        # one array, not a Python int per feature: millions of features cost megabytes, not a loop
        self.lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.group_size = group_size
        self.group_by_length = group_by_length
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order to produce (called by the runner before each epoch)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def _chunks(self, order: np.ndarray) -> list[np.ndarray]:
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def _by_length(self, order: np.ndarray) -> np.ndarray:
        """``order`` sorted longest first; equal lengths keep their order (a stable sort)."""
        return order[np.argsort(-self.lengths[order], kind="stable")]

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = np.arange(n)
            for batch in self._chunks(self._by_length(order) if self.group_by_length else order):
                yield batch.tolist()
            return
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(n, generator=generator).numpy()
        if not self.group_by_length:
            for batch in self._chunks(order):
                yield batch.tolist()
            return
        mega = self.batch_size * self.group_size
        batches: list[np.ndarray] = []  # views into one array per mega-batch, lists only when yielded
        for start in range(0, n, mega):
            batches.extend(self._chunks(self._by_length(order[start : start + mega])))
        for position in torch.randperm(len(batches), generator=generator).tolist():
            yield batches[position].tolist()


def feature_lengths(task: Task, features: Dataset) -> np.ndarray:
    """Each feature's length: the :data:`LENGTH` column as one array (else ``task.feature_length``)."""
    if LENGTH in features.column_names:
        if features._indices is None:  # the stored table: one Arrow column to numpy, no formatted copy
            return features.data.column(LENGTH).to_numpy().astype(np.int64, copy=False)
        return np.asarray(features.with_format("numpy")[LENGTH][:], dtype=np.int64)
    return np.fromiter((task.feature_length(f) for f in features), dtype=np.int64, count=len(features))
